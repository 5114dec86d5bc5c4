"""Charts drawn on the server as SVG: no script, readable without colour.

Every series has its own fill pattern (and a legend naming it), every bar carries its number
as text, and every chart sits beside the table it draws, which screen readers read instead
(the SVG is ``aria-hidden`` and points to that table). Hidden counts are not drawn: their
place says "fewer than N".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from xml.sax.saxutils import escape

from flask_babel import gettext as _
from markupsafe import Markup

from directory.reports.tables import HIDDEN, Table

# (pattern id, SVG body of a 8x8 tile): lines, dots and hatches that differ in shape, not hue.
PATTERNS = [
    ("solid", '<rect width="8" height="8" fill="#334"/>'),
    ("diagonal", '<rect width="8" height="8" fill="#fff"/>'
                 '<path d="M0 8L8 0M-2 2L2 -2M6 10L10 6" stroke="#334" stroke-width="2"/>'),
    ("dots", '<rect width="8" height="8" fill="#fff"/><circle cx="4" cy="4" r="2" fill="#334"/>'),
    ("horizontal", '<rect width="8" height="8" fill="#fff"/>'
                   '<path d="M0 4H8" stroke="#334" stroke-width="2"/>'),
    ("cross", '<rect width="8" height="8" fill="#fff"/>'
              '<path d="M0 0L8 8M8 0L0 8" stroke="#334" stroke-width="1.5"/>'),
    ("vertical", '<rect width="8" height="8" fill="#fff"/>'
                 '<path d="M4 0V8" stroke="#334" stroke-width="2"/>'),
    ("grid", '<rect width="8" height="8" fill="#fff"/>'
             '<path d="M0 4H8M4 0V8" stroke="#334" stroke-width="1"/>'),
    ("blank", '<rect width="8" height="8" fill="#fff"/>'),
]
FONT = 'font-family="sans-serif" font-size="11"'


def _defs(prefix: str) -> str:
    tiles = "".join(f'<pattern id="{prefix}-{name}" width="8" height="8" '
                    f'patternUnits="userSpaceOnUse">{body}</pattern>' for name, body in PATTERNS)
    return f"<defs>{tiles}</defs>"


def _fill(prefix: str, index: int) -> str:
    return f"url(#{prefix}-{PATTERNS[index % len(PATTERNS)][0]})"


def _svg(width: int, height: int, body: str, table_id: str) -> Markup:
    return Markup(
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" '
        f'preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg" '
        f'aria-hidden="true" data-table="{escape(table_id)}">{body}</svg>')


def column_chart(table: Table, column: str, min_count: int) -> Markup:
    """One bar per row of ``table`` (e.g. per day) for ``column``."""
    values = table.column(column)
    numbers = [v for v in values if isinstance(v, int | float)]
    top = max(numbers, default=0) or 1
    width, height, left, bottom = max(320, 14 * len(values) + 60), 180, 40, 150
    step = (width - left - 10) / max(1, len(values))
    parts = [_defs("col"), f'<line x1="{left}" y1="{bottom}" x2="{width - 10}" y2="{bottom}" '
             'stroke="#334"/>',
             f'<text x="4" y="14" {FONT}>{escape(str(top))}</text>',
             f'<text x="4" y="{bottom}" {FONT}>0</text>']
    for n, (row, value) in enumerate(zip(table.rows, values, strict=True)):
        x = left + n * step
        if value is HIDDEN:
            parts.append(f'<text x="{x + step / 2:.1f}" y="{bottom - 4}" {FONT} '
                         f'text-anchor="middle">&lt;{min_count}</text>')
            continue
        bar = (float(value or 0) / top) * (bottom - 20)
        parts.append(f'<rect x="{x + 1:.1f}" y="{bottom - bar:.1f}" width="{max(1, step - 2):.1f}"'
                     f' height="{bar:.1f}" fill="{_fill("col", 0)}" stroke="#334">'
                     f'<title>{escape(_("%(label)s: %(count)s", label=row.label, count=value))}'
                     '</title></rect>')
    first = table.rows[0].label if table.rows else ""
    last = table.rows[-1].label if table.rows else ""
    parts.append(f'<text x="{left}" y="{bottom + 16}" {FONT}>{escape(first)}</text>')
    parts.append(f'<text x="{width - 10}" y="{bottom + 16}" {FONT} text-anchor="end">'
                 f'{escape(last)}</text>')
    return _svg(width, height + 10, "".join(parts), table.slug)


def stacked_bars(table: Table, columns: Sequence[str], min_count: int) -> Markup:
    """One horizontal bar per row, split into ``columns`` (each with its own pattern)."""
    keys = [column.key for column in table.columns]
    series = [keys.index(key) for key in columns]
    labels = [table.columns[index].label for index in series]
    width, label_width, row_height = 720, 200, 26
    totals = [sum(v for v in (row.cells[i] for i in series) if isinstance(v, int | float))
              for row in table.rows]
    top = max(totals, default=0) or 1
    legend_height = 22 * ((len(labels) + 3) // 4)
    parts = [_defs("stk")]
    for n, label in enumerate(labels):  # the legend: a swatch and a name for every pattern
        x, y = 10 + (n % 4) * 175, 6 + (n // 4) * 22
        parts.append(f'<rect x="{x}" y="{y}" width="16" height="14" fill="{_fill("stk", n)}" '
                     f'stroke="#334"/><text x="{x + 22}" y="{y + 11}" {FONT}>'
                     f'{escape(label)}</text>')
    for r, row in enumerate(table.rows):
        y = legend_height + 10 + r * row_height
        parts.append(f'<text x="{label_width - 6}" y="{y + 15}" {FONT} text-anchor="end">'
                     f'{escape(row.label[:32])}</text>')
        x = float(label_width)
        hidden = False
        for n, index in enumerate(series):
            value = row.cells[index]
            if value is HIDDEN:
                hidden = True
                continue
            span = (float(value or 0) / top) * (width - label_width - 70)
            if span <= 0:
                continue
            title = _("%(row)s, %(series)s: %(count)s", row=row.label, series=labels[n],
                      count=value)
            parts.append(f'<rect x="{x:.1f}" y="{y}" width="{span:.1f}" height="20" '
                         f'fill="{_fill("stk", n)}" stroke="#334"><title>{escape(title)}'
                         '</title></rect>')
            x += span
        note = escape(_("%(total)s + some <%(count)s", total=totals[r], count=min_count)
                      if hidden else str(totals[r]))
        parts.append(f'<text x="{x + 4:.1f}" y="{y + 15}" {FONT}>{note}</text>')
    height = legend_height + 20 + row_height * len(table.rows)
    return _svg(width, height, "".join(parts), table.slug)


def flow_diagram(table: Table, min_count: int) -> Markup:
    """Senders on the left, receivers on the right, a band per flow as wide as its count."""
    receivers = [c for c in table.columns if c.key != "total"]
    flows: list[tuple[int, int, int]] = [
        (r, c, value) for r, row in enumerate(table.rows) for c in range(len(receivers))
        if isinstance(value := row.cells[c], int) and value]
    total = sum(v for _, _, v in flows) or 1
    width, height = 720, 60 + 40 * max(len(table.rows), len(receivers))
    scale = (height - 40 - 8 * max(len(table.rows), len(receivers))) / total
    left_y = _stack(len(table.rows), lambda r: sum(float(v) for rr, _, v in flows if rr == r),
                    scale)
    right_y = _stack(len(receivers), lambda c: sum(float(v) for _, cc, v in flows if cc == c),
                     scale)
    parts = [_defs("flw")]
    out_used = dict.fromkeys(left_y, 0.0)
    in_used = dict.fromkeys(right_y, 0.0)
    for r, c, value in flows:
        band = value * scale
        title = _("%(sender)s to %(receiver)s: %(count)s", sender=table.rows[r].label,
                  receiver=receivers[c].label, count=value)
        y0, y1 = left_y[r] + out_used[r], right_y[c] + in_used[c]
        out_used[r] += band
        in_used[c] += band
        parts.append(
            f'<path d="M200 {y0:.1f} C360 {y0:.1f} 360 {y1:.1f} 520 {y1:.1f} L520 '
            f'{y1 + band:.1f} C360 {y1 + band:.1f} 360 {y0 + band:.1f} 200 {y0 + band:.1f} Z" '
            f'fill="{_fill("flw", r + 1)}" fill-opacity="0.6" stroke="#334" stroke-width="0.5">'
            f'<title>{escape(title)}</title></path>')
    for r, row in enumerate(table.rows):
        parts.append(f'<text x="194" y="{left_y[r] + 10:.1f}" {FONT} text-anchor="end">'
                     f'{escape(row.label[:30])} ({_count(row.cells[-1], min_count)})</text>')
    for c, column in enumerate(receivers):
        parts.append(f'<text x="526" y="{right_y[c] + 10:.1f}" {FONT}>{escape(column.label[:30])}'
                     f'</text>')
    return _svg(width, int(height), "".join(parts), table.slug)


def _stack(count: int, size: Callable[[int], float], scale: float) -> dict[int, float]:
    """The top of each node of a flow diagram's column, stacked with an 8-pixel gap."""
    tops, y = {}, 20.0
    for index in range(count):
        tops[index] = y
        y += size(index) * scale + 8
    return tops


def _count(value: object, min_count: int) -> str:
    return f"&lt;{min_count}" if value is HIDDEN else escape(str(value))

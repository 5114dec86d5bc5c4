"""Small-number suppression, complementary suppression and rare-category grouping."""

from __future__ import annotations

from directory.reports.suppression import group_rare, rate, suppress


def test_small_counts_are_hidden_zeros_and_large_ones_shown() -> None:
    grid = suppress([[0, 7], [12, 30]], 5)
    assert grid.cells == [[0, 7], [12, 30]]
    assert grid.row_totals == [7, 42] and grid.column_totals == [12, 37] and grid.total == 49


def test_complementary_suppression_in_row_and_column() -> None:
    # 3 alone would come back as 20 - 17 (row) or as 13 - 10 (column).
    grid = suppress([[3, 17, 9], [10, 20, 6], [8, 8, 8]], 5)
    hidden = {(i, j) for i, row in enumerate(grid.cells) for j, v in enumerate(row) if v is None}
    assert (0, 0) in hidden
    for i, row in enumerate(grid.cells):  # no row with exactly one hidden cell (totals count)
        line = [*row, grid.row_totals[i]]
        assert line.count(None) != 1
    for j in range(3):
        line = [grid.cells[i][j] for i in range(3)] + [grid.column_totals[j]]
        assert line.count(None) != 1
    assert [*grid.column_totals, grid.total].count(None) != 1
    # The complement is the smallest other cell of the line: 6 would have been too small to
    # matter, so the row's complement is 9 (the smallest positive cell after 3) and the
    # column's is 8.
    assert grid.cells[0][2] is None and grid.cells[2][0] is None


def test_a_small_row_total_is_hidden_and_complemented_in_the_totals_column() -> None:
    grid = suppress([[1, 2], [10, 11], [20, 30]], 5)
    assert grid.cells[0] == [None, None]
    assert grid.row_totals[0] is None
    assert grid.row_totals.count(None) + (grid.total is None) >= 2


def test_the_viewers_own_row_is_never_hidden_and_never_the_complement() -> None:
    grid = suppress([[2, 9], [3, 40]], 5, own_rows={0})
    assert grid.cells[0] == [2, 9] and grid.row_totals[0] == 11
    assert grid.cells[1][0] is None
    # Column 0 would give 3 back (total - own 2): its total is hidden with it.
    assert grid.column_totals[0] is None


def test_one_column_lists_need_two_hidden_or_none() -> None:
    grid = suppress([[2], [40], [9]], 5, row_totals=False)
    assert grid.cells == [[None], [40], [None]]
    assert grid.column_totals == [51]


def test_rates_over_hidden_counts_are_not_shown() -> None:
    assert rate(3, 40, 5) is None
    assert rate(10, 4, 5) is None
    assert rate(0, 40, 5) == 0
    assert rate(3, 4, 5, own=True) == 0.75
    assert rate(10, 0, 5) is None


def test_rare_categories_grouped_under_other() -> None:
    kept, grouped = group_rare({"a": 50, "b": 3, "c": 9, "d": 1}, 5)
    assert kept == ["a", "c"] and grouped == {"b", "d"}
    kept, grouped = group_rare({"a": 50, "b": 3, "c": 9, "d": 1}, 5, own={"d"}, limit=2)
    assert kept == ["a", "d"] and grouped == {"b", "c"}

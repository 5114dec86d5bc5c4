"""A 20-way race against a 2-worker `directory serve` on SQLite: prints what each side got.

    python bench/race.py [--workers 2] [--threads 1] [--keep]

Builds a throwaway database in a temporary folder, serves it with the production server, then
sends 20 accepts of one referral at the same moment (one receiving member's API token), then
20 accepts of one placement request (two from each of its ten partners). Prints the status
codes seen (with their JSON error codes) and the winners of each race, then the stored
outcome; the last line of stdout is one JSON object with the figures. Exactly one winner and
409 conflicts for everyone else is right; a 5xx is a bug (`database is locked` leaking out).
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sqlite3
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.security.live import Site, prepare, race, served, summary  # noqa: E402


def stored(site: Site) -> dict[str, Any]:
    """What the database holds after the races: each referral's status, and the placement."""
    with sqlite3.connect(site.database) as connection:
        statuses = dict(connection.execute(
            "SELECT public_id, status FROM referrals").fetchall())
        filled = connection.execute(
            "SELECT count(*) FROM placement_requests WHERE filled_referral_id IS NOT NULL"
        ).fetchone()[0]
    placement_ids = {shot.public_id for shot in site.placement}
    return {"single": statuses[site.single[0].public_id],
            "placement": sorted(statuses[i] for i in placement_ids),
            "placements_filled": filled}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    # Warnings only on stderr: the application sets its own logger to INFO (audit lines).
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.setLevel(logging.WARNING)
    folder = Path(tempfile.mkdtemp(prefix="directory-race-"))
    try:
        site = prepare(folder)
        log = folder / "server.log"
        with served(site.env, log, workers=args.workers, threads=args.threads) as port:
            figures = {"single": summary(race(port, site.single)),
                       "placement": summary(race(port, site.placement))}
        figures["stored"] = stored(site)
        figures["server_tracebacks"] = log.read_text().count("Traceback")
        for name in ("single", "placement"):
            result = figures[name]
            print(f"{name}: {result['requests']} accepts on {args.workers} workers x "
                  f"{args.threads} thread(s)")
            for code, count in result["codes"].items():
                print(f"  {count:3d} x {code}")
            print(f"  winners: {', '.join(result['winners']) or 'none'}")
        print(f"stored: {figures['stored']}")
        print(f"tracebacks in the server log: {figures['server_tracebacks']}")
        print(json.dumps(figures))
    finally:
        if args.keep:
            print(f"kept {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()

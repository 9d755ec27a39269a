"""How long python3 run.py --stats takes on a big SQLite database: a million users, ten
million message-log rows (half of them incoming), sessions spread over a few states.

Run: python bench/stats.py [--users 1000000] [--rows 10000000] [--days 30] [--keep FILE]
The database is generated with SQL (a recursive counter inserting in one statement per
table), so making it takes about as long as one pass over it; then --stats runs in every
format and with --days 7, each timed. Goal: a few seconds for the whole figures.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from engine.cli import run  # noqa: E402
from engine.store.database import open_database  # noqa: E402
from engine.store.migrations import migrate  # noqa: E402

STATES = ("start", "ask_name", "ask_age", "menu", "done")
COUNTER = "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {last})"


def generate(path: str, users: int, rows: int, days: int) -> None:
    """Users first seen over `days` days, one session each (every fifth ended in `done`),
    and `rows` log rows spread over the users and the days."""
    db = open_database(f"sqlite:///{path}")
    migrate(db)
    states = len(STATES) - 1
    with db.atomic():
        db.execute_sql(
            COUNTER.format(last=users - 1)
            + " INSERT INTO users (id, first_name, last_name, username, language, roles,"
            " first_seen, updated, blocked)"
            " SELECT 1000 + i, '', '', '', CASE i % 3 WHEN 0 THEN 'en' WHEN 1 THEN 'de'"
            " ELSE NULL END, '[]',"
            f" datetime('now', '-' || (i % {days}) || ' days'), datetime('now'), i % 50 = 0"
            " FROM n"
        )
        db.execute_sql(
            COUNTER.format(last=users - 1)
            + " INSERT INTO sessions (chat_id, user_id, scenario, state, vars, stack, attempts,"
            " epoch, language, ended, scenario_version, updated)"
            " SELECT 1000 + i, 1000 + i, 'bench',"
            f" CASE WHEN i % 5 = 0 THEN 'done' ELSE {_state_case('i', states)} END,"
            " '{}', '[]', 0, 0, NULL, i % 5 = 0, '', datetime('now') FROM n"
        )
        db.execute_sql(
            COUNTER.format(last=rows - 1)
            + " INSERT INTO message_log (at, chat_id, user_id, direction, kind, state, text)"
            f" SELECT datetime('now', '-' || (i % {days}) || ' days', '-' || (i % 86400)"
            " || ' seconds'),"
            f" 1000 + i % {users}, 1000 + i % {users},"
            " CASE i % 2 WHEN 0 THEN 'in' ELSE 'out' END, 'TextMessage',"
            f" {_state_case('i / 7', states)}, NULL FROM n"
        )
    db.close()


def _state_case(expression: str, count: int) -> str:
    whens = " ".join(f"WHEN {k} THEN '{STATES[k]}'" for k in range(count))
    return f"CASE ({expression}) % {count} {whens} END"


def timed(path: str, *argv: str) -> float:
    os.environ["DATABASE_URL"] = f"sqlite:///{path}"
    out, err = io.StringIO(), io.StringIO()
    started = time.perf_counter()
    code = run(["--stats", *argv], out, err)
    took = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"--stats failed: {err.getvalue()}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--keep", metavar="FILE", help="generate into FILE and keep it")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="bench-stats-")
    path = args.keep or os.path.join(folder, "stats.db")
    if not os.path.exists(path):
        started = time.perf_counter()
        generate(path, args.users, args.rows, args.days)
        print(
            f"generated {args.users:,} users and {args.rows:,} log rows "
            f"in {time.perf_counter() - started:.1f} s ({os.path.getsize(path) / 1e6:.0f} MB)"
        )
    for argv in (("--format", "json"), ("--format", "table"), ("--format", "csv")):
        print(f"--stats {' '.join(argv)}: {timed(path, *argv):.2f} s")
    print(f"--stats --days 7: {timed(path, '--days', '7'):.2f} s")
    shutil.rmtree(folder)  # the database too, unless it was --keep FILE


if __name__ == "__main__":
    main()

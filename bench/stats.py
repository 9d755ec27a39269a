"""How long python3 run.py --stats takes on a big SQLite database: a million users, ten
million message-log rows (one per update, as schema 10 logs them: the state found, the state
left in, the seconds stayed, every tenth not understood), sessions spread over a few states.

Run: python bench/stats.py [--users 1000000] [--rows 10000000] [--days 30] [--keep FILE]
         [--database postgresql://bot:bot@127.0.0.1/postgres]
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
from collections.abc import Callable
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from engine.cli import run  # noqa: E402
from engine.store.database import open_database  # noqa: E402
from engine.store.migrations import migrate  # noqa: E402
from engine.store.stats_indexes import create_stats_indexes, drop_stats_indexes  # noqa: E402

STATES = ("start", "ask_name", "ask_age", "menu", "done")
COUNTER = "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {last})"


@dataclass(frozen=True)
class Dialect:
    """The SQL that differs: a counter from 0 to last, and a time `days` and `seconds` ago."""

    rows: Callable[[int], str]  # FROM ... giving i
    ago: Callable[[str, str], str]


SQLITE = Dialect(
    rows=lambda last: f" FROM ({COUNTER.format(last=last)} SELECT i FROM n) AS n",
    ago=lambda days, seconds: (
        f"datetime('now', '-' || ({days}) || ' days', '-' || ({seconds}) || ' seconds')"
    ),
)
POSTGRES = Dialect(
    rows=lambda last: f" FROM generate_series(0, {last}) AS n(i)",
    ago=lambda days, seconds: (
        f"(now() AT TIME ZONE 'utc') - ({days}) * interval '1 day'"
        f" - ({seconds}) * interval '1 second'"
    ),
)


def run_all(url: str, folder: str) -> None:
    for argv in (("--format", "json"), ("--format", "table"), ("--format", "csv")):
        print(f"  --stats {' '.join(argv)}: {timed(url, *argv):.2f} s")
    print(f"  --stats --days 7: {timed(url, '--days', '7'):.2f} s")
    print(f"  --stats --html: {timed(url, '--html', os.path.join(folder, 'stats.html')):.2f} s")


def generate(url: str, users: int, rows: int, days: int, indexes: bool) -> None:
    """Users first seen over `days` days, one session each (every fifth ended in `done`),
    and `rows` log rows spread over the users and the days; the log's --stats indexes made
    after the rows (or not at all: `indexes` False)."""
    db = open_database(url)
    migrate(db)
    sql = POSTGRES if url.startswith("postgres") else SQLITE
    states = len(STATES) - 1

    def execute(text: str) -> None:  # psycopg2 reads % as its placeholders' mark
        db.execute_sql(text.replace("%", "%%") if sql is POSTGRES else text)

    with db.atomic():
        execute(
            "INSERT INTO users (id, first_name, last_name, username, language, roles,"
            " first_seen, updated, blocked)"
            " SELECT 1000 + i, '', '', '', CASE i % 3 WHEN 0 THEN 'en' WHEN 1 THEN 'de'"
            f" ELSE NULL END, '[]', {sql.ago(f'i % {days}', '0')}, {sql.ago('0', '0')},"
            f" i % 50 = 0 {sql.rows(users - 1)}"
        )
        execute(
            "INSERT INTO sessions (chat_id, user_id, scenario, state, vars, stack, attempts,"
            " epoch, language, ended, scenario_version, updated)"
            " SELECT 1000 + i, 1000 + i, 'bench',"
            f" CASE WHEN i % 5 = 0 THEN 'done' ELSE {_state_case('i', states)} END,"
            f" '{{}}', '[]', 0, 0, NULL, i % 5 = 0, '', {sql.ago('0', '0')} {sql.rows(users - 1)}"
        )
        execute(
            "INSERT INTO message_log (at, chat_id, user_id, direction, kind, state, text,"
            " to_state, stayed, fallback, replies)"
            f" SELECT {sql.ago(f'i % {days}', 'i % 86400')},"
            f" 1000 + i % {users}, 1000 + i % {users}, 'in', 'TextMessage',"
            # one row per update (schema 10): every tenth not understood (the user stays),
            # the others move the user on to the next state after 1 to 600 seconds there
            f" {_state_case('i / 7', states)}, NULL,"
            f" CASE WHEN i % 10 = 0 THEN {_state_case('i / 7', states)}"
            f" ELSE {_state_case('i / 7 + 1', states)} END,"
            f" CASE WHEN i % 10 = 0 THEN NULL ELSE 1 + i % 600 END, i % 10 = 0, 1"
            f" {sql.rows(rows - 1)}"
        )
    if indexes:
        started = time.perf_counter()
        create_stats_indexes(db)
        print(f"made the --stats indexes in {time.perf_counter() - started:.1f} s")
    if sql is POSTGRES:
        db.execute_sql("VACUUM ANALYZE")  # as autovacuum would after a load this size
    db.close()


def _state_case(expression: str, count: int) -> str:
    whens = " ".join(f"WHEN {k} THEN '{STATES[k]}'" for k in range(count))
    return f"CASE ({expression}) % {count} {whens} END"


def timed(url: str, *argv: str) -> float:
    os.environ["DATABASE_URL"] = url
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
    parser.add_argument("--keep", metavar="FILE", help="SQLite: generate into FILE and keep it")
    parser.add_argument(
        "--database",
        metavar="URL",
        help="a PostgreSQL server (e.g. $TEST_POSTGRES_URL): the bench makes a database of "
        "its own there and drops it at the end",
    )
    parser.add_argument(
        "--without-stats-indexes",
        action="store_true",
        help="time --stats only as a new database has it: without the indexes that "
        "--stats-indexes on builds (by default both are timed)",
    )
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="bench-stats-")
    path = args.keep or os.path.join(folder, "stats.db")
    url, fresh, drop = f"sqlite:///{path}", not os.path.exists(path), None
    if args.database:
        import psycopg2

        name = f"bench_stats_{os.getpid()}"
        admin = psycopg2.connect(args.database)
        admin.autocommit = True
        admin.cursor().execute(f"CREATE DATABASE {name}")
        url, fresh = f"{args.database.rsplit('/', 1)[0]}/{name}", True
        drop = lambda: admin.cursor().execute(f"DROP DATABASE {name} WITH (FORCE)")  # noqa: E731
    try:
        if fresh:
            started = time.perf_counter()
            generate(url, args.users, args.rows, args.days, False)
            size = f" ({os.path.getsize(path) / 1e6:.0f} MB)" if not args.database else ""
            print(
                f"generated {args.users:,} users and {args.rows:,} log rows "
                f"in {time.perf_counter() - started:.1f} s{size}"
            )
        db = open_database(url)
        drop_stats_indexes(db)
        db.close()
        print("without the --stats indexes (a new database, --stats-indexes off):")
        run_all(url, folder)
        if not args.without_stats_indexes:
            db = open_database(url)
            started = time.perf_counter()
            create_stats_indexes(db)
            db.close()
            print(f"--stats-indexes on: built in {time.perf_counter() - started:.1f} s; then:")
            run_all(url, folder)
    finally:
        if drop is not None:
            drop()
        shutil.rmtree(folder)  # the database too, unless it was --keep FILE


if __name__ == "__main__":
    main()

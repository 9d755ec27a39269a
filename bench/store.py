"""Updates per second committed through the store, on SQLite and PostgreSQL, with many
sessions already stored, and the process's peak memory.

Run: python bench/store.py [--sessions 1000000] [--batch 200] [--updates 20000]
         [--postgres postgresql://bot:bot@127.0.0.1/postgres] [--one-core]
         [--log-rows 10000000] [--with-stats-indexes]
Each update goes through the whole transaction: inbox row, session loaded, step() of a small
scenario, session stored, outbox row, inbox marked done; one transaction per batch, every
update durable before it is acknowledged. Goals: 10,000/s on SQLite, 3,000/s on PostgreSQL,
flat from 1,000 to 1,000,000 stored users.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import peewee  # noqa: E402

from engine.core.events import Chat, TextMessage, User  # noqa: E402
from engine.core.interpreter import step  # noqa: E402
from engine.scenario import validate_file  # noqa: E402
from engine.scenario.compiler import compile_scenario  # noqa: E402
from engine.store.bulk import insert_rows  # noqa: E402
from engine.store.database import open_database  # noqa: E402
from engine.store.migrations import migrate  # noqa: E402
from engine.store.models import MessageLogRow, SessionRow, UserRow  # noqa: E402
from engine.store.pipeline import IncomingUpdate, Store  # noqa: E402
from engine.store.stats_indexes import create_stats_indexes  # noqa: E402

SCENARIO = """
bot: {name: Counter, start: count}
vars: {n: 0}
states:
  count:
    say: "You sent {{ n }} messages."
    on: [{set: {n: "{{ n + 1 }}"}, say: "Got it: {{ n }}."}]
"""
NOW = dt.datetime(2026, 11, 25, 12, 0)


def fill(db: peewee.Database, count: int) -> None:
    """Stored users and their sessions, written in bulk (this is set-up, not measured)."""
    have = SessionRow.select().count()
    for start in range(have + 1, count + 1, 10_000):
        ids = range(start, min(start + 10_000, count + 1))
        with db.atomic():
            insert_rows(
                db,
                SessionRow,
                [
                    {
                        "chat_id": i,
                        "user_id": i,
                        "scenario": "counter",
                        "state": "count",
                        "vars": '{"n": 3}',
                        "updated": NOW,
                    }
                    for i in ids
                ],
            )
            insert_rows(
                db,
                UserRow,
                [
                    {
                        "id": i,
                        "first_name": "U",
                        "language": "en",
                        "first_seen": NOW,
                        "updated": NOW,
                    }
                    for i in ids
                ],
            )


def fill_log(db: peewee.Database, rows: int, users: int) -> None:
    """A message log of `rows` updates already written (set-up), so that its indexes are
    as big as a bot's after weeks, not empty; one statement, SQL counting the rows."""
    have = MessageLogRow.select().count()
    if have >= rows:
        return
    if isinstance(db, peewee.SqliteDatabase):
        source = (
            f"FROM (WITH RECURSIVE n(i) AS (SELECT {have} UNION ALL SELECT i + 1 FROM n"
            f" WHERE i < {rows - 1}) SELECT i FROM n) AS n"
        )
    else:
        source = f"FROM generate_series({have}, {rows - 1}) AS n(i)"
    modulo = "%" if isinstance(db, peewee.SqliteDatabase) else "%%"  # psycopg2's marks
    user = f"(1 + (i {modulo} {users}) * 7919 {modulo} {users})"  # within 32-bit integers
    with db.atomic():
        db.execute_sql(
            "INSERT INTO message_log (at, chat_id, user_id, direction, kind, state, to_state,"
            f" stayed, fallback, replies) SELECT {db.param}, {user}, {user}, 'in', 'TextMessage',"
            f" 'count', 'count', NULL, FALSE, 1 {source}",
            (NOW - dt.timedelta(days=1),),
        )


def measure(
    url: str, sessions: int, batch: int, updates: int, label: str, log_rows: int, indexed: bool
) -> None:
    db = open_database(url)
    migrate(db)
    if indexed:  # `--stats-indexes on`, to see what it costs
        create_stats_indexes(db)
    folder = tempfile.mkdtemp()
    path = os.path.join(folder, "counter.yaml")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(SCENARIO)
    scenario = compile_scenario(validate_file(path).scenario)  # type: ignore[arg-type]
    store = Store(db, "counter")
    for stored in sorted({1_000, sessions}):
        started = time.perf_counter()
        fill(db, stored)
        fill_log(db, log_rows, stored)
        filled = time.perf_counter() - started
        rng = random.Random(stored)
        next_id = (stored * 10) + 1
        done = 0
        started = time.perf_counter()
        while done < updates:
            items = []
            for _ in range(batch):
                uid = rng.randint(1, stored)
                event = TextMessage(user=User(uid, "U"), chat=Chat(uid), text="hi", seed=next_id)
                items.append(
                    IncomingUpdate(
                        next_id,
                        json.dumps({"update_id": next_id, "message": {"text": "hi"}}),
                        uid,
                        event,
                    )
                )
                next_id += 1
            store.process(items, lambda s, e: step(scenario, s, e, NOW), NOW)
            done += batch
        spent = time.perf_counter() - started
        print(
            f"{label}: {stored:>9,} stored sessions (filled in {filled:.1f} s): "
            f"{done / spent:,.0f} updates/s, {spent / done * 1e6:.0f} µs per update (batches of {batch}), "
            f"peak memory so far {_peak_mb():,.0f} MB"
        )
    db.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--updates", type=int, default=20_000)
    parser.add_argument("--postgres", default=os.environ.get("TEST_POSTGRES_URL"))
    parser.add_argument(
        "--log-rows",
        type=int,
        default=0,
        help="message-log rows written before measuring (the indexes of a log weeks old)",
    )
    parser.add_argument(
        "--with-stats-indexes",
        action="store_true",
        help="with the message log's --stats indexes (--stats-indexes on), to see their cost",
    )
    parser.add_argument(
        "--one-core",
        action="store_true",
        help="run the whole process (its threads too) on one CPU core",
    )
    args = parser.parse_args()
    if args.one_core:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        print(f"pinned to CPU core {min(os.sched_getaffinity(0))}")
    folder = tempfile.mkdtemp()
    measure(
        f"sqlite:///{os.path.join(folder, 'bench.db')}",
        args.sessions,
        args.batch,
        args.updates,
        "SQLite",
        args.log_rows,
        args.with_stats_indexes,
    )
    if args.postgres:
        import psycopg2

        name = f"bench_store_{os.getpid()}"
        admin = psycopg2.connect(args.postgres)
        admin.autocommit = True
        admin.cursor().execute(f"CREATE DATABASE {name}")
        try:
            base = args.postgres.rsplit("/", 1)[0]
            measure(
                f"{base}/{name}",
                args.sessions,
                args.batch,
                args.updates,
                "PostgreSQL",
                args.log_rows,
                args.with_stats_indexes,
            )
        finally:
            admin.cursor().execute(f"DROP DATABASE {name} WITH (FORCE)")
    else:
        print("PostgreSQL: skipped (give --postgres URL or set TEST_POSTGRES_URL)")
    print(f"peak memory (max RSS): {_peak_mb():,.0f} MB")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    main()

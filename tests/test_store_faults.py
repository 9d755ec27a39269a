"""Faults the store meets in production: SQLite busy because another process writes, a lost or
unreachable PostgreSQL. The batch is retried; while it fails nothing is acknowledged."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import pytest
from builders import compile_yaml
from store_fixtures import COUNTER, StoreBot, close_all, postgres_admin_url, text_update

from engine.store.database import open_database, write_transaction
from engine.store.migrations import migrate
from engine.store.models import InboxRow, SessionRow
from engine.store.pipeline import Store, StoreUnavailable


@pytest.fixture
def sqlite_file(tmp_path: Path) -> str:
    return str(tmp_path / "bot.db")


def test_sqlite_runs_in_wal_with_a_busy_timeout_and_foreign_keys(sqlite_file: str) -> None:
    db = open_database(f"sqlite:///{sqlite_file}")
    pragma = {
        name: db.execute_sql(f"PRAGMA {name}").fetchone()[0]
        for name in ("journal_mode", "busy_timeout", "foreign_keys", "synchronous")
    }
    assert pragma == {
        "journal_mode": "wal",
        "busy_timeout": 10_000,
        "foreign_keys": 1,
        "synchronous": 1,
    }
    db.close()
    full = open_database(f"sqlite:///{sqlite_file}?synchronous=full&busy_timeout=250")
    assert full.execute_sql("PRAGMA synchronous").fetchone()[0] == 2  # survives power loss
    assert full.execute_sql("PRAGMA busy_timeout").fetchone()[0] == 250
    full.close()


def test_a_sqlite_write_transaction_takes_the_write_lock_at_once(sqlite_file: str) -> None:
    db = open_database(f"sqlite:///{sqlite_file}")
    migrate(db)
    other = sqlite3.connect(sqlite_file, timeout=0)
    try:
        # BEGIN IMMEDIATE: no other writer from the first moment, before any statement
        with write_transaction(db), pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")  # free again after the commit
        other.rollback()
    finally:
        other.close()
        db.close()


def busy_bot(sqlite_file: str, tmp_path: Path) -> StoreBot:
    db = open_database(f"sqlite:///{sqlite_file}?busy_timeout=20")
    migrate(db)
    store = Store(db, "counter", retries=3)
    return StoreBot(compile_yaml(COUNTER, tmp_path), store)


def test_sqlite_busy_is_retried_and_succeeds_once_the_other_writer_is_done(
    sqlite_file: str, tmp_path: Path
) -> None:
    bot = busy_bot(sqlite_file, tmp_path)
    bot.say(1, 5, "a")
    other = sqlite3.connect(sqlite_file, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process is writing
    waits: list[float] = []

    def wait(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 2:
            other.execute("COMMIT")  # the other writer finishes while we back off

    bot.store.sleep = wait
    result = bot.say(2, 5, "b")
    assert result.acknowledged == [2] and waits == [0.05, 0.1]  # backoff grows
    assert bot.replies()[-1] == "1: b"
    other.close()
    close_all(bot.store.db)


def test_sqlite_busy_for_too_long_acknowledges_nothing(sqlite_file: str, tmp_path: Path) -> None:
    bot = busy_bot(sqlite_file, tmp_path)
    bot.say(1, 5, "a")
    bot.store.sleep = lambda seconds: None
    other = sqlite3.connect(sqlite_file, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    with pytest.raises(StoreUnavailable, match="refused the batch 4 times: database is locked"):
        bot.send(text_update(2, 5, "b"), text_update(3, 6, "c"))
    other.execute("ROLLBACK")
    other.close()
    assert sorted(InboxRow.select(InboxRow.update_id).tuples()) == [(1,)]  # nothing of it kept
    assert bot.send(text_update(2, 5, "b"), text_update(3, 6, "c")).acknowledged == [2, 3]
    close_all(bot.store.db)


@pytest.fixture
def pg_bot(postgres_url: str, tmp_path: Path) -> StoreBot:
    db = open_database(postgres_url)
    migrate(db)
    bot = StoreBot(compile_yaml(COUNTER, tmp_path), Store(db, "counter", retries=3))
    bot.store.sleep = lambda seconds: None
    return bot


def kill_connections(database_url: str) -> int:
    import psycopg2

    admin = psycopg2.connect(postgres_admin_url())
    admin.autocommit = True
    cursor = admin.cursor()
    cursor.execute(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE datname = %s AND pid <> pg_backend_pid()",
        (database_url.rsplit("/", 1)[1],),
    )
    killed = int(cursor.fetchone()[0])
    admin.close()
    return killed


def test_a_lost_postgresql_connection_is_reopened_and_the_batch_retried(
    pg_bot: StoreBot, postgres_url: str
) -> None:
    pg_bot.say(1, 5, "a")
    assert kill_connections(postgres_url) >= 1  # PostgreSQL restarted, or an admin killed us
    assert pg_bot.say(2, 5, "b").acknowledged == [2]
    assert pg_bot.replies()[-1] == "1: b"
    close_all(pg_bot.store.db)


def test_a_lost_connection_in_the_middle_of_a_batch_keeps_none_of_it(
    pg_bot: StoreBot, postgres_url: str
) -> None:
    pg_bot.say(1, 5, "a")
    killed: list[int] = []

    def lose_connection(point: str) -> None:
        if point == "after_session" and not killed:
            killed.append(kill_connections(postgres_url))

    pg_bot.store.crash = lose_connection
    assert pg_bot.send(text_update(2, 5, "b"), text_update(3, 7, "c")).acknowledged == [2, 3]
    assert killed == [1]
    assert pg_bot.replies(5) == ["Send me anything.", "1: b"]  # applied once, not twice
    assert InboxRow.select().count() == 3 and SessionRow.select().count() == 2
    close_all(pg_bot.store.db)


def test_an_unreachable_postgresql_acknowledges_nothing(tmp_path: Path) -> None:
    postgres_admin_url()  # the PostgreSQL driver is part of this case
    db = open_database("postgresql://bot:bot@127.0.0.1:9/nowhere?connect_timeout=2")
    store = Store(db, "counter", retries=2)
    store.sleep = lambda seconds: None
    bot = StoreBot(compile_yaml(COUNTER, tmp_path), store)
    with pytest.raises(StoreUnavailable, match="refused the batch 3 times"):
        bot.say(1, 5, "a")


def test_sqlite_checkpoints_in_a_thread_that_ends_when_idle(
    sqlite_file: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.store import database

    monkeypatch.setattr(database._Checkpointer, "IDLE", 0.2)
    db = open_database(f"sqlite:///{sqlite_file}")
    try:
        db.execute_sql("CREATE TABLE t (x TEXT)")
        size = os.path.getsize(sqlite_file)
        with write_transaction(db):
            db.execute_sql("INSERT INTO t VALUES (?)", ("x" * 200_000,))
        checkpointer = db._checkpointer  # type: ignore[attr-defined]
        deadline = time.monotonic() + 5
        while os.path.getsize(sqlite_file) <= size and time.monotonic() < deadline:
            time.sleep(0.02)  # the committed pages reach the file while the writer is open
        assert os.path.getsize(sqlite_file) > size and checkpointer.failures == 0
        while checkpointer.thread is not None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert checkpointer.thread is None  # idle: the thread and its connection are gone
        assert db.execute_sql("SELECT length(x) FROM t").fetchone()[0] == 200_000
    finally:
        db.close()

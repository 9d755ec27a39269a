"""The restore drill of docs/deployment.md ("Backups"), run for real: a backup taken while the
bot is writing, restored as a new bot database, holds every committed conversation, which goes
on where it was; the schema check passes and `--migrate` finds nothing to do.

SQLite is backed up online (the backup API, `VACUUM INTO`) while the store's connection is
open and its last commits are still only in the WAL; PostgreSQL with `pg_dump -Fc` and
`pg_restore` into a fresh database."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import peewee
import pytest
from builders import compile_yaml
from conftest import CliResult
from store_fixtures import COUNTER, StoreBot, close_all, postgres_admin_url, with_database

from engine.store.database import open_database
from engine.store.migrations import LATEST, check, current_version, migrate
from engine.store.models import SessionRow, SettingRow
from engine.store.pipeline import Store

USERS = (101, 102, 103)
UNCOMMITTED = "written-but-not-committed"


def talk(db: peewee.Database, folder: Path) -> StoreBot:
    """Each user says two things (the first starts the bot): each counter stands at 1,
    committed by the store."""
    bot = StoreBot(compile_yaml(COUNTER, folder), Store(db, "counter"))
    update_id = 0
    for user in USERS:
        for words in ("hello", "again"):
            update_id += 1
            assert bot.say(update_id, user, words).acknowledged == [update_id]
        assert bot.replies(user) == ["Send me anything.", "1: again"]
    return bot


def assert_restored(url: str, folder: Path, cli: Callable[..., CliResult]) -> None:
    """What the operator checks after a restore (docs/deployment.md, "Restore drill")."""
    db = open_database(url)
    try:
        check(db)  # the bot would start on it
        assert current_version(db) == LATEST
        bot = StoreBot(compile_yaml(COUNTER, folder, "restored.yaml"), Store(db, "counter"))
        assert SessionRow.select().count() == len(USERS)
        assert SettingRow.get_or_none(SettingRow.key == UNCOMMITTED) is None
        # the conversations go on where they were: the counter goes on from 1
        assert bot.say(100, USERS[0], "back").acknowledged == [100]
        assert bot.replies(USERS[0])[-1] == "2: back"
        # an update the old database had already handled is not applied a second time
        assert bot.say(1, USERS[0], "hello").duplicates == [1]
        assert bot.replies(USERS[0])[-1] == "2: back"
    finally:
        close_all(db)
    result = cli("--migrate")
    assert (result.code, result.out) == (0, "the schema is up to date\n"), result.err


@pytest.fixture
def operator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """Points the store commands at a database, as DATABASE_URL does (no .env is read)."""
    workdir = tmp_path / "operator"
    workdir.mkdir()
    monkeypatch.chdir(workdir)

    def use(url: str) -> None:
        monkeypatch.setenv("DATABASE_URL", url)

    return use


def sqlite_online_backup(source: Path, target: Path) -> None:
    with sqlite3.connect(source) as live, sqlite3.connect(target) as copy:
        live.backup(copy)
    live.close()
    copy.close()


def sqlite_vacuum_into(source: Path, target: Path) -> None:
    live = sqlite3.connect(source)
    try:
        live.execute("VACUUM INTO ?", (str(target),))
    finally:
        live.close()


@pytest.mark.parametrize("backup", [sqlite_online_backup, sqlite_vacuum_into])
def test_a_sqlite_backup_taken_while_the_bot_writes_restores_every_conversation(
    backup: Callable[[Path, Path], None],
    tmp_path: Path,
    cli: Callable[..., CliResult],
    operator: Callable[[str], None],
) -> None:
    live_path, backup_path = tmp_path / "live" / "bot.db", tmp_path / "backup.db"
    db = open_database(f"sqlite:///{live_path}")
    migrate(db)
    checkpoint = sqlite3.connect(live_path)
    checkpoint.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()  # the schema in the file
    checkpoint.close()
    # a reader whose snapshot predates the conversations: no checkpoint may copy them into
    # the database file while it reads, so they are committed only in the WAL
    reader = sqlite3.connect(live_path, isolation_level=None)
    reader.execute("BEGIN")
    assert reader.execute("SELECT count(*) FROM sessions").fetchone() == (0,)
    writer = sqlite3.connect(live_path, isolation_level=None)
    try:
        talk(db, tmp_path)
        assert db.execute_sql("PRAGMA journal_mode").fetchone() == ("wal",)
        assert os.path.getsize(f"{live_path}-wal") > 0
        # another writer is in the middle of a transaction while the backup is taken
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("INSERT INTO settings (key, value) VALUES (?, 'x')", (UNCOMMITTED,))
        # why never a plain copy: the file alone lacks what is committed only in the WAL
        shutil.copy(live_path, tmp_path / "plain-copy.db")
        plain = sqlite3.connect(tmp_path / "plain-copy.db")
        assert plain.execute("SELECT count(*) FROM sessions").fetchone() == (0,)
        plain.close()
        backup(live_path, backup_path)
    finally:
        writer.rollback()
        writer.close()
        reader.close()
        close_all(db)
    url = f"sqlite:///{backup_path}"
    operator(url)
    assert_restored(url, tmp_path, cli)


@pytest.fixture
def empty_postgres_database() -> Iterator[str]:
    """The URL of a new, empty database to restore into (dropped afterwards)."""
    admin_url = postgres_admin_url()  # skips (or fails) first when no server is configured
    import psycopg2  # the `postgres` extra

    admin = psycopg2.connect(admin_url, connect_timeout=5)
    admin.autocommit = True
    name = f"restore_test_{uuid.uuid4().hex[:12]}"
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(admin_url, name)
    finally:
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def postgres_tool(name: str) -> str:
    """pg_dump or pg_restore; a missing one skips the test unless REQUIRE_POSTGRES=1."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (Debian: apt-get install postgresql-client)"
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(f"REQUIRE_POSTGRES=1 but {message}")
        pytest.skip(message)
    return path


def run_tool(*argv: str) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr


def test_a_postgresql_dump_restored_into_a_fresh_database_restores_every_conversation(
    postgres_url: str,
    empty_postgres_database: str,
    tmp_path: Path,
    cli: Callable[..., CliResult],
    operator: Callable[[str], None],
) -> None:
    import psycopg2

    pg_dump, pg_restore = postgres_tool("pg_dump"), postgres_tool("pg_restore")
    dump = tmp_path / "bot.dump"
    db = open_database(postgres_url)
    migrate(db)
    writer = psycopg2.connect(postgres_url, connect_timeout=5)
    try:
        talk(db, tmp_path)
        # another writer is in the middle of a transaction while the dump is taken
        writer.cursor().execute(
            "INSERT INTO settings (key, value) VALUES (%s, 'x')", (UNCOMMITTED,)
        )
        run_tool(pg_dump, "--format=custom", f"--file={dump}", postgres_url)
    finally:
        writer.rollback()
        writer.close()
        close_all(db)
    run_tool(
        pg_restore,
        "--no-owner",
        "--exit-on-error",
        f"--dbname={empty_postgres_database}",
        str(dump),
    )
    operator(empty_postgres_database)
    assert_restored(empty_postgres_database, tmp_path, cli)

"""Several processes started at once on a fresh database (a deployment's replicas, a bot and
`--migrate` from a start script): one creates the schema, the others wait for it and go on.
Before the schema lock they exited with a duplicate key (PostgreSQL), 'database is locked'
or 'the database schema is version 2, this engine needs 5' (SQLite)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import peewee
import pytest
from store_fixtures import close_all

from engine.cli import run
from engine.store import migrations, schema_lock
from engine.store.database import open_database
from engine.store.migrations import LATEST, MIGRATIONS, check, current_version

ROOT = Path(__file__).resolve().parents[1]
CHILD = ROOT / "tests" / "schema_race_child.py"
ROUNDS = 3  # each on a new database: one round alone may win the race by luck
WAL_ROUNDS = 150  # a new file's first connections: one round in twenty failed before


def start_together(url: str, roles: list[str], logs: Path) -> list[tuple[int, str, str]]:
    """Start a child per role on `url`, release them all with one write once every one is
    ready, and return each one's exit code, output and errors."""
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "TELEGRAM_BOT_TOKEN": "123:race",
        "BOT_SCENARIO": str(ROOT / "scenarios" / "hello.yaml"),
    }
    children = []
    for number, role in enumerate(roles):
        out = (logs / f"{number}.out").open("w+")
        err = (logs / f"{number}.err").open("w+")
        process = subprocess.Popen(
            [sys.executable, str(CHILD), role, str(ready_w), str(go_r)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=err,
            pass_fds=(ready_w, go_r),
        )
        children.append((process, out, err))
    os.close(ready_w)
    os.close(go_r)
    try:
        waiting = len(roles)
        while waiting:
            got = os.read(ready_r, waiting)
            assert got, "a child died before the start"
            waiting -= len(got)
        os.write(go_w, b"." * len(roles))  # one write: they all start at the same moment
        results = []
        for process, out, err in children:
            code = process.wait(timeout=120)
            out.seek(0)
            err.seek(0)
            results.append((code, out.read(), err.read()))
        return results
    finally:
        for process, out, err in children:
            if process.poll() is None:
                process.kill()
                process.wait()
            out.close()
            err.close()
        os.close(ready_r)
        os.close(go_w)


def test_processes_started_together_on_a_fresh_database_all_run(
    fresh_store_urls: Callable[[], str], tmp_path: Path
) -> None:
    roles = ["bot", "bot", "migrate", "bot", "migrate"]
    steps = [f"schema {number}: {description}" for number, description, _ in MIGRATIONS]
    for round_number in range(ROUNDS):
        url = fresh_store_urls()
        logs = tmp_path / f"round{round_number}"
        logs.mkdir()
        results = start_together(url, roles, logs)
        for (code, _, err), role in zip(results, roles, strict=True):
            assert (code, err) == (0, ""), f"round {round_number}, {role}: {err}"
        # every step was applied once: by one of the --migrate processes or by a bot
        printed = [
            line
            for (_, out, _), role in zip(results, roles, strict=True)
            if role == "migrate"
            for line in out.splitlines()
            if line != "the schema is up to date"
        ]
        assert sorted(printed) == sorted(set(printed)) and set(printed) <= set(steps), printed
        db = open_database(url)
        try:
            assert current_version(db) == LATEST
            check(db)
        finally:
            close_all(db)


def test_connections_opening_a_new_sqlite_file_together_all_open_it(tmp_path: Path) -> None:
    """The first connections to a new file switch it to WAL, under an exclusive lock that
    SQLite refused at once ('database is locked', without waiting the busy timeout) to one
    of two connections trying it together; rare for one start, so tried many times."""
    failures: list[str] = []
    for round_number in range(WAL_ROUNDS):
        url = f"sqlite:///{tmp_path / f'bot{round_number}.db'}"
        barrier = threading.Barrier(8)

        def open_it(url: str = url, barrier: threading.Barrier = barrier) -> None:
            db = open_database(url)
            barrier.wait()
            try:
                db.connect()
                db.table_exists("settings")
            except peewee.DatabaseError as exc:
                failures.append(str(exc))
            finally:
                db.close()

        threads = [threading.Thread(target=open_it) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failures == [], f"{len(failures)} of {WAL_ROUNDS * 8} failed"


def test_migrate_waits_for_another_migration_says_so_and_goes_on(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--migrate` while another process holds the schema lock: after a while it says that
    it waits (on stderr; stdout keeps the steps), and it applies the steps once that process
    is done."""
    if store_url.startswith("sqlite"):
        store_url += "?busy_timeout=100"  # SQLite says so when its busy timeout has passed
    monkeypatch.setattr(schema_lock, "NOTICE_AFTER", 0.1)
    monkeypatch.setenv("DATABASE_URL", store_url)
    out, err, codes = io.StringIO(), io.StringIO(), []
    other = open_database(store_url)
    try:
        with schema_lock.schema_lock(other):  # the other process, creating the schema
            thread = threading.Thread(target=lambda: codes.append(run(["--migrate"], out, err)))
            thread.start()
            deadline = time.monotonic() + 30
            while "waiting" not in err.getvalue() and time.monotonic() < deadline:
                time.sleep(0.02)
            assert err.getvalue() == f"run.py: {schema_lock.WAITING}\n"
            assert thread.is_alive() and out.getvalue() == ""  # it waits, nothing applied
        thread.join(timeout=60)
        assert codes == [0]
        assert out.getvalue().splitlines() == [
            f"schema {number}: {description}" for number, description, _ in MIGRATIONS
        ]
        assert current_version(other) == LATEST
    finally:
        close_all(other)


def test_under_the_lock_a_failing_step_keeps_the_steps_before_it(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite applies the steps inside the lock's one transaction, each a savepoint: a step
    that fails still leaves the schema as the steps before it made it, as on PostgreSQL."""

    def half_done(database: peewee.Database) -> None:
        database.execute_sql('CREATE TABLE "notes" (id INTEGER PRIMARY KEY)')
        raise RuntimeError("the disk filled up")

    monkeypatch.setattr(migrations, "MIGRATIONS", [*MIGRATIONS, (LATEST + 1, "notes", half_done)])
    monkeypatch.setattr(migrations, "LATEST", LATEST + 1)
    db = open_database(store_url)
    try:
        with pytest.raises(RuntimeError, match="the disk filled up"):
            migrations.migrate(db)
        assert current_version(db) == LATEST  # steps 1 to LATEST stay applied
        assert db.table_exists("sessions") and not db.table_exists("notes")
    finally:
        close_all(db)

"""One process at a time creates or migrates the schema. Processes started together on a
fresh database (replicas, a bot and `--migrate` from one start script) used to create the
same tables at once and exit on a duplicate key (PostgreSQL), 'database is locked' or a
half-made schema's version (SQLite). Under this lock a process reads the version, applies
what is missing and checks the result; the others wait and then find the schema ready.

PostgreSQL: a session advisory lock on the connection that applies the steps, so each step
keeps its own transaction; it ends with the session if the process dies. SQLite: one write
transaction (BEGIN IMMEDIATE) around the whole section, each step a savepoint inside it; a
step that fails is rolled back to its savepoint and the steps before it are committed."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

import peewee

# The advisory lock's key: the first 8 bytes of sha256(b"scenario-bot-engine schema") as a
# signed 64-bit number (pg_locks shows it as classid 1554308486, objid 3865274283). The
# chats' locks use their ids as keys, and no Telegram id reaches 2**53, far below this one.
SCHEMA_LOCK_KEY = 0x5CA4_DD86_E663_67AB
NOTICE_AFTER = 10.0  # seconds of waiting before saying so (SQLite: after its busy timeout)

Say = Callable[[str], None]
log = logging.getLogger("engine.store")
WAITING = (
    "waiting for another process that creates or migrates the schema of this database "
    "(it holds the schema lock); this one goes on when it is done"
)


def log_waiting(message: str) -> None:
    log.warning("%s", message)


@contextmanager
def schema_lock(db: peewee.Database, say: Say = log_waiting) -> Iterator[None]:
    """Held while the version is read, the steps applied and the result checked; a process
    that waits long for it says so once through `say`."""
    if isinstance(db, peewee.PostgresqlDatabase):
        with _advisory_lock(db, say):
            yield
    else:
        with _write_transaction(db, say):
            yield


@contextmanager
def _advisory_lock(db: peewee.Database, say: Say) -> Iterator[None]:
    started, pause, said = time.monotonic(), 0.01, False
    while not db.execute_sql("SELECT pg_try_advisory_lock(%s)", (SCHEMA_LOCK_KEY,)).fetchone()[0]:
        if not said and time.monotonic() - started >= NOTICE_AFTER:
            say(WAITING)
            said = True
        time.sleep(pause)
        pause = min(pause * 2, 0.2)
    try:
        yield
    finally:
        try:
            db.execute_sql("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK_KEY,))
        except peewee.DatabaseError as exc:
            # the lock ends with the session: never hand a connection that may hold it
            # back to the pool, where the bot would keep it and block every later start
            log.warning("the schema lock was not released (%s); closing its connection", exc)
            manual_close = getattr(db, "manual_close", None)
            if manual_close is not None:
                manual_close()
            else:
                db.close()


@contextmanager
def _write_transaction(db: peewee.Database, say: Say) -> Iterator[None]:
    transaction = db.atomic("IMMEDIATE")
    said = False
    while True:
        try:
            transaction.__enter__()  # waits the busy timeout for the write lock
            break
        except peewee.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if not said:
                say(WAITING)
                said = True
    try:
        yield
    except BaseException:
        # committed even when a step failed: its savepoint is rolled back already, and the
        # steps before it stay applied, as each in its own transaction on PostgreSQL
        with suppress(peewee.DatabaseError):  # the step's error is the one to tell
            transaction.__exit__(None, None, None)
        raise
    transaction.__exit__(None, None, None)

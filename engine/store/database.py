"""Opening the database named by DATABASE_URL: SQLite (the default) or PostgreSQL."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import peewee
from playhouse.pool import PooledPostgresqlDatabase

DEFAULT_URL = "sqlite:///data/bot.db"


class DatabaseURLError(ValueError):
    """DATABASE_URL cannot be used; the message says what to write."""


_SQLITE_OPTIONS = ("busy_timeout", "synchronous")
_POOL_OPTIONS = ("pool", "pool_wait")  # the rest of a PostgreSQL URL's options go to libpq


def url_problems(url: str) -> list[str]:
    """What is wrong with DATABASE_URL, a sentence each, found without connecting: the
    scheme, the sqlite path and the query's options this engine reads itself. The
    password is never part of a sentence."""
    parsed = urlparse(url)
    options = {k: v[-1] for k, v in parse_qs(parsed.query, keep_blank_values=True).items()}
    problems: list[str] = []
    if parsed.scheme == "sqlite":
        if not _sqlite_path(url):
            problems.append(
                "DATABASE_URL: write sqlite:///data/bot.db (a file path after sqlite:///)"
            )
        for name in sorted(set(options) - set(_SQLITE_OPTIONS)):
            problems.append(
                f"DATABASE_URL: a sqlite URL takes the options busy_timeout and synchronous, "
                f"not '{name}'"
            )
        if options.get("synchronous", "normal").lower() not in ("normal", "full"):
            problems.append("DATABASE_URL: synchronous may be normal or full")
        _whole(options, "busy_timeout", "milliseconds, like ?busy_timeout=10000", 0, problems)
    elif parsed.scheme in ("postgres", "postgresql"):
        try:
            parsed.port  # noqa: B018 (reading it checks it)
        except ValueError:
            problems.append(
                "DATABASE_URL: the port after the host must be a number, like "
                "postgresql://user:pass@host:5432/botdb"
            )
        if not parsed.path.lstrip("/"):
            problems.append(
                "DATABASE_URL: name the database, like postgresql://user:pass@host/botdb"
            )
        _whole(options, "pool", "connections, like ?pool=10", 1, problems)
        wait = options.get("pool_wait")
        if wait is not None and not _seconds(wait):
            problems.append(
                f"DATABASE_URL: pool_wait={wait!r} is not a number of seconds; "
                "write e.g. ?pool_wait=10"
            )
        problems.extend(_libpq_option_problems(set(options) - set(_POOL_OPTIONS)))
    else:
        scheme = f"not '{parsed.scheme}'" if parsed.scheme else "like sqlite:///data/bot.db"
        problems.append(f"DATABASE_URL must start with sqlite:/// or postgresql://, {scheme}")
    return problems


def _libpq_option_problems(names: set[str]) -> list[str]:
    """Options libpq does not know (?sslmod=require), asked of libpq itself without
    connecting; without psycopg2 installed, opening the database says what to install."""
    try:
        from psycopg2 import ProgrammingError
        from psycopg2.extensions import parse_dsn
    except ImportError:
        return []
    problems = []
    for name in sorted(names):
        try:
            known = name.isidentifier() and bool(parse_dsn(f"{name}=x"))
        except ProgrammingError:  # invalid connection option
            known = False
        if not known:
            problems.append(
                f"DATABASE_URL: '{name}' is not an option of PostgreSQL's connection (see "
                "the libpq manual: sslmode, connect_timeout, application_name, ...) nor of "
                "the pool (pool, pool_wait)"
            )
    return problems


def _sqlite_path(url: str) -> str:
    parsed = urlparse(url)
    return unquote(parsed.path[1:] if url.startswith("sqlite:///") else parsed.path)


def _whole(options: dict[str, str], name: str, what: str, low: int, problems: list[str]) -> None:
    raw = options.get(name)
    if raw is not None and not (raw.strip().isdigit() and int(raw) >= low):
        problems.append(
            f"DATABASE_URL: {name}={raw!r} is not a whole number of at least {low}; write {what}"
        )


def _seconds(raw: str) -> bool:
    try:
        return 0 <= float(raw) < float("inf")
    except ValueError:
        return False


def open_database(url: str = DEFAULT_URL) -> peewee.Database:
    """A database for `url`. SQLite runs in WAL mode with a busy timeout and foreign keys;
    `?synchronous=full` makes every commit survive a power loss. PostgreSQL uses a pool."""
    problems = url_problems(url)
    if problems:
        raise DatabaseURLError("; ".join(problems))
    parsed = urlparse(url)
    options = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
    if parsed.scheme == "sqlite":
        path = _sqlite_path(url)
        if path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        synchronous = options.get("synchronous", "normal").lower()
        return CheckpointedSqliteDatabase(
            path,
            pragmas={
                "journal_mode": "wal",
                "busy_timeout": int(options.get("busy_timeout", 10_000)),
                "foreign_keys": 1,
                "synchronous": synchronous,
                # KiB. The operating system's file cache keeps the hot pages all the same;
                # a bigger cache (128 MB) or reads through mmap were no faster with a million
                # users (bench/store.py) and grew the process by hundreds of MB
                "cache_size": -16_000,
                # the checkpointer thread copies the WAL back into the file; a writer does it
                # itself only if the WAL grows past this many pages (40 MB) all the same
                "wal_autocheckpoint": 10_000,
            },
            check_same_thread=False,
        )
    if parsed.scheme in ("postgres", "postgresql"):
        try:
            import psycopg2  # noqa: F401
        except ImportError:
            raise DatabaseURLError(
                "PostgreSQL needs psycopg2, which is not installed: install the engine with "
                "its postgres extra (pip install 'scenario-bot-engine[postgres]', or "
                "pip install -e '.[postgres]' in a checkout)"
            ) from None
        settings: dict[str, Any] = {
            "user": unquote(parsed.username or "") or None,
            "password": unquote(parsed.password or "") or None,
            "host": parsed.hostname or None,
            "port": parsed.port or 5432,
            "max_connections": int(options.pop("pool", 10)),
            "stale_timeout": 300,
            # a thread finding every pooled connection in use waits for one (seconds), not
            # fails: a webhook's burst of requests can outnumber the pool for a moment
            "timeout": float(options.pop("pool_wait", 10)),
            **{k: v for k, v in options.items()},
        }
        name = parsed.path.lstrip("/")
        return PooledPostgresqlDatabase(
            name, **{k: v for k, v in settings.items() if v is not None}
        )
    raise AssertionError("url_problems lets only sqlite and postgresql through")


# what a database says when it is gone for good rather than busy, full or restarting: the
# file or the database itself missing, tables dropped, a read-only or corrupt file, a
# login refused. Waiting does not mend these; a supervisor must see them.
_GONE = (
    "no such table",
    "unable to open database file",
    "readonly database",
    "malformed",
    "file is not a database",
    "does not exist",
    "authentication failed",
    "permission denied",
)


def database_gone(exc: BaseException) -> bool:
    """Whether `exc` (or what caused it) says the database is gone for good."""
    seen: BaseException | None = exc
    while seen is not None:
        text = str(seen).lower()
        if any(words in text for words in _GONE):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def is_postgres(db: peewee.Database) -> bool:
    return isinstance(db, peewee.PostgresqlDatabase)


def write_transaction(db: peewee.Database) -> Any:
    """A write transaction that takes its lock at once (SQLite BEGIN IMMEDIATE), so two
    writers never deadlock half-way; PostgreSQL locks rows and chats as it goes."""
    if isinstance(db, peewee.SqliteDatabase):
        return db.atomic("IMMEDIATE")
    return db.atomic()


class _Checkpointer:
    """Copies committed pages from SQLite's WAL back into the database file in a thread of
    its own (PRAGMA wal_checkpoint(PASSIVE)), so the writer's commits do not wait for that
    copy and its fsyncs. A commit is durable once it is in the WAL, before any checkpoint;
    a checkpoint killed half-way is finished by the next one. The thread ends after a few
    idle seconds and starts again with the next commit."""

    INTERVAL = 0.05  # seconds between checkpoints while commits keep coming
    IDLE = 5.0  # seconds without a commit before the thread ends

    def __init__(self, path: str, synchronous: str) -> None:
        self.path = path
        self.synchronous = synchronous  # a checkpoint syncs the file as the writer would
        self.wake = threading.Event()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.failures = 0

    def poke(self) -> None:
        self.wake.set()
        if self.thread is None:
            with self.lock:
                if self.thread is None:
                    self.thread = threading.Thread(
                        target=self._run, name="sqlite-checkpoint", daemon=True
                    )
                    self.thread.start()

    def _run(self) -> None:
        connection = None
        try:
            connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            connection.execute(f"PRAGMA synchronous={self.synchronous}")
            connection.execute("PRAGMA cache_size=-2000")
            while True:
                if not self.wake.wait(self.IDLE):
                    with self.lock:
                        if not self.wake.is_set():
                            return
                self.wake.clear()
                connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                time.sleep(self.INTERVAL)  # several commits per checkpoint
        except sqlite3.Error:  # the writers' own automatic checkpoints still bound the WAL
            self.failures += 1
        finally:
            with self.lock:
                self.thread = None
            if connection is not None:
                connection.close()


class CheckpointedSqliteDatabase(peewee.SqliteDatabase):
    """SQLite with WAL checkpoints done by a background thread (see _Checkpointer)."""

    def init(self, database: Any, *args: Any, **kwargs: Any) -> None:
        super().init(database, *args, **kwargs)
        pragmas = dict(getattr(self, "_pragmas", ()))
        self._busy_seconds = int(pragmas.get("busy_timeout", 0)) / 1000
        self._checkpointer: _Checkpointer | None = None
        if database and database != ":memory:":
            synchronous = str(pragmas.get("synchronous", "normal"))
            self._checkpointer = _Checkpointer(database, synchronous)

    def _connect(self) -> Any:
        """A new file is switched to WAL under an exclusive lock, and when processes opening
        the fresh file together both try it, SQLite answers 'database is locked' at once,
        without the busy timeout's wait: opened again until that timeout has passed."""
        deadline, pause = time.monotonic() + self._busy_seconds, 0.001
        while True:
            try:
                return super()._connect()  # type: ignore[misc]
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 0.05)

    def commit(self) -> None:
        super().commit()
        if self._checkpointer is not None:
            self._checkpointer.poke()

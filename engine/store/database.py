"""Opening the database named by DATABASE_URL: SQLite (the default) or PostgreSQL."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import peewee
from playhouse.pool import PooledPostgresqlDatabase

DEFAULT_URL = "sqlite:///data/bot.db"


class DatabaseURLError(ValueError):
    """DATABASE_URL cannot be used; the message says what to write."""


def open_database(url: str = DEFAULT_URL) -> peewee.Database:
    """A database for `url`. SQLite runs in WAL mode with a busy timeout and foreign keys;
    `?synchronous=full` makes every commit survive a power loss. PostgreSQL uses a pool."""
    parsed = urlparse(url)
    options = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
    if parsed.scheme == "sqlite":
        path = unquote(parsed.path[1:] if url.startswith("sqlite:///") else parsed.path)
        if not path:
            raise DatabaseURLError(
                "DATABASE_URL: write sqlite:///data/bot.db (a file path after sqlite:///)"
            )
        if path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        synchronous = options.get("synchronous", "normal").lower()
        if synchronous not in ("normal", "full"):
            raise DatabaseURLError("DATABASE_URL: synchronous may be normal or full")
        return peewee.SqliteDatabase(
            path,
            pragmas={
                "journal_mode": "wal",
                "busy_timeout": int(options.get("busy_timeout", 10_000)),
                "foreign_keys": 1,
                "synchronous": synchronous,
                "cache_size": -128_000,  # KiB: hot sessions stay in memory
                "mmap_size": 1 << 28,  # reads of a large file without copying pages
            },
            check_same_thread=False,
        )
    if parsed.scheme in ("postgres", "postgresql"):
        try:
            import psycopg2  # noqa: F401
        except ImportError:
            raise DatabaseURLError(
                "PostgreSQL needs psycopg2: pip install -e '.[postgres]'"
            ) from None
        settings: dict[str, Any] = {
            "user": unquote(parsed.username or "") or None,
            "password": unquote(parsed.password or "") or None,
            "host": parsed.hostname or None,
            "port": parsed.port or 5432,
            "max_connections": int(options.pop("pool", 10)),
            "stale_timeout": 300,
            **{k: v for k, v in options.items()},
        }
        name = parsed.path.lstrip("/")
        if not name:
            raise DatabaseURLError(
                "DATABASE_URL: name the database, like postgresql://user:pass@host/botdb"
            )
        return PooledPostgresqlDatabase(
            name, **{k: v for k, v in settings.items() if v is not None}
        )
    raise DatabaseURLError(
        f"DATABASE_URL must start with sqlite:/// or postgresql://, not '{parsed.scheme or url}'"
    )


def is_postgres(db: peewee.Database) -> bool:
    return isinstance(db, peewee.PostgresqlDatabase)


def write_transaction(db: peewee.Database) -> Any:
    """A write transaction that takes its lock at once (SQLite BEGIN IMMEDIATE), so two
    writers never deadlock half-way; PostgreSQL locks rows and chats as it goes."""
    if isinstance(db, peewee.SqliteDatabase):
        return db.atomic("IMMEDIATE")
    return db.atomic()

"""The operator's commands on the store: --migrate, --export-user, --delete-user, --prune."""

from __future__ import annotations

import datetime as dt
import json
import os
from typing import TextIO

from engine.store.crypto import SensitiveCipher
from engine.store.database import DEFAULT_URL, open_database, write_transaction
from engine.store.migrations import check, migrate
from engine.store.models import database_proxy
from engine.store.privacy import audit, delete_user, export_user, prune

DEFAULT_RETENTION_DAYS = 30


def _database_url() -> str:
    return os.environ.get("DATABASE_URL", DEFAULT_URL)


def run_migrate(stdout: TextIO, stderr: TextIO) -> int:
    def say(notice: str) -> None:  # stdout is the list of steps; a wait is told apart
        stderr.write(f"run.py: {notice}\n")

    db = open_database(_database_url())
    done = migrate(db, say)
    if done:
        database_proxy.initialize(db)
        audit("cli", "migrate", None, {"steps": done}, dt.datetime.now(dt.UTC).replace(tzinfo=None))
    for line in done or ["the schema is up to date"]:
        stdout.write(line + "\n")
    return 0


def _opened() -> object:
    db = open_database(_database_url())
    check(db)
    database_proxy.initialize(db)
    return db


def run_export(user_id: int, stdout: TextIO) -> int:
    db = _opened()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with write_transaction(db):  # type: ignore[arg-type]
        data = export_user(user_id, SensitiveCipher.from_environment())
        audit("cli", "export", str(user_id), {"via": "--export-user"}, now)
    stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    return 0


def run_delete(user_id: int, stdout: TextIO) -> int:
    db = _opened()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with write_transaction(db):  # type: ignore[arg-type]
        counts = delete_user(user_id)
        audit("cli", "delete", str(user_id), {"via": "--delete-user", **counts}, now)
    stdout.write(
        f"deleted user {user_id}: " + ", ".join(f"{v} {k}" for k, v in counts.items()) + "\n"
    )
    return 0


def run_prune(stdout: TextIO, days: int | None = None) -> int:
    db = _opened()
    retention = (
        days
        if days is not None
        else int(os.environ.get("BOT_LOG_RETENTION_DAYS", DEFAULT_RETENTION_DAYS))
    )
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with write_transaction(db):  # type: ignore[arg-type]
        counts = prune(now, retention)
        audit("cli", "prune", None, {"days": retention, **counts}, now)
    stdout.write(
        f"pruned what is older than {retention} days: "
        + ", ".join(f"{v} {k}" for k, v in counts.items())
        + "\n"
    )
    return 0

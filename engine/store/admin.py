"""The operator's commands on the store: --migrate, --export-user, --delete-user, --prune,
on the database the checked settings name (DATABASE_URL, from .env too, like the bot)."""

from __future__ import annotations

import json
from typing import TextIO

from engine.command_name import program
from engine.store.crypto import SensitiveCipher
from engine.store.database import open_database, write_transaction
from engine.store.migrations import migrate, open_checked
from engine.store.models import database_proxy, stored_now
from engine.store.privacy import audit, delete_user, export_user, prune

DEFAULT_RETENTION_DAYS = 30


def run_migrate(url: str, stdout: TextIO, stderr: TextIO) -> int:
    def say(notice: str) -> None:  # stdout is the list of steps; a wait is told apart
        stderr.write(f"{program()}: {notice}\n")

    db = open_database(url)
    done = migrate(db, say)
    if done:
        database_proxy.initialize(db)
        audit("cli", "migrate", None, {"steps": done}, stored_now())
    for line in done or ["the schema is up to date"]:
        stdout.write(line + "\n")
    return 0


def run_export(url: str, user_id: int, stdout: TextIO) -> int:
    db = open_checked(url)
    now = stored_now()
    with write_transaction(db):
        data = export_user(user_id, SensitiveCipher.from_environment())
        audit("cli", "export", str(user_id), {"via": "--export-user"}, now)
    stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    return 0


def run_delete(url: str, user_id: int, stdout: TextIO) -> int:
    db = open_checked(url)
    now = stored_now()
    with write_transaction(db):
        counts = delete_user(user_id)
        audit("cli", "delete", str(user_id), {"via": "--delete-user", **counts}, now)
    stdout.write(
        f"deleted user {user_id}: " + ", ".join(f"{v} {k}" for k, v in counts.items()) + "\n"
    )
    return 0


def run_prune(url: str, stdout: TextIO, retention: int = DEFAULT_RETENTION_DAYS) -> int:
    """`retention` comes checked (at least 1 day): 0 or less would delete all history."""
    db = open_checked(url)
    now = stored_now()
    with write_transaction(db):
        counts = prune(now, retention)
        audit("cli", "prune", None, {"days": retention, **counts}, now)
    stdout.write(
        f"pruned what is older than {retention} days: "
        + ", ".join(f"{v} {k}" for k, v in counts.items())
        + "\n"
    )
    return 0

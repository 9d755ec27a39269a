"""The command line's operator commands on roles and flags: each opens the database that
DATABASE_URL names, calls the functions of engine.admin in one write transaction and says
what changed."""

from __future__ import annotations

import datetime as dt
from typing import TextIO

from engine.admin import roles
from engine.store.database import open_database, write_transaction
from engine.store.migrations import check
from engine.store.models import database_proxy

CLI = "cli"  # the audit log's actor for the command line


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _opened(url: str) -> object:
    db = open_database(url)
    check(db)
    database_proxy.initialize(db)
    return db


def run_grant(url: str, user_id: int, role: str, stdout: TextIO) -> int:
    roles.check_role_name(role)  # before opening the database: a typo costs nothing
    db = _opened(url)
    with write_transaction(db):  # type: ignore[arg-type]
        new = roles.grant(user_id, role, CLI, _now())
    stdout.write(
        f"granted {role} to user {user_id}\n"
        if new
        else f"user {user_id} already had {role}; nothing changed\n"
    )
    return 0


def run_revoke(url: str, user_id: int, role: str, stdout: TextIO) -> int:
    roles.check_role_name(role)
    db = _opened(url)
    with write_transaction(db):  # type: ignore[arg-type]
        removed = roles.revoke(user_id, role, CLI, _now())
    stdout.write(
        f"revoked {role} from user {user_id} (from their next message on)\n"
        if removed
        else f"user {user_id} did not have {role}; nothing changed\n"
    )
    return 0


def run_roles(url: str, stdout: TextIO) -> int:
    _opened(url)
    grants = roles.all_grants()
    for g in grants:
        stdout.write(
            f"{g.role}\t{g.user_id}\tgranted {g.granted_at:%Y-%m-%d %H:%M} by {g.granted_by}\n"
        )
    stdout.write(
        f"{len(grants)} role{'s' if len(grants) != 1 else ''} granted in the database; "
        "admin comes from BOT_ADMINS\n"
    )
    return 0

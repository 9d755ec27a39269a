"""Roles granted and revoked in the database, for `only:`. BOT_ADMINS stays the one source
of `admin` (a database row could otherwise outlive an operator's removal from the list)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from engine.store.models import RoleRow
from engine.store.privacy import audit

ADMIN = "admin"
_ROLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")  # as the scenario schema's roles


class RoleError(Exception):
    """A role that cannot be granted as asked; the message says why."""


@dataclass(frozen=True)
class Grant:
    user_id: int
    role: str
    granted_at: dt.datetime
    granted_by: str


def check_role_name(role: str) -> None:
    if not _ROLE_NAME.match(role):
        raise RoleError(
            f"'{role}' is no role name: letters, digits and _, not starting with a digit"
        )
    if role == ADMIN:
        raise RoleError(
            "admin is not granted in the database: it comes from BOT_ADMINS (the ids of the "
            "bot's admins), so that removing an id there always takes the role away"
        )


def grant(user_id: int, role: str, actor: str, now: dt.datetime) -> bool:
    """Give `role` to the user; False if they had it already (audited either way, since the
    operator asked). Call inside a write transaction."""
    check_role_name(role)
    new = role not in roles_of(user_id)
    if new:  # ignored if another process granted it meanwhile
        RoleRow.insert(
            user_id=user_id, role=role, granted_at=now, granted_by=actor
        ).on_conflict_ignore().execute()
    audit(actor, "grant", str(user_id), {"role": role, "changed": new}, now)
    return new


def revoke(user_id: int, role: str, actor: str, now: dt.datetime) -> bool:
    """Take `role` away; False if the user did not have it. It counts from the user's next
    update: the bot reads a user's roles with each batch. Call inside a write transaction."""
    check_role_name(role)
    removed = (
        RoleRow.delete().where((RoleRow.user_id == user_id) & (RoleRow.role == role)).execute()
    )
    audit(actor, "revoke", str(user_id), {"role": role, "changed": bool(removed)}, now)
    return bool(removed)


def roles_of(user_id: int) -> frozenset[str]:
    """The roles granted in the database (not `admin`): one primary-key look-up."""
    query = RoleRow.select(RoleRow.role).where(RoleRow.user_id == user_id)
    return frozenset(row.role for row in query)


def all_grants() -> list[Grant]:
    query = RoleRow.select().order_by(RoleRow.role, RoleRow.user_id)
    return [Grant(r.user_id, r.role, r.granted_at, r.granted_by) for r in query]

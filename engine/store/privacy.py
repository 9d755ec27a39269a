"""What users may ask of their data: a copy of everything stored about them (/mydata,
--export-user) and its deletion (/forgetme, --delete-user); retention (--prune). Every
export, deletion and pruning is written to the audit log."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from engine.store.crypto import SensitiveCipher
from engine.store.models import (
    AuditRow,
    InboxRow,
    MessageLogRow,
    OutboxRow,
    SessionRow,
    TimerRow,
    UserRow,
)
from engine.store.serialization import stack_from_json


def _stamp(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value


def export_user(user_id: int, cipher: SensitiveCipher | None = None) -> dict[str, Any]:
    """Everything stored about one user, as plain JSON-ready data (sensitive values decrypted:
    it is their own data)."""
    user = UserRow.get_or_none(UserRow.id == user_id)
    sessions = []
    rows = list(SessionRow.select().where(SessionRow.user_id == user_id))
    for row in rows:
        values = json.loads(row.vars or "{}")
        sessions.append(
            {
                "chat_id": row.chat_id,
                "scenario": row.scenario,
                "state": row.state,
                "variables": cipher.open_what_it_can(values) if cipher is not None else values,
                "call_stack": [f.state for f in stack_from_json(row.stack)],
                "language": row.language,
                "updated": _stamp(row.updated),
            }
        )
    messages = [
        {
            "at": _stamp(r.at),
            "chat_id": r.chat_id,
            "direction": r.direction,
            "kind": r.kind,
            "state": r.state,
            "text": r.text,
        }
        for r in MessageLogRow.select()
        .where(MessageLogRow.user_id == user_id)
        .order_by(MessageLogRow.at)
    ]
    timers = [
        {"state": r.state, "due": _stamp(r.due), "chat_id": r.chat_id}
        for r in TimerRow.select().where(
            (TimerRow.user_id == user_id) & (TimerRow.status == "pending")
        )
    ]
    profile = None
    if user is not None:
        profile = {
            "id": user.id,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "username": user.username,
            "language": user.language,
            "roles": json.loads(user.roles or "[]"),
            "first_seen": _stamp(user.first_seen),
            # the users row changes only with the profile; each message updates a session
            "last_seen": _stamp(max([user.updated, *(s.updated for s in rows)])),
            "blocked": user.blocked,
        }
    return {"user": profile, "conversations": sessions, "message_log": messages, "timers": timers}


def delete_user(user_id: int) -> dict[str, int]:
    """Delete everything about the user; the raw updates of their private chat go too."""
    counts = {
        "sessions": SessionRow.delete().where(SessionRow.user_id == user_id).execute(),
        "message_log": MessageLogRow.delete().where(MessageLogRow.user_id == user_id).execute(),
        "timers": TimerRow.delete().where(TimerRow.user_id == user_id).execute(),
        "inbox": InboxRow.delete().where(InboxRow.chat_id == user_id).execute(),
        "outbox": OutboxRow.delete()
        .where((OutboxRow.chat_id == user_id) & (OutboxRow.status != "pending"))
        .execute(),
        "users": UserRow.delete().where(UserRow.id == user_id).execute(),
    }
    return counts


def audit(
    actor: str, action: str, subject: str | None, details: dict[str, Any], now: dt.datetime
) -> None:
    AuditRow.create(
        at=now, actor=actor, action=action, subject=subject, details=json.dumps(details)
    )


def prune(now: dt.datetime, retention_days: int) -> dict[str, int]:
    """Forget what is older than the retention period: message log, finished updates, sent
    messages and spent timers. Sessions and users stay (they are the bot's memory)."""
    limit = now - dt.timedelta(days=retention_days)
    return {
        "message_log": MessageLogRow.delete()
        .where(_before(MessageLogRow, MessageLogRow.at, limit))
        .execute(),
        "inbox": InboxRow.delete()
        .where(_before(InboxRow, InboxRow.received, limit) & (InboxRow.status == "done"))
        .execute(),
        "outbox": OutboxRow.delete()
        .where((OutboxRow.created < limit) & (OutboxRow.status == "sent"))
        .execute(),
        "timers": TimerRow.delete()
        .where((TimerRow.due < limit) & (TimerRow.status != "pending"))
        .execute(),
    }


def _before(model: Any, moment: Any, limit: dt.datetime) -> Any:
    """Rows written before `limit`, for a table written in time order and not indexed by
    time: the scan stops at the first newer row in id order (it reads what is deleted), and
    the time is still checked, so a row out of order (a clock set back) is never taken early."""
    first_new = model.select(model.id).where(moment >= limit).order_by(model.id).limit(1).scalar()
    if first_new is None:
        return moment < limit
    return (model.id < first_new) & (moment < limit)

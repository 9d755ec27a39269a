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
    BroadcastRow,
    InboxRow,
    MessageLogRow,
    OutboxRow,
    RoleRow,
    SessionRow,
    TimerRow,
    UserRow,
)
from engine.store.serialization import stack_from_json

# an outbox row's payload once the row is done with (sent, uncertain or failed): a message
# sent is the user's to keep, not the database's, and an export is not kept at all
REDACTED_PAYLOAD = '{"redacted": "sent"}'


def sender_of(body: str) -> int | None:
    """The user who sent a raw update (Telegram's `from` of its message, press, ...), for a
    row kept without a parsed event; None when the update names nobody."""
    try:
        update = json.loads(body)
    except (TypeError, ValueError, RecursionError):
        return None
    if not isinstance(update, dict):
        return None
    for part in update.values():
        sender = part.get("from") if isinstance(part, dict) else None
        found = sender.get("id") if isinstance(sender, dict) else None
        if type(found) is int:
            return found
    return None


def _about(model: Any, user_id: int) -> Any:
    """Rows of the inbox or outbox about the user: theirs, or in their private chat (rows
    written before schema 7 name no user; a private chat's id is its user's)."""
    return (model.user_id == user_id) | ((model.user_id.is_null()) & (model.chat_id == user_id))


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
            "to_state": r.to_state,
            "not_understood": r.fallback,
            "replies": r.replies,
        }
        for r in MessageLogRow.select()
        .where(MessageLogRow.user_id == user_id)
        .order_by(MessageLogRow.at)
    ]
    timers = [
        {"state": r.state, "due": _stamp(r.due), "chat_id": r.chat_id, "status": r.status}
        for r in TimerRow.select().where(TimerRow.user_id == user_id).order_by(TimerRow.id)
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
    inbox = [
        {
            "update_id": r.update_id,
            "chat_id": r.chat_id,
            "status": r.status,
            "received": _stamp(r.received),
            "error": r.error,
            "update": _json_or_text(r.body),  # kept only for an update set aside
        }
        for r in InboxRow.select().where(_about(InboxRow, user_id)).order_by(InboxRow.id)
    ]
    outbox = [
        {
            "chat_id": r.chat_id,
            "kind": r.kind,
            "status": r.status,
            "created": _stamp(r.created),
            "error": r.error,
            "message": _json_or_text(r.payload) if r.payload != REDACTED_PAYLOAD else None,
        }
        for r in OutboxRow.select().where(_about(OutboxRow, user_id)).order_by(OutboxRow.id)
    ]
    audits = [
        {"at": _stamp(r.at), "actor": r.actor, "action": r.action, "details": r.details}
        for r in AuditRow.select()
        .where((AuditRow.subject == str(user_id)) | (AuditRow.actor == f"user:{user_id}"))
        .order_by(AuditRow.id)
    ]
    granted = [
        {"role": r.role, "granted_at": _stamp(r.granted_at), "granted_by": r.granted_by}
        for r in RoleRow.select().where(RoleRow.user_id == user_id).order_by(RoleRow.role)
    ]
    return {
        "user": profile,
        "conversations": sessions,
        "message_log": messages,
        "timers": timers,
        "inbox": inbox,
        "outbox": outbox,
        "audit_log": audits,
        "granted_roles": granted,  # by the operator (`--grant`); admin comes from BOT_ADMINS
        "broadcasts_started": _broadcasts_by(user_id),
    }


def _broadcasts_by(user_id: int) -> list[dict[str, Any]]:
    """The broadcasts an admin started from Telegram (`admin:<id>`): what they sent, to whom
    and how it went."""
    rows = (
        BroadcastRow.select()
        .where(
            (BroadcastRow.created_by == f"admin:{user_id}")
            | (BroadcastRow.progress_chat == user_id)
        )
        .order_by(BroadcastRow.id)
    )
    return [
        {
            "id": r.id,
            "text": r.text,
            "message": r.message_key,
            "where": r.condition,
            "status": r.status,
            "created": _stamp(r.created),
            "finished": _stamp(r.finished),
            "sent": r.sent,
            "blocked": r.blocked,
            "failed": r.failed,
        }
        for r in rows
    ]


def _json_or_text(text: str) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


CANCELLED = "cancelled: the user's data was deleted"


def delete_user(user_id: int) -> dict[str, int]:
    """Delete every row about the user: their updates and the messages their steps queued,
    in any chat (notices to the admins too). A message still waiting is not sent: its row
    stays, failed and naming nobody, so that its id is not reused (SQLite reuses the last
    rowid) while the sender may be sending it (its outcome would mark another message).
    The audit log keeps that it happened, by id (see docs/storage.md)."""
    # a timer due now may be firing: its row stays, cancelled, for the same reason
    due = (
        TimerRow.update(status="cancelled", chat_id=0, user_id=0, state="")
        .where((TimerRow.user_id == user_id) & (TimerRow.status == "pending"))
        .execute()
    )
    waiting = (
        OutboxRow.update(
            status="failed", error=CANCELLED, payload=REDACTED_PAYLOAD, chat_id=None, user_id=None
        )
        .where(_about(OutboxRow, user_id) & (OutboxRow.status == "pending"))
        .execute()
    )
    counts = {
        "sessions": SessionRow.delete().where(SessionRow.user_id == user_id).execute(),
        "message_log": MessageLogRow.delete().where(MessageLogRow.user_id == user_id).execute(),
        "timers": TimerRow.delete().where(TimerRow.user_id == user_id).execute() + due,
        "inbox": InboxRow.delete().where(_about(InboxRow, user_id)).execute(),
        "outbox": OutboxRow.delete().where(_about(OutboxRow, user_id)).execute() + waiting,
        "users": UserRow.delete().where(UserRow.id == user_id).execute(),
        # roles granted by the operator (`--grant`): data about them too; re-granted if wanted
        "roles": RoleRow.delete().where(RoleRow.user_id == user_id).execute(),
        # a broadcast they started stays (the operator's record, audited by id) and goes on;
        # only its progress messages to them stop
        "broadcasts_untold": BroadcastRow.update(progress_chat=None)
        .where(BroadcastRow.progress_chat == user_id)
        .execute(),
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

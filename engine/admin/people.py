"""What the admin panel shows about users, sessions and the audit log: plain functions over the
store (models bound to the database), so a later command or Telegram view shows the same. Only
indexed look-ups or small scans: the panel must stay cheap on a big bot."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, cast

from peewee import fn

from engine.store.crypto import MARK
from engine.store.models import AuditRow, MessageLogRow, RoleRow, SessionRow, UserRow

MASK = "••••••"  # a sensitive variable's value, in the panel
PAGE = 50


@dataclass(frozen=True)
class UserLine:
    id: int
    name: str
    username: str
    language: str
    blocked: bool
    first_seen: Any
    updated: Any


@dataclass(frozen=True)
class SessionView:
    chat_id: int
    state: str | None
    ended: bool
    language: str | None
    variables: tuple[tuple[str, str], ...]  # (name, value shown), sensitive ones masked
    updated: Any


@dataclass(frozen=True)
class HistoryLine:
    at: Any
    direction: str
    kind: str
    state: str | None
    to_state: str | None
    not_understood: bool
    text: str | None


@dataclass(frozen=True)
class UserView:
    user: UserLine
    roles: tuple[str, ...]
    sessions: tuple[SessionView, ...]
    history: tuple[HistoryLine, ...]  # the newest first


@dataclass(frozen=True)
class AuditLine:
    id: int
    at: Any
    actor: str
    action: str
    subject: str | None
    details: str


def _line(row: UserRow) -> UserLine:
    name = " ".join(part for part in (row.first_name, row.last_name) if part)
    return UserLine(
        row.id,
        name,
        row.username or "",
        row.language or "",
        bool(row.blocked),
        row.first_seen,
        row.updated,
    )


def find_users(query: str, limit: int = PAGE) -> list[UserLine]:
    """Users by id (exact), or by a part of a name or username (the newest first); the most
    recently seen when `query` is empty."""
    query = query.strip().removeprefix("@")
    rows = UserRow.select()
    if query.lstrip("-").isdigit():
        rows = rows.where(UserRow.id == int(query))
    elif query:
        pattern = f"%{query.lower()}%"
        rows = rows.where(
            fn.LOWER(UserRow.first_name).contains(query.lower())
            | fn.LOWER(UserRow.last_name).contains(query.lower())
            | fn.LOWER(UserRow.username) ** pattern
        )
    return [_line(r) for r in rows.order_by(UserRow.updated.desc()).limit(limit)]


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    return text if len(text) <= 200 else text[:199] + "…"


def user_view(user_id: int, sensitive: frozenset[str], history: int = PAGE) -> UserView | None:
    """One user: profile, granted roles, sessions with their variables (the sensitive ones and
    any stored encrypted masked, never opened), and the latest log rows."""
    row = UserRow.get_or_none(UserRow.id == user_id)
    if row is None:
        return None
    sessions = []
    for s in SessionRow.select().where(SessionRow.user_id == user_id):
        values = json.loads(s.vars or "{}")
        shown = tuple(
            (
                name,
                MASK
                if name in sensitive or (isinstance(value, dict) and MARK in value)
                else _shown(value),
            )
            for name, value in sorted(values.items())
        )
        sessions.append(
            SessionView(s.chat_id, s.state, bool(s.ended), s.language, shown, s.updated)
        )
    roles = tuple(
        r.role for r in RoleRow.select().where(RoleRow.user_id == user_id).order_by(RoleRow.role)
    )
    lines = tuple(
        HistoryLine(r.at, r.direction, r.kind, r.state, r.to_state, bool(r.fallback), r.text)
        for r in MessageLogRow.select()
        .where(MessageLogRow.user_id == user_id)
        .order_by(MessageLogRow.id.desc())
        .limit(history)
    )
    return UserView(_line(row), roles, tuple(sessions), lines)


@dataclass(frozen=True)
class Overview:
    users: int
    blocked: int
    active_today: int  # sessions written since midnight UTC
    waiting_by_state: tuple[tuple[str, int], ...]  # the most crowded first


def overview(now: dt.datetime) -> Overview:
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    users = UserRow.select().count()
    blocked = UserRow.select().where(UserRow.blocked == True).count()  # noqa: E712
    active = (
        SessionRow.select(fn.COUNT(SessionRow.user_id.distinct()))
        .where(SessionRow.updated >= midnight)
        .scalar()
    )
    crowd = fn.COUNT(SessionRow.user_id)
    query = (
        SessionRow.select(SessionRow.state, crowd)
        .where(SessionRow.state.is_null(False) & (SessionRow.ended == False))  # noqa: E712
        .group_by(SessionRow.state)
        .order_by(crowd.desc(), SessionRow.state)
    )
    rows = cast(list[tuple[Any, ...]], list(query.tuples()))  # peewee's stubs say model rows
    waiting = tuple((str(state), int(n)) for state, n in rows)
    return Overview(users, blocked, int(active or 0), waiting)


def audit_page(before: int | None = None, limit: int = PAGE) -> list[AuditLine]:
    """The audit log, the newest first; `before` an id to page back from."""
    rows = AuditRow.select()
    if before is not None:
        rows = rows.where(AuditRow.id < before)
    return [
        AuditLine(r.id, r.at, r.actor, r.action, r.subject, r.details)
        for r in rows.order_by(AuditRow.id.desc()).limit(limit)
    ]

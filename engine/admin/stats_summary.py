"""/stats in an admin's chat: the few figures worth a glance on a phone (users, who was active
today and in the last 7 days, where most users wait), answered inside the bot's batch
transaction, so only from tables a bot keeps small to read: users and sessions, never the
message log (--stats and --html read that)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from peewee import Case, fn

from engine.command_name import command
from engine.store.models import SessionRow, UserRow

MOST_STATES = 5  # the states with the most sessions waiting, in the answer


@dataclass(frozen=True)
class Summary:
    users: int
    blocked: int
    active_today: int  # distinct users whose session changed since UTC midnight
    active_week: int  # ... since UTC midnight 6 days ago (7 days, today included)
    waiting: tuple[tuple[str, int], ...]  # (state, sessions waiting there), most first


def summarize(now: dt.datetime) -> Summary:
    """A user's last message is their session's `updated` (the store writes it with every
    update, as the broadcasts' `last_seen` reads it)."""
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    week = today - dt.timedelta(days=6)
    # one read of the sessions for both: the users of the week, those of today among them
    today_user = Case(None, [(SessionRow.updated >= today, SessionRow.user_id)], None)
    active: Any = SessionRow.select(
        fn.COUNT(SessionRow.user_id.distinct()), fn.COUNT(fn.DISTINCT(today_user))
    ).where(SessionRow.updated >= week)
    active_week, active_today = (int(n or 0) for n in active.tuples()[0])
    count = fn.COUNT(SessionRow.user_id)
    most: Any = (  # peewee's typing sees model instances, not the tuples asked for
        SessionRow.select(SessionRow.state, count)
        .where(SessionRow.ended == False, SessionRow.state.is_null(False))  # noqa: E712
        .group_by(SessionRow.state)
        .order_by(count.desc(), SessionRow.state)
        .limit(MOST_STATES)
    )
    waiting = tuple((str(state), int(n)) for state, n in most.tuples())
    return Summary(
        users=UserRow.select().count(),
        blocked=UserRow.select().where(UserRow.blocked == True).count(),  # noqa: E712
        active_today=active_today,
        active_week=active_week,
        waiting=waiting,
    )


def as_text(summary: Summary) -> str:
    """Plain text for the chat, short enough to read without scrolling."""
    lines = [
        f"Users: {summary.users:,} ({summary.blocked:,} blocked the bot)",
        f"Active today: {summary.active_today:,}; last 7 days: {summary.active_week:,}",
    ]
    if summary.waiting:
        lines.append("Most waiting in:")
        lines += [f"  {state}: {n:,}" for state, n in summary.waiting]
    else:
        lines.append("Nobody is waiting in a state.")
    lines.append(f"Per day, languages and the funnel: {command()} --stats (--html FILE: charts).")
    return "\n".join(lines)

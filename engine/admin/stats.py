"""The operator's statistics (--stats): who uses the bot, and where in the scenario they are,
read from what the store already keeps (users, sessions, message_log). Plain functions over
the store, so the command line, a Telegram admin command and a panel show the same figures."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import peewee
from peewee import Case, fn

from engine.store.models import MessageLogRow, SessionRow, UserRow


@dataclass(frozen=True)
class DayCount:
    day: str  # YYYY-MM-DD, UTC
    users: int


@dataclass(frozen=True)
class LanguageCount:
    language: str  # "" when Telegram did not say and the user did not choose
    users: int


@dataclass(frozen=True)
class StateFigures:
    """One state of the funnel. `reached`: distinct users with an update logged in this
    state (the log's `state` is the state an update found); `updates`: those updates;
    `waiting`: sessions in this state now, not ended; `ended`: sessions that ended here."""

    state: str
    reached: int
    updates: int
    waiting: int
    ended: int
    entries: int = 0  # moves into the state from another (or from none: a new user)
    not_understood: int = 0  # of `updates`, those the fallback answered
    median_stay: float | None = None  # seconds, over the visits that ended (None: none did)

    @property
    def drop_off(self) -> float:
        """Share of the users who reached the state and sit there now without ending."""
        return self.waiting / self.reached if self.reached else 0.0


@dataclass(frozen=True)
class Stats:
    since: dt.datetime | None  # the per-day and funnel figures count from here (None: all)
    users: int
    blocked: int
    by_language: tuple[LanguageCount, ...]
    new_per_day: tuple[DayCount, ...]
    active_per_day: tuple[DayCount, ...]
    funnel: tuple[StateFigures, ...]


def _tuples(query: Any) -> list[tuple[Any, ...]]:
    """A query's rows as tuples (peewee's typing sees model instances)."""
    return [tuple(row) for row in query.tuples()]


def _day(value: object) -> str:
    """A day as SQLite (text) and PostgreSQL (a date) return it, the same way."""
    if isinstance(value, dt.datetime):  # peewee turns SQLite's DATE() text into one
        return value.date().isoformat()
    return value.isoformat() if isinstance(value, dt.date) else str(value)[:10]


def collect(since: dt.datetime | None = None) -> Stats:
    """The figures of the database bound to the models; `since` limits the per-day counts
    and the funnel's logged updates (user totals and sessions now are always whole)."""
    users = UserRow.select().count()
    blocked = UserRow.select().where(UserRow.blocked == True).count()  # noqa: E712
    language = fn.COALESCE(UserRow.language, "")
    by_language = tuple(
        LanguageCount(str(lang), int(n))
        for lang, n in _tuples(
            UserRow.select(language, fn.COUNT(UserRow.id))
            .group_by(language)
            .order_by(fn.COUNT(UserRow.id).desc(), language)
        )
    )
    new_day = fn.DATE(UserRow.first_seen)
    new_query = UserRow.select(new_day, fn.COUNT(UserRow.id))
    if since is not None:
        new_query = new_query.where(UserRow.first_seen >= since)
    new_per_day = tuple(
        DayCount(_day(d), int(n)) for d, n in _tuples(new_query.group_by(new_day).order_by(new_day))
    )
    incoming = MessageLogRow.direction == "in"
    if since is not None:
        incoming &= MessageLogRow.at >= since
    log_day = fn.DATE(MessageLogRow.at)
    active_per_day = tuple(
        DayCount(_day(d), int(n))
        for d, n in _tuples(
            MessageLogRow.select(log_day, fn.COUNT(MessageLogRow.user_id.distinct()))
            .where(incoming)
            .group_by(log_day)
            .order_by(log_day)
        )
    )
    return Stats(
        since,
        users,
        blocked,
        by_language,
        new_per_day,
        active_per_day,
        _funnel(incoming),
    )


def _funnel(incoming: peewee.Expression) -> tuple[StateFigures, ...]:
    fell_back = fn.SUM(Case(None, [(MessageLogRow.fallback == True, 1)], 0))  # noqa: E712
    logged = {
        str(state): (int(reached), int(updates), int(missed or 0))
        for state, reached, updates, missed in _tuples(
            MessageLogRow.select(
                MessageLogRow.state,
                fn.COUNT(MessageLogRow.user_id.distinct()),
                fn.COUNT(MessageLogRow.id),
                fell_back,
            )
            .where(incoming & MessageLogRow.state.is_null(False))
            .group_by(MessageLogRow.state)
        )
    }
    moved = MessageLogRow.state.is_null() | (MessageLogRow.state != MessageLogRow.to_state)
    entries = {
        str(state): int(n)
        for state, n in _tuples(
            MessageLogRow.select(MessageLogRow.to_state, fn.COUNT(MessageLogRow.id))
            .where(incoming & MessageLogRow.to_state.is_null(False) & moved)
            .group_by(MessageLogRow.to_state)
        )
    }
    stays = _median_stays(incoming)
    waiting: dict[str, int] = {}
    ended: dict[str, int] = {}
    for state, is_ended, n in _tuples(
        SessionRow.select(SessionRow.state, SessionRow.ended, fn.COUNT(SessionRow.user_id))
        .where(SessionRow.state.is_null(False))
        .group_by(SessionRow.state, SessionRow.ended)
    ):
        (ended if is_ended else waiting)[str(state)] = int(n)
    names = set(logged) | set(waiting) | set(ended) | set(entries)
    rows = [
        StateFigures(
            name,
            logged.get(name, (0, 0, 0))[0],
            logged.get(name, (0, 0, 0))[1],
            waiting.get(name, 0),
            ended.get(name, 0),
            entries.get(name, 0),
            logged.get(name, (0, 0, 0))[2],
            stays.get(name),
        )
        for name in names
    ]
    return tuple(sorted(rows, key=lambda r: (-r.reached, -r.ended, r.state)))


def _median_stays(incoming: peewee.Expression) -> dict[str, float]:
    """Per state, the median of the whole seconds users stayed in it, over the visits that
    ended (the log row of the update that moved them on carries it, schema 10). Counted per
    whole second in the database, so the rows never come to Python one by one."""
    seconds = fn.ROUND(MessageLogRow.stayed)
    counts: dict[str, list[tuple[float, int]]] = {}
    for state, value, n in _tuples(
        MessageLogRow.select(MessageLogRow.state, seconds, fn.COUNT(MessageLogRow.id))
        .where(incoming & MessageLogRow.stayed.is_null(False) & MessageLogRow.state.is_null(False))
        .group_by(MessageLogRow.state, seconds)
    ):
        counts.setdefault(str(state), []).append((float(value), int(n)))
    return {state: weighted_median(values) for state, values in counts.items()}


def weighted_median(values: list[tuple[float, int]]) -> float:
    """The median of values given with how often each occurs (the mean of the two middle
    ones for an even count)."""
    ordered = sorted(values)
    total = sum(n for _, n in ordered)
    middle = [(total - 1) // 2, total // 2]  # the 0-based places of the middle value(s)
    found: list[float] = []
    seen = 0
    for value, n in ordered:
        while middle and middle[0] < seen + n:
            found.append(value)
            middle.pop(0)
        seen += n
    return sum(found) / len(found)

"""The gauges that need the database: the outbox's pending messages and the age of the oldest,
the pending timers, the sessions by state. Each is read with a cheap query (the outbox's and
the timers' through their indexes of pending rows) at most every few seconds, whoever scrapes
how often; sessions, a scan of their table, at most every SESSIONS_EVERY seconds. A query that
fails leaves its gauges out of that scrape (readiness says why), never a stale figure."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import peewee
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

QUEUES_EVERY = 5.0  # seconds between two reads of the outbox and the timers
SESSIONS_EVERY = 30.0  # seconds between two counts of the sessions by state

_OUTBOX = "SELECT COUNT(*), MIN(id) FROM outbox WHERE status = 'pending'"
_OLDEST = "SELECT created FROM outbox WHERE id = {mark}"
_TIMERS = "SELECT COUNT(*) FROM timers WHERE status = 'pending'"
_SESSIONS = "SELECT state, ended, COUNT(*) FROM sessions GROUP BY state, ended"


class _Cached:
    """One query's figures, read again when older than `every` seconds."""

    def __init__(self, every: float, read: Callable[[], list[Metric]]) -> None:
        self.every = every
        self.read = read
        self.at: float | None = None
        self.metrics: list[Metric] = []

    def get(self, now: float) -> list[Metric]:
        if self.at is None or now - self.at >= self.every:
            self.at = now
            try:
                self.metrics = self.read()
            except (peewee.DatabaseError, peewee.InterfaceError, OSError):
                self.metrics = []  # left out; /readyz names the database
        return self.metrics


class DatabaseGauges(Collector):
    """A collector for the bot's registry; thread-safe (scrapes may overlap)."""

    def __init__(self, db: peewee.Database, clock: Callable[[], float] = time.monotonic) -> None:
        self.db = db
        self.clock = clock
        self._lock = threading.Lock()
        self._queues = _Cached(QUEUES_EVERY, self._read_queues)
        self._sessions = _Cached(SESSIONS_EVERY, self._read_sessions)

    def describe(self) -> list[Metric]:
        return []  # read only when scraped, not when registered

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            now = self.clock()
            yield from self._queues.get(now)
            yield from self._sessions.get(now)

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self.db.connection_context():  # back to the pool, or closed, at once
            cursor = self.db.execute_sql(sql, params)  # type: ignore[no-untyped-call]
            return list(cursor.fetchall())

    def _read_queues(self) -> list[Metric]:
        pending, first = self._query(_OUTBOX)[0]
        age = 0.0
        if first is not None:
            mark = "%s" if isinstance(self.db, peewee.PostgresqlDatabase) else "?"
            rows = self._query(_OLDEST.format(mark=mark), (first,))
            if rows and rows[0][0] is not None:
                age = _age(rows[0][0])
        timers = self._query(_TIMERS)[0][0]
        return [
            GaugeMetricFamily("bot_outbox_pending", "Messages waiting in the outbox", pending),
            GaugeMetricFamily(
                "bot_outbox_oldest_pending_seconds",
                "Age of the oldest message waiting in the outbox (0 when none waits)",
                age,
            ),
            GaugeMetricFamily("bot_timers_pending", "Timers waiting to fire", timers),
        ]

    def _read_sessions(self) -> list[Metric]:
        family = GaugeMetricFamily(
            "bot_sessions", "Sessions by the state they are in ((ended): ended)", labels=["state"]
        )
        counts: dict[str, int] = {}
        for state, ended, count in self._query(_SESSIONS):
            label = "(ended)" if ended else (state or "(none)")
            counts[label] = counts.get(label, 0) + int(count)
        for label, count in sorted(counts.items()):
            family.add_metric([label], count)
        return [family]


def _age(created: Any) -> float:
    """Seconds since `created` (a naive UTC datetime, or its text as SQLite returns it)."""
    if isinstance(created, str):
        created = dt.datetime.fromisoformat(created)
    if not isinstance(created, dt.datetime):
        return 0.0
    if created.tzinfo is None:
        created = created.replace(tzinfo=dt.UTC)
    seconds: float = (dt.datetime.now(dt.UTC) - created).total_seconds()
    return max(0.0, seconds)

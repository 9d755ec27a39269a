"""Whether the bot's loops run (/healthz) and whether it can serve (/readyz).

Each loop (intake: the poller or the webhook's server; the sender; the scheduler; the reload
watcher; the resumer) records when it last completed a round. A loop that has not for longer
than its limit is stuck: /healthz answers 503 and names it, and a supervisor restarts the
process. A loop that waits on purpose (for the lease another process holds) is not stuck.

Readiness asks the database itself (a new connection each time, so a file that went away or
a database that refuses connections is seen even while pooled connections still work), looks
at the loaded scenario and at when the Bot API last answered, and says whether this process
holds the lease."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import peewee

# seconds without a completed round after which a loop counts as stuck (the intake's is its
# long poll plus Telegram's read timeout and the longest back-off; see Bot.run)
SENDER_LIMIT = 120.0
SCHEDULER_LIMIT = 120.0
RELOAD_LIMIT = 120.0
RESUMER_LIMIT = 120.0
WEBHOOK_LIMIT = 30.0  # the webhook server's event loop beats every 0.2 s
API_RECENT = 90.0  # the Bot API answered within this many seconds: no need to ask it
DATABASE_TIMEOUT = 5  # seconds a readiness check waits for the database


@dataclass(frozen=True)
class LoopState:
    """What /healthz says of one loop."""

    name: str
    ok: bool
    seconds_since_round: float | None
    limit: float
    waiting: str | None = None  # why it waits on purpose (the lease), if it does

    def as_json(self) -> dict[str, Any]:
        since = self.seconds_since_round
        return {
            "ok": self.ok,
            "seconds_since_round": None if since is None else round(since, 3),
            "limit_seconds": self.limit,
            **({"waiting": self.waiting} if self.waiting else {}),
        }


class Health:
    """The loops' last rounds; thread-safe (each loop beats from its own thread)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._limits: dict[str, float] = {}
        self._last: dict[str, float] = {}
        self._waiting: dict[str, str] = {}
        self._lock = threading.Lock()

    def expect(self, name: str, limit: float) -> None:
        """`name` runs from now on and must complete a round every `limit` seconds."""
        with self._lock:
            self._limits[name] = limit
            self._last[name] = self.clock()  # starting counts as a round

    def beat(self, name: str) -> None:
        """`name` completed a round now (a dictionary write: cheap enough for every round)."""
        self._last[name] = self.clock()
        if self._waiting:
            self._waiting.pop(name, None)

    def waiting(self, name: str, why: str) -> None:
        """`name` waits on purpose (not stuck) until its next beat."""
        with self._lock:
            self._waiting[name] = why
            self._last[name] = self.clock()

    def loops(self) -> list[LoopState]:
        now = self.clock()
        with self._lock:
            states = []
            for name, limit in sorted(self._limits.items()):
                since = now - self._last[name] if name in self._last else None
                why = self._waiting.get(name)
                ok = why is not None or (since is not None and since <= limit)
                states.append(LoopState(name, ok, since, limit, why))
            return states


def database_answers(db: peewee.Database) -> str | None:
    """None when the database answers a query on the bot's tables; else why it does not."""
    try:
        if isinstance(db, peewee.PostgresqlDatabase):
            import psycopg2

            params = {k: v for k, v in db.connect_params.items() if k not in ("max_connections",)}
            connection = psycopg2.connect(
                dbname=db.database, connect_timeout=DATABASE_TIMEOUT, **params
            )
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT 1 FROM sessions LIMIT 1")
            finally:
                connection.close()
        else:
            path = str(db.database)
            target = path if path == ":memory:" else f"file:{path}?mode=ro"
            with_uri = path != ":memory:"
            connection = sqlite3.connect(target, uri=with_uri, timeout=DATABASE_TIMEOUT)
            try:
                connection.execute("SELECT 1 FROM sessions LIMIT 1").fetchall()
            finally:
                connection.close()
    except Exception as exc:  # whatever the driver raises: readiness reports it, not raises
        return (
            f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        )
    return None

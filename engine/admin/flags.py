"""Feature flags switched at run time: stored in the database, read by each bot process
through a FlagBoard at most every REFRESH_SECONDS, so one switch reaches every process
within that delay without a query per update."""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import peewee

from engine.store.models import FlagRow
from engine.store.privacy import audit

REFRESH_SECONDS = 5.0  # documented in docs/operations.md ("Feature flags")
_FLAG_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")  # as the scenario schema's flag names
log = logging.getLogger(__name__)


class FlagError(Exception):
    """A flag that cannot be switched as asked; the message says why."""


@dataclass(frozen=True)
class StoredFlag:
    name: str
    enabled: bool
    updated_at: dt.datetime
    updated_by: str


def check_flag_name(name: str) -> None:
    if not _FLAG_NAME.match(name):
        raise FlagError(
            f"'{name}' is no flag name: letters, digits and _, not starting with a digit"
        )


def switch(name: str, enabled: bool, actor: str, now: dt.datetime) -> bool | None:
    """Store the flag's value; returns the value it had in the database before (None: it had
    none, so the scenario's default applied). Audited. Call inside a write transaction."""
    check_flag_name(name)
    row = FlagRow.get_or_none(FlagRow.name == name)
    before = None if row is None else bool(row.enabled)
    FlagRow.insert(name=name, enabled=enabled, updated_at=now, updated_by=actor).on_conflict(
        conflict_target=[FlagRow.name],
        update={FlagRow.enabled: enabled, FlagRow.updated_at: now, FlagRow.updated_by: actor},
    ).execute()
    audit(actor, "flag", name, {"enabled": enabled, "before": before}, now)
    return before


def stored_flags() -> list[StoredFlag]:
    query = FlagRow.select().order_by(FlagRow.name)
    return [StoredFlag(r.name, bool(r.enabled), r.updated_at, r.updated_by) for r in query]


class FlagBoard:
    """The flags as switched in the database, read again when the last read is older than
    `refresh` seconds. A failed read keeps the last values and says so in the log; the next
    call tries again."""

    def __init__(
        self,
        db: peewee.Database,
        refresh: float = REFRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db, self.refresh, self.clock = db, refresh, clock
        self._values: Mapping[str, bool] = {}
        self._read_at: float | None = None
        self._lock = threading.Lock()

    def current(self) -> Mapping[str, bool]:
        """The same mapping object until a read finds a change (callers may memoize on it)."""
        with self._lock:
            now = self.clock()
            if self._read_at is not None and now - self._read_at < self.refresh:
                return self._values
            self._read_at = now
            try:
                # the calling thread's connection (the bot's batch thread: between batches)
                rows = self.db.execute_sql('SELECT name, enabled FROM "feature_flags"')  # type: ignore[no-untyped-call]
                found = {str(name): bool(enabled) for name, enabled in rows.fetchall()}
            except peewee.DatabaseError as exc:
                log.warning("feature flags not read (the last values stay): %s", exc)
                return self._values
            if found != self._values:
                self._values = found
            return self._values

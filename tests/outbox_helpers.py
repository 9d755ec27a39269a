"""Helpers of the sender's tests: a clock the test moves, and messages queued as rows."""

from __future__ import annotations

import datetime as dt

from engine.core.effects import Effect
from engine.store.models import OutboxRow
from engine.store.serialization import effect_to_json

T0 = dt.datetime(2026, 1, 5, 12, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now

    def tick(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


def queue(*effects: Effect) -> list[int]:
    """Rows in the outbox, due at T0, as the store queues them; their ids in order."""
    stamp = T0.replace(tzinfo=None)
    return [
        OutboxRow.create(
            chat_id=getattr(e, "chat_id", None),
            kind=type(e).__name__,
            payload=effect_to_json(e),
            not_before=stamp,
            created=stamp,
        ).id
        for e in effects
    ]


def status(row_id: int) -> str:
    return str(OutboxRow.get_by_id(row_id).status)

"""Per-user flood control for incoming updates: a user who sends more than the bot's limit
(a script, or someone holding a key down) has the excess set aside, recorded in the inbox as
ignored, without slowing anyone else. A token bucket per user: `burst` at once, then `rate`
a second."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

from engine.core.store_protocol import IncomingUpdate

_FORGET_AFTER = 60.0  # seconds: a bucket that refilled long ago is dropped (memory stays flat)


@dataclass
class FloodGuard:
    rate: float = 5.0  # updates a second per user, sustained
    burst: float = 20.0  # updates at once
    _buckets: dict[int, tuple[float, dt.datetime]] = field(default_factory=dict)
    _swept: dt.datetime | None = None

    def admit(self, updates: list[IncomingUpdate], now: dt.datetime) -> list[IncomingUpdate]:
        """The updates with those over a user's limit turned into ignored ones."""
        if self.rate <= 0:
            return updates
        self._sweep(now)
        admitted = []
        for update in updates:
            event = update.event
            if event is None or update.update_id <= 0:  # timers and the set-aside pass
                admitted.append(update)
                continue
            user = event.user.id
            tokens, last = self._buckets.get(user, (self.burst, now))
            elapsed = max(0.0, (now - last).total_seconds())
            tokens = min(self.burst, tokens + elapsed * self.rate)
            if tokens >= 1:
                self._buckets[user] = (tokens - 1, now)
                admitted.append(update)
            else:
                self._buckets[user] = (tokens, now)
                reason = f"ignored: user {user} sent more than {self.rate:g} updates a second"
                admitted.append(replace(update, event=None, error=reason))
        return admitted

    def _sweep(self, now: dt.datetime) -> None:
        if self._swept is not None and (now - self._swept).total_seconds() < _FORGET_AFTER:
            return
        self._swept = now
        full = self.burst / self.rate + _FORGET_AFTER
        self._buckets = {
            user: (tokens, last)
            for user, (tokens, last) in self._buckets.items()
            if (now - last).total_seconds() < full
        }

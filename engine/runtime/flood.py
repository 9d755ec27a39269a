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
    # per user: tokens left, and when (POSIX seconds: this runs for every update)
    _buckets: dict[int, tuple[float, float]] = field(default_factory=dict)
    _swept: float | None = None

    def admit(self, updates: list[IncomingUpdate], now: dt.datetime) -> list[IncomingUpdate]:
        """The updates with those over a user's limit turned into ignored ones."""
        if self.rate <= 0:
            return updates
        moment = now.timestamp()
        if self._swept is None or moment - self._swept >= _FORGET_AFTER:
            self._sweep(moment)
        buckets, burst, rate = self._buckets, self.burst, self.rate
        admitted = []
        for update in updates:
            event = update.event
            if event is None or update.update_id <= 0:  # timers and the set-aside pass
                admitted.append(update)
                continue
            user = event.user.id
            tokens, last = buckets.get(user, (burst, moment))
            if moment > last:
                tokens = min(burst, tokens + (moment - last) * rate)
            if tokens >= 1:
                buckets[user] = (tokens - 1, moment)
                admitted.append(update)
            else:
                buckets[user] = (tokens, moment)
                reason = f"ignored: user {user} sent more than {rate:g} updates a second"
                admitted.append(replace(update, event=None, error=reason))
        return admitted

    def _sweep(self, moment: float) -> None:
        self._swept = moment
        full = self.burst / self.rate + _FORGET_AFTER
        self._buckets = {
            user: (tokens, last)
            for user, (tokens, last) in self._buckets.items()
            if moment - last < full
        }

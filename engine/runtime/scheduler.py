"""Turning due timers into events. Timers are rows, so they fire after restarts too. A timer
goes through the inbox under its own id, so firing it twice (two processes, or a crash
before it was marked) changes nothing the second time."""

from __future__ import annotations

import logging

from engine.core.events import User
from engine.runtime.processing import Processor
from engine.store.models import UserRow
from engine.store.queues import Timers

log = logging.getLogger("engine.scheduler")


class Scheduler:
    def __init__(self, timers: Timers, processor: Processor) -> None:
        self.timers = timers
        self.processor = processor

    def run_once(self, limit: int = 100) -> int:
        fired = 0
        for timer in self.timers.due(self.processor.clock(), limit):
            row = UserRow.get_or_none(UserRow.id == timer.user_id)
            user = (
                User(timer.user_id, row.first_name, row.last_name, row.username, row.language or "")
                if row
                else User(timer.user_id)
            )
            self.processor.fire(timer, user)
            self.timers.fired(timer.id)
            fired += 1
        return fired

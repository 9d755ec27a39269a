"""Turning due timers into events. Timers are rows, so they fire after restarts too. A timer
goes through the inbox under its own id, so firing it twice (two processes, or a crash
before it was marked) changes nothing the second time."""

from __future__ import annotations

from engine.core.events import User
from engine.ops.problems import Problem, ProblemSink
from engine.runtime.processing import Processor
from engine.store.models import UserRow
from engine.store.pipeline import StoreUnavailable
from engine.store.queues import DueTimer, Timers


class Scheduler:
    def __init__(
        self, timers: Timers, processor: Processor, problems: ProblemSink | None = None
    ) -> None:
        self.timers = timers
        self.processor = processor
        self.problems = problems or processor.store.problems

    def run_once(self, limit: int = 100) -> int:
        """Fire what is due. A timer that fails fails alone (the store sets its event aside,
        or, failing before that, it is marked failed and reported); a database that refuses
        work (StoreUnavailable) ends the round, and the timers wait for the next one."""
        fired = 0
        for timer in self.timers.due(self.processor.clock(), limit):
            try:
                self._fire(timer)
            except StoreUnavailable:
                raise
            except Exception as exc:
                self.timers.failed(timer.id)
                cause = f"{type(exc).__name__}: {exc}"
                self.problems.report(
                    Problem(
                        "timer_failed",
                        cause,
                        timer.state,
                        "timer",
                        timer.user_id,
                        timer.chat_id,
                        -timer.id,
                    ),
                    exc,
                )
            fired += 1
        return fired

    def _fire(self, timer: DueTimer) -> None:
        row = UserRow.get_or_none(UserRow.id == timer.user_id)
        user = (
            User(timer.user_id, row.first_name, row.last_name, row.username, row.language or "")
            if row
            else User(timer.user_id)
        )
        self.processor.fire(timer, user)
        self.timers.fired(timer.id)

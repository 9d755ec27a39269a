"""The bot's background loops (scheduler, reload, sender) and what ends the process. A round
that fails is reported and tried again; the database refusing work (busy, full, restarting)
is waited out; but the database gone for good, or a bug that fails round after round, is
fatal: the bot stops with exit code 1 and a last log line naming it, so that a supervisor
sees it instead of a process that looks alive and does nothing."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import peewee

from engine.ops.health import (
    RELOAD_LIMIT,
    RESUMER_LIMIT,
    SCHEDULER_LIMIT,
    SENDER_LIMIT,
    Health,
)
from engine.ops.problems import Problem, ProblemSink
from engine.store.database import database_gone
from engine.store.pipeline import StoreUnavailable

log = logging.getLogger("engine")
FAILED_ROUNDS = 5  # rounds in a row that fail on something else than the database: fatal


class Fatal:
    """The first fatal error of the process; setting it stops the bot."""

    def __init__(self, stop: threading.Event, problems: ProblemSink) -> None:
        self.stop = stop
        self.problems = problems
        self.reason: str | None = None
        self._lock = threading.Lock()

    def __call__(self, where: str, exc: BaseException) -> None:
        with self._lock:
            if self.reason is not None:
                return  # the first one is what stopped the bot
            self.reason = f"{where}: {type(exc).__name__}: {exc}"
        self.problems.report(Problem("fatal", self.reason), exc)
        self.stop.set()


def health_limit(name: str) -> float:
    """Seconds a loop may go without completing a round before /healthz calls it stuck."""
    limits = {
        "sender": SENDER_LIMIT,
        "scheduler": SCHEDULER_LIMIT,
        "reload": RELOAD_LIMIT,
        "resumer": RESUMER_LIMIT,
    }
    return limits.get(name, SENDER_LIMIT)


def database_refused(exc: BaseException) -> bool:
    """The database would not do the work now (it may later): not a bug of the loop."""
    return isinstance(exc, StoreUnavailable | peewee.OperationalError | peewee.InterfaceError)


class Rounds:
    """Runs one loop's rounds: failures reported, and fatal as the module says."""

    def __init__(
        self, name: str, problems: ProblemSink, fatal: Fatal, health: Health | None = None
    ) -> None:
        self.name = name
        self.problems = problems
        self.fatal = fatal
        self.failed_in_a_row = 0
        self.health = health  # told of each round completed, failed or not (/healthz)
        if health is not None:
            health.expect(name, health_limit(name))

    def run(self, work: Callable[[], object]) -> object:
        """One round; None when it failed (reported)."""
        try:
            result = work()
        except Exception as exc:
            self.failed(exc)
            result = None
        else:
            self.failed_in_a_row = 0
        if self.health is not None:
            self.health.beat(self.name)
        return result

    def failed(self, exc: Exception) -> None:
        if database_refused(exc) and not database_gone(exc):
            self.problems.report(Problem("store", f"{self.name}: {exc}; trying again"), exc)
            return
        if database_gone(exc):
            self.fatal(f"the {self.name} found the database gone", exc)
            return
        self.failed_in_a_row += 1
        if self.failed_in_a_row >= FAILED_ROUNDS:
            self.fatal(f"the {self.name} failed {self.failed_in_a_row} rounds in a row", exc)
        else:
            self.problems.report(
                Problem("loop_failed", f"{self.name}: {type(exc).__name__}: {exc}"), exc
            )


def start_loop(
    stop: threading.Event,
    every: float,
    work: Callable[[], object],
    name: str,
    problems: ProblemSink,
    fatal: Fatal,
    health: Health | None = None,
) -> threading.Thread:
    """A daemon thread running `work` every `every` seconds until `stop`."""
    rounds = Rounds(name, problems, fatal, health)

    def run() -> None:
        while not stop.is_set():
            rounds.run(work)
            stop.wait(every)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread

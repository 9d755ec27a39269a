"""The problem sink: every failure of a running bot goes through `ProblemSink.report`, which
logs it once (WARNING or ERROR, with the state, the event kind, the user and the cause; the
traceback at DEBUG), counts it by kind, and hands it to listeners (metrics and admin alerts
hook in here). Nothing else logs problems, so a new kind of failure gets all three by
reporting once (../docs/running.md, "When something fails")."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("engine.problems")

# the kinds reported, with how loud: a problem that loses a user's message or reply is an
# error; one the user got a defined answer for (a filler, the apology) is a warning
KINDS: dict[str, int] = {
    "step": logging.WARNING,  # the step reported it (a plugin, an HTTP action, a template)
    "step_failed": logging.ERROR,  # the step raised: the user got the apology
    "template_failed": logging.WARNING,  # a text, condition or `set` did not render
    "plugin_failed": logging.WARNING,  # a plugin action raised; its save_as is empty
    "update_set_aside": logging.WARNING,  # an update that cannot be read or handled
    "update_failed": logging.ERROR,  # an update that failed alone: set aside, apology sent
    "send_failed": logging.ERROR,  # a message Telegram refused or that could not be built
    "http_failed": logging.WARNING,  # an HTTP action failed (in the step or from the outbox)
    "user_blocked": logging.WARNING,  # Telegram answered 403: their queued messages dropped
    "timer_failed": logging.ERROR,  # a due timer could not be fired
    "reload_failed": logging.ERROR,  # a changed scenario was refused; the old one serves
    "store": logging.ERROR,  # the database refused work; nothing was acknowledged
    "loop_failed": logging.ERROR,  # a round of a background loop failed; tried again
    "broadcast_failed": logging.ERROR,  # a broadcast's messages could not be queued
    "fatal": logging.CRITICAL,  # the process stops
}


@dataclass(frozen=True)
class Problem:
    """One failure, with what an operator needs to find it (never message text)."""

    kind: str
    cause: str
    state: str | None = None
    event: str | None = None  # the event kind: text, button, command, timer, ...
    user_id: int | None = None
    chat_id: int | None = None
    update_id: int | None = None

    def describe(self) -> str:
        where = [
            f"{name}={value}"
            for name, value in (
                ("state", self.state),
                ("event", self.event),
                ("user", self.user_id),
                ("chat", self.chat_id),
                ("update", self.update_id),
            )
            if value is not None
        ]
        return f"{self.kind}: {self.cause}" + (f" [{' '.join(where)}]" if where else "")


Listener = Callable[[Problem], None]


class ProblemSink:
    """Logs, counts and passes on every problem; thread-safe (every loop reports here)."""

    def __init__(self, logger: logging.Logger = log) -> None:
        self.logger = logger
        self.counts: Counter[str] = Counter()
        self.listeners: list[Listener] = []
        self._lock = threading.Lock()

    def report(self, problem: Problem, exc: BaseException | None = None) -> None:
        level = KINDS.get(problem.kind, logging.ERROR)
        self.logger.log(level, "%s", problem.describe())
        if exc is not None and self.logger.isEnabledFor(logging.DEBUG):
            self.logger.debug("traceback of the %s above", problem.kind, exc_info=exc)
        with self._lock:
            self.counts[problem.kind] += 1
            listeners = list(self.listeners)
        for listener in listeners:
            try:
                listener(problem)
            except Exception:  # a listener's bug must not hide the problem or stop the loop
                self.logger.exception("a problem listener failed on %s", problem.kind)

    def __call__(self, problem: Problem, exc: BaseException | None = None) -> None:
        self.report(problem, exc)


class RecentProblems:
    """The latest problems of this process and the counts by kind since it started, for the
    admin panel (a problem listener; thread-safe). The log keeps them all."""

    def __init__(self, keep: int = 200, clock: Callable[[], float] = time.time) -> None:
        self._recent: deque[tuple[float, Problem]] = deque(maxlen=keep)
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.clock = clock

    def __call__(self, problem: Problem) -> None:
        with self._lock:
            self._recent.append((self.clock(), problem))
            self._counts[problem.kind] += 1

    def recent(self) -> list[tuple[float, Problem]]:
        """The newest first."""
        with self._lock:
            return list(reversed(self._recent))

    def counts(self) -> list[tuple[str, int]]:
        with self._lock:
            return self._counts.most_common()

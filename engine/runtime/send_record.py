"""Writing what the sender did to the outbox as it happens. A message sent but not yet
recorded goes out again after a kill; writing a whole round at its end repeated up to a
hundred replies per kill. Here sends are written as they complete, so a kill repeats at
most the messages sent since the last write: about BOT_SENDERS."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import peewee

from engine.ops.problems import Problem, ProblemSink
from engine.store.queues import NOT_QUEUED, Outbox, Outcome

log = logging.getLogger("engine.sender")


class SendRecorder:
    """Outcomes are added as each message is done. Two ways of writing them:

    - from one thread (calls answered at once): every `group` outcomes (BOT_SENDERS) the
      adding thread writes them; a commit per message would cost more than its send;
    - while the delivery threads send (calls wait for the network), the sender's own thread
      `serve`s: it writes whatever has come, again and again, and each delivery thread waits
      for its message to be written before it sends the next, so at most one message per
      thread is out and unrecorded. Only that thread talks to the database (a thread each
      would hold a pooled PostgreSQL connection each).

    Whatever is left is written by `flush`, which the sender calls when a round ends, also
    when it ends on an error."""

    def __init__(
        self,
        outbox: Outbox,
        problems: ProblemSink,
        group: int = 1,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.outbox, self.problems, self.sleep = outbox, problems, sleep
        self.group = max(1, group)
        self._items: list[Outcome] = []
        self._added = 0  # outcomes added so far; the first `_written` of them are written
        self._written = 0
        self._serving = False
        self._changed = threading.Condition()
        self._writing = threading.Lock()  # one write at a time

    def add(self, outcome: Outcome) -> None:
        if outcome.id == NOT_QUEUED:  # a silent answer handed over in memory: no row
            return
        with self._changed:
            self._items.append(outcome)
            self._added += 1
            if self._serving:
                ticket = self._added
                self._changed.notify_all()
                while self._serving and self._written < ticket:
                    self._changed.wait()
                return
            if len(self._items) < self.group:
                return
        self.flush()

    def serve(self, done: Callable[[], bool]) -> None:
        """Write outcomes as they are added, until `done()` and all are written; `wake()`
        when `done()` may have changed."""
        with self._changed:
            self._serving = True
        try:
            while True:
                with self._changed:
                    while not self._items and not done():
                        self._changed.wait()
                    if not self._items:
                        return
                self.flush()
        finally:
            with self._changed:
                self._serving = False  # a thread still waiting goes on (after an error)
                self._changed.notify_all()

    def wake(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def flush(self) -> None:
        """Write every outcome waiting (those added meanwhile by other threads too)."""
        with self._writing:
            with self._changed:
                items, self._items, upto = self._items, [], self._added
            if items:
                self._write(items)
            with self._changed:
                self._written = max(self._written, upto)
                self._changed.notify_all()

    def _write(self, outcomes: list[Outcome]) -> None:
        """These messages are out already: a busy database is waited for (a lost record
        would send them again), and only then given up, loudly."""
        for attempt in range(6):
            try:
                self.outbox.record(outcomes)
                return
            except peewee.OperationalError as exc:
                log.warning("the outbox is busy (%s); recording the sends again", exc)
                self.sleep(min(5.0, 0.2 * 2**attempt))
        cause = f"could not record {len(outcomes)} sends: they may be sent again"
        self.problems.report(Problem("store", cause))

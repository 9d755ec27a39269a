"""Recording what the sender did as it happens. A message sent but not yet recorded goes out
again after a kill; recording a whole round when it ended repeated up to a hundred replies
per kill. Here each send is made durable as it completes, so a kill repeats at most the
messages in flight and those of the last small group: about BOT_SENDERS."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import peewee

from engine.ops.problems import Problem, ProblemSink
from engine.store.queues import NOT_QUEUED, Outbox, Outcome
from engine.store.sent_journal import SentJournal

log = logging.getLogger("engine.sender")
_REPEATS = ("sent", "uncertain")  # outcomes whose loss would send a message twice


class SendRecorder:
    """Outcomes are added as each message is done, from the thread that sent it; `flush`
    writes the round's outcomes to the outbox when the round ends (also on an error).

    Durable before that, as they complete, every `group` sends: one while the delivery
    threads send (calls wait for the network), BOT_SENDERS while the sender's own thread
    sends (calls answered at once: a write per message would cost more than the send).

    - SQLite (a file): appended to the sent journal beside the database by the thread that
      sent; the outbox is written once a round. A commit per send took SQLite's one write
      lock a hundred times a round, and the store's batches waited for it.
    - PostgreSQL: written to the outbox. While the delivery threads send, the sender's own
      thread `serve`s, writing whatever has come, and a delivery thread sends again only
      once its previous send is written (`before_send`): at most two per thread are not
      written, the one in flight and the one before. Only that thread uses the database
      (a delivery thread would hold a pooled connection each)."""

    def __init__(
        self,
        outbox: Outbox,
        problems: ProblemSink,
        journal: SentJournal | None,
        group: int = 1,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.outbox, self.problems, self.journal, self.sleep = outbox, problems, journal, sleep
        self.group = max(1, group)
        self._items: list[tuple[Outcome, int | None]] = []  # the round's, with their chats
        self._journal_from = 0  # the first of _items not yet in the journal
        self._journaled = False  # the journal holds sends of this round
        self._recover = journal is not None  # what a killed sender left, before sending
        self._added = 0  # outcomes added so far; the first `_written` of them are written
        self._written = 0
        self.serving = False
        # guards what follows; taken as `with self._lock` (for every send: quicker than
        # the condition's own `with`), waited on and notified through `_changed`
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._mine = threading.local()  # a delivery thread's last outcome added
        self._writing = threading.Lock()  # one write at a time

    def recover(self) -> bool:
        """Write what a killed sender left in the journal; False while that cannot be done
        (nothing may be sent then: it would go out again). Called before each round; it
        does something at the first, or after a round's outcomes could not be written."""
        if self.journal is None or not self._recover:
            return True
        try:
            left = self.journal.take()
        except OSError as exc:  # no file beside the database: marked there as they come
            cause = f"cannot use {self.journal.path} ({exc}); sends are marked in the outbox"
            self.problems.report(Problem("store", cause), exc)
            self.journal = None
            return True
        if left is None:
            cause = f"{self.journal.path} was left by another database; not applied"
            self.problems.report(Problem("store", cause))
        elif left:
            try:
                self.outbox.record_journaled(left)
            except peewee.OperationalError as exc:
                log.warning("the outbox is busy (%s); recording the sends again", exc)
                return False
        self.journal.clear()
        self._recover = False
        return True

    def set_group(self, group: int) -> None:
        """How many sends may wait before they are made durable (see the class)."""
        self.group = max(1, group)
        if self.journal is not None:
            with self._lock:
                waiting, self._journal_from = self._items[self._journal_from :], len(self._items)
            self._append(waiting)
        elif len(self._items) >= self.group:
            self.flush()

    def before_send(self) -> None:
        """A delivery thread's previous send must be written before it sends again. By
        then it nearly always is: a write is quick next to a call over the network."""
        ticket = getattr(self._mine, "ticket", 0)
        if ticket <= self._written:
            return
        with self._lock:
            while self.serving and self._written < ticket:
                self._changed.wait()

    def add(self, outcome: Outcome, chat_id: int | None) -> None:
        if outcome.id == NOT_QUEUED:  # a silent answer handed over in memory: no row
            return
        if self.journal is not None:
            with self._lock:
                self._items.append((outcome, chat_id))
                if len(self._items) - self._journal_from < self.group:
                    return
                group, self._journal_from = self._items[self._journal_from :], len(self._items)
            self._append(group)
            return
        with self._lock:
            self._items.append((outcome, chat_id))
            self._added += 1
            if self.serving:
                self._mine.ticket = self._added
                self._changed.notify_all()
                return
            if len(self._items) < self.group:
                return
        self.flush()

    def _append(self, done: list[tuple[Outcome, int | None]]) -> None:
        """Into the journal: the sends among `done` (a lost retry or refusal repeats
        nothing)."""
        sends = [
            (outcome.id, chat, outcome.status, outcome.message_id)
            for outcome, chat in done
            if outcome.status in _REPEATS
        ]
        if self.journal is None or not sends:
            return
        self._journaled = True
        try:
            self.journal.append(sends)
        except OSError as exc:  # written to the outbox when the round ends all the same
            cause = f"cannot append to {self.journal.path}: {exc}"
            self.problems.report(Problem("store", cause), exc)

    def serve(self, start: Callable[[], Callable[[], bool]]) -> None:
        """While delivery threads send: write their outcomes as they come (PostgreSQL), or
        only wait (SQLite: they journal their own), until `done()`; `wake()` when `done()`
        may have changed. `start()` starts the threads and returns `done`: serving is on
        before, or a thread done at once would write its outcome itself (taking a pooled
        connection of its own)."""
        with self._lock:
            self.serving = self.journal is None
        try:
            done = start()
            while True:
                with self._lock:
                    while not (self.serving and self._items) and not done():
                        self._changed.wait()
                    if not (self.serving and self._items):
                        return
                self._write_waiting()
        finally:
            with self._lock:
                self.serving = False  # a thread still waiting goes on (after an error)
                self._changed.notify_all()

    def wake(self) -> None:
        with self._lock:
            self._changed.notify_all()

    def flush(self) -> None:
        """Write every outcome waiting to the outbox; the journal is emptied once they
        are there (if they cannot be, it is applied before the next round)."""
        self._write_waiting()
        if self.journal is not None and self._journaled and not self._recover:
            self.journal.clear()
            self._journaled = False

    def _write_waiting(self) -> None:
        with self._writing:
            with self._lock:
                items, self._items, upto = self._items, [], self._added
                unjournaled, self._journal_from = items[self._journal_from :], 0
            if items and not self._write([o for o, _ in items]) and self.journal is not None:
                self._append(unjournaled)  # the journal holds them all, for the next round
                self._recover = True
            with self._lock:
                self._written = max(self._written, upto)
                self._changed.notify_all()

    def _write(self, outcomes: list[Outcome]) -> bool:
        """These messages are out already: a busy database is waited for (a lost record
        would send them again), and only then given up, loudly."""
        for attempt in range(6):
            try:
                self.outbox.record(outcomes)
                return True
            except peewee.OperationalError as exc:
                log.warning("the outbox is busy (%s); recording the sends again", exc)
                self.sleep(min(5.0, 0.2 * 2**attempt))
        cause = f"could not record {len(outcomes)} sends: they may be sent again"
        self.problems.report(Problem("store", cause))
        return False

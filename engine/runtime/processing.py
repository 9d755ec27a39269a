"""Handling batches of updates: one chat's updates one at a time in update_id order,
different chats together (in parallel shards of chat ids on PostgreSQL, one transaction per
batch on SQLite), all of it committed through the store before the batch counts as done."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from engine.core.events import Chat, Event, TimerFired, User
from engine.core.interpreter import StepResult, step
from engine.core.ports import Services
from engine.core.session import Session
from engine.core.store_protocol import BatchResult, IncomingUpdate, Parser
from engine.runtime.flood import FloodGuard
from engine.runtime.scenario_holder import ScenarioHolder
from engine.store.database import is_postgres
from engine.store.pipeline import Store
from engine.store.queues import DueTimer

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Processor:
    def __init__(
        self,
        store: Store,
        holder: ScenarioHolder,
        services: Services,
        admins: Sequence[int] = (),
        workers: int = 4,
        parse: Parser | None = None,
        clock: Clock = utc_now,
        flood: FloodGuard | None = None,
    ) -> None:
        self.store = store
        self.holder = holder
        self.services = services
        self.admins = frozenset(admins)
        self.workers = max(1, workers)
        self.parse = parse
        self.clock = clock
        self.flood = flood or FloodGuard(rate=0)
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="chat-worker")
        self._shard_locks = [threading.Lock() for _ in range(self.workers)]
        self._flood_lock = threading.Lock()
        self._single = threading.Lock()
        self.parallel = self.workers > 1 and is_postgres(store.db)
        self.on_commit: Callable[[], None] = lambda: None  # new effects are in the outbox

    def roles(self, user_id: int) -> frozenset[str]:
        return frozenset({"admin"}) if user_id in self.admins else frozenset()

    def _handler(self, now: dt.datetime) -> Callable[[Session, Event], StepResult]:
        """`step` for one batch: the batch's time is every update's (read once, not per step)."""
        scenario, services = self.holder.current, self.services
        return lambda session, event: step(scenario, session, event, now, services)

    def process(self, updates: Sequence[IncomingUpdate]) -> BatchResult:
        """Commit the batch; returns once all of it is durable (StoreUnavailable: none of
        it is, nothing may be acknowledged).

        On PostgreSQL the batch is split into shards of chat ids committed in parallel.
        SQLite has one writer at a time, so parallel transactions would only queue for its
        lock: there the whole batch is one transaction, in update_id order per chat."""
        now = self.clock()
        with self._flood_lock:
            admitted = self.flood.admit(list(updates), now)
        if not admitted:
            return BatchResult()
        if not self.parallel:
            with self._single:
                result = self.store.process(
                    admitted, self._handler(now), now, self.roles, self.parse
                )
        else:
            result = self._in_shards(admitted)
        if result.effects:
            self.on_commit()
        return result

    def _in_shards(self, admitted: list[IncomingUpdate]) -> BatchResult:
        shards: dict[int, list[IncomingUpdate]] = {}
        for update in admitted:
            shards.setdefault((update.chat_id or 0) % self.workers, []).append(update)
        futures = [self._pool.submit(self._shard, index, items) for index, items in shards.items()]
        total = BatchResult()
        for future in futures:
            part = future.result()  # raises StoreUnavailable: nothing is acknowledged then
            total.acknowledged += part.acknowledged
            total.duplicates += part.duplicates
            total.failed += part.failed
            total.effects += part.effects
        return total

    def _shard(self, index: int, items: list[IncomingUpdate]) -> BatchResult:
        with self._shard_locks[index]:  # one chat's updates never run concurrently
            try:
                now = self.clock()
                return self.store.process(items, self._handler(now), now, self.roles, self.parse)
            finally:
                self.store.db.close()  # back to the pool: the threads keep no connection

    def fire(self, timer: DueTimer, user: User) -> BatchResult:
        """A due timer becomes an event through the same pipeline (a synthetic update id
        below zero keeps it apart from Telegram's)."""
        event = TimerFired(
            user=user,
            chat=Chat(timer.chat_id),
            seed=timer.id,
            state=timer.state,
            index=timer.index,
            epoch=timer.epoch,
        )
        raw = json.dumps({"timer": timer.id, "state": timer.state})
        return self.process([IncomingUpdate(-timer.id, raw, timer.chat_id, event)])

    def close(self) -> None:
        self._pool.shutdown(wait=True)

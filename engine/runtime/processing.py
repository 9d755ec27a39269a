"""Handling batches of updates: one chat's updates one at a time in update_id order,
different chats together (in parallel shards of chat ids on PostgreSQL, one transaction per
batch on SQLite), all of it committed through the store before the batch counts as done."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from engine.admin.flags import FlagBoard
from engine.admin.roles import roles_of
from engine.core.effects import Effect
from engine.core.events import Chat, Event, TimerFired, User
from engine.core.interpreter import StepResult, apology, step
from engine.core.model import Scenario
from engine.core.ports import Services
from engine.core.session import Session
from engine.core.store_protocol import BatchResult, IncomingUpdate, Parser
from engine.runtime.flood import FloodGuard
from engine.runtime.outside_calls import CallRunner
from engine.runtime.scenario_holder import ScenarioHolder
from engine.store.database import is_postgres
from engine.store.pipeline import Store
from engine.store.queues import DueTimer

Clock = Callable[[], dt.datetime]
BatchObserver = Callable[
    [Sequence[IncomingUpdate], Sequence[IncomingUpdate], BatchResult, float], None
]


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
        call_workers: int = 0,
    ) -> None:
        """`call_workers` > 0: HTTP and plugin actions whose answer a step needs are made
        by that many threads outside the store's transaction (a live bot); 0: inside the
        step, as conversation tests and the console do."""
        self.store = store
        self.holder = holder
        self.username = ""  # the bot's @username once getMe told it: other bots' commands

        self.services = services
        self.admins = frozenset(admins)
        self.workers = max(1, workers)
        # a pending update is parsed again when it is stepped: a timer's by this module
        self.parse: Parser | None = None if parse is None else _with_timers(parse)
        self.clock = clock
        self.flood = flood or FloodGuard(rate=0)
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="chat-worker")
        self._shard_locks = [threading.Lock() for _ in range(self.workers)]
        self._flood_lock = threading.Lock()
        self._single = threading.Lock()
        self.parallel = self.workers > 1 and is_postgres(store.db)
        self.flags = FlagBoard(store.db)
        self._flagged_from: tuple[Scenario | None, object, Scenario] = (
            None,
            None,
            holder.current,
        )
        self.on_commit: Callable[[], None] = lambda: None  # new effects are in the outbox
        # told of each committed batch (updates, admitted, result, time.monotonic() at start)
        self.on_batch: BatchObserver | None = None
        self.calls = (
            CallRunner(services, self.resume, store.problems, call_workers)
            if call_workers > 0
            else None
        )

    def roles(self, user_id: int) -> frozenset[str]:
        """BOT_ADMINS' `admin` and the roles granted in the database, read inside the
        batch's transaction: a revoked role counts from the user's next update. A scenario
        with no `only:` beyond admin needs no look-up."""
        admin = frozenset({"admin"}) if user_id in self.admins else frozenset()
        if not self.holder.current.granted_roles:
            return admin
        return admin | roles_of(user_id)

    def flagged_scenario(self) -> Scenario:
        """The running scenario with the feature flags as switched in the database (read
        at most every few seconds); the same object while neither changes. Also what a
        broadcast's `--message` is written from (the sender's thread)."""
        scenario = self.holder.current
        if not scenario.flags:  # nothing to switch: no look-up, as for roles
            return scenario
        switched = self.flags.current()
        if self._flagged_from[0] is not scenario or self._flagged_from[1] is not switched:
            self._flagged_from = (scenario, switched, scenario.with_flags(switched))
        return self._flagged_from[2]

    def _handler(self, now: dt.datetime) -> Callable[..., StepResult]:
        """`step` for one batch: the batch's time is every update's (read once, not per
        step); with deferred calls, the store passes each update's services."""
        scenario, default = self.flagged_scenario(), self.services

        def handle(session: Session, event: Event, services: Services | None = None) -> StepResult:
            return step(scenario, session, event, now, services or default)

        return handle

    def _calls(self) -> CallRunner | None:
        """The call runner, if the running scenario has calls to wait for (most have none:
        their updates then skip the per-update services)."""
        return self.calls if self.holder.current.waits_for_calls else None

    def _apology(self, event: Event) -> Effect:
        return apology(self.holder.current, event)

    def process(self, updates: Sequence[IncomingUpdate]) -> BatchResult:
        """Commit the batch; returns once all of it is durable (StoreUnavailable: none of
        it is, nothing may be acknowledged).

        On PostgreSQL the batch is split into shards of chat ids committed in parallel.
        SQLite has one writer at a time, so parallel transactions would only queue for its
        lock: there the whole batch is one transaction, in update_id order per chat."""
        started = time.monotonic()
        now = self.clock()
        with self._flood_lock:
            admitted = self.flood.admit(list(updates), now)
        if not admitted:
            result = BatchResult()
        elif not self.parallel:
            with self._single:
                result = self._commit(admitted, now)
        else:
            result = self._in_shards(admitted)
        if self.on_batch is not None:  # first: the sender it wakes measures the replies
            self.on_batch(updates, admitted, result, started)
        if result.effects:
            self.on_commit()
        return result

    def _commit(
        self, updates: list[IncomingUpdate], now: dt.datetime, resume: int | None = None
    ) -> BatchResult:
        """Through the store (under the caller's lock): new updates, or a chat to resume
        (its pending updates, with the call runner whatever the scenario says now)."""
        if resume is not None:
            calls, chats = self.calls, [resume]
        else:
            calls, chats = self._calls(), []
        return self.store.process(
            updates, self._handler(now), now, self.roles, self.parse, self._apology, calls, chats
        )

    def _in_shards(self, admitted: list[IncomingUpdate]) -> BatchResult:
        shards: dict[int, list[IncomingUpdate]] = {}
        for update in admitted:
            shards.setdefault((update.chat_id or 0) % self.workers, []).append(update)
        futures = [self._pool.submit(self._shard, index, items) for index, items in shards.items()]
        total = BatchResult()
        for future in futures:
            total.add(future.result())  # StoreUnavailable: nothing is acknowledged then
        return total

    def _shard(self, index: int, items: list[IncomingUpdate]) -> BatchResult:
        with self._shard_locks[index]:  # one chat's updates never run concurrently
            try:
                return self._commit(items, self.clock())
            finally:
                self.store.db.close()  # back to the pool: the threads keep no connection

    def resume(self, chat: int) -> BatchResult:
        """Step a chat's pending updates (an answer came for the call one waits for),
        under the same lock as the chat's new updates."""
        lock = self._shard_locks[chat % self.workers] if self.parallel else self._single
        with lock:
            try:
                result = self._commit([], self.clock(), chat)
            finally:
                if self.parallel:
                    self.store.db.close()  # back to the pool, as a shard does
        if result.effects:
            self.on_commit()
        return result

    def resume_orphans(self, older_than: float = 30.0) -> int:
        """Step the chats whose pending updates nobody works on (their process stopped
        between a call and its continuation); those of calls in flight anywhere are left
        for `older_than` seconds. Returns how many chats were stepped."""
        moment = self.clock() - dt.timedelta(seconds=older_than)
        busy = self.calls.busy_chats() if self.calls is not None else set()
        chats = [c for c in self.store.pending_chats(moment) if c not in busy]
        for chat in chats:
            self.resume(chat)
        return len(chats)

    def fire(self, timer: DueTimer, user: User) -> BatchResult:
        """A due timer becomes an event through the same pipeline (a synthetic update id
        below zero keeps it apart from Telegram's)."""
        return self.process([timer_update(timer, user)])

    def close(self) -> None:
        if self.calls is not None:
            self.calls.close()
        self._pool.shutdown(wait=True)


def timer_update(timer: DueTimer, user: User) -> IncomingUpdate:
    """A due timer as an update; its body says all of the event, so that a pending one (its
    step waits for a call) is parsed back by `_with_timers`."""
    event = TimerFired(
        user=user,
        chat=Chat(timer.chat_id),
        seed=timer.id,
        state=timer.state,
        index=timer.index,
        epoch=timer.epoch,
    )
    raw = json.dumps(
        {
            "timer": timer.id,
            "state": timer.state,
            "chat": timer.chat_id,
            "index": timer.index,
            "epoch": timer.epoch,
            "user": [user.id, user.first_name, user.last_name, user.username, user.language],
        },
        ensure_ascii=False,
    )
    return IncomingUpdate(-timer.id, raw, timer.chat_id, event)


def _with_timers(parse: Parser) -> Parser:
    def parse_any(update_id: int, body: str) -> IncomingUpdate:
        if update_id >= 0:
            return parse(update_id, body)
        try:
            data = json.loads(body)
            user = User(*data["user"])
            timer = DueTimer(
                data["timer"], data["chat"], user.id, data["state"], data["index"], data["epoch"]
            )
        except (ValueError, KeyError, TypeError) as exc:  # a body of an older version
            return IncomingUpdate(update_id, body, None, None, f"malformed timer: {exc}")
        return timer_update(timer, user)

    return parse_any

"""The bot's Prometheus metrics, in a registry of its own (not prometheus-client's global one:
two bots in one process, or a test, never mix their figures). Counters and histograms are
updated where the work is done, with the label children looked up once and kept, so that an
update costs a few dictionary look-ups; the gauges that need the database are read by
DatabaseGauges with a cheap indexed query at most every few seconds, never per scrape.
No label holds a user, a chat or a text: /metrics carries no personal data."""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from engine.core.events import (
    ButtonPress,
    CommandMessage,
    ContactShared,
    Event,
    LocationShared,
    MediaMessage,
    TextMessage,
    TimerFired,
)
from engine.core.store_protocol import BatchResult, IncomingUpdate
from engine.ops.problems import Problem

# what each Bot API failure kind is counted as in bot_sends_total{result}
SEND_RESULTS = {
    "rate_limited": "429",
    "server": "5xx",
    "blocked": "403",
    "timeout": "timeout",
    "network": "network",
}
# a failure that is an answer all the same: Telegram was there (readiness)
_ANSWERED = frozenset({"ok", "429", "403", "4xx"})
_KINDS: dict[type, str] = {
    TextMessage: "text",
    CommandMessage: "command",
    ButtonPress: "button",
    ContactShared: "contact",
    LocationShared: "location",
    TimerFired: "timer",
}
# seconds; the handling of an update is milliseconds, a reply through the sender longer
_UPDATE_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_REPLY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_REPLY_FORGOTTEN = 900.0  # an update older than this that got no reply is not paired with one
_WAITING_MAX = 100_000  # chats remembered as waiting for a reply; more: the memory is cleared


def event_kind(event: Event | None) -> str:
    """The kind label of an update: text, command, button, photo, timer, ... or unreadable."""
    if event is None:
        return "unreadable"
    kind = _KINDS.get(type(event))
    if kind is not None:
        return kind
    if isinstance(event, MediaMessage):
        return event.kind
    return "other"


class BatchHistogram(Collector):
    """A histogram that takes a whole batch's observations of one value at once (a batch's
    updates share their handling time): one bucket search and one lock per batch, where
    prometheus-client's Histogram takes both for every observation."""

    def __init__(self, name: str, documentation: str, buckets: Sequence[float]) -> None:
        self.name, self.documentation = name, documentation
        self.bounds = list(buckets)
        self.counts = [0] * (len(self.bounds) + 1)  # the last one: above every bound
        self.sum = 0.0
        self._lock = threading.Lock()

    def observe(self, seconds: float, times: int = 1) -> None:
        index = bisect.bisect_left(self.bounds, seconds)
        with self._lock:
            self.counts[index] += times
            self.sum += seconds * times

    def observe_each(self, values: Sequence[float]) -> None:
        """Several different observations under one lock."""
        indexes = [bisect.bisect_left(self.bounds, seconds) for seconds in values]
        with self._lock:
            for index in indexes:
                self.counts[index] += 1
            self.sum += sum(values)

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            counts, total = list(self.counts), self.sum
        cumulative, running = [], 0
        for bound, count in zip([*self.bounds, float("inf")], counts, strict=True):
            running += count
            cumulative.append((_bound(bound), running))
        yield HistogramMetricFamily(
            self.name, self.documentation, buckets=cumulative, sum_value=total
        )


class ThreadCounts(Collector):
    """A labelled counter counted without a lock: each thread adds to a table of its own and
    a scrape sums the tables. prometheus-client's Counter takes a lock and checks its state on
    every inc(), a few thousand instructions for each Bot API call of the sender's threads."""

    def __init__(self, name: str, documentation: str, labels: Sequence[str]) -> None:
        self.name, self.documentation, self.labels = name, documentation, list(labels)
        self._local = threading.local()
        self._tables: list[dict[tuple[str, ...], int]] = []
        self._lock = threading.Lock()  # only when a thread counts for the first time

    def inc(self, key: tuple[str, ...]) -> None:
        table: dict[tuple[str, ...], int] | None = getattr(self._local, "table", None)
        if table is None:
            table = self._local.table = {}
            with self._lock:
                self._tables.append(table)
        table[key] = table.get(key, 0) + 1  # only this thread writes its table

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            tables = list(self._tables)
        totals: dict[tuple[str, ...], int] = {}
        for table in tables:
            for key, count in list(table.items()):
                totals[key] = totals.get(key, 0) + count
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labels)
        for key, count in sorted(totals.items()):
            family.add_metric(list(key), count)
        yield family


def _bound(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(float(bound))


class MinuteCounts:
    """How many in each of the last few minutes (a rate without a scan); thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, minutes: int = 5) -> None:
        self.clock, self.minutes = clock, minutes
        self._counts: dict[int, int] = {}
        self._lock = threading.Lock()

    def add(self, n: int) -> None:
        minute = int(self.clock() // 60)
        with self._lock:
            self._counts[minute] = self._counts.get(minute, 0) + n
            for old in [m for m in self._counts if m <= minute - self.minutes]:
                del self._counts[old]

    def rate(self) -> float:
        """Per minute, over the last `minutes` whole minutes and this one so far."""
        now = self.clock()
        minute = int(now // 60)
        with self._lock:
            total = sum(n for m, n in self._counts.items() if m > minute - self.minutes)
        span = (self.minutes - 1) + (now / 60 - minute)  # minutes this window covers
        return total / span if span > 0 else float(total)


class BotMetrics:
    """Every metric of one running bot, and the hooks the runtime calls where work is done."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.clock = clock
        r = self.registry
        self.updates = Counter(
            "bot_updates",
            "Updates handled, by event kind and outcome",
            ["kind", "outcome"],
            registry=r,
        )
        self.update_seconds = BatchHistogram(
            "bot_update_seconds",
            "Seconds from an update's arrival to its commit (step and store)",
            _UPDATE_BUCKETS,
        )
        r.register(self.update_seconds)
        self.reply_seconds = BatchHistogram(
            "bot_reply_seconds",
            "Seconds from an update's arrival to the first reply to its chat being sent",
            _REPLY_BUCKETS,
        )
        r.register(self.reply_seconds)
        self.sends = ThreadCounts(
            "bot_sends", "Bot API calls, by method and result", ["method", "result"]
        )
        r.register(self.sends)
        self.problems = Counter(
            "bot_problems", "Problems reported, by kind and state", ["kind", "state"], registry=r
        )
        self.reloads = Counter(
            "bot_reloads", "Scenario reloads, by result (ok, failed)", ["result"], registry=r
        )
        self.flood_ignored = Counter(
            "bot_flood_ignored", "Updates ignored because their user sent too many", registry=r
        )
        self.lease_held = Gauge(
            "bot_lease_held", "1 while this process holds the lease (polls and sends)", registry=r
        )
        self.per_minute = MinuteCounts(clock)  # updates, for the admin panel's overview
        self.last_reload: float | None = None  # time.time() of the last good reload
        self._children: dict[tuple[str, str], Any] = {}
        self._waiting: dict[int, float] = {}  # chat -> when its oldest unanswered update came
        self.last_answer: float | None = None  # when the Bot API last answered (clock)

    # --- updates (Processor.process) ---------------------------------------------------

    def batch(
        self,
        updates: Sequence[IncomingUpdate],
        admitted: Sequence[IncomingUpdate],
        result: BatchResult,
        started: float,
    ) -> None:
        """A committed batch: each update counted by kind and outcome, its time observed."""
        ignored = len(updates) - len(admitted)
        if ignored:
            self.flood_ignored.inc(ignored)
        if not admitted:
            return
        self.update_seconds.observe(self.clock() - started, len(admitted))
        self.per_minute.add(len(admitted))
        failed = frozenset(result.failed) if result.failed else frozenset()
        duplicates = frozenset(result.duplicates) if result.duplicates else frozenset()
        waiting = self._waiting
        if len(waiting) > _WAITING_MAX:
            waiting.clear()
        counts: dict[tuple[str, str], int] = {}
        for update in admitted:
            uid = update.update_id
            if uid in failed:
                outcome = "failed"
            elif uid in duplicates:
                outcome = "duplicate"
            else:
                outcome = "handled"
                if update.chat_id is not None:
                    waiting.setdefault(update.chat_id, started)
            key = (_KINDS.get(type(update.event)) or event_kind(update.event), outcome)
            counts[key] = counts.get(key, 0) + 1
        children = self._children
        for key, count in counts.items():
            child = children.get(key)
            if child is None:
                child = children[key] = self.updates.labels(*key)
            child.inc(count)

    # --- the sender ---------------------------------------------------------------------

    def replied(self, sent: Sequence[tuple[int, float]]) -> None:
        """A sender's round: each (chat, when) a message was sent; for a chat that was
        waiting, the time since its update arrived is observed. Told once a round, not per
        message: the sender's loop is the hottest one."""
        waiting, times = self._waiting, []
        for chat_id, when in sent:
            since = waiting.pop(chat_id, None)
            if since is not None and when - since <= _REPLY_FORGOTTEN:
                times.append(when - since)
        if times:
            self.reply_seconds.observe_each(times)

    def api_call(self, method: str, kind: str | None) -> None:
        """A Bot API call's result (`kind` None: it succeeded; else ApiError.kind). Runs
        for every call: the counting is ThreadCounts.inc written out here."""
        result = "ok" if kind is None else SEND_RESULTS.get(kind, "4xx")
        sends = self.sends
        table = getattr(sends._local, "table", None)
        if table is None:
            sends.inc((method, result))
        else:
            key = (method, result)
            table[key] = table.get(key, 0) + 1
        if result in _ANSWERED:
            self.last_answer = self.clock()

    # --- problems and reloads -----------------------------------------------------------

    def problem(self, problem: Problem) -> None:
        """A ProblemSink listener."""
        self.problems.labels(problem.kind, problem.state or "").inc()
        if problem.kind == "reload_failed":
            self.reloads.labels("failed").inc()

    def reloaded(self) -> None:
        self.reloads.labels("ok").inc()
        self.last_reload = time.time()

    def exposition(self) -> bytes:
        """The Prometheus text format of every metric (database gauges read if due)."""
        return generate_latest(self.registry)

"""Draining the outbox within Telegram's limits: about 30 messages/s in all, 1/s per chat,
20/min per group (configurable). 429 waits for that chat only, 5xx backs off, 403 marks the
user as blocked, a timeout is recorded as uncertain instead of being sent again blindly;
anything else that goes wrong with one message fails that message, with its reason."""

from __future__ import annotations

import datetime as dt
import logging
import random
import statistics
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from typing import Any

from engine.core.effects import HttpRequest
from engine.core.ports import HttpCall, PortError, Services
from engine.ops.problems import Problem, ProblemSink
from engine.runtime.send_record import SendRecorder
from engine.runtime.services import LiveServices
from engine.store.queues import NOT_QUEUED, ImmediateAnswers, Outbox, Outcome, QueuedEffect
from engine.store.sent_journal import journal_beside
from engine.telegram.bot_api import ApiError, BotApi
from engine.telegram.calls import FileIds, Uploads, api_calls, uploaded_file_id
from engine.telegram.media_files import MediaFileError

log = logging.getLogger("engine.sender")
Clock = Callable[[], dt.datetime]
_REASON = 500  # characters of a failure's reason kept (the row's error, the problem's cause)


@dataclass
class RateWindow:
    """At most `rate` messages in any second: the moments of those sent within the last
    second are kept (a fraction of a message is left out: 2.5 allows 2; below one, one
    message in every 1/rate seconds). A token bucket, full at the start and refilled as
    time passes, let up to twice the rate go within one second; Telegram counts messages
    in a second, so a window does not."""

    rate: float
    _moments: deque[float] = field(default_factory=deque)

    def take(self, moment: float) -> bool:
        """Whether one more message may go at `moment`; if so, it is counted."""
        capacity = max(1, int(self.rate))
        span = 1.0 if self.rate >= 1 else 1 / self.rate
        moments = self._moments
        while moments and moments[0] <= moment - span:
            moments.popleft()
        if len(moments) >= capacity:
            return False
        moments.append(moment)
        return True


@dataclass
class Limits:
    """Telegram's sending limits. Per chat a GCRA bucket: a short burst (`chat_burst`
    messages at once, as a state's several messages), then one per interval; a 429 pauses
    the chat for its retry_after. In all, at most `per_second` messages in any second
    (RateWindow). Moments are kept as POSIX seconds: this runs for every message sent, and
    datetime arithmetic cost more than the rest of the check."""

    per_second: float = 30.0
    chat_interval: float = 1.0  # seconds per message to one private chat, sustained
    group_interval: float = 3.0  # seconds per message to one group (20 a minute)
    chat_burst: int = 3
    # paid broadcasts: a broadcast's messages go at this rate beside `per_second` (0: they
    # share `per_second` with everything else)
    broadcast_per_second: float = 0.0
    _due: dict[int, float] = field(default_factory=dict)  # each chat's theoretical time
    _paused: dict[int, float] = field(default_factory=dict)
    _all: RateWindow | None = None  # built at the first message (the rates are set by then)
    _broadcasts: RateWindow | None = None
    _swept: float | None = None

    def take(self, chat: int | None, moment: float, broadcast: bool = False) -> bool:
        """Whether a message to `chat` may go at `moment` (POSIX seconds); if so, it is
        counted against the limits. A broadcast's message counts against
        `broadcast_per_second` instead of `per_second` when that is set."""
        interval = 0.0
        if chat is not None:
            paused = self._paused.get(chat)
            if paused is not None and paused > moment:
                return False
            interval = self.group_interval if chat < 0 else self.chat_interval
            due = self._due.get(chat)
            if due is not None and due - moment > (self.chat_burst - 1) * interval:
                return False
        if broadcast and self.broadcast_per_second > 0:
            if self._broadcasts is None:
                self._broadcasts = RateWindow(self.broadcast_per_second)
            window = self._broadcasts
        else:
            if self._all is None:
                self._all = RateWindow(self.per_second)
            window = self._all
        if not window.take(moment):
            return False
        if chat is not None:
            due = self._due.get(chat, moment)
            self._due[chat] = (due if due > moment else moment) + interval
        if self._swept is None or moment - self._swept >= 60:
            self._sweep(moment)
        return True

    def pause(self, chat: int | None, seconds: float, now: dt.datetime) -> None:
        if chat is not None:
            self._paused[chat] = now.timestamp() + seconds

    def _sweep(self, moment: float) -> None:
        """Forget chats whose limits have run out, so memory stays flat with many users."""
        self._swept = moment
        self._due = {chat: due for chat, due in self._due.items() if due > moment}
        self._paused = {chat: until for chat, until in self._paused.items() if until > moment}


def _harmless(method: str, exc: ApiError) -> bool:
    """Refusals that mean the job is done anyway: an edit that changes nothing, a button
    press answered too late (Telegram forgets them after a while)."""
    text = exc.description.lower()
    if exc.kind != "bad_request":
        return False
    if method in ("editMessageText", "editMessageReplyMarkup"):
        return "not modified" in text
    return method == "answerCallbackQuery" and ("too old" in text or "invalid" in text)


class CallWaits:
    """How long Bot API calls wait for the network, which decides whether threads pay.

    A thread pays for its hand-off only while calls wait (for Telegram, over a network);
    a Bot API answered at once (a local server, the tests' in-process one) only makes the
    threads queue for the interpreter. A call's wait is its wall time less the CPU time of
    the thread that made it, measured where no other delivery thread runs."""

    def __init__(self, worth_a_thread: float = 0.0002, rounds: int = 5) -> None:
        self.worth_a_thread = worth_a_thread  # seconds of waiting per call
        self.recent: deque[float] = deque(maxlen=rounds)  # each round's mean wait per call
        self._total, self._calls = 0.0, 0

    def start_round(self) -> None:
        self._total, self._calls = 0.0, 0

    def measure(self, started: float, cpu_started: float) -> None:
        wait = (time.perf_counter() - started) - (time.thread_time() - cpu_started)
        self._total += max(0.0, wait)
        self._calls += 1

    def end_round(self) -> None:
        if self._calls:
            self.recent.append(self._total / self._calls)

    @property
    def threads_pay(self) -> bool:
        """Until measured, yes (to be safe); then by the median of the last rounds, so that
        one round slowed by something else does not switch."""
        if not self.recent:
            return True
        return statistics.median(self.recent) >= self.worth_a_thread


class Sender:
    """Drains the outbox. Each round decides, in order, what the limits let go now; the
    chats' messages are then delivered in parallel (`parallel` threads; one chat's messages
    one after another, in order) while calls wait for the network, in this thread while
    they do not (CallWaits). Outcomes are written as messages are done (SendRecorder), so
    a kill sends again only what was sent since the last write, not the whole round."""

    def __init__(
        self,
        outbox: Outbox,
        api: BotApi,
        limits: Limits,
        admins: Sequence[int] = (),
        base_dir: str = ".",
        clock: Clock = lambda: dt.datetime.now(dt.UTC),
        file_ids: FileIds | None = None,
        parallel: int = 1,
        services: Services | None = None,
        answers: ImmediateAnswers | None = None,
        problems: ProblemSink | None = None,
        media_dir: str | None = None,
    ) -> None:
        self.outbox, self.api, self.limits = outbox, api, limits
        self.admins = tuple(admins)
        known = file_ids if file_ids is not None else {}
        self.uploads = Uploads(base_dir, known, media_dir)
        self.clock = clock
        self.services = services or LiveServices({})
        self.parallel = max(1, parallel)
        self._pool = (
            ThreadPoolExecutor(self.parallel, thread_name_prefix="send")
            if self.parallel > 1
            else None
        )
        self.waits = CallWaits()
        self.answers = answers  # silent answers to presses, handed over in memory
        self.problems = problems or ProblemSink()
        # BOT_PAID_BROADCAST: a broadcast's sendMessage calls carry allow_paid_broadcast
        self.paid_broadcast = False
        journal = journal_beside(outbox.db)
        self.recorder = SendRecorder(outbox, self.problems, journal, group=self.parallel)
        # told after each round which chats got a message, and when (the reply metrics)
        self.on_sent: Callable[[list[tuple[int, float]]], None] | None = None
        self._sent: list[tuple[int, float]] = []  # appended to by the delivery threads
        # queues broadcast messages (now, room) -> how many: BroadcastFeeder.feed
        self.feeder: Callable[[dt.datetime, int], int] | None = None
        self._fed: float | None = None  # when it was last asked (POSIX seconds)

    def run_once(self, limit: int = 100) -> int:
        """Send what is due and allowed now; returns how many effects were handled."""
        if not self.recorder.recover():  # a killed sender's sends, before anything else
            return 0
        now = self.clock()
        groups: list[list[QueuedEffect]] = []
        if self.answers is not None:
            self.answers.open = True  # from now on the store hands them over (not rows)
            # each on its own: no chat's order to keep, and not messages Telegram limits
            groups = [[QueuedEffect(NOT_QUEUED, None, answer, 0)] for answer in self.answers.take()]
        chats: dict[int | None, list[QueuedEffect]] = {}
        held: set[int | None] = set()  # chats waiting: their later messages wait too (order)
        moment = now.timestamp()
        due = self.outbox.pending(now, limit)
        fed = self._feed(now, moment, due)
        for queued in due:
            chat = queued.chat_id
            if chat in held or not self.limits.take(chat, moment, queued.broadcast_id is not None):
                held.add(chat)
                continue
            chats.setdefault(chat, []).append(queued)
        groups += chats.values()
        if not groups:
            return fed  # broadcast messages queued: the next round sends them at once
        try:
            return self._deliver_round(groups, now)
        finally:  # an error stopping the round must not lose what was sent before it
            self.recorder.flush()
            if self._sent:
                sent, self._sent = self._sent, []
                if self.on_sent is not None:
                    self.on_sent(sent)

    def _feed(self, now: dt.datetime, moment: float, due: list[QueuedEffect]) -> int:
        """Broadcasts use only the room replies leave: at most once a second, as many
        messages as the global limit allows a second less the replies due (and less the
        broadcast's messages still waiting, which the feeder counts itself: `due` holds at
        most a round's worth). A reply queued meanwhile waits behind at most one second of
        broadcast. With paid broadcasts their messages have a rate of their own, and replies
        theirs. A failing feed is reported and does not stop the round (the replies go)."""
        if self.feeder is None or (self._fed is not None and moment - self._fed < 1.0):
            return 0
        self._fed = moment
        if self.limits.broadcast_per_second > 0:  # replies do not share it
            room = int(self.limits.broadcast_per_second)
        else:
            room = int(self.limits.per_second) - sum(1 for q in due if q.broadcast_id is None)
        if room <= 0:
            return 0
        try:
            return self.feeder(now, room)
        except Exception as exc:
            cause = f"could not queue broadcast messages: {type(exc).__name__}: {exc}"
            self.problems.report(Problem("broadcast_failed", cause[:_REASON]), exc)
            return 0

    def _deliver_round(self, chats: list[list[QueuedEffect]], now: dt.datetime) -> int:
        """The first chat in this thread, its calls' waits measured; the others in
        parallel if those calls waited, else here too. Sends are made durable as they
        complete: each at once in parallel, every `parallel` here (SendRecorder)."""
        self.waits.start_round()
        handled = self._deliver_in_order(chats[0], now, measure=True)
        self.waits.end_round()
        if self._pool is None or len(chats) == 1 or not self.waits.threads_pay:
            self.recorder.set_group(self.parallel)
            for items in chats[1:]:
                handled += self._deliver_in_order(items, now)
            return handled
        self.recorder.set_group(1)
        pool = self._pool
        futures: list[Future[int]] = []

        def start() -> Callable[[], bool]:
            futures.extend(pool.submit(self._deliver_in_order, items, now) for items in chats[1:])
            for future in futures:
                future.add_done_callback(lambda _: self.recorder.wake())
            return lambda: all(f.done() for f in futures)

        try:
            self.recorder.serve(start)
        finally:  # no thread adds outcomes once the round is written
            wait(futures)
        return handled + sum(f.result() for f in futures)

    def close(self) -> None:
        """Stop; the silent answers handed over so far are still sent (later ones are
        queued as rows again, for whichever process sends next)."""
        if self.answers is not None:
            self.answers.open = False
            for answer in self.answers.take():
                self._deliver(QueuedEffect(NOT_QUEUED, None, answer, 0), self.clock(), False)
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        if self.recorder.journal is not None:
            self.recorder.journal.close()

    def _deliver_in_order(
        self, items: list[QueuedEffect], now: dt.datetime, measure: bool = False
    ) -> int:
        """One chat's messages of this round, in order, each recorded as it is done; after
        one that must wait, the rest of the chat's messages wait too. How many were done."""
        handled = 0
        recorder = self.recorder
        for queued in items:
            if recorder.serving:  # a delivery thread, its sends written by the sender's
                recorder.before_send()
            outcome = self._deliver(queued, now, measure)
            if outcome is None:  # the chat's queue was dropped (403)
                break
            if queued.id != NOT_QUEUED:  # a silent answer in memory has no row
                chat = queued.chat_id
                recorder.add(outcome, chat)
                if chat is not None and outcome.status == "sent":  # told once a round
                    self._sent.append((chat, time.monotonic()))
            handled += 1
            if outcome.status == "pending":
                break
        return handled

    def _deliver(self, queued: QueuedEffect, now: dt.datetime, measure: bool) -> Outcome | None:
        """Carry out one effect. Whatever goes wrong with it (a refusal, a media path no file
        has, a value no call can carry) is this message's outcome, never the round's."""
        effect = queued.effect
        if isinstance(effect, HttpRequest):
            return self._http(queued, effect)
        message_id: int | None = None
        paid = self.paid_broadcast and queued.broadcast_id is not None
        try:
            for call in api_calls(effect, self.admins, self.uploads):
                if paid and call.method == "sendMessage":  # Telegram charges Stars for it
                    call = replace(call, params={**call.params, "allow_paid_broadcast": True})
                if measure:  # not for every call: reading the thread's CPU time is a syscall
                    started, cpu_started = time.perf_counter(), time.thread_time()
                try:
                    result: Any = self.api.call(call.method, call.params, call.files)
                except ApiError as exc:
                    if not _harmless(call.method, exc):
                        raise
                    result = None
                finally:
                    if measure:
                        self.waits.measure(started, cpu_started)
                if isinstance(result, dict) and isinstance(result.get("message_id"), int):
                    message_id = result["message_id"]
                if call.upload_key and call.upload_kind:
                    self._remember_upload(
                        call.upload_key, uploaded_file_id(result, call.upload_kind)
                    )
        except ApiError as exc:
            return self._failed(queued, exc, now)
        except (MediaFileError, OSError) as exc:
            return self._broken(queued, str(exc), exc)
        except Exception as exc:  # a bug or a value nothing checked: this message only
            return self._broken(queued, f"{type(exc).__name__}: {exc}", exc)
        return Outcome(queued.id, "sent", message_id)

    def _broken(self, queued: QueuedEffect, reason: str, exc: Exception) -> Outcome:
        """A message that cannot be sent as it is: failed with its reason, not tried again."""
        reason = reason[:_REASON]
        cause = f"cannot send {type(queued.effect).__name__}: {reason}"
        self.problems.report(Problem("send_failed", cause, chat_id=queued.chat_id), exc)
        return Outcome(queued.id, "failed", error=reason)

    def _remember_upload(self, key: str, file_id: str | None) -> None:
        """Keep an uploaded file's file_id. The message is out whatever happens here: a
        failure costs an upload again next time, not a failed message."""
        if not file_id:
            return
        try:
            self.uploads.known[key] = file_id
        except Exception as exc:
            cause = f"could not keep the file_id of an uploaded file: {exc}"[:_REASON]
            self.problems.report(Problem("store", cause), exc)

    def _failed(self, queued: QueuedEffect, exc: ApiError, now: dt.datetime) -> Outcome | None:
        """The outcome of a refused call; None when the chat's queue was dropped (403)."""
        chat = queued.chat_id
        if exc.kind == "rate_limited":
            wait = float(exc.retry_after or 1)
            self.limits.pause(chat, wait, now)
            return Outcome(queued.id, "pending", not_before=now + dt.timedelta(seconds=wait))
        if exc.kind in ("server", "network"):
            backoff = min(300.0, 2.0 ** min(queued.attempts, 8)) * (0.5 + random.random())
            self.limits.pause(chat, backoff, now)
            return Outcome(queued.id, "pending", not_before=now + dt.timedelta(seconds=backoff))
        kind = type(queued.effect).__name__
        if exc.kind == "timeout":  # it may have arrived: never sent twice blindly
            reason = f"{exc.description} (it may have arrived: not sent again)"[:_REASON]
            self.problems.report(Problem("send_failed", f"{kind} {reason}", chat_id=chat), exc)
            return Outcome(queued.id, "uncertain", error=reason)
        if exc.kind == "blocked" and chat is not None and chat > 0:
            self.outbox.blocked_by(chat)
            cause = "the user blocked the bot; their queued messages are dropped"
            self.problems.report(Problem("user_blocked", cause, chat_id=chat, user_id=chat))
            return None
        reason = f"Telegram refused {exc.method or kind}: {exc.description}"[:_REASON]
        self.problems.report(Problem("send_failed", reason, chat_id=chat), exc)
        return Outcome(queued.id, "failed", error=reason)

    def _http(self, queued: QueuedEffect, effect: HttpRequest) -> Outcome:
        """A fire-and-forget call (`do: http` without `save_as`), made as the services
        port makes every HTTP call; logged when it fails, not retried forever."""
        call = HttpCall(
            effect.method, effect.url, effect.headers, effect.json, effect.form, effect.timeout
        )
        try:
            self.services.http(call)
        except Exception as exc:  # PortError, and a URL no request can carry (a space)
            reason = str(exc) if isinstance(exc, PortError) else f"{type(exc).__name__}: {exc}"
            reason = f"http {effect.method}: {reason}"[:_REASON]
            self.problems.report(Problem("http_failed", reason, chat_id=queued.chat_id), exc)
            return Outcome(queued.id, "failed", error=reason)
        return Outcome(queued.id, "sent")

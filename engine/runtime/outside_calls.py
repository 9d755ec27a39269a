"""The calls that steps wait for (HTTP actions with `save_as` or `on_error`, plugin actions),
made in threads of their own, outside every database transaction (issue 12, item 7; the
idea is in engine/core/deferred_calls.py). When an answer is there, the chat is stepped
again through `resume`. Answers are kept in memory until the update is done: a crash
between a call and its continuation means the call is made again (at least once)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from engine.core.deferred_calls import Answer, DeferredServices, OutsideCall
from engine.core.ports import Services
from engine.ops.problems import Problem, ProblemSink


class CallRunner:
    """A CallBroker (engine/core/store_protocol.py) for a live bot."""

    def __init__(
        self,
        services: Services,
        resume: Callable[[int], object],
        problems: ProblemSink,
        workers: int = 8,
    ) -> None:
        self.services = services
        self.resume = resume
        self.problems = problems
        self._answers: dict[int, tuple[Answer, ...]] = {}
        self._in_flight: dict[tuple[int, int], int] = {}  # (update, index) -> chat
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max(1, workers), thread_name_prefix="outside-call")
        self.closed = False

    def services_for(self, update_id: int) -> Services:
        with self._lock:
            answers = self._answers.get(update_id, ())
        return DeferredServices(self.services.config, answers)

    def committed(
        self, done: Sequence[int], waiting: Sequence[tuple[int, int, OutsideCall]]
    ) -> None:
        with self._lock:
            for update_id in done:
                self._answers.pop(update_id, None)
        for update_id, chat, call in waiting:
            with self._lock:
                if (update_id, call.index) in self._in_flight or self.closed:
                    continue  # made already (another run of the chat asked for it too)
                known = self._answers.get(update_id, ())
                answered = len(known) > call.index and known[call.index].key == call.key
                if not answered:
                    self._in_flight[(update_id, call.index)] = chat
            if answered:  # it came in while that run went on: step the chat again
                self._pool.submit(self._resume, chat)
            else:
                self._pool.submit(self._make, update_id, chat, call)

    def busy_chats(self) -> set[int]:
        """Chats whose calls this process is making now (not orphans to resume)."""
        with self._lock:
            return set(self._in_flight.values())

    def _make(self, update_id: int, chat: int, call: OutsideCall) -> None:
        try:
            if call.http is not None:
                answer = Answer(call.key, self.services.http(call.http))
            else:
                assert call.plugin is not None
                value = self.services.plugin(call.plugin, call.arguments, call.context)
                answer = Answer(call.key, value)
        except Exception as exc:  # the step reports it where it makes the call
            answer = Answer(call.key, error=exc)
        with self._lock:
            known = self._answers.get(update_id, ())[: call.index]
            self._answers[update_id] = (*known, answer)
            self._in_flight.pop((update_id, call.index), None)
        self._resume(chat)

    def _resume(self, chat: int) -> None:
        try:
            self.resume(chat)
        except Exception as exc:  # the orphan sweep steps the chat again later
            cause = f"could not step chat {chat} after its call: {type(exc).__name__}: {exc}"
            self.problems.report(Problem("store", cause, chat_id=chat), exc)

    def close(self) -> None:
        """Finish the calls in flight and their continuations (SIGTERM); calls asked for
        from now on are left pending, for the next start to make."""
        with self._lock:
            self.closed = True
        self._pool.shutdown(wait=True)

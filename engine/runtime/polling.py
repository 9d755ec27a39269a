"""Receiving updates by long polling, raw: each update is parsed on its own (one that cannot
be parsed is kept in the inbox as failed, and the loop goes on); the offset moves only after
the batch is committed; errors back off with jitter; 409 says what is wrong."""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Sequence

from engine.ops.problems import Problem
from engine.runtime.processing import Processor
from engine.store.database import database_gone
from engine.store.pipeline import StoreUnavailable
from engine.telegram.bot_api import ApiError, BotApi
from engine.telegram.updates import parse_update

log = logging.getLogger("engine.polling")
CONFLICT = (
    "Telegram answered 409 Conflict: another process is polling with this token, or a webhook is "
    "set. Stop the other bot (or run with BOT_MODE=webhook); this one waits and tries again."
)


class Poller:
    def __init__(
        self,
        api: BotApi,
        processor: Processor,
        allowed: Sequence[str] | Callable[[], Sequence[str]],
        timeout: int = 25,
    ) -> None:
        self.api = api
        self.processor = processor
        # the update kinds to ask for; a callable follows the running scenario's version
        self.allowed = allowed if callable(allowed) else (lambda kinds=list(allowed): kinds)
        self.timeout = timeout
        self.offset = 0
        self.failures = 0
        self.busy = threading.Lock()  # held while a batch is committed (SIGTERM waits for it)
        self.on_round: Callable[[], None] | None = None  # a round completed (/healthz)

    def poll_once(self, stop: threading.Event | None = None) -> int:
        """One getUpdates round; returns how many updates were committed. A batch that
        arrives after `stop` is left unconfirmed: Telegram sends it again next time."""
        raw = self.api.get_updates_raw(self.offset, self.timeout, self.allowed())
        if not raw:
            return 0
        with self.busy:
            if stop is not None and stop.is_set():
                return 0
            return self._commit(raw)

    def _commit(self, raw: Sequence[object]) -> int:
        parsed = [parse_update(item, username=self.processor.username) for item in raw]
        # an update without an update_id cannot be recorded (nor confirmed): it is logged
        updates = [u for u in parsed if u.error != "malformed: no update_id"]
        for _ in range(len(parsed) - len(updates)):
            log.warning("Telegram sent an update without an update_id; it is skipped")
        ids = [u.update_id for u in updates]
        if updates:
            if log.isEnabledFor(logging.DEBUG):
                log.debug("getUpdates: %d updates from %d", len(ids), min(ids, default=0))
            self.processor.process(updates)
        if ids:
            self.offset = max(ids) + 1  # only now: everything below is committed
        return len(updates)

    def run(self, stop: threading.Event) -> None:
        """Poll until `stop`. Telegram's refusals and a busy database are waited out; any
        other error (a bug, or the database gone for good) ends the loop by raising: the
        offset has not moved past anything uncommitted, and the caller stops the bot."""
        while not stop.is_set():
            try:
                self.poll_once(stop)
                self.failures = 0
            except ApiError as exc:
                self.failures += 1
                if exc.kind == "conflict":
                    log.error(CONFLICT)
                else:
                    log.warning("getUpdates failed (%s); trying again", exc.kind)
                stop.wait(self._backoff(exc.retry_after))
            except StoreUnavailable as exc:  # nothing acknowledged: the offset did not move
                if database_gone(exc):
                    raise  # fatal: waiting will not bring it back
                self.failures += 1
                self.processor.store.problems.report(
                    Problem(
                        "store",
                        f"the database refused the batch; nothing acknowledged, retrying: {exc}",
                    )
                )
                stop.wait(self._backoff(None))
            if self.on_round is not None:
                self.on_round()

    def _backoff(self, retry_after: float | None) -> float:
        if retry_after:
            return float(retry_after)
        return min(60.0, 0.5 * 2.0 ** min(self.failures, 7)) * (0.5 + random.random())

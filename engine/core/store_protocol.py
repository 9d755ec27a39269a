"""What the runtime needs from a store, apart from how it is built (engine/store is the
implementation on peewee). Adapters and tests depend on this, not on a database."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from engine.core.deferred_calls import OutsideCall
from engine.core.events import Event
from engine.core.ports import Services
from engine.core.quick_init import quick_init
from engine.core.session import Session
from engine.core.step_context import StepResult


@quick_init
@dataclass(frozen=True)
class IncomingUpdate:
    """One raw update and what the adapter made of it (`event` None: set aside as failed)."""

    update_id: int
    raw: str  # the update's JSON, or "" while `data` holds it decoded
    chat_id: int | None = None
    event: Event | None = None
    error: str | None = None
    data: Any = None  # the decoded update, encoded only if it is kept (`body`)

    def body(self) -> str:
        """The update as JSON, for an inbox row that keeps it (most are handled at once and
        keep none: encoding every update cost more than anything else the adapter does)."""
        if self.raw or self.data is None:
            return self.raw
        try:
            return _encode(self.data)
        except (TypeError, ValueError, RecursionError):  # not from JSON: what it looked like
            return repr(self.data)[:1000]


# built once: json.dumps with an option builds a new encoder on every call
_encode = json.JSONEncoder(ensure_ascii=False).encode


@dataclass
class BatchResult:
    acknowledged: list[int] = field(default_factory=list)  # safe to confirm to Telegram
    duplicates: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)  # kept in the inbox with their reason
    effects: int = 0

    def add(self, part: BatchResult) -> BatchResult:
        """This result with `part`'s added (a batch committed in parts)."""
        self.acknowledged += part.acknowledged
        self.duplicates += part.duplicates
        self.failed += part.failed
        self.effects += part.effects
        return self


# step for one update: (session, event), and with a CallBroker also the update's services
Handler = Callable[..., StepResult]


class CallBroker(Protocol):
    """Makes the calls steps wait for, outside the store's transactions (deferred_calls)."""

    def services_for(self, update_id: int) -> Services:
        """The services for one run of the update's step: the answers it has so far."""
        ...

    def committed(
        self, done: Sequence[int], waiting: Sequence[tuple[int, int, OutsideCall]]
    ) -> None:
        """After a commit: `done` updates need their answers no more; each of `waiting`
        (update_id, chat_id, call) is to be made, and its chat stepped again then."""
        ...


Parser = Callable[[int, str], IncomingUpdate]


class SessionStore(Protocol):
    def process(
        self,
        updates: Sequence[IncomingUpdate],
        handle: Handler,
        now: dt.datetime,
        roles: Callable[[int], frozenset[str]] = ...,
        parse: Parser | None = None,
    ) -> BatchResult:
        """Record, step and commit a batch; only then may its updates be acknowledged."""
        ...

    def session(self, chat_id: int, user_id: int) -> Session | None: ...

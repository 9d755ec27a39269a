"""When one update fails on its own (a session that cannot be opened, a value the database
refuses, a bug): the batch is tried again an update at a time, and the update that fails
alone is set aside with its reason, its user gets the apology, and it is reported; the rest
of the batch goes on (issue 12, item 1). A mixin of the Store (engine/store/pipeline.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import peewee

from engine.core.effects import Effect
from engine.core.events import Event, message_type
from engine.core.store_protocol import BatchResult, CallBroker, Handler, IncomingUpdate, Parser
from engine.ops.problems import Problem, ProblemSink
from engine.ops.update_log import HandledUpdate, UpdateLog, record_of
from engine.store.bulk import insert_rows
from engine.store.database import write_transaction
from engine.store.message_log import stored_text
from engine.store.models import InboxRow, OutboxRow
from engine.store.privacy import sender_of
from engine.store.session_rows import SessionRows, storable_json
from engine.store.unavailable import StoreUnavailable, cause_of, utc

Apology = Callable[[Event], Effect]  # what a user whose update failed alone is told


class FailingAlone:
    db: peewee.Database
    problems: ProblemSink
    rows: SessionRows
    updates: UpdateLog | None

    if TYPE_CHECKING:

        def process(
            self,
            updates: Sequence[IncomingUpdate],
            handle: Handler,
            now: dt.datetime,
            roles: Callable[[int], frozenset[str]] = ...,
            parse: Parser | None = None,
            apology: Apology | None = None,
            calls: CallBroker | None = None,
            resume: Sequence[int] = (),
        ) -> BatchResult: ...

        def _recorded(self, ids: list[int]) -> set[int]: ...

        def _outbox_row(
            self, effect: Effect, update_id: int | None, stamp: dt.datetime, user: int | None
        ) -> dict[str, Any]: ...

    def _set_aside_row(self, update: IncomingUpdate, reason: str, stamp: dt.datetime) -> bool:
        """Record `update` as failed: a new row, or its pending one; False when it was
        handled already (a duplicate)."""
        mark = self.db.param
        if self._recorded([update.update_id]):
            return bool(
                self.db.execute_sql(
                    f"UPDATE \"inbox\" SET status = 'failed', error = {mark} "
                    f"WHERE update_id = {mark} AND status = 'pending'",
                    (storable_json(reason), update.update_id),
                ).rowcount
            )
        body = update.body()
        row = {
            "update_id": update.update_id,
            "chat_id": update.chat_id,
            "user_id": update.event.user.id if update.event is not None else sender_of(body),
            "body": storable_json(body),
            "status": "failed",
            "attempts": 1,
            "error": storable_json(reason),
            "received": stamp,
        }
        insert_rows(self.db, InboxRow, [row])
        return True

    def _fail_first_pending(
        self,
        chat: int,
        exc: Exception,
        now: dt.datetime,
        apology: Apology | None,
        parse: Parser | None,
    ) -> BatchResult:
        """A chat's pending updates failed to resume: the first of them fails alone."""
        mark = self.db.param
        row = self.db.execute_sql(
            "SELECT update_id, body FROM \"inbox\" WHERE status = 'pending' "
            f"AND chat_id = {mark} ORDER BY update_id LIMIT 1",
            (chat,),
        ).fetchone()
        if row is None or parse is None:
            raise StoreUnavailable(f"cannot resume chat {chat}: {cause_of(exc)}") from exc
        return self._fail_alone(parse(row[0], row[1]), exc, now, apology)

    def _one_at_a_time(
        self,
        updates: Sequence[IncomingUpdate],
        handle: Handler,
        now: dt.datetime,
        roles: Callable[[int], frozenset[str]],
        parse: Parser | None,
        apology: Apology | None,
        calls: CallBroker | None,
        resume: Sequence[int],
    ) -> BatchResult:
        """The batch again, an update per transaction in update_id order (each chat's order
        kept; a chat to resume first, its pending updates being older), so that the update
        that fails fails alone."""
        total = BatchResult()
        for chat in resume:
            self.process([], handle, now, roles, parse, apology, calls, [chat])
        for update in sorted(updates, key=lambda u: u.update_id):
            total.add(self.process([update], handle, now, roles, parse, apology, calls))
        return total

    def _fail_alone(
        self,
        update: IncomingUpdate,
        exc: Exception,
        now: dt.datetime,
        apology: Apology | None,
    ) -> BatchResult:
        """Set aside an update that failed on its own: recorded as failed with its reason
        (its body kept, for the operator), the apology queued for its chat, reported. If even
        that cannot be written, the database itself is the problem: StoreUnavailable."""
        reason = stored_text(f"{type(exc).__name__}: {exc}")[:1000]
        result = BatchResult()
        event = update.event
        apologized: Effect | None = apology(event) if apology and event is not None else None
        user = event.user.id if event is not None else None
        stamp = utc(now)
        state: str | None = None
        try:
            with write_transaction(self.db):
                if not self._set_aside_row(update, reason, stamp):
                    result.duplicates.append(update.update_id)
                else:
                    result.failed.append(update.update_id)
                    if apologized is not None:
                        row = self._outbox_row(apologized, update.update_id, stamp, user)
                        insert_rows(self.db, OutboxRow, [row])
                        result.effects = 1
                    if event is not None:
                        state = self.rows.state_of(event.chat.id, event.user.id)
        except Exception as failure:
            raise StoreUnavailable(
                f"cannot even set aside update {update.update_id}: {cause_of(failure)}"
            ) from failure
        result.acknowledged = [update.update_id]
        if self.updates is not None and self.updates.wanted():
            outcome = "duplicate" if result.duplicates else "failed"
            if event is None:
                self.updates.write([HandledUpdate(update.update_id, outcome, update.chat_id)])
            else:
                self.updates.write([record_of(update, outcome, None)])
        if not result.duplicates:
            self.problems.report(
                Problem(
                    "update_failed",
                    f"set aside: {reason}",
                    state,
                    message_type(event) if event is not None else None,
                    event.user.id if event is not None else None,
                    update.chat_id,
                    update.update_id,
                ),
                exc,
            )
        return result

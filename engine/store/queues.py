"""What waits in the database to happen: messages to send (the outbox) and timers to fire.
The sender and the scheduler of the Telegram runtime work through these."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import peewee

from engine.core.effects import AnswerButton, Effect
from engine.core.quick_init import quick_init
from engine.store.database import write_transaction
from engine.store.models import OutboxRow, TimerRow, UserRow, database_proxy
from engine.store.privacy import REDACTED_PAYLOAD
from engine.store.sent_journal import Sent
from engine.store.serialization import RecentEffects, effect_from_json


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(tzinfo=None) if moment.tzinfo else moment


@quick_init
@dataclass(frozen=True)
class QueuedEffect:
    id: int
    chat_id: int | None
    effect: Effect
    attempts: int
    broadcast_id: int | None = None  # one of a broadcast's messages (paid broadcasts)


@quick_init
@dataclass(frozen=True)
class Outcome:
    """What one delivery round did to a queued effect: sent (with Telegram's message id),
    pending again from `not_before` (a 429 or 5xx), uncertain (timed out) or failed, with
    why (`error`, kept in the row)."""

    id: int
    status: str
    message_id: int | None = None
    not_before: dt.datetime | None = None
    error: str | None = None


@quick_init
@dataclass(frozen=True)
class DueTimer:
    id: int
    chat_id: int
    user_id: int
    state: str
    index: int
    epoch: int


_SENT_AT_ONCE = 100  # sent messages marked by one statement (its CASE is read row by row)
# sqlite3's errors raised as peewee's (OperationalError for a busy database), as peewee does
_AS_PEEWEE_ERRORS = peewee.__exception_wrapper__  # type: ignore[attr-defined]
_UNCERTAIN = "no answer in time (it may have arrived: not sent again)"
NOT_QUEUED = 0  # the id of a QueuedEffect that has no outbox row (ImmediateAnswers)


class ImmediateAnswers:
    """Silent answers to button presses, handed from the store to this process's sender in
    memory instead of through the outbox. Such an answer only stops the client's spinner: lost
    in a crash it costs nothing (the spinner stops by itself, and answered after a restart
    Telegram refuses it as too old anyway), while its outbox row cost two writes per press.
    Only while a sender of this process takes them (`open`); else they are queued as rows."""

    def __init__(self) -> None:
        self.open = False
        self._items: list[AnswerButton] = []
        self._lock = threading.Lock()

    def offer(self, answers: Sequence[AnswerButton]) -> None:
        with self._lock:
            self._items.extend(answers)

    def take(self) -> list[AnswerButton]:
        with self._lock:
            items, self._items = self._items, []
        return items


def _pending_sql(mark: str) -> str:
    """The sender's look-up (Outbox.pending), raw: the query builder's SQL generation cost
    more than the query itself. 'pending' is written out: SQLite uses the partial index only
    for a literal. `waiting` is each chat with a pending row not yet due (a 429, a backoff)
    and its first such row: read through the same index (retries are few), then looked up
    for each due row, which is left out when it comes after it."""
    return (
        'SELECT o.id, o.chat_id, o.payload, o.attempts, o.broadcast_id FROM "outbox" AS o '
        'LEFT JOIN (SELECT chat_id, MIN(id) AS first FROM "outbox" '
        f"WHERE status = 'pending' AND not_before > {mark} GROUP BY chat_id) AS waiting "
        "ON waiting.chat_id = o.chat_id "
        f"WHERE o.status = 'pending' AND o.not_before <= {mark} "
        f"AND (waiting.first IS NULL OR o.id < waiting.first) ORDER BY o.id LIMIT {mark}"
    )


class Outbox:
    def __init__(self, db: peewee.Database, recent: RecentEffects | None = None) -> None:
        database_proxy.initialize(db)
        self.db = db
        # the effects this process's store queued: taken as they are, not decoded
        self._effect = recent.effect_of if recent is not None else effect_from_json
        mark = db.param
        self.pending_sql = _pending_sql(mark)  # parameters: now, now, limit
        # whether any pending row is not yet due; due rows when none is (the partial index)
        self.waiting_sql = (
            f"SELECT 1 FROM \"outbox\" WHERE status = 'pending' AND not_before > {mark} LIMIT 1"
        )
        self.due_sql = (
            'SELECT id, chat_id, payload, attempts, broadcast_id FROM "outbox" '
            f"WHERE status = 'pending' AND not_before <= {mark} ORDER BY id LIMIT {mark}"
        )
        self._sqlite = isinstance(db, peewee.SqliteDatabase)
        # whether a row may wait for a retry (a 429 or backoff): only the sender writes such
        # rows, one process at a time (the lease), so once a probe found none there are none
        # until this outbox records one; a new Outbox (a start, a takeover) probes first
        self._retries_possible = True
        self._sent_sql: dict[tuple[int, int], str] = {}  # by (messages, with message ids)
        # a row waiting for a retry keeps its payload; one given up loses it
        self._outcome_sql = (
            f'UPDATE "outbox" SET status = {mark}, message_id = COALESCE({mark}, message_id), '
            f"not_before = COALESCE({mark}, not_before), error = {mark}, "
            f"payload = COALESCE({mark}, payload), attempts = attempts + 1 WHERE id = {mark}"
        )

    def pending(self, now: dt.datetime, limit: int = 100) -> list[QueuedEffect]:
        """Effects due to be sent, oldest first. A chat's message waits behind the chat's
        earliest unsent one: while that one waits out a 429 or a backoff, the chat's later
        ones are left out, so they never overtake it (in another process, after a restart)."""
        moment = _utc(now)
        stamp = str(moment) if self._sqlite else moment
        if self._sqlite and not self._retries_possible:
            rows = self.db.execute_sql(self.due_sql, (stamp, int(limit))).fetchall()
        elif self._sqlite and self.db.execute_sql(self.waiting_sql, (stamp,)).fetchone() is None:
            self._retries_possible = False
            # nothing waits for a retry (nearly always): the plain look-up, without the join
            # (SQLite: the join cost more than this probe; PostgreSQL: a round trip more)
            rows = self.db.execute_sql(self.due_sql, (stamp, int(limit))).fetchall()
        else:
            rows = self.db.execute_sql(self.pending_sql, (stamp, stamp, int(limit))).fetchall()
        return [
            QueuedEffect(row_id, chat, self._effect(payload), attempts, broadcast)
            for row_id, chat, payload, attempts, broadcast in rows
        ]

    def record(self, outcomes: list[Outcome]) -> None:
        """Outcomes of sends in one transaction (the sender's hot path: a round's on
        SQLite, a few at a time as they complete on PostgreSQL): the sent ones with one
        statement per hundred, the rest with one prepared statement."""
        if not outcomes:
            return
        sent: list[Outcome] = []
        rows = []
        for outcome in outcomes:
            if outcome.status == "sent" and outcome.not_before is None:
                sent.append(outcome)
                continue
            if outcome.not_before is not None:
                self._retries_possible = True  # probed for again until none waits
            moment = _utc(outcome.not_before) if outcome.not_before else None
            stamp = str(moment) if self._sqlite and moment is not None else moment
            spent = REDACTED_PAYLOAD if outcome.status != "pending" else None
            rows.append(
                (outcome.status, outcome.message_id, stamp, outcome.error, spent, outcome.id)
            )
        marks = [
            self._mark_sent(sent[i : i + _SENT_AT_ONCE]) for i in range(0, len(sent), _SENT_AT_ONCE)
        ]
        if self._sqlite and not self.db.in_transaction():
            self._sqlite_transaction(marks, rows)
            return
        with write_transaction(self.db):
            for sql, params in marks:
                self.db.execute_sql(sql, params)
            if rows:
                self.db.cursor().executemany(self._outcome_sql, rows)

    def _sqlite_transaction(self, marks: list[tuple[str, list[Any]]], rows: list[Any]) -> None:
        """BEGIN IMMEDIATE … COMMIT on this thread's connection, without peewee's
        transaction bookkeeping (with the UPDATEs built once per size, a round of a hundred
        is written in two thirds of the time, measured alone). Errors come as peewee's, as
        everywhere; the commit goes through the database, which tells its checkpointer."""
        connection = self.db.connection()
        try:
            with _AS_PEEWEE_ERRORS:
                connection.execute("BEGIN IMMEDIATE")
                for sql, params in marks:
                    connection.execute(sql, params)
                if rows:
                    connection.executemany(self._outcome_sql, rows)
            self.db.commit()
        except BaseException:
            if connection.in_transaction:  # never left open: the next write could not begin
                connection.rollback()
            raise

    def _mark_sent(self, outcomes: list[Outcome]) -> tuple[str, list[Any]]:
        """One UPDATE for many sent messages, each with its Telegram message id: a quarter
        less than a prepared statement run per row (SQLite, measured). Its text depends
        only on how many there are, so it is built once per size."""
        with_ids = [o for o in outcomes if o.message_id is not None]
        shape = (len(outcomes), len(with_ids))
        sql = self._sent_sql.get(shape)
        if sql is None:
            mark = self.db.param
            message_id = "message_id"
            if with_ids:
                whens = " ".join(f"WHEN {mark} THEN {mark}" for _ in with_ids)
                message_id = f"CASE id {whens} ELSE message_id END"
            marks = ", ".join(mark for _ in outcomes)
            sql = self._sent_sql[shape] = (
                f"UPDATE \"outbox\" SET status = 'sent', attempts = attempts + 1, "
                f"payload = '{REDACTED_PAYLOAD}', message_id = {message_id} WHERE id IN ({marks})"
            )
        params: list[Any] = [value for o in with_ids for value in (o.id, o.message_id)]
        params += [o.id for o in outcomes]
        return sql, params

    def record_journaled(self, sends: Sequence[Sent]) -> None:
        """What a killed sender's journal holds (SQLite): applied to a row only while it
        is still pending and in the same chat, so a line applied already, or naming a row
        of a database restored since, changes nothing."""
        with write_transaction(self.db):
            self.db.cursor().executemany(
                'UPDATE "outbox" SET status = ?, message_id = COALESCE(?, message_id), '
                "error = ?, payload = ?, attempts = attempts + 1 "
                "WHERE id = ? AND status = 'pending' AND chat_id IS ?",
                [
                    (
                        s.status,
                        s.message_id,
                        _UNCERTAIN if s.status != "sent" else None,
                        REDACTED_PAYLOAD,
                        s.id,
                        s.chat_id,
                    )
                    for s in sends
                ],
            )

    def sent(self, effect_id: int, message_id: int | None = None) -> None:
        OutboxRow.update(
            status="sent",
            message_id=message_id,
            payload=REDACTED_PAYLOAD,
            attempts=OutboxRow.attempts + 1,
        ).where(OutboxRow.id == effect_id).execute()

    def uncertain(self, effect_id: int) -> None:
        """A send timed out: Telegram may have delivered it. Recorded, not blindly repeated."""
        OutboxRow.update(
            status="uncertain", payload=REDACTED_PAYLOAD, attempts=OutboxRow.attempts + 1
        ).where(OutboxRow.id == effect_id).execute()

    def retry_at(self, effect_id: int, moment: dt.datetime) -> None:
        """A 429 or 5xx: try again later (retry_after, or backoff)."""
        self._retries_possible = True
        OutboxRow.update(not_before=_utc(moment), attempts=OutboxRow.attempts + 1).where(
            OutboxRow.id == effect_id
        ).execute()

    def failed(self, effect_id: int) -> None:
        OutboxRow.update(
            status="failed", payload=REDACTED_PAYLOAD, attempts=OutboxRow.attempts + 1
        ).where(OutboxRow.id == effect_id).execute()

    def blocked_by(self, user_id: int) -> None:
        """Telegram answered 403: the user blocked the bot. Their queued messages are dropped."""
        mark = self.db.param
        with write_transaction(self.db):
            UserRow.update(blocked=True).where(UserRow.id == user_id).execute()
            self.db.execute_sql(  # through the pending index ('pending' written out)
                f"UPDATE \"outbox\" SET status = 'failed', error = 'the user blocked the bot', "
                f"payload = {mark} WHERE status = 'pending' AND chat_id = {mark}",
                (REDACTED_PAYLOAD, user_id),
            )


class Timers:
    def __init__(self, db: peewee.Database) -> None:
        database_proxy.initialize(db)
        self.db = db

    def due(self, now: dt.datetime, limit: int = 100) -> list[DueTimer]:
        rows = (
            TimerRow.select()
            .where((TimerRow.status == "pending") & (TimerRow.due <= _utc(now)))
            .order_by(TimerRow.due, TimerRow.id)
            .limit(limit)
        )
        return [DueTimer(r.id, r.chat_id, r.user_id, r.state, r.position, r.epoch) for r in rows]

    def fired(self, timer_id: int) -> bool:
        """Claim a due timer; False if another process fired or cancelled it meanwhile."""
        changed = (
            TimerRow.update(status="fired")
            .where((TimerRow.id == timer_id) & (TimerRow.status == "pending"))
            .execute()
        )
        return bool(changed)

    def failed(self, timer_id: int) -> None:
        """A timer that could not be fired (reported): it is not tried again."""
        TimerRow.update(status="failed").where(
            (TimerRow.id == timer_id) & (TimerRow.status == "pending")
        ).execute()

    def next_due(self) -> dt.datetime | None:
        row = (
            TimerRow.select(peewee.fn.MIN(TimerRow.due))
            .where(TimerRow.status == "pending")
            .scalar()
        )
        return (
            row
            if isinstance(row, dt.datetime) or row is None
            else dt.datetime.fromisoformat(str(row))
        )

"""The durable pipeline's transaction: record updates, lock and load sessions, run the step,
store sessions, queue effects and timers, mark updates done, then commit. Nothing is
acknowledged to Telegram before this commits; a duplicate update_id changes nothing."""

from __future__ import annotations

import datetime as dt
import json
import operator
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any

import peewee
from playhouse.pool import MaxConnectionsExceeded

from engine.core.deferred_calls import CallNeeded
from engine.core.effects import (
    CancelTimers,
)
from engine.core.session import Session, new_session
from engine.core.store_protocol import BatchResult, CallBroker, Handler, IncomingUpdate, Parser
from engine.ops.problems import Problem, ProblemSink
from engine.ops.update_log import HandledUpdate, UpdateLog, record_of
from engine.store.bulk import insert_rows, select_in
from engine.store.crypto import SensitiveCipher
from engine.store.database import is_postgres, write_transaction
from engine.store.effect_rows import EffectRows, Gathered
from engine.store.failing_alone import Apology, FailingAlone
from engine.store.message_log import AsksSensitive, MessageLog, stored_text
from engine.store.models import (
    InboxRow,
    MessageLogRow,
    OutboxRow,
    TimerRow,
    database_proxy,
)
from engine.store.privacy import sender_of
from engine.store.queues import ImmediateAnswers
from engine.store.serialization import (
    RecentEffects,
    effect_to_json,
)
from engine.store.session_rows import SessionRows, storable_json
from engine.store.unavailable import StoreUnavailable, cause_of, utc

__all__ = ["Apology", "CrashHook", "Store", "StoreUnavailable"]

CrashHook = Callable[[str], None]
_DIED_HERE = "_store_crash_hook"  # marks an exception the crash hook raised (tests' "kill")


def _set_aside_status(update: IncomingUpdate) -> str:
    """ignored (nothing this bot reacts to) or failed (unreadable); an update with an event
    is stepped in the transaction that records it, so it is recorded as done."""
    return "ignored" if (update.error or "").startswith("ignored") else "failed"


def _set_aside_outcome(update: IncomingUpdate) -> str:
    """An update without an event, as its log line names it."""
    return "ignored" if _set_aside_status(update) == "ignored" else "set_aside"


def _marked(hook: CrashHook) -> CrashHook:
    """The crash hook, its exceptions marked: they stand for the process dying at that
    point, so they pass through as they are, not as the failure of one update."""

    def crash(point: str) -> None:
        try:
            hook(point)
        except Exception as exc:
            setattr(exc, _DIED_HERE, True)
            raise

    return crash


def _roles_json(roles: frozenset[str]) -> str:
    return json.dumps(sorted(roles)) if roles else "[]"


_BY_UPDATE_ID = operator.attrgetter("update_id")
_CHUNK = 400  # ids per IN (...): below SQLite's limit on bound variables


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


class Store(FailingAlone, EffectRows):
    """Sessions, inbox, outbox and timers of one scenario, in one database."""

    def __init__(
        self,
        db: peewee.Database,
        scenario: str,
        sensitive: frozenset[str] = frozenset(),
        cipher: SensitiveCipher | None = None,
        log_text: bool = False,
        crash_hook: CrashHook | None = None,
        retries: int = 5,
        recent: RecentEffects | None = None,
        answers: ImmediateAnswers | None = None,
        problems: ProblemSink | None = None,
        asks_sensitive: AsksSensitive | None = None,
        updates: UpdateLog | None = None,
    ) -> None:
        """`asks_sensitive`: whether a state asks a sensitive question (its texts are not
        logged, even refused ones); the runtime passes its current scenario's."""
        database_proxy.initialize(db)
        self.problems = problems or ProblemSink()
        self.db = db
        # shared with this process's sender, which then takes the effects, not their rows
        self._payload = recent.queued_json if recent is not None else effect_to_json
        self.answers = answers  # silent answers to presses, when this process sends them
        self.scenario = scenario
        self.sensitive = sensitive
        self.cipher = cipher
        self.log_text = log_text
        self.crash = _marked(crash_hook) if crash_hook else (lambda point: None)
        self.retries = retries
        self.sleep = time.sleep
        self.rows = SessionRows(db, scenario, sensitive, cipher)
        self.log = MessageLog(log_text, sensitive, asks_sensitive)
        self.updates = updates  # a line per update after each commit (BOT_LOG_UPDATES)

    def load_sessions(
        self,
        keys: set[tuple[int, int]],
        roles: Callable[[int], frozenset[str]],
        profiles: dict[int, tuple[Any, ...]] | None = None,
        entered: dict[tuple[int, int], float | None] | None = None,
    ) -> dict[tuple[int, int], Session]:
        """The sessions of `keys` (locked on PostgreSQL), as SessionRows.load."""
        return self.rows.load(keys, roles, profiles, entered)

    def session(self, chat_id: int, user_id: int) -> Session | None:
        return self.load_sessions({(chat_id, user_id)}, lambda user: frozenset()).get(
            (chat_id, user_id)
        )

    # -- the transaction -------------------------------------------------------------------
    def process(
        self,
        updates: Sequence[IncomingUpdate],
        handle: Handler,
        now: dt.datetime,
        roles: Callable[[int], frozenset[str]] = lambda user_id: frozenset(),
        parse: Parser | None = None,
        apology: Apology | None = None,
        calls: CallBroker | None = None,
        resume: Sequence[int] = (),
    ) -> BatchResult:
        """Commit a batch of updates in one transaction; each is durable before it is
        acknowledged. Pending updates of the same chats recorded earlier (by this or another
        process) are handled first, so one chat's updates run in update_id order.

        A busy SQLite file, a lost PostgreSQL connection or a full disk rolls the whole batch
        back; it is tried again with backoff, and raises StoreUnavailable if it keeps failing
        (the caller then acknowledges nothing: Telegram delivers the updates again).

        Any other failure concerns one update (a session that cannot be opened, a value the
        database refuses): the batch is tried again an update at a time, and the one that
        fails alone is set aside with its reason, its user gets `apology`, and it is reported;
        the rest of the batch goes on.

        With `calls`, a step that needs an outside call's answer is not applied: the update
        stays pending (and so do its chat's later ones) and the call is handed to `calls`
        after the commit, which steps the chat again (`resume`: chats whose pending updates
        to step, with no new ones) once the answer is there."""
        started = time.perf_counter()
        lines = self.updates is not None and self.updates.wanted()  # once per batch
        for attempt in range(self.retries + 1):
            try:
                # decided once per batch: a sender of this process takes silent answers
                batch = Gathered(self.answers is not None and self.answers.open)
                batch.handled = [] if lines else None
                result = self._process(updates, handle, now, roles, parse, batch, calls, resume)
            except (
                peewee.OperationalError,
                peewee.InterfaceError,
                peewee.IntegrityError,
                MaxConnectionsExceeded,
            ) as exc:
                # IntegrityError: another process recorded the same update id meanwhile;
                # the next attempt sees it as a duplicate. MaxConnectionsExceeded: every
                # pooled connection stayed busy (a burst of webhook requests): not this
                # batch's fault, so not set aside
                if attempt == self.retries:
                    raise StoreUnavailable(
                        f"the database refused the batch {attempt + 1} times: {cause_of(exc)}"
                    ) from exc
                self._reconnect()
                self.sleep(min(0.05 * 2**attempt, 2.0))
                continue
            except Exception as exc:
                if getattr(exc, _DIED_HERE, False):
                    raise  # the crash hook: the process "died" at this point
                if len(updates) + len(resume) > 1:
                    return self._one_at_a_time(
                        updates, handle, now, roles, parse, apology, calls, resume
                    )
                if updates:
                    return self._fail_alone(updates[0], exc, now, apology)
                failed = self._fail_first_pending(resume[0], exc, now, apology, parse)
                rest = self.process([], handle, now, roles, parse, apology, calls, resume)
                return failed.add(rest)
            if batch.answers and self.answers is not None:  # only now that it is committed
                self.answers.offer(batch.answers)
            if calls is not None:
                calls.committed(batch.done, batch.waiting)
            for problem in batch.problems:  # once: an attempt rolled back reports nothing
                self.problems.report(problem)
            if batch.handled and self.updates is not None:
                ms = (time.perf_counter() - started) * 1000
                self.updates.write([replace(item, ms=ms) for item in batch.handled])
            return result
        raise AssertionError("unreachable")

    def _reconnect(self) -> None:
        try:
            if not self.db.is_closed():
                self.db.close()
        except Exception:  # the connection is gone already
            pass

    def _process(
        self,
        updates: Sequence[IncomingUpdate],
        handle: Handler,
        now: dt.datetime,
        roles: Callable[[int], frozenset[str]],
        parse: Parser | None,
        batch: Gathered,
        calls: CallBroker | None = None,
        resume: Sequence[int] = (),
    ) -> BatchResult:
        result = BatchResult()
        stamp = utc(now)
        with write_transaction(self.db):
            ids = [u.update_id for u in updates]
            known = self._recorded(ids)
            fresh: list[IncomingUpdate] = []
            for u in sorted(updates, key=_BY_UPDATE_ID):  # rows locked in one order
                if u.update_id in known:
                    result.duplicates.append(u.update_id)
                    if batch.handled is not None:
                        batch.handled.append(HandledUpdate(u.update_id, "duplicate", u.chat_id))
                else:
                    known.add(u.update_id)  # the same update twice in one batch: once
                    fresh.append(u)
            # an update this batch steps is recorded as done at once (attempt 1): the same
            # transaction steps it, so no other transaction ever sees it pending. Its raw
            # body is not kept: nothing reads a handled update again (the message log says
            # what happened), and it holds what the user wrote. Set-aside ones keep theirs.
            rows = [
                {
                    "update_id": u.update_id,
                    "chat_id": u.chat_id,
                    "user_id": u.event.user.id if u.event is not None else sender_of(u.body()),
                    "body": "" if u.event is not None else u.body().replace("\x00", ""),
                    "status": "done" if u.event is not None else _set_aside_status(u),
                    "attempts": 1 if u.event is not None else 0,
                    "error": stored_text(u.error) if u.error is not None else None,
                    "received": stamp,
                }
                for u in fresh
            ]
            insert_rows(self.db, InboxRow, rows)
            result.failed = [u.update_id for u in fresh if u.event is None]
            batch.problems.extend(
                Problem(
                    "update_set_aside",
                    u.error or "unreadable",
                    chat_id=u.chat_id,
                    update_id=u.update_id,
                )
                for u in fresh
                if u.event is None and _set_aside_status(u) == "failed"
            )
            if batch.handled is not None:
                batch.handled.extend(
                    HandledUpdate(u.update_id, _set_aside_outcome(u), u.chat_id)
                    for u in fresh
                    if u.event is None
                )
            self.crash("after_inbox")
            work = self._work(fresh, parse, resume)
            chats = sorted({u.chat_id for u in work if u.chat_id is not None} | set(resume))
            if is_postgres(self.db):
                for chat in chats:  # in a fixed order, so two processes never deadlock
                    self.db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (chat,))
                if parse is not None:
                    # rows other processes committed meanwhile
                    work = self._work(fresh, parse, resume)
            keys = {(u.event.chat.id, u.event.user.id) for u in work if u.event is not None}
            role_of = _RolesOnce(roles).__getitem__  # the roles callback once per user
            # the users rows as stored: a row is written only when its profile changed
            # (most updates change none, and each write was a page of its own)
            profiles: dict[int, tuple[Any, ...]] = {}
            entered: dict[tuple[int, int], float | None] = {}  # when, in POSIX seconds
            sessions = self.load_sessions(keys, role_of, profiles, entered)
            moment = stamp.replace(tzinfo=dt.UTC).timestamp()  # stamp: naive UTC
            changed: dict[tuple[int, int], Session] = {}
            outbox: list[dict[str, Any]] = []
            timers: list[dict[str, Any]] = []
            cancels: list[CancelTimers] = []
            log: list[dict[str, Any]] = []
            users: dict[int, dict[str, Any]] = {}
            waiting: list[IncomingUpdate] = []  # not stepped now: they wait for a call
            blocked: set[int] = set()  # chats whose earlier update waits: the rest waits too
            for update in work:
                event = update.event
                assert event is not None
                user = event.user
                key = (event.chat.id, user.id)
                if event.chat.id in blocked:
                    waiting.append(update)
                    if batch.handled is not None:
                        batch.handled.append(record_of(update, "waiting", sessions.get(key)))
                    continue
                session = sessions.get(key) or new_session(*key, role_of(user.id))
                try:
                    if calls is None:
                        step = handle(session, event)
                    else:
                        step = handle(session, event, calls.services_for(update.update_id))
                except CallNeeded as need:  # nothing of this run is kept: it runs again
                    batch.waiting.append((update.update_id, event.chat.id, need.call))
                    blocked.add(event.chat.id)
                    waiting.append(update)
                    if batch.handled is not None:
                        batch.handled.append(record_of(update, "waiting", session))
                    continue
                if calls is not None:  # its answers are needed no more
                    batch.done.append(update.update_id)
                after = step.session
                sessions[key] = changed[key] = after
                if batch.handled is not None:
                    batch.handled.append(record_of(update, "handled", session, after))
                profile = (
                    user.first_name,
                    user.last_name,
                    user.username,
                    after.language,
                    _roles_json(role_of(user.id)),
                    False,  # not blocked: they wrote
                )
                if profiles.get(user.id) != profile:  # as Telegram sent it, then as stored
                    profile = (*(stored_text(v) for v in profile[:3]), *profile[3:])
                if profiles.get(user.id) != profile:
                    profiles[user.id] = profile
                    users[user.id] = {
                        "id": user.id,
                        "first_name": profile[0],
                        "last_name": profile[1],
                        "username": profile[2],
                        "language": profile[3],
                        "roles": profile[4],
                        "updated": stamp,
                        "first_seen": stamp,  # kept as it was when the user is stored already
                        "blocked": False,
                    }
                stayed = None
                if after.epoch != session.epoch:  # a state entered: the visit before ended
                    since = entered.get(key)
                    if since is not None and session.state is not None:
                        stayed = max(0.0, moment - since)
                    entered[key] = moment
                logged = self.log.incoming(event, session, after, stamp, stayed, step.fallback)
                log.append(logged)
                if step.effects:
                    # texts are logged: what the replies must not show (None otherwise)
                    hidden = self.log.hidden(event, session, after) if self.log_text else None
                    logged["replies"] = self._queue(
                        batch,
                        step.effects,
                        update.update_id,
                        stamp,
                        outbox,
                        timers,
                        cancels,
                        log,
                        after,
                        event,
                        hidden,
                    )
            self.crash("after_step")
            self._privacy(batch, outbox, log, changed, users, stamp)
            if changed:
                self.rows.store(changed.values(), stamp, entered)
            self.crash("after_session")
            self.rows.store_users(users)
            for cancel in cancels:
                TimerRow.update(status="cancelled").where(
                    (TimerRow.chat_id == cancel.chat_id)
                    & (TimerRow.user_id == cancel.user_id)
                    & (TimerRow.state == cancel.state)
                    & (TimerRow.status == "pending")
                ).execute()
            for table, items in ((OutboxRow, outbox), (TimerRow, timers), (MessageLogRow, log)):
                insert_rows(self.db, table, items)
            recorded = {u.update_id for u in fresh}
            if waiting:
                self._keep_pending([u for u in waiting if u.update_id in recorded])
                recorded |= {u.update_id for u in waiting}  # not done: they stay pending
            done = [u.update_id for u in work if u.update_id not in recorded]
            for part in _chunks(done):  # pending updates recorded by earlier transactions
                InboxRow.update(status="done", body="", attempts=InboxRow.attempts + 1).where(
                    InboxRow.update_id.in_(list(part))
                ).execute()
            result.effects = len(outbox) + len(batch.answers)
            self.crash("before_commit")
        self.crash("after_commit")
        result.acknowledged = ids
        return result

    def _recorded(self, ids: list[int]) -> set[int]:
        """Which of `ids` the inbox holds already (duplicates). A polled batch's ids are
        consecutive: read as one range of the unique index, not as as many look-ups."""
        if ids and max(ids) - min(ids) < 2 * len(ids):
            sql = 'SELECT update_id FROM "inbox" WHERE update_id BETWEEN {0} AND {0}'
            mark = self.db.param
            rows = self.db.execute_sql(sql.format(mark), (min(ids), max(ids))).fetchall()
        else:
            sql = 'SELECT update_id FROM "inbox" WHERE update_id IN ({})'
            rows = select_in(self.db, sql, ids)
        return {row[0] for row in rows}  # others of the range are never asked about

    def pending_chats(self, before: dt.datetime) -> list[int]:
        """Chats with updates recorded before `before` and not yet stepped (through the
        partial index of pending updates)."""
        sql = (
            "SELECT DISTINCT chat_id FROM \"inbox\" WHERE status = 'pending' "
            f"AND chat_id IS NOT NULL AND received < {self.db.param}"
        )
        moment = utc(before)
        stamp = str(moment) if not is_postgres(self.db) else moment
        return [row[0] for row in self.db.execute_sql(sql, (stamp,)).fetchall()]

    def _any_pending(self) -> bool:
        """Whether any recorded update waits to be stepped (only older versions left such
        rows): one probe of the partial index instead of a look-up by each chat."""
        sql = "SELECT 1 FROM \"inbox\" WHERE status = 'pending' LIMIT 1"  # literal: the index
        return self.db.execute_sql(sql).fetchone() is not None

    def _keep_pending(self, updates: Sequence[IncomingUpdate]) -> None:
        """This batch's updates that wait for a call: pending, with their bodies (they are
        parsed again when they are stepped), instead of done as they were recorded."""
        mark = self.db.param
        for update in updates:
            self.db.execute_sql(
                f"UPDATE \"inbox\" SET status = 'pending', body = {mark}, attempts = 0 "
                f"WHERE update_id = {mark}",
                (storable_json(update.body()), update.update_id),
            )

    def _work(
        self, fresh: Sequence[IncomingUpdate], parse: Parser | None, resume: Sequence[int] = ()
    ) -> list[IncomingUpdate]:
        """This batch's parsed updates, plus pending ones of the same chats (and of the
        chats to `resume`) already recorded."""
        mine = {u.update_id: u for u in fresh if u.event is not None}
        if parse is None or not (resume or self._any_pending()):
            return sorted(mine.values(), key=_BY_UPDATE_ID)
        chats = sorted({u.chat_id for u in mine.values() if u.chat_id is not None} | set(resume))
        # 'pending' written out: SQLite uses the partial index only for a literal
        sql = "SELECT update_id, body FROM \"inbox\" WHERE status = 'pending' AND chat_id IN ({})"
        for update_id, body in select_in(self.db, sql, chats):
            if update_id not in mine:
                parsed = parse(update_id, body)
                if parsed.event is not None:
                    mine[update_id] = parsed
        return sorted(mine.values(), key=_BY_UPDATE_ID)


class _RolesOnce(dict[int, frozenset[str]]):
    """Each user's roles, asked of the callback once a batch; a known user is a dict lookup
    (no Python call: it runs twice per update)."""

    def __init__(self, roles: Callable[[int], frozenset[str]]) -> None:
        super().__init__()
        self.roles = roles

    def __missing__(self, user_id: int) -> frozenset[str]:
        found = self[user_id] = self.roles(user_id)
        return found

"""Broadcast jobs: one text to every user, or to those a condition picks, through the outbox.

A broadcast is a row of `broadcasts`; the command line (and an admin in Telegram) only
creates it. The running bot's sender expands it a chunk at a time into outbox rows, only
with the room its replies leave in a second (BroadcastFeeder), and the rows are then sent
like any other message: within Telegram's limits, 403 marking the user as blocked. The
chunk's rows and the job's cursor are written in one transaction, so a restart resumes
after the last chunk and sends again at most the messages that were in flight."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import peewee
from jinja2 import TemplateSyntaxError

from engine.admin.broadcast_texts import Recipient, UnknownMessage
from engine.core.effects import SendText
from engine.core.model import Expression
from engine.core.rendering import RenderError, Scope, evaluate
from engine.core.templating import environment
from engine.store.database import write_transaction
from engine.store.models import BroadcastRow, OutboxRow, SessionRow, UserRow, database_proxy
from engine.store.privacy import REDACTED_PAYLOAD, audit
from engine.store.serialization import effect_to_json

BLOCKED_ERROR = "the user blocked the bot"  # as Outbox.blocked_by writes it
CANCELLED_ERROR = "the broadcast was cancelled"
UNWRITTEN_ERROR = "the message could not be written for this user"
CHUNK_USERS = 1000  # users looked at per step of a dry run
PROGRESS_SECONDS = 60  # an admin who started a broadcast is told how it goes this often
MAX_TEXT = 4096  # Telegram's limit for one message
ACTIVE = ("queued", "running", "sending")
# (message name, the user, now) -> the text: engine.admin.broadcast_texts.MessageTexts
TextFor = Callable[[str, Recipient, dt.datetime], str]
log = logging.getLogger("engine.broadcasts")


class BroadcastError(Exception):
    """A broadcast that cannot be made or changed as asked; the message says why."""


@dataclass(frozen=True)
class BroadcastReport:
    """Where a broadcast is: its counts so far (final once it is done or cancelled)."""

    id: int
    status: str
    what: str  # the text's start, or "message KEY"
    filter: str | None
    queued: int
    sent: int
    blocked: int
    failed: int
    pending: int
    skipped: int
    created: dt.datetime
    started: dt.datetime | None
    finished: dt.datetime | None
    created_by: str

    def line(self) -> str:
        """One line for `--broadcasts` and progress messages."""
        where = f" where {self.filter}" if self.filter else ""
        return (
            f"#{self.id} {self.status}: {self.what!r}{where}: sent {self.sent}, "
            f"blocked {self.blocked + self.skipped}, failed {self.failed}, "
            f"waiting {self.pending} (by {self.created_by}, {self.created:%Y-%m-%d %H:%M})"
        )


def compile_filter(where: str | None) -> Expression | None:
    """A `--where` condition in the scenario's condition language (as `if:`), checked now,
    so a mistake is said when the broadcast is made, not found by the sender later."""
    if where is None or not where.strip():
        return None
    try:
        return Expression(where, environment("data").compile_expression(where))
    except TemplateSyntaxError as exc:
        raise BroadcastError(f"--where {where!r} is not a condition: {exc.message}") from None


def create(
    db: peewee.Database,
    *,
    text: str | None,
    message_key: str | None,
    where: str | None,
    actor: str,
    now: dt.datetime,
    progress_chat: int | None = None,
    via: str = "cli",
) -> int:
    """Queue a broadcast (the running bot sends it); audited. Its id."""
    database_proxy.initialize(db)
    with write_transaction(db):
        return queue_broadcast(
            text=text,
            message_key=message_key,
            where=where,
            actor=actor,
            now=now,
            via=via,
            progress_chat=progress_chat,
        )


def queue_broadcast(
    *,
    text: str | None,
    message_key: str | None,
    where: str | None,
    actor: str,
    now: dt.datetime,
    via: str,
    progress_chat: int | None = None,
) -> int:
    """`create` inside a transaction already open (an admin's step, engine/store/effect_rows.py):
    the row and its audit row (`via`: cli, chat or panel). Its id."""
    if (text is None) == (message_key is None):
        raise BroadcastError("a broadcast needs either a text or a message key (one of them)")
    if text is not None and not text.strip():
        raise BroadcastError("the broadcast's text is empty")
    if text is not None and len(text) > MAX_TEXT:
        raise BroadcastError(f"the text has {len(text)} characters; Telegram takes {MAX_TEXT}")
    compile_filter(where)
    row = BroadcastRow.create(
        text=text,
        message_key=message_key,
        condition=where or None,
        created=_utc(now),
        created_by=actor,
        progress_chat=progress_chat,
    )
    details = {"text": text, "message": message_key, "where": where, "via": via}
    audit(actor, "broadcast", str(row.id), details, _utc(now))
    return int(row.id)


def cancel(
    db: peewee.Database, broadcast_id: int, actor: str, now: dt.datetime, via: str = "cli"
) -> BroadcastReport:
    """Stop a broadcast: its messages not yet sent are dropped (those in flight still go);
    audited. Refused for one that has ended."""
    database_proxy.initialize(db)
    with write_transaction(db):
        stop_broadcast(broadcast_id, actor, now, via)
    return report(db, broadcast_id)


def stop_broadcast(broadcast_id: int, actor: str, now: dt.datetime, via: str) -> BroadcastReport:
    """`cancel` inside a transaction already open (an admin's /cancel in the batch's)."""
    row = BroadcastRow.get_or_none(BroadcastRow.id == broadcast_id)
    if row is None:
        raise BroadcastError(f"there is no broadcast {broadcast_id}")
    if row.status not in ACTIVE:
        raise BroadcastError(f"broadcast {broadcast_id} is {row.status} already")
    OutboxRow.update(status="failed", error=CANCELLED_ERROR, payload=REDACTED_PAYLOAD).where(
        (OutboxRow.broadcast_id == broadcast_id) & (OutboxRow.status == "pending")
    ).execute()
    _finish(row, "cancelled", now)
    audit(actor, "broadcast_cancel", str(broadcast_id), {"via": via}, _utc(now))
    return _report(BroadcastRow.get_by_id(broadcast_id))


def report(db: peewee.Database, broadcast_id: int) -> BroadcastReport:
    """A broadcast's counts: counted from its outbox rows while it runs, kept once it ended."""
    database_proxy.initialize(db)
    row = BroadcastRow.get_or_none(BroadcastRow.id == broadcast_id)
    if row is None:
        raise BroadcastError(f"there is no broadcast {broadcast_id}")
    return _report(row)


def listing(db: peewee.Database, limit: int = 50) -> list[BroadcastReport]:
    """The latest broadcasts, newest first."""
    database_proxy.initialize(db)
    return latest(limit)


def latest(limit: int) -> list[BroadcastReport]:
    """`listing` on the database already bound (an admin's /broadcasts)."""
    rows = BroadcastRow.select().order_by(BroadcastRow.id.desc()).limit(limit)
    return [_report(row) for row in rows]


def count_recipients(db: peewee.Database, where: str | None, now: dt.datetime) -> int:
    """How many users a broadcast made now would be sent to (`--dry-run`): every user who
    has not blocked the bot and whom the condition picks."""
    database_proxy.initialize(db)
    condition = compile_filter(where)
    cursor, total = 0, 0
    while True:
        users = _users_after(cursor, CHUNK_USERS)
        if not users:
            return total
        cursor = users[-1].id
        total += sum(1 for c in _recipients(users, condition, now) if not c.user.blocked)


def _report(row: BroadcastRow) -> BroadcastReport:
    if row.status in ACTIVE:
        sent, blocked, failed, pending = _counts(int(row.id))
    else:
        sent, blocked, failed, pending = row.sent, row.blocked, row.failed, 0
    what = f"message {row.message_key}" if row.message_key else _start(row.text or "")
    return BroadcastReport(
        int(row.id),
        row.status,
        what,
        row.condition,
        row.queued,
        sent,
        blocked,
        failed,
        pending,
        row.skipped,
        _stamp(row.created),
        _stamp(row.started) if row.started else None,
        _stamp(row.finished) if row.finished else None,
        row.created_by,
    )


def _counts(broadcast_id: int) -> tuple[int, int, int, int]:
    """(sent, blocked, failed, pending) of a broadcast's outbox rows; cancelled ones are
    none of these. Read through the partial index on (broadcast_id, status)."""
    sent = blocked = failed = pending = 0
    rows: Any = (
        OutboxRow.select(OutboxRow.status, OutboxRow.error, peewee.fn.COUNT(OutboxRow.id))
        .where(OutboxRow.broadcast_id == broadcast_id)
        .group_by(OutboxRow.status, OutboxRow.error)
        .tuples()
    )
    for status, error, count in rows:
        if status == "sent":
            sent += count
        elif status == "pending":
            pending += count
        elif error == BLOCKED_ERROR:
            blocked += count
        elif error != CANCELLED_ERROR:
            failed += count  # uncertain ones too: Telegram may or may not have them
    return sent, blocked, failed, pending


def _waiting(broadcast_id: int) -> int:
    """A broadcast's messages not yet sent: read through the index on (broadcast_id,
    status), the pending ones only."""
    return int(
        OutboxRow.select()
        .where((OutboxRow.broadcast_id == broadcast_id) & (OutboxRow.status == "pending"))
        .count()
    )


def _finish(row: BroadcastRow, status: str, now: dt.datetime) -> None:
    sent, blocked, failed, _ = _counts(int(row.id))
    BroadcastRow.update(
        status=status, sent=sent, blocked=blocked, failed=failed, finished=_utc(now)
    ).where(BroadcastRow.id == row.id).execute()


@dataclass(frozen=True)
class _User:
    id: int
    first_name: str | None
    language: str | None
    blocked: bool
    updated: dt.datetime
    roles: tuple[str, ...]


def _users_after(cursor: int, limit: int) -> list[_User]:
    """The next users in id order (private chats: positive ids)."""
    rows: Any = (
        UserRow.select(
            UserRow.id,
            UserRow.first_name,
            UserRow.language,
            UserRow.blocked,
            UserRow.updated,
            UserRow.roles,
        )
        .where(UserRow.id > cursor)
        .order_by(UserRow.id)
        .limit(limit)
        .tuples()
    )
    return [
        _User(
            int(i),
            first_name,
            language,
            bool(blocked),
            _stamp(updated),
            tuple(json.loads(roles or "[]")),
        )
        for i, first_name, language, blocked, updated, roles in rows
    ]


@dataclass(frozen=True)
class _Chosen:
    """A user a broadcast goes to, with what its text may use."""

    user: _User
    language: str | None
    variables: dict[str, Any]


def _recipients(
    users: Sequence[_User], condition: Expression | None, now: dt.datetime
) -> list[_Chosen]:
    """The users (and the language to write in) the condition picks, seeing each user's
    private chat session; those who blocked the bot among them too (they are skipped)."""
    open_users = list(users)
    sessions: dict[int, tuple[str | None, str | None, str, dt.datetime]] = {}
    ids = [u.id for u in open_users]
    for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
        rows: Any = (
            SessionRow.select(
                SessionRow.user_id,
                SessionRow.state,
                SessionRow.language,
                SessionRow.vars,
                SessionRow.updated,
            )
            .where(SessionRow.user_id.in_(chunk) & (SessionRow.chat_id == SessionRow.user_id))
            .order_by(SessionRow.updated)
            .tuples()
        )
        for user_id, state, language, values, updated in rows:  # the latest one stays
            sessions[int(user_id)] = (state, language, values, _stamp(updated))
    chosen = []
    for user in open_users:
        state, language, values, updated = sessions.get(user.id, (None, None, "{}", user.updated))
        language = language or user.language
        try:
            parsed = json.loads(values or "{}")
        except ValueError:
            parsed = {}
        variables = parsed if isinstance(parsed, dict) else {}
        if condition is not None and not _picks(
            condition, user, state, language, variables, updated, now
        ):
            continue
        chosen.append(_Chosen(user, language, variables))
    return chosen


def _picks(
    condition: Expression,
    user: _User,
    state: str | None,
    language: str | None,
    variables: dict[str, Any],
    seen: dt.datetime,
    now: dt.datetime,
) -> bool:
    """Whether the condition holds for one user. It sees `language`, `state`, `roles`,
    `last_seen` (UTC), `days_since_seen`, the variables by name and as `vars`; a condition
    that cannot be evaluated for a user (a variable they lack) leaves them out."""
    last_seen = max(seen, user.updated)
    scope: dict[str, Any] = dict(variables)
    scope.update(
        vars=variables,
        language=language,
        state=state,
        roles=list(user.roles),
        user_id=user.id,
        last_seen=last_seen,
        days_since_seen=(_utc(now) - last_seen).days,
    )
    try:
        return bool(evaluate(condition, Scope(scope)))
    except RenderError:
        return False


class BroadcastFeeder:
    """Turns the oldest unfinished broadcast into outbox rows, `room` at a time: what the
    sender calls when its replies leave room (Sender.feeder). Runs only in the process that
    holds the sender's lease, so one feeder at a time walks a broadcast's cursor."""

    def __init__(
        self,
        db: peewee.Database,
        text_for: TextFor | None = None,
        scan: int = CHUNK_USERS,
    ) -> None:
        database_proxy.initialize(db)
        self.db = db
        self.text_for = text_for
        self.scan = scan  # users looked at per step at most

    def feed(self, now: dt.datetime, room: int) -> int:
        """Queue up to `room` messages of the oldest unfinished broadcast, less those of its
        messages still waiting to be sent (at most a second's worth waits); how many."""
        row = (
            BroadcastRow.select()
            .where(BroadcastRow.status.in_(ACTIVE))
            .order_by(BroadcastRow.id)
            .first()
        )
        if row is None or room <= 0:
            return 0
        if row.status == "sending":
            if not self._end_if_sent(row, now) and self._progress_due(row, now):
                with write_transaction(self.db):
                    _progress(row, now)
            return 0
        room -= _waiting(int(row.id))
        if room <= 0:
            return 0
        condition = compile_filter(row.condition)
        users = _users_after(row.cursor, min(room, self.scan) if condition is None else self.scan)
        picked = _recipients(users, condition, now)
        chosen = [c for c in picked if not c.user.blocked][:room]
        # the cursor stops after the last user queued, or after all looked at if none was
        cursor = chosen[-1].user.id if chosen else (users[-1].id if users else row.cursor)
        skipped = sum(1 for c in picked if c.user.blocked and c.user.id <= cursor)
        stamp = _utc(now)
        try:
            rows = [self._row(row, c, now, stamp) for c in chosen]
        except UnknownMessage as exc:  # the scenario lost it since: nobody would get it
            self._stop(row, str(exc), now)
            return 0
        unwritten = [r for r in rows if r["status"] == "failed"]
        if unwritten:
            log.warning(
                "broadcast #%s: the message could not be written for %d users (%s)",
                row.id,
                len(unwritten),
                unwritten[0]["error"],
            )
        with write_transaction(self.db):
            changed = (
                BroadcastRow.update(
                    cursor=cursor,
                    queued=BroadcastRow.queued + len(rows),
                    skipped=BroadcastRow.skipped + skipped,
                    status="running" if users else "sending",
                    started=peewee.fn.COALESCE(BroadcastRow.started, stamp),
                )
                .where((BroadcastRow.id == row.id) & (BroadcastRow.status.in_(ACTIVE)))
                .execute()
            )
            if changed and row.status == "queued" and row.progress_chat is not None:
                _tell(row.progress_chat, f"broadcast #{row.id} started", now)  # before its rows
            elif changed and self._progress_due(row, now):
                _progress(row, now)
            if changed and rows:  # a broadcast cancelled meanwhile gets nothing more
                OutboxRow.insert_many(rows).execute()
        return len(rows) - len(unwritten) if changed else 0

    def _row(
        self, row: BroadcastRow, chosen: _Chosen, now: dt.datetime, stamp: Any
    ) -> dict[str, Any]:
        """One user's outbox row: pending with the text, or failed with why when the
        scenario's message could not be written for this user."""
        user_id = chosen.user.id
        text, error = row.text, None
        if row.message_key is not None:
            if self.text_for is None:
                raise UnknownMessage("no scenario to take the message from")
            recipient = Recipient(
                user_id, chosen.user.first_name, chosen.language, chosen.variables
            )
            try:
                text = self.text_for(row.message_key, recipient, now)
            except RenderError as exc:
                error = f"{UNWRITTEN_ERROR}: {exc}"[:500]
            else:
                if not text.strip():
                    error = f"{UNWRITTEN_ERROR}: it came out empty"
        effect = SendText(user_id, text or "", parse_mode=None)
        return {
            "chat_id": user_id,
            "user_id": user_id,
            "kind": "SendText",
            "payload": REDACTED_PAYLOAD if error else effect_to_json(effect),
            "not_before": stamp,
            "created": stamp,
            "broadcast_id": row.id,
            "status": "failed" if error else "pending",
            "error": error,
        }

    def _stop(self, row: BroadcastRow, why: str, now: dt.datetime) -> None:
        """End a broadcast that cannot go on, audited (actor `bot`) and said in the log and
        to the admin who started it."""
        log.error("broadcast #%s stopped: %s", row.id, why)
        with write_transaction(self.db):
            _finish(row, "cancelled", now)
            audit("bot", "broadcast_cancel", str(row.id), {"via": "bot", "why": why}, _utc(now))
            if row.progress_chat is not None:
                _tell(row.progress_chat, f"broadcast #{row.id} stopped: {why}", now)

    def _end_if_sent(self, row: BroadcastRow, now: dt.datetime) -> bool:
        """Every user was queued: done once none of its messages waits any more."""
        if _counts(int(row.id))[3]:
            return False
        with write_transaction(self.db):
            _finish(row, "done", now)
        if row.progress_chat is not None:
            _tell(row.progress_chat, report(self.db, int(row.id)).line(), now)
        return True

    @staticmethod
    def _progress_due(row: BroadcastRow, now: dt.datetime) -> bool:
        """Whether the admin who started it was told last (or of its start) a minute ago."""
        if row.progress_chat is None:
            return False
        last = row.told or row.started
        return last is not None and (_utc(now) - _stamp(last)).total_seconds() >= PROGRESS_SECONDS


def _progress(row: BroadcastRow, now: dt.datetime) -> None:
    """Tell the admin how far it got, in the feeder's transaction: the message and the
    moment it was told are written together, and only by the feeder that moved `told` from
    what it read (a restart or a second feeder does not tell it again)."""
    was = BroadcastRow.told.is_null() if row.told is None else BroadcastRow.told == row.told
    moved = (
        BroadcastRow.update(told=_utc(now))
        .where((BroadcastRow.id == row.id) & was & BroadcastRow.status.in_(ACTIVE))
        .execute()
    )
    if moved and row.progress_chat is not None:
        _tell(row.progress_chat, _report(BroadcastRow.get_by_id(row.id)).line(), now)


def _tell(chat: int, text: str, now: dt.datetime) -> None:
    """A progress message to the admin who started a broadcast: an outbox row as a reply's
    (it is not one of the broadcast's own messages)."""
    stamp = _utc(now)
    OutboxRow.insert(
        chat_id=chat,
        user_id=chat,
        kind="SendText",
        payload=effect_to_json(SendText(chat, text, parse_mode=None)),
        not_before=stamp,
        created=stamp,
    ).execute()


def _start(text: str, width: int = 40) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _stamp(value: Any) -> dt.datetime:
    """A stored moment as a naive UTC datetime (SQLite may hand back text)."""
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))


def active(db: peewee.Database) -> Iterable[int]:
    """The ids of the broadcasts not yet ended."""
    database_proxy.initialize(db)
    return [
        int(r.id)
        for r in BroadcastRow.select(BroadcastRow.id).where(BroadcastRow.status.in_(ACTIVE))
    ]

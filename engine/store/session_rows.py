"""Sessions and their users' profiles as rows: a batch's sessions loaded with one query
(with the stored profiles, so that only changed users are written; locked on PostgreSQL)
and stored with one statement, sensitive variables sealed on the way in and opened on the
way out."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterable
from typing import Any

import peewee

from engine.core.session import Session
from engine.store.bulk import insert_rows, select_in
from engine.store.crypto import MARK, EncryptionKeyError, SensitiveCipher
from engine.store.database import is_postgres
from engine.store.models import SessionRow, UserRow
from engine.store.serialization import session_row, stack_from_json

_SESSION_COLUMNS = (
    "scenario",
    "state",
    "vars",
    "stack",
    "attempts",
    "epoch",
    "language",
    "ended",
    "scenario_version",
    "updated",
    "entered",
)
_USER_COLUMNS = (
    "first_name",
    "last_name",
    "username",
    "language",
    "roles",
    "updated",
    "blocked",
)
_LOAD_SESSIONS = (
    "SELECT s.chat_id, s.user_id, s.state, s.vars, s.stack, s.attempts, s.epoch, s.language, "
    "s.ended, s.scenario_version, "
    "u.first_name, u.last_name, u.username, u.language, u.roles, u.blocked, s.entered "
    'FROM "sessions" s LEFT JOIN "users" u ON u.id = s.user_id WHERE s.chat_id IN ({})'
)

# built once (json.dumps with options builds an encoder per call); variables are plain
# values, never cyclic
_encode_vars = json.JSONEncoder(ensure_ascii=False, default=str, check_circular=False).encode
_SURROGATE = re.compile("[\ud800-\udfff]")


def storable_json(text: str) -> str:
    """JSON text both databases can hold: no NUL (PostgreSQL's text cannot), no lone UTF-16
    surrogate (neither can encode one as UTF-8; json.loads makes one of a `"\\ud800"`
    in an HTTP answer). Such characters become U+FFFD; most texts are checked by isascii()."""
    text = text.replace("\\u0000", "")
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


def _refuse_sealed(values: dict[str, Any], sensitive: frozenset[str]) -> None:
    for name, value in values.items():
        if name in sensitive and isinstance(value, dict) and set(value) == {MARK}:
            raise EncryptionKeyError(
                f"the variable '{name}' is stored encrypted, but BOT_ENCRYPTION_KEYS is not set"
            )


class SessionRows:
    def __init__(
        self,
        db: peewee.Database,
        scenario: str,
        sensitive: frozenset[str] = frozenset(),
        cipher: SensitiveCipher | None = None,
    ) -> None:
        self.db, self.scenario, self.sensitive, self.cipher = db, scenario, sensitive, cipher

    def vars_json(self, values: dict[str, Any]) -> str:
        if not values:
            return "{}"  # many scenarios keep no variables
        if self.cipher is not None and self.sensitive:
            values = self.cipher.seal(values, self.sensitive)
        return storable_json(_encode_vars(values))

    def _session(self, row: tuple[Any, ...], roles: frozenset[str]) -> Session:
        chat_id, user_id, state, vars_json, stack, attempts, epoch, language, ended, version = row[
            :10
        ]
        values = json.loads(vars_json) if vars_json and vars_json != "{}" else {}
        if self.sensitive and MARK in vars_json:
            if self.cipher is not None:
                values = self.cipher.open(values, self.sensitive)
            else:
                _refuse_sealed(values, self.sensitive)
        return Session(
            chat_id=chat_id,
            user_id=user_id,
            state=state,
            vars=values,
            stack=stack_from_json(stack),
            attempts=attempts,
            epoch=epoch,
            language=language,
            roles=roles,
            ended=bool(ended),
            scenario_version=version,
        )

    def load(
        self,
        keys: set[tuple[int, int]],
        roles: Callable[[int], frozenset[str]],
        profiles: dict[int, tuple[Any, ...]] | None = None,
        entered: dict[tuple[int, int], float | None] | None = None,
    ) -> dict[tuple[int, int], Session]:
        """The sessions of `keys`, locked on PostgreSQL; `profiles` receives each found
        user's stored (first_name, last_name, username, language, roles JSON, blocked), so
        that only the users whose profile changed are written; `entered` when each session
        entered its state (POSIX seconds; None if stored before schema 10)."""
        sql = _LOAD_SESSIONS + (" FOR UPDATE OF s" if is_postgres(self.db) else "")
        found: dict[tuple[int, int], Session] = {}
        for row in select_in(self.db, sql, sorted({chat for chat, _ in keys})):
            key = (row[0], row[1])
            if key in keys:
                found[key] = self._session(row, roles(row[1]))
                if profiles is not None and row[14] is not None:  # the users row exists
                    profiles[row[1]] = (*row[10:15], bool(row[15]))
                if entered is not None:
                    entered[key] = row[16]
        return found

    def state_of(self, chat_id: int, user_id: int) -> str | None:
        """The stored state of one session, read as it is (for a report about it)."""
        mark = self.db.param
        row = self.db.execute_sql(
            f'SELECT state FROM "sessions" WHERE chat_id = {mark} AND user_id = {mark}',
            (chat_id, user_id),
        ).fetchone()
        return None if row is None else str(row[0])

    def store(
        self,
        sessions: Iterable[Session],
        stamp: dt.datetime,
        entered: dict[tuple[int, int], float | None] | None = None,
    ) -> None:
        """Insert or update `sessions`; `entered` gives when each entered its state (kept
        unknown for a session it does not name)."""
        known = entered or {}
        rows = [
            session_row(
                s,
                self.scenario,
                self.vars_json(s.vars if type(s.vars) is dict else dict(s.vars)),
                stamp,
                known.get((s.chat_id, s.user_id)),
            )
            for s in sessions
        ]
        insert_rows(self.db, SessionRow, rows, ("chat_id", "user_id"), _SESSION_COLUMNS)

    def store_users(self, users: dict[int, dict[str, Any]]) -> None:
        """Users rows (a dict per user, as the batch built them), inserted or updated."""
        insert_rows(self.db, UserRow, list(users.values()), ("id",), _USER_COLUMNS)

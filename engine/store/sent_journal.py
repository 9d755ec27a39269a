"""What the sender sent and has not yet written to a SQLite outbox, in a file beside the
database (`bot.db.sent`, as the lease's `bot.db.lease`).

Marking each send in the database as it completes took SQLite's one write lock a hundred
times a round (a commit cost about 100 µs; the store's batches waited for it, and their
users' replies with them: bench/e2e.py lost a sixth over HTTP). Here a send is a line
copied into this file, mapped into memory: no system call, and the kernel keeps the page
when the process is killed (not on a power cut: SQLite's last commits need
`synchronous=full` for that too). The outbox is written once a round, as before, and the
file emptied; after a kill, whichever process sends next writes what the file holds to the
outbox before it sends anything.

The first line names the database (a token kept in its settings table), so a file left by
another database at the same path (deleted and created again) is never applied to it; a
line names the row and its chat, and is applied only to a row of that chat still pending.
Kept: sent messages (with Telegram's message id) and uncertain ones (timed out: they may
have arrived); the other outcomes repeat no message when lost (a retry, a refusal)."""

from __future__ import annotations

import mmap
import os
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import peewee

from engine.store.models import SettingRow, database_proxy

TOKEN_KEY = "sent_journal"
SIZE = 1 << 16  # bytes; a round writes at most a hundred lines of under 64
Line = tuple[int, int | None, str, int | None]  # as appended: a Sent's fields, in order


def journal_beside(db: peewee.Database) -> SentJournal | None:
    """The journal of a SQLite file database; None for PostgreSQL and in-memory SQLite,
    whose sends are marked in the database as they complete."""
    if not isinstance(db, peewee.SqliteDatabase) or db.database in ("", ":memory:"):
        return None
    return SentJournal(f"{db.database}.sent", _token(db))


def _token(db: peewee.Database) -> str:
    """This database's name for its journal, made the first time it is asked for."""
    database_proxy.initialize(db)
    row = SettingRow.get_or_none(SettingRow.key == TOKEN_KEY)
    if row is None:
        SettingRow.insert(key=TOKEN_KEY, value=uuid.uuid4().hex).on_conflict_ignore().execute()
        row = SettingRow.get(SettingRow.key == TOKEN_KEY)
    return str(row.value)


@dataclass(frozen=True)
class Sent:
    """One line: a queued effect sent (or timed out, uncertain) to its chat."""

    id: int
    chat_id: int | None
    status: str  # sent, uncertain
    message_id: int | None = None


class SentJournal:
    """Appended to by any thread; read and emptied only between rounds, by the sender
    holding the lease (the file is opened only then: another process may be sending)."""

    def __init__(self, path: str, token: str) -> None:
        self.path, self.token = path, token
        self._map: mmap.mmap | None = None
        self._end = 0  # where the next line goes; the rest of the file is zeros
        self._lock = threading.Lock()

    def append(self, sends: Sequence[Line]) -> None:
        text = "".join(
            f"{row} {'-' if chat is None else chat} {status[0]} {message_id or 0}\n"
            for row, chat, status, message_id in sends
        ).encode()
        with self._lock:
            mapped = self._mapped()
            if self._end + len(text) > SIZE:
                raise OSError(f"{self.path} is full")
            mapped[self._end : self._end + len(text)] = text
            self._end += len(text)

    def take(self) -> list[Sent] | None:
        """What a killed sender left; None when the file names another database. A line
        the kill cut short ends in zeros, and is left out."""
        with self._lock:
            content = bytes(self._mapped()[: self._end])
        header, _, body = content.decode("ascii", errors="replace").partition("\n")
        if header != self.token:
            return None if body else []
        sends = []
        for line in body.split("\n")[:-1]:
            parts = line.split(" ")
            if len(parts) != 4 or parts[2] not in ("s", "u"):
                continue
            try:
                chat = None if parts[1] == "-" else int(parts[1])
                row, message_id = int(parts[0]), int(parts[3]) or None
            except ValueError:
                continue
            sends.append(Sent(row, chat, "sent" if parts[2] == "s" else "uncertain", message_id))
        return sends

    def clear(self) -> None:
        """Empty it, once what it holds is in the outbox."""
        header = f"{self.token}\n".encode()
        with self._lock:
            mapped = self._mapped()
            mapped[: self._end] = bytes(self._end)
            mapped[: len(header)] = header
            self._end = len(header)

    def close(self) -> None:
        with self._lock:
            if self._map is not None:
                self._map.close()
                self._map = None

    def _mapped(self) -> mmap.mmap:
        """The file in memory, its blocks allocated (a full disk fails here, not later
        on a write to the mapping)."""
        if self._map is None:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                if os.fstat(fd).st_size < SIZE:
                    os.posix_fallocate(fd, 0, SIZE)
                self._map = mmap.mmap(fd, SIZE)
            finally:
                os.close(fd)  # the mapping keeps the file
            self._end = self._map.find(b"\0")
            if self._end < 0:
                self._end = SIZE
        return self._map

"""Which process of a bot polls Telegram and drains the outbox: the one holding the lease.

Several processes may share one database (webhook mode behind a load balancer, or a second
copy started by mistake). All of them take updates, but only one polls (a second poller
would get 409 Conflict) and only one sends (two senders would send each message twice). The
lease is a lock the operating system or the database drops when its holder dies: an
exclusive file lock beside the SQLite file, or a PostgreSQL session advisory lock on a
connection of its own."""

from __future__ import annotations

import fcntl
import os
import threading
from typing import Any

import peewee

# The advisory lock's number, one per database: sha256(b"scenario-bot-engine lease")'s first
# 8 bytes, the sign bit cleared. Far above any Telegram id: the per-chat locks use chat ids as
# keys, and the lease's old number (0x7E1EB07) was a possible chat id, whose updates then
# waited for the lease holder to exit.
LEASE_KEY = 0x5937_07FF_8899_AE35


class Lease:
    def __init__(self, db: peewee.Database) -> None:
        self.db = db
        self._handle: Any = None
        self._lock = threading.Lock()  # the poller and the sender ask from their threads

    @property
    def held(self) -> bool:
        return self._handle is not None

    def try_acquire(self) -> bool:
        """True when this process holds the lease now (it keeps it until release or exit)."""
        with self._lock:
            if self._handle is not None:
                return True
            if isinstance(self.db, peewee.PostgresqlDatabase):
                return self._try_postgres()
            return self._try_file()

    def _try_file(self) -> bool:
        path = f"{self.db.database}.lease" if self.db.database != ":memory:" else None
        if path is None:
            self._handle = True
            return True
        handle = open(path, "a+")  # noqa: SIM115 (held open: the lock lives as long as it)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._handle = handle
        return True

    def _try_postgres(self) -> bool:
        import psycopg2

        connection = psycopg2.connect(dbname=self.db.database, **self.db.connect_params)
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", (LEASE_KEY,))
            row = cursor.fetchone()
        if not (row and row[0]):
            connection.close()
            return False
        self._handle = connection
        return True

    def release(self) -> None:
        with self._lock:
            handle, self._handle = self._handle, None
        if handle is None or handle is True:
            return
        if isinstance(self.db, peewee.PostgresqlDatabase):
            handle.close()  # closing the session drops its advisory locks
        else:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()

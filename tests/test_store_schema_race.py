"""Several processes started at once on a fresh database (a deployment's replicas, a bot and
`--migrate` from a start script) all open it and go on."""

from __future__ import annotations

import threading
from pathlib import Path

import peewee

from engine.store.database import open_database

WAL_ROUNDS = 150  # a new file's first connections: one round in twenty failed before


def test_connections_opening_a_new_sqlite_file_together_all_open_it(tmp_path: Path) -> None:
    """The first connections to a new file switch it to WAL, under an exclusive lock that
    SQLite refused at once ('database is locked', without waiting the busy timeout) to one
    of two connections trying it together; rare for one start, so tried many times."""
    failures: list[str] = []
    for round_number in range(WAL_ROUNDS):
        url = f"sqlite:///{tmp_path / f'bot{round_number}.db'}"
        barrier = threading.Barrier(8)

        def open_it(url: str = url, barrier: threading.Barrier = barrier) -> None:
            db = open_database(url)
            barrier.wait()
            try:
                db.connect()
                db.table_exists("settings")
            except peewee.DatabaseError as exc:
                failures.append(str(exc))
            finally:
                db.close()

        threads = [threading.Thread(target=open_it) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failures == [], f"{len(failures)} of {WAL_ROUNDS * 8} failed"

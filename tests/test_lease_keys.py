"""The lease's advisory lock on PostgreSQL must not share a key with any chat: the per-chat
locks use chat ids as keys, and a chat whose id was the lease.s number (0x7E1EB07) had every
update wait for the lease holder to exit (noticed while fixing issue 12, item 5)."""

from __future__ import annotations

import threading
from pathlib import Path

from builders import compile_yaml
from store_fixtures import COUNTER, StoreBot, close_all, text_update

from engine.runtime.lease import LEASE_KEY, Lease
from engine.store.database import open_database
from engine.store.migrations import migrate
from engine.store.pipeline import Store

OLD_LEASE_NUMBER = 0x7E1E_B07  # 132246279


def test_the_lease_key_is_above_every_telegram_id() -> None:
    assert 2**62 < LEASE_KEY < 2**63  # a signed bigint, and Telegram ids stay below 2**53


def test_a_chat_whose_id_was_the_lease_number_is_served_while_the_lease_is_held(
    postgres_url: str, tmp_path: Path
) -> None:
    holder_db, worker_db = open_database(postgres_url), open_database(postgres_url)
    migrate(holder_db)
    lease = Lease(holder_db)
    try:
        assert lease.try_acquire()  # another process polls and sends
        bot = StoreBot(compile_yaml(COUNTER, tmp_path), Store(worker_db, "counter"))
        done = threading.Event()

        def handle() -> None:
            bot.send(text_update(1, OLD_LEASE_NUMBER, "hi"))
            done.set()

        threading.Thread(target=handle, daemon=True).start()
        assert done.wait(20), "the chat's update waited for the lease"
    finally:
        lease.release()
        close_all(worker_db)
        close_all(holder_db)

"""The poller in process, against the fake Bot API server and a real SQLite file: the offset
moves only after a commit, a full disk acknowledges nothing and recovers, one bad update
never stalls the others."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import peewee
import pytest

from engine.core.ports import OfflineServices
from engine.runtime.flood import FloodGuard
from engine.runtime.polling import Poller
from engine.runtime.processing import Processor
from engine.runtime.scenario_holder import ScenarioHolder
from engine.store.pipeline import Store, StoreUnavailable
from engine.telegram.bot_api import BotApi
from engine.testing.fake_telegram import FakeTelegram, text_update

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def db(sqlite_db: peewee.Database) -> peewee.Database:
    return sqlite_db  # a migrated SQLite file (tests/runtime_fixtures.py)


@pytest.fixture
def poller(fake: FakeTelegram, db: peewee.Database) -> Iterator[Poller]:
    store = Store(db, "hello")
    store.sleep = lambda seconds: None  # retries without waiting
    holder = ScenarioHolder(str(ROOT / "scenarios" / "hello.yaml"))
    processor = Processor(store, holder, OfflineServices(), workers=2)
    yield Poller(BotApi(fake.url, fake.token), processor, ["message"], timeout=0)
    processor.close()


def inbox(db: peewee.Database, column: str = "status") -> dict[int, str]:
    """update_id -> `column` of each inbox row, read as another process would."""
    with sqlite3.connect(db.database) as connection:
        return dict(connection.execute(f"SELECT update_id, {column} FROM inbox").fetchall())


def test_the_offset_moves_only_past_what_was_committed(
    poller: Poller, fake: FakeTelegram, db: peewee.Database
) -> None:
    ids = fake.push(text_update(1, "/start"), text_update(2, "/start"))
    assert poller.poll_once() == 2
    assert inbox(db) == {ids[0]: "done", ids[1]: "done"}
    assert poller.offset == ids[1] + 1
    poller.poll_once()  # confirms them to Telegram
    assert fake.pending_updates() == 0


def test_a_full_disk_acknowledges_nothing_and_recovers(
    poller: Poller, fake: FakeTelegram, db: peewee.Database
) -> None:
    [first] = fake.push(text_update(1, "/start"))
    poller.poll_once()
    pages = db.execute_sql("PRAGMA page_count").fetchone()[0]
    db.pragma("max_page_count", pages, permanent=True)  # every new page is refused: disk full
    db.close()
    later = fake.push(*(text_update(n, "/start " + "x" * 3000) for n in range(2, 60)))
    with pytest.raises(StoreUnavailable, match="full"):
        poller.poll_once()
    assert poller.offset == first + 1  # not moved: Telegram keeps the update
    assert fake.pending_updates() == len(later)
    db.pragma("max_page_count", 1 << 30, permanent=True)  # space is back
    db.close()
    poller.poll_once()
    assert all(inbox(db)[n] == "done" for n in later)
    with sqlite3.connect(db.database) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_an_update_without_update_id_or_unreadable_does_not_stall(
    poller: Poller, fake: FakeTelegram, db: peewee.Database
) -> None:
    broken = text_update(3, "hi")
    broken["message"]["from"] = 42  # not a user object
    ids = fake.push(broken, text_update(4, "/start"))
    assert poller.poll_once() == 2
    assert inbox(db) == {ids[0]: "failed", ids[1]: "done"}
    poller.poll_once()
    assert fake.pending_updates() == 0


def test_what_is_set_aside_keeps_its_json_what_is_handled_keeps_none(
    poller: Poller, fake: FakeTelegram, db: peewee.Database
) -> None:
    """Unreadable, not for this bot, or over the user's flood limit: each is kept as
    Telegram sent it, to see what it was; a handled update is not kept."""
    poller.processor.flood = FloodGuard(rate=1, burst=1)
    broken = text_update(3, "hi")
    broken["message"]["from"] = 42
    channel = {"my_chat_member": {"chat": {"id": 3}}}
    ids = fake.push(broken, channel, text_update(4, "/start"), text_update(4, "/start again"))
    assert poller.poll_once() == 4
    assert inbox(db) == dict(zip(ids, ["failed", "ignored", "done", "ignored"], strict=True))
    kept = inbox(db, "body")
    assert json.loads(kept[ids[0]])["message"]["from"] == 42
    assert "my_chat_member" in json.loads(kept[ids[1]])
    assert kept[ids[2]] == ""
    assert json.loads(kept[ids[3]])["message"]["text"] == "/start again"

"""The sent journal beside a SQLite database (engine/store/sent_journal.py): what a killed
sender sent is written to the outbox before anything is sent again, and a journal is never
applied to rows it does not describe (another database at the same path, another chat, a
line the kill cut short)."""

from __future__ import annotations

from pathlib import Path

import peewee
from outbox_helpers import Clock, queue, status

from engine.core.effects import SendText
from engine.runtime.sender import Limits, Sender
from engine.store.database import open_database
from engine.store.migrations import migrate
from engine.store.models import OutboxRow
from engine.store.queues import Outbox
from engine.store.sent_journal import journal_beside
from engine.telegram.bot_api import BotApi
from engine.testing.fake_telegram import FakeTelegram


def a_sender(db: peewee.Database, fake: FakeTelegram) -> Sender:
    api = BotApi(fake.url, fake.token, read_timeout=1)
    return Sender(Outbox(db), api, Limits(), clock=Clock())


def test_what_a_killed_sender_journaled_is_recorded_before_anything_is_sent(
    sqlite_db: peewee.Database, fake: FakeTelegram
) -> None:
    sent, other_chat, cut_short = queue(SendText(10, "a"), SendText(11, "b"), SendText(12, "c"))
    journal = journal_beside(sqlite_db)
    assert journal is not None
    journal.clear()
    journal.append([(sent, 10, "sent", 501), (other_chat, 99, "sent", 502)])
    journal.append([(cut_short, 12, "sent", 503)])
    mapped = journal._mapped()  # the kill came in the middle of the last line
    end = mapped.find(b"\0")
    mapped[end - 6 : end] = bytes(6)
    journal.close()
    a_sender(sqlite_db, fake).run_once()
    row = OutboxRow.get_by_id(sent)
    assert (row.status, row.message_id) == ("sent", 501)
    # a line naming another chat, and one cut short, are not applied: those are sent
    assert fake.texts_to(10) == [] and fake.texts_to(11) == ["b"] and fake.texts_to(12) == ["c"]
    assert status(other_chat) == status(cut_short) == "sent"


def test_a_journal_left_by_another_database_at_the_same_path_is_not_applied(
    tmp_path: Path, fake: FakeTelegram
) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    old = open_database(url)
    migrate(old)
    journal = journal_beside(old)
    assert journal is not None
    journal.clear()
    journal.append([(1, 10, "sent", 700)])  # then killed; the database is made anew
    journal.close()
    old.close()
    for leftover in tmp_path.glob("bot.db*"):
        if not leftover.name.endswith(".sent"):
            leftover.unlink()
    new = open_database(url)
    migrate(new)
    try:
        [row] = queue(SendText(10, "Welcome back"))
        assert row == 1
        send = a_sender(new, fake)
        send.run_once()
        assert fake.texts_to(10) == ["Welcome back"] and status(row) == "sent"
        assert send.problems.counts["store"] == 1  # reported, not applied
    finally:
        new.close()

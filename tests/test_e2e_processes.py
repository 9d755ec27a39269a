"""Several `python run.py` processes of one bot on one database (SQLite file or PostgreSQL):
only the lease holder polls and sends; when it stops another takes over; nothing is sent
twice. And many users at once: each chat's replies in order, chats handled in parallel."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from live_bot import LiveBot, Person, settle

from engine.testing.fake_telegram import FakeTelegram


def test_one_process_polls_and_sends_the_other_takes_over(
    fake: FakeTelegram, store_url: str, tmp_path: Path
) -> None:
    first = LiveBot(fake, store_url, tmp_path / "first.log").start().ready()
    second = LiveBot(fake, store_url, tmp_path / "second.log").start()
    try:
        assert fake.wait_for(lambda: "another process of this bot" in second.log, 20), second.log
        ann = Person(fake, 300)
        ann.send("/start")
        ann.expect("What would you like?")
        assert first.stop() == 0
        assert fake.wait_for(lambda: "took over polling and sending" in second.log, 20), second.log
        ann.press("🍕 Order a pizza")
        ann.expect("Which size would you like?")
        settle(fake)
        # no Conflict and no message twice: only one process polled and sent at a time
        assert "409 Conflict" not in first.log + second.log  # the poller says so
        assert sum("What would you like?" in t for t in ann.texts()) == 1
        assert sum("Which size" in t for t in ann.texts()) == 1
    finally:
        for bot in (first, second):
            if bot.alive:
                assert bot.stop() == 0, bot.log
    assert "Traceback" not in first.log + second.log


def test_many_users_at_once_each_chat_in_order(fake: FakeTelegram, tmp_path: Path) -> None:
    bot = LiveBot(fake, f"sqlite:///{tmp_path / 'bot.db'}", tmp_path / "bot.log").start().ready()
    try:
        people = [Person(fake, 1000 + n) for n in range(30)]
        for person in people:  # everyone's three messages arrive interleaved
            person.send("/start")
        for person in people:
            person.send("/help")
        for person in people:
            person.send("/start")
        for person in people:
            person.expect("What would you like?", timeout=60)
        settle(fake, quiet=1.0, timeout=60)
        for person in people:
            texts = person.texts()
            menus = [i for i, t in enumerate(texts) if "What would you like?" in t]
            assert len(menus) == 2, texts
            help_replies = [i for i, t in enumerate(texts) if i > menus[0] and i < menus[1]]
            assert help_replies, texts  # /help was answered between the two menus
    finally:
        assert bot.stop() == 0, bot.log


def test_a_paused_holder_keeps_the_lease_nothing_runs_twice(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    database = f"sqlite:///{tmp_path / 'bot.db'}"
    first = LiveBot(fake, database, tmp_path / "first.log").start().ready()
    second = LiveBot(fake, database, tmp_path / "second.log").start()
    try:
        assert fake.wait_for(lambda: "another process of this bot" in second.log, 20)
        assert first.process is not None
        first.process.send_signal(signal.SIGSTOP)  # paused, longer than any lock's lifetime
        time.sleep(5)
        assert "took over" not in second.log  # the lock lives as long as its holder
        first.process.send_signal(signal.SIGCONT)
        ann = Person(fake, 310)
        ann.send("/start")
        ann.expect("What would you like?")
        settle(fake)
        assert sum("What would you like?" in t for t in ann.texts()) == 1
    finally:
        for bot in (first, second):
            if bot.alive:
                assert bot.stop() == 0, bot.log

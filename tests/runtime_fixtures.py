"""Fixtures of the runtime's tests: the fake Bot API server (every call the bot made must be
one Telegram would accept) and a migrated SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import peewee
import pytest
from live_bot import LiveBot

from engine.store.database import open_database
from engine.store.migrations import migrate
from engine.testing.fake_telegram import FakeTelegram


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    """The fake Bot API server on 127.0.0.1; a call it had to refuse fails the test."""
    with FakeTelegram(poll_cap=1.0) as server:
        yield server
    assert server.rejected == [], "the bot made calls Telegram would refuse"


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[peewee.Database]:
    """A migrated SQLite file in tmp_path."""
    database = open_database(f"sqlite:///{tmp_path / 'bot.db'}")
    migrate(database)
    yield database
    database.close()


@pytest.fixture
def bots() -> Iterator[list[LiveBot]]:
    """Bots a test starts (append them); any still running at the end is killed."""
    started: list[LiveBot] = []
    yield started
    for bot in started:
        if bot.alive:
            bot.kill()

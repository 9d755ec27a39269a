"""A live bot whose scenario file changes under it (hot reload, `migrations`), and timers that
fire after a restart: `python run.py` against the fake Bot API server."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from live_bot import LiveBot, Person, settle

from engine.testing.fake_telegram import FakeTelegram

VERSION_ONE = """
bot: {name: Reload, start: first}
commands:
  start: {description: Start, goto: first}
states:
  first:
    say: Version one.
    buttons: [{text: Next, goto: second}]
  second:
    say: In the second state.
    buttons: [{text: Back, goto: first}]
    after: {delay: 3s, say: Three seconds passed., goto: first}
"""

VERSION_TWO = """
bot: {name: Reload, start: first}
commands:
  start: {description: Start from the top, goto: first}
migrations:
  second: renamed
states:
  first:
    say: Version two.
    buttons: [{text: Next, goto: renamed}]
  renamed:
    say: The renamed state.
    buttons: [{text: Back, goto: first}]
"""


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    path = tmp_path / "bot" / "reload.yaml"
    path.parent.mkdir()
    path.write_text(VERSION_ONE, encoding="utf-8")
    return path


@pytest.fixture
def bot(fake: FakeTelegram, tmp_path: Path, scenario: Path) -> Iterator[LiveBot]:
    live = LiveBot(
        fake,
        f"sqlite:///{tmp_path / 'bot.db'}",
        tmp_path / "bot.log",
        {"BOT_SCENARIO": str(scenario), "BOT_PLUGINS": ""},
    )
    yield live
    if live.alive:
        assert live.stop() == 0, live.log
    assert "Traceback" not in live.log, live.log


def rewrite(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    stamp = time.time() + 5  # a new modification time, also on coarse file systems
    os.utime(path, (stamp, stamp))


def test_an_invalid_change_is_reported_and_the_old_version_keeps_serving(
    bot: LiveBot, fake: FakeTelegram, scenario: Path
) -> None:
    bot.start().ready()
    ann = Person(fake, 200)
    ann.send("/start")
    ann.expect("Version one.")
    rewrite(scenario, VERSION_ONE.replace("goto: second", "goto: secnod"))
    assert fake.wait_for(lambda: "still running the previous version" in bot.log, 15), bot.log
    assert "reload.yaml:8:" in bot.log  # the position of the mistake
    assert "Did you mean 'second'?" in bot.log
    ann.send("/start")
    ann.expect("Version one.")


def test_a_valid_change_is_swapped_in_and_users_follow_migrations(
    bot: LiveBot, fake: FakeTelegram, scenario: Path
) -> None:
    bot.start().ready()
    ann, bob = Person(fake, 201), Person(fake, 202)
    ann.send("/start")
    ann.expect("Version one.")
    ann.press("Next")
    ann.expect("In the second state.")  # Ann is in `second`, which version two removes
    rewrite(scenario, VERSION_TWO)
    assert fake.wait_for(lambda: "reloaded" in bot.log, 15), bot.log
    # the new version's command menu is set
    assert fake.wait_for(
        lambda: any(
            "Start from the top" in c.params["commands"] for c in fake.calls_of("setMyCommands")
        )
    )
    bob.send("/start")
    bob.expect("Version two.")
    ann.press("Back")  # a button of the old version's message
    settle(fake)
    answers = fake.calls_of("answerCallbackQuery")
    assert answers[-1].params.get("text") == "This button has expired."
    with sqlite3.connect(bot.database.removeprefix("sqlite:///")) as db:
        [(state,)] = db.execute("SELECT state FROM sessions WHERE user_id = 201").fetchall()
    assert state == "renamed"  # `migrations: {second: renamed}`
    ann.send("/start")
    ann.expect("Version two.")


def test_timers_fire_after_a_restart(bot: LiveBot, fake: FakeTelegram) -> None:
    bot.start().ready()
    ann = Person(fake, 203)
    ann.send("/start")
    ann.expect("Version one.")
    ann.press("Next")
    ann.expect("In the second state.")
    assert bot.stop() == 0  # the 3-second timer is due while the bot is down
    time.sleep(3.5)
    bot.start().ready()
    ann.expect("Three seconds passed.", timeout=15)
    ann.expect("Version one.")
    settle(fake)
    assert sum("Three seconds passed." in t for t in ann.texts()) == 1

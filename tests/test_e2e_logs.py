"""What an operator reads in the log of a live bot (`python run.py` against the fake Bot API):
the start line, a line per handled update, JSON lines, a log file, never a message text or a
sensitive value, and SIGHUP reloading the scenario instead of ending the process."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from live_bot import LiveBot, Person, order_up_to_the_address, settle

from engine.testing.fake_telegram import FakeTelegram

ADDRESS = "Quxstraße 5917"  # what Ann types: a sensitive value (`address` in the demo)
NOTE = "Ring the zebra bell"  # a courier note: sensitive too
PHONE = "+49 30 9876543"


@pytest.fixture
def bot(fake: FakeTelegram, tmp_path: Path) -> Iterator[LiveBot]:
    live = LiveBot(fake, f"sqlite:///{tmp_path / 'bot.db'}", tmp_path / "bot.log", {})
    yield live
    if live.process is None:  # never started: the test was not run (no PostgreSQL server)
        return
    if live.alive:
        assert live.stop() == 0, live.log
    assert "Traceback" not in live.log, live.log


def order_to_the_address(ann: Person) -> None:
    """The demo's order up to the summary, which shows the address back to Ann."""
    order_up_to_the_address(ann)
    ann.send(ADDRESS)
    ann.expect("Anything the courier should know?")
    ann.send(NOTE)
    ann.expect("How can the courier reach you?")
    ann.share_contact(PHONE)
    ann.expect("Do you have a promo code?")


def test_no_text_and_no_sensitive_value_is_logged_even_at_debug(
    bot: LiveBot, fake: FakeTelegram
) -> None:
    bot.env["LOG_LEVEL"] = "DEBUG"
    bot.start().ready()
    ann = Person(fake, 520)
    order_to_the_address(ann)
    ann.send("PP2024")
    summary = ann.expect("When should we deliver?")
    assert any("Which size" in text for text in ann.texts())
    settle(fake)
    assert bot.stop() == 0
    log = bot.log
    assert "DEBUG" in log  # it did log at debug level
    for secret in (ADDRESS, NOTE, PHONE, "Which size", "PP2024", summary[-1][:20]):
        assert secret not in log, f"{secret!r} is in the log:\n{log}"
    quoted = ("Quxstra", "9876543", "Which+size", "Which%20size")  # as a URL would carry them
    for fragment in quoted:
        assert fragment not in log, f"{fragment!r} is in the log:\n{log}"


def json_lines(path: Path) -> list[dict[str, object]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines, "the log file is empty"
    return [json.loads(line) for line in lines]  # every line is one JSON object


def test_json_lines_in_a_log_file_carry_the_start_and_every_update(
    bot: LiveBot, fake: FakeTelegram, tmp_path: Path, postgres_url: str
) -> None:
    log_file = tmp_path / "bot.jsonl"
    bot.database = postgres_url  # its password must not reach the log
    bot.env.update({"LOG_FORMAT": "json", "LOG_FILE": str(log_file)})
    bot.start().ready()
    ann = Person(fake, 530)
    ann.send("/start")
    ann.expect("What would you like?")
    ann.press("🍕 Order a pizza")
    ann.expect("Which size would you like?")
    settle(fake)
    assert bot.stop() == 0
    records = json_lines(log_file)
    for record in records:
        assert {"time", "level", "logger", "message"} <= record.keys()
        assert str(record["time"]).endswith("+00:00")  # UTC, ISO 8601
    start = records[0]
    assert start["level"] == "INFO" and "starting" in str(start["message"])
    assert start["scenario"] == "Pizza Planet" and start["mode"] == "polling"
    assert start["workers"] == 4 and start["version"]
    assert len(str(start["scenario_version"])) >= 8
    password = postgres_url.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
    assert start["database"] == postgres_url.replace(f":{password}@", ":***@")
    assert f":{password}@" not in log_file.read_text(encoding="utf-8")
    updates = [r for r in records if r["logger"] == "engine.updates"]
    assert [(u["event"], u["state_before"], u["state_after"]) for u in updates] == [
        ("text", None, "menu"),
        ("button", "menu", "size"),
    ]
    for update in updates:
        assert update["outcome"] == "handled"
        assert update["chat_id"] == 530 and update["user_id"] == 530
        assert isinstance(update["update_id"], int) and isinstance(update["ms"], int | float)
    assert bot.log == ""  # nothing on standard error: it all went to the file


def test_update_lines_can_be_switched_off(bot: LiveBot, fake: FakeTelegram) -> None:
    bot.env["BOT_LOG_UPDATES"] = "false"
    bot.start().ready()
    ann = Person(fake, 531)
    ann.send("/start")
    ann.expect("What would you like?")
    settle(fake)
    assert bot.stop() == 0
    assert "starting scenario-bot-engine" in bot.log
    assert "engine.updates" not in bot.log


def test_the_log_file_is_reopened_after_logrotate_moved_it(
    bot: LiveBot, fake: FakeTelegram, tmp_path: Path
) -> None:
    log_file = tmp_path / "bot.log.txt"
    bot.env["LOG_FILE"] = str(log_file)
    bot.start().ready()
    ann = Person(fake, 532)
    ann.send("/start")
    ann.expect("What would you like?")
    settle(fake)
    rotated = tmp_path / "bot.log.txt.1"
    log_file.rename(rotated)  # what logrotate does (without copytruncate)
    ann.press("🍕 Order a pizza")
    ann.expect("Which size would you like?")
    settle(fake)
    assert bot.stop() == 0
    before, after = rotated.read_text(encoding="utf-8"), log_file.read_text(encoding="utf-8")
    assert "starting scenario-bot-engine" in before and "state=None->menu" in before
    assert "state=menu->size" in after and "stopped" in after
    assert "state=menu->size" not in before


RELOADED = """
bot: {name: Hup, start: first}
commands:
  start: {description: Start, goto: first}
states:
  first:
    say: Version {}.
"""


def test_sighup_reloads_the_scenario_instead_of_ending_the_bot(
    bot: LiveBot, fake: FakeTelegram, tmp_path: Path
) -> None:
    scenario = tmp_path / "hup" / "hup.yaml"
    scenario.parent.mkdir()
    scenario.write_text(RELOADED.replace("{}", "one"), encoding="utf-8")
    bot.env.update({"BOT_SCENARIO": str(scenario), "BOT_PLUGINS": ""})
    bot.start().ready()
    ann = Person(fake, 533)
    ann.send("/start")
    ann.expect("Version one.")
    # the same modification time: only the signal can tell the bot the file changed
    stamp = os.stat(scenario).st_mtime
    scenario.write_text(RELOADED.replace("{}", "two"), encoding="utf-8")
    os.utime(scenario, (stamp, stamp))
    assert bot.process is not None
    bot.process.send_signal(signal.SIGHUP)
    assert fake.wait_for(lambda: "reloaded" in bot.log, 15), bot.log
    assert bot.alive
    ann.send("/start")
    ann.expect("Version two.")
    assert "SIGHUP" in bot.log


def test_sighup_with_a_broken_scenario_keeps_the_old_version(
    bot: LiveBot, fake: FakeTelegram, tmp_path: Path
) -> None:
    scenario = tmp_path / "hup" / "hup.yaml"
    scenario.parent.mkdir()
    scenario.write_text(RELOADED.replace("{}", "one"), encoding="utf-8")
    bot.env.update({"BOT_SCENARIO": str(scenario), "BOT_PLUGINS": ""})
    bot.start().ready()
    scenario.write_text(RELOADED.replace("{}", "one").replace("start: first", "start: frist"))
    assert bot.process is not None
    bot.process.send_signal(signal.SIGHUP)
    assert fake.wait_for(lambda: "still running the previous version" in bot.log, 15), bot.log
    ann = Person(fake, 534)
    ann.send("/start")
    ann.expect("Version one.")


def test_the_start_line_names_the_database_without_its_password() -> None:
    from engine.ops.start_line import without_password

    assert without_password("postgresql://bot:s3cret@db:5432/bot?pool=5") == (
        "postgresql://bot:***@db:5432/bot?pool=5"
    )
    assert without_password("sqlite:///data/bot.db") == "sqlite:///data/bot.db"
    assert without_password("postgresql://bot@db/bot") == "postgresql://bot@db/bot"


def test_json_lines_hold_the_fields_of_an_update_line(tmp_path: Path) -> None:
    """The formatter on its own: what a log shipper parses, including a traceback."""
    import logging

    from engine.ops.logging_setup import LogSettings, configure_logging
    from engine.ops.update_log import HandledUpdate, UpdateLog

    path = tmp_path / "lines.jsonl"
    handler = configure_logging(LogSettings("INFO", "json", str(path)), ["SECRETTOKEN"])
    try:
        UpdateLog().write([HandledUpdate(7, "handled", 1, 2, "text", "a", "b", 3.25)])
        try:
            raise ValueError("token SECRETTOKEN in a traceback")
        except ValueError:
            logging.getLogger("engine.test").exception("failed at %s", "/botX/sendMessage?text=hi")
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    update, failure = json_lines(path)
    assert update["update_id"] == 7 and update["outcome"] == "handled"
    assert update["state_before"] == "a" and update["state_after"] == "b"
    assert update["ms"] == 3.2 or update["ms"] == 3.3
    assert failure["level"] == "ERROR" and "ValueError" in str(failure["exc_info"])
    assert "SECRETTOKEN" not in path.read_text() and "text=hi" not in path.read_text()


PLUGIN_SCENARIO = """
bot: {name: Hup, start: first}
vars: {word: null}
commands:
  start: {description: Start, goto: first}
states:
  first:
    do:
      - call: word_of_the_day
        save_as: word
    say: "Word: {{ word }}."
"""

PLUGIN = """
from engine.core.ports import register_plugin


@register_plugin("word_of_the_day")
def word_of_the_day(arguments, context):
    return "{}"
"""


def test_sighup_reloads_an_edited_plugin(bot: LiveBot, fake: FakeTelegram, tmp_path: Path) -> None:
    folder = tmp_path / "hup"
    folder.mkdir()
    scenario, plugin = folder / "hup.yaml", folder / "words.py"
    scenario.write_text(PLUGIN_SCENARIO, encoding="utf-8")
    plugin.write_text(PLUGIN.replace("{}", "apple"), encoding="utf-8")
    bot.env.update({"BOT_SCENARIO": str(scenario), "BOT_PLUGINS": str(plugin)})
    bot.start().ready()
    ann = Person(fake, 535)
    ann.send("/start")
    ann.expect("Word: apple.")
    plugin.write_text(PLUGIN.replace("{}", "pear"), encoding="utf-8")
    assert bot.process is not None
    bot.process.send_signal(signal.SIGHUP)
    assert fake.wait_for(lambda: "reloaded" in bot.log, 15), bot.log
    ann.send("/start")
    ann.expect("Word: pear.")

"""`python run.py` against the fake Bot API server by long polling: whole demo conversations,
the command menus, every button press answered, Telegram's faults, and restarts."""

from __future__ import annotations

import copy
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from live_bot import ROOT, LiveBot, Person, settle

from engine.testing.fake_telegram import FakeTelegram, text_update

CORPUS = json.loads((ROOT / "engine/testing/data/updates-corpus.json").read_text())
ADMIN = 777


@pytest.fixture
def bot(fake: FakeTelegram, tmp_path: Path) -> Iterator[LiveBot]:
    live = LiveBot(
        fake,
        f"sqlite:///{tmp_path / 'bot.db'}",
        tmp_path / "bot.log",
        {
            "BOT_ADMINS": str(ADMIN),
            "BOT_CONFIG_VARS": "ORDERS_URL",
            "ORDERS_URL": f"{fake.url}/shop/orders",
            "BOT_HTTP_ALLOW": "127.0.0.1",  # the fake's shop is on this machine
        },
    )
    yield live
    if live.alive:
        code = live.stop()
        assert code == 0, live.log
    assert "Traceback" not in live.log, live.log


def order_two_large_pizzas(ann: Person) -> None:
    ann.send("/start")
    ann.expect("What would you like?")
    ann.press("🍕 Order a pizza")
    ann.expect("Which size would you like?")
    ann.send("large")
    ann.expect("How many Large pizzas?")
    ann.send("2")
    ann.expect("Anything extra on your Large pizza?")
    ann.press("🧀 Extra cheese")
    ann.expect("Extra cheese added")
    ann.press("➡️ Continue")
    ann.expect("Where should we deliver?")
    ann.send("Hauptstraße 5")
    ann.expect("Anything the courier should know?")
    ann.send("Ring twice")
    ann.expect("How can the courier reach you?")
    ann.share_contact("+49 30 1234567")
    ann.expect("Do you have a promo code?")
    ann.send("PP2024")
    ann.expect("When should we deliver?")
    ann.press("⚡ As soon as possible")
    ann.expect("receipt by email?")
    ann.send("No")
    summary = ann.expect("Total:")
    assert "2 × Large + extra cheese" in summary[-1]
    ann.press("✅ Place the order")
    ann.expect("accepted")


def test_a_whole_demo_order_by_polling(bot: LiveBot, fake: FakeTelegram) -> None:
    bot.start().ready()
    ann = Person(fake, 42)
    order_two_large_pizzas(ann)
    settle(fake)
    # the order went to the order system, the admins heard of it, the summary was edited
    assert fake.orders and fake.orders[0]
    assert any("Order #1042" in t for t in fake.texts_to(ADMIN))
    edits = fake.calls_of("editMessageText")
    assert any("#1042</b> accepted" in str(c.params["text"]) for c in edits), edits
    # every button press was answered
    answered = {c.params["callback_query_id"] for c in fake.calls_of("answerCallbackQuery")}
    assert len(answered) == 5
    # long polling asked only for what the scenario uses
    allowed = json.loads(fake.calls_of("getUpdates")[0].params["allowed_updates"])
    assert set(allowed) == {"message", "edited_message", "callback_query"}


def test_command_menus_are_set_per_language(bot: LiveBot, fake: FakeTelegram) -> None:
    bot.start().ready()
    menus = {c.params.get("language_code", ""): c for c in fake.calls_of("setMyCommands")}
    assert set(menus) == {"", "ru", "de"}
    german = {c["command"]: c["description"] for c in json.loads(menus["de"].params["commands"])}
    english = {c["command"]: c["description"] for c in json.loads(menus[""].params["commands"])}
    assert english["start"] == "Start over"
    assert german["start"] == "Neu starten"


def test_a_russian_user_is_answered_in_russian(bot: LiveBot, fake: FakeTelegram) -> None:
    bot.start().ready()
    ivan = Person(fake, 43, "Иван", "ru")
    ivan.send("/start")
    replies = ivan.expect("?")
    assert any("Иван" in text for text in replies), replies


def test_the_whole_corpus_of_real_updates_is_survived(bot: LiveBot, fake: FakeTelegram) -> None:
    bot.start().ready()
    updates = []
    for entry in CORPUS:  # the fixtures' update_ids repeat: renumbered, as Telegram would
        update = copy.deepcopy(entry["update"])
        update["update_id"] = fake.next_update_id()
        updates.append(update)
    fake.push(*updates)
    ann = Person(fake, 4242)
    ann.send("/start")  # after all of them
    ann.expect("What would you like?")
    # the loop went on past every one of them, the poison one included: all were confirmed
    assert fake.wait_for(lambda: fake.pending_updates() == 0)
    assert bot.alive
    bot.stop()
    with sqlite3.connect(bot.database.removeprefix("sqlite:///")) as db:
        rows = dict(db.execute("SELECT update_id, status FROM inbox").fetchall())
        poison = next(
            u for u, e in zip(updates, CORPUS, strict=True) if "poison" in e.get("flags", [])
        )
        assert rows[poison["update_id"]] in ("ignored", "failed")
        assert all(u["update_id"] in rows for u in updates)


def test_a_malformed_update_is_set_aside_and_the_rest_go_on(
    bot: LiveBot, fake: FakeTelegram
) -> None:
    bot.start().ready()
    broken = text_update(50, "hi")
    broken["message"]["chat"] = "not a chat"
    [bad] = fake.push(broken)
    ann = Person(fake, 51)
    ann.send("/start")
    ann.expect("What would you like?")
    bot.stop()
    with sqlite3.connect(bot.database.removeprefix("sqlite:///")) as db:
        status, error = db.execute(
            "SELECT status, error FROM inbox WHERE update_id = ?", (bad,)
        ).fetchone()
    assert status == "failed"
    assert "message.chat is not an object" in error


def test_a_429_storm_delays_replies_but_loses_none(bot: LiveBot, fake: FakeTelegram) -> None:
    fake.fail("sendMessage", 429, times=6, retry_after=1)
    bot.start().ready()
    ann = Person(fake, 60)
    ann.send("/start")
    replies = ann.expect("What would you like?", timeout=30)
    settle(fake)
    # each message arrives once, in order, though Telegram refused six sends
    assert [t for t in ann.texts() if "Use the code" in t] == [replies[1]]
    assert ann.texts()[-1] == "What would you like?"


def test_getupdates_failures_back_off_and_recover(bot: LiveBot, fake: FakeTelegram) -> None:
    fake.fail("getUpdates", 502, times=3)
    bot.start()
    ann = Person(fake, 61)
    ann.send("/start")
    ann.expect("What would you like?", timeout=40)
    assert "getUpdates failed (server)" in bot.log


def test_a_second_poller_is_told_what_is_wrong(bot: LiveBot, fake: FakeTelegram) -> None:
    fake.fail("getUpdates", 409, times=1)
    bot.start()
    assert fake.wait_for(lambda: "409 Conflict" in bot.log, 20), bot.log
    ann = Person(fake, 62)
    ann.send("/start")
    ann.expect("What would you like?", timeout=40)


def test_sigkill_mid_conversation_loses_nothing_and_repeats_nothing(
    bot: LiveBot, fake: FakeTelegram
) -> None:
    bot.start().ready()
    ann = Person(fake, 70)
    ann.send("/start")
    ann.expect("What would you like?")
    ann.press("🍕 Order a pizza")
    ann.expect("Which size")
    ann.send("Large")
    bot.kill()  # somewhere while "Large" is received, committed or answered
    bot.start().ready()
    ann.expect("How many Large pizzas?")
    ann.send("3")
    ann.expect("Anything extra")
    settle(fake)
    texts = ann.texts()
    # "Large" moved the conversation on exactly once: one quantity question, one extras question
    assert sum("How many Large" in t for t in texts) == 1
    assert sum("Anything extra" in t for t in texts) == 1
    bot.stop()
    with sqlite3.connect(bot.database.removeprefix("sqlite:///")) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        pending = db.execute("SELECT COUNT(*) FROM inbox WHERE status = 'pending'").fetchone()
        assert pending == (0,)


def test_sigterm_finishes_in_flight_work_and_exits(bot: LiveBot, fake: FakeTelegram) -> None:
    bot.start().ready()
    ann = Person(fake, 80)
    for _ in range(5):
        ann.send("/start")
    ann.expect("What would you like?")  # the batch is being handled
    assert bot.stop() == 0
    assert "everything received was committed" in bot.log
    with sqlite3.connect(bot.database.removeprefix("sqlite:///")) as db:
        statuses = [s for (s,) in db.execute("SELECT status FROM inbox")]
    assert statuses and "pending" not in statuses
    # after a restart, what was not confirmed arrives again: each /start answered once
    bot.start().ready()
    fake.wait_for(lambda: sum("What would you like?" in t for t in ann.texts()) >= 5)
    settle(fake)
    assert sum("What would you like?" in t for t in ann.texts()) == 5


def test_a_flooding_user_does_not_slow_anyone_else(bot: LiveBot, fake: FakeTelegram) -> None:
    bot.start().ready()
    flooder, ann = Person(fake, 500), Person(fake, 501)
    fake.push(*(text_update(500, f"spam {n}") for n in range(100)))
    ann.send("/start")
    ann.expect("What would you like?")
    settle(fake, quiet=1.0)
    bot.stop()
    assert flooder.texts()  # answered, up to the limit
    with sqlite3.connect(bot.database.removeprefix("sqlite:///")) as db:
        counts = dict(
            db.execute(
                "SELECT status, COUNT(*) FROM inbox WHERE chat_id = 500 GROUP BY status"
            ).fetchall()
        )
    # a burst of 20 (plus what refilled while the updates arrived) was handled, the rest set aside
    assert 20 <= counts["done"] <= 30
    assert counts["ignored"] == 100 - counts["done"]


def test_the_token_is_never_logged_even_at_debug(bot: LiveBot, fake: FakeTelegram) -> None:
    bot.env["LOG_LEVEL"] = "DEBUG"
    bot.start().ready()
    ann = Person(fake, 510)
    ann.send("/start")
    ann.expect("What would you like?")
    bot.stop()
    secret = fake.token.split(":", 1)[1]
    assert secret not in bot.log
    assert "DEBUG" in bot.log  # it did log at debug level

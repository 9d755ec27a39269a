"""`python run.py` in webhook mode: Telegram's POSTs checked (secret, size, JSON), answered
200 only once committed, duplicates ignored; a whole demo conversation through it."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from live_bot import LiveBot, Person, free_port, post_webhook, settle
from test_e2e_polling import order_two_large_pizzas

from engine.testing.fake_telegram import FakeTelegram, text_update

SECRET = "s3cret_webhook-token"


@pytest.fixture
def bot(fake: FakeTelegram, tmp_path: Path) -> Iterator[LiveBot]:
    port = free_port()
    live = LiveBot(
        fake,
        f"sqlite:///{tmp_path / 'bot.db'}",
        tmp_path / "bot.log",
        {
            "BOT_MODE": "webhook",
            "WEBHOOK_URL": "https://bot.example.com/telegram/hook",
            "WEBHOOK_SECRET": SECRET,
            "WEBHOOK_HOST": "127.0.0.1",
            "WEBHOOK_PORT": str(port),
            "BOT_CONFIG_VARS": "ORDERS_URL",
            "ORDERS_URL": f"{fake.url}/shop/orders",
            "BOT_HTTP_ALLOW": "127.0.0.1",  # the fake's shop is on this machine
        },
    )
    live.start().ready()
    yield live
    if live.alive:
        assert live.stop() == 0, live.log
    assert "Traceback" not in live.log, live.log


def post(bot: LiveBot, body: bytes, secret: str | None = SECRET) -> int:
    return post_webhook(f"http://127.0.0.1:{bot.env['WEBHOOK_PORT']}/telegram/hook", body, secret)


def deliver(bot: LiveBot, fake: FakeTelegram, update: dict[str, Any]) -> int:
    update.setdefault("update_id", fake.next_update_id())
    return post(bot, json.dumps(update).encode())


def by_webhook(bot: LiveBot, fake: FakeTelegram, user_id: int) -> Person:
    """A user whose updates Telegram POSTs to the bot (each must be answered 200)."""

    def send(update: dict[str, Any]) -> int:
        assert deliver(bot, fake, update) == 200
        return int(update["update_id"])

    return Person(fake, user_id, deliver=send)


def test_a_whole_demo_order_by_webhook(bot: LiveBot, fake: FakeTelegram) -> None:
    ann = by_webhook(bot, fake, 95)
    order_two_large_pizzas(ann)
    settle(fake)
    assert len(fake.calls_of("answerCallbackQuery")) == 5
    assert fake.orders


def test_the_webhook_is_registered_with_its_secret(bot: LiveBot, fake: FakeTelegram) -> None:
    [call] = fake.calls_of("setWebhook")
    assert call.params["url"] == "https://bot.example.com/telegram/hook"
    assert call.params["secret_token"] == SECRET
    assert "callback_query" in json.loads(call.params["allowed_updates"])


def test_a_conversation_by_webhook(bot: LiveBot, fake: FakeTelegram) -> None:
    ann = Person(fake, 90)
    assert deliver(bot, fake, text_update(90, "/start")) == 200
    ann.expect("What would you like?")
    menu = next(c for c in reversed(fake.calls_of("sendMessage")) if "reply_markup" in c.params)
    markup = json.loads(menu.params["reply_markup"])
    order = markup["inline_keyboard"][0][0]
    press = {
        "callback_query": {
            "id": "press-1",
            "from": {"id": 90, "is_bot": False, "first_name": "Ann"},
            "chat_instance": "1",
            "data": order["callback_data"],
            "message": {
                "message_id": menu.answer["message_id"],
                "chat": {"id": 90, "type": "private"},
                "date": 0,
            },
        }
    }
    assert deliver(bot, fake, press) == 200
    ann.expect("Which size would you like?")
    assert deliver(bot, fake, text_update(90, "Small")) == 200
    ann.expect("How many Small pizzas?")
    settle(fake)
    assert [c.params["callback_query_id"] for c in fake.calls_of("answerCallbackQuery")] == [
        "press-1"
    ]


def test_a_wrong_or_missing_secret_is_refused(bot: LiveBot, fake: FakeTelegram) -> None:
    body = json.dumps({"update_id": 5, **text_update(91, "/start")}).encode()
    assert post(bot, body, secret="wrong") == 403
    assert post(bot, body, secret=None) == 403
    settle(fake, quiet=0.3)
    assert fake.texts_to(91) == []


def test_bad_bodies_get_clear_answers(bot: LiveBot) -> None:
    assert post(bot, b"x" * (10 * 1024 * 1024)) == 413
    assert post(bot, b"{not json") == 400
    assert post(bot, b"[" * 100_000 + b"]" * 100_000) == 400
    assert post(bot, b'{"message": {}}') == 400  # no update_id
    assert post(bot, json.dumps({"update_id": 7, "poll": {"id": "1"}}).encode()) == 200


def test_a_repeated_delivery_changes_nothing(bot: LiveBot, fake: FakeTelegram) -> None:
    update = {"update_id": 4711, **text_update(92, "/start")}
    assert deliver(bot, fake, dict(update)) == 200
    Person(fake, 92).expect("What would you like?")
    assert deliver(bot, fake, dict(update)) == 200  # Telegram retried
    settle(fake)
    assert sum("What would you like?" in t for t in fake.texts_to(92)) == 1
    bot.stop()
    with sqlite3.connect(bot.database.removeprefix("sqlite:///")) as db:
        assert db.execute("SELECT COUNT(*) FROM inbox WHERE update_id = 4711").fetchone() == (1,)


def test_200_only_after_the_update_is_committed(bot: LiveBot, fake: FakeTelegram) -> None:
    update = {"update_id": 4800, **text_update(93, "/start")}
    assert deliver(bot, fake, update) == 200
    # the answer came after the commit: the update is in the inbox, handled, right now
    with sqlite3.connect(bot.database.removeprefix("sqlite:///")) as db:
        row = db.execute("SELECT status FROM inbox WHERE update_id = 4800").fetchone()
    assert row == ("done",)

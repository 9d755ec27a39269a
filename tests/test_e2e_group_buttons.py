"""`python run.py` in a group: a menu's buttons answer only the user it was sent to, through the
real client and the fake Bot API (issue 13)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from live_bot import LiveBot

from engine.testing.fake_telegram import FakeTelegram, press_update, text_update

GROUP = {"id": -100777, "type": "group", "title": "Pizza lovers"}


def _in_group(update: dict[str, Any]) -> dict[str, Any]:
    message = update.get("message") or update["callback_query"]["message"]
    message["chat"] = dict(GROUP)
    return update


@pytest.fixture
def bot(fake: FakeTelegram, tmp_path: Path) -> Iterator[LiveBot]:
    live = LiveBot(
        fake,
        f"sqlite:///{tmp_path / 'bot.db'}",
        tmp_path / "bot.log",
        {"BOT_RATE_PER_GROUP_MINUTE": "1000"},  # Telegram's 20 a minute would queue the replies
    )
    yield live
    if live.alive:
        assert live.stop() == 0, live.log
    assert "Traceback" not in live.log, live.log


def _menu_button(fake: FakeTelegram, label: str) -> tuple[str, int]:
    for call in reversed(fake.calls_of("sendMessage", "editMessageText")):
        if str(call.params.get("chat_id")) != str(GROUP["id"]):
            continue
        markup = json.loads(str(call.params.get("reply_markup") or "{}"))
        for row in markup.get("inline_keyboard", []):
            for key in row:
                if key["text"] == label:
                    return key["callback_data"], int(call.answer["message_id"])
    raise AssertionError(f"no group message shows {label!r}")


def _answer_to(fake: FakeTelegram, callback_id: str) -> dict[str, Any]:
    assert fake.wait_for(
        lambda: any(
            c.params.get("callback_query_id") == callback_id
            for c in fake.calls_of("answerCallbackQuery")
        )
    ), "the press was never answered"
    call = next(
        c
        for c in fake.calls_of("answerCallbackQuery")
        if c.params.get("callback_query_id") == callback_id
    )
    return dict(call.params)


def test_another_members_press_is_not_for_them(bot: LiveBot, fake: FakeTelegram) -> None:
    bot.start().ready()
    fake.push(_in_group(text_update(41, "/start", "Ann")))
    assert fake.wait_for(lambda: any("What would you like?" in t for t in fake.texts_to(-100777)))
    data, message_id = _menu_button(fake, "🍕 Order a pizza")
    bob = _in_group(press_update(42, data, message_id, "Bob"))
    fake.push(bob)
    answer = _answer_to(fake, bob["callback_query"]["id"])
    assert answer.get("text") == "This button is not for you."
    assert not any("Bob" in t for t in fake.texts_to(-100777))  # Bob's press started nothing
    ann = _in_group(press_update(41, data, message_id, "Ann"))
    fake.push(ann)
    assert _answer_to(fake, ann["callback_query"]["id"]).get("text") in (None, "")

    def moved_on() -> bool:
        return any("Which size" in str(c.params.get("text")) for c in fake.calls[-20:])

    assert fake.wait_for(moved_on), "\n".join(
        f"{c.method} {c.params.get('text')} {c.params.get('chat_id')}"
        for c in fake.calls
        if c.method != "getUpdates"
    )

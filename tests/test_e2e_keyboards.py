"""`python run.py` with keyboards of issue 16, through the real client and the fake Bot API
(which refuses any call Telegram would): a list's pages turned in place, an entry pressed,
a reply keyboard's options and a reply that quotes the user's message."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from live_bot import LiveBot

from engine.testing.fake_telegram import FakeTelegram, press_update, text_update

SCENARIO = """\
bot: {name: Fruit shop, start: menu}
vars:
  products: [{id: 1, name: Apple}, {id: 2, name: Pear}, {id: 3, name: Plum}, {id: 4, name: Fig}]
states:
  menu:
    say: Pick a fruit.
    buttons:
      - list: products
        text: "{{ item.name }}"
        value: "{{ item.id }}"
        save_as: fruit
        page_size: 3
        next: More
        previous: Back
        goto: amount
  amount:
    edit: false
    say: "How many of fruit {{ fruit }}?"
    ask: {var: amount, choices: ["1", "2", "3"]}
    keyboard_options: {one_time: true, placeholder: How many?}
    goto: done
  done:
    say:
      - text: "{{ amount }} it is."
        reply: true
    end: true
"""


@pytest.fixture
def bot(fake: FakeTelegram, tmp_path: Path) -> Iterator[LiveBot]:
    scenario = tmp_path / "shop.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    live = LiveBot(
        fake,
        f"sqlite:///{tmp_path / 'bot.db'}",
        tmp_path / "bot.log",
        {"BOT_SCENARIO": str(scenario)},
    )
    yield live
    if live.alive:
        assert live.stop() == 0, live.log
    assert "Traceback" not in live.log, live.log


def _markup(call: Any) -> dict[str, Any]:
    return dict(json.loads(str(call.params.get("reply_markup") or "{}")))


def _labels(markup: dict[str, Any]) -> list[str]:
    return [key["text"] for row in markup.get("inline_keyboard", []) for key in row]


def _data(markup: dict[str, Any], label: str) -> str:
    return next(
        str(key["callback_data"])
        for row in markup["inline_keyboard"]
        for key in row
        if key["text"] == label
    )


def test_a_list_is_paged_in_place_and_the_answer_quotes_the_user(
    bot: LiveBot, fake: FakeTelegram
) -> None:
    bot.start().ready()
    fake.push(text_update(51, "/start"))
    assert fake.wait_for(lambda: "Pick a fruit." in fake.texts_to(51)), bot.log
    menu = next(c for c in fake.calls_of("sendMessage") if c.params.get("text") == "Pick a fruit.")
    message_id = int(menu.answer["message_id"])
    assert _labels(_markup(menu)) == ["Apple", "Pear", "Plum", "More"]

    fake.push(press_update(51, _data(_markup(menu), "More"), message_id))
    assert fake.wait_for(lambda: bool(fake.calls_of("editMessageReplyMarkup"))), bot.log
    (turn,) = fake.calls_of("editMessageReplyMarkup")
    assert int(turn.params["message_id"]) == message_id
    assert _labels(_markup(turn)) == ["Fig", "Back"]

    fake.push(press_update(51, _data(_markup(turn), "Fig"), message_id))
    assert fake.wait_for(lambda: "How many of fruit 4?" in fake.texts_to(51)), bot.log
    question = next(
        c for c in fake.calls_of("sendMessage") if c.params.get("text") == "How many of fruit 4?"
    )
    keys = _markup(question)
    assert keys["one_time_keyboard"] is True and keys["input_field_placeholder"] == "How many?"

    fake.push(text_update(51, "2", message_id=777))
    assert fake.wait_for(lambda: "2 it is." in fake.texts_to(51)), bot.log
    done = next(c for c in fake.calls_of("sendMessage") if c.params.get("text") == "2 it is.")
    assert json.loads(str(done.params["reply_parameters"]))["message_id"] == 777

"""Every kind of event a user can cause, and the state keys the other interpreter tests do
not reach: command arguments and the /start payload, a state's own version of a command,
`match` groups, handlers by message type, fire-and-forget HTTP, every media question, an
optional question, commands for some roles only, and `ago` against the step's clock."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from builders import NOW, Conversation, compile_yaml, texts

from engine.core import ports
from engine.core.effects import HttpRequest, ReportProblem
from engine.core.events import OtherMessage

BOT = """
bot: {name: Events, start: menu}
vars: {n: null, pic: null, doc: null, code: null, seen: "2026-11-22T12:00:00+00:00"}
commands:
  start: {description: Start, say: "payload={{ message.payload }}", goto: menu}
  help: {description: Help, say: Global help.}
  find: {description: Find, say: "Looking for {{ message.args }}."}
  staff: {description: Staff, only: [admin], say: Staff only.}
states:
  menu:
    say: Menu.
    on:
      - command: help
        say: Help for the menu.
      - match: 'order (\\d+)-(\\w+)'
        say: "Order {{ match[1] }}, {{ match[2] }} (from '{{ match[0] }}')"
      - type: voice
        say: A voice note.
      - type: sticker
        say: A sticker.
      - type: video
        say: "A video: {{ message.file_id }}."
      - text: when
        say: "Last seen {{ seen | ago }}."
      - text: ping
        do:
          - http: {method: POST, url: "https://hooks.example/ping", json: {from: "{{ user.id }}"}}
        say: Pinged.
      - text: questions
        goto: num
      - type: any
        say: "Something else: {{ message.type }}."
  num:
    say: How many?
    ask: {var: n, type: number, min: 0, max: 10, retry: "From 0 to 10, please."}
    goto: pic
  pic:
    say: A photo?
    ask: {var: pic, type: photo}
    goto: doc
  doc:
    say: A file?
    ask: {var: doc, type: document}
    goto: code
  code:
    say: A promo code?
    ask: {var: code, optional: true, skip_text: No code}
    goto: done
  done:
    say: "n={{ n }} pic={{ pic }} doc={{ doc }} code={{ code }}"
    end: true
"""


@pytest.fixture
def chat(tmp_path: Path) -> Conversation:
    chat = Conversation(compile_yaml(BOT, tmp_path))
    chat.send("/start")
    return chat


def test_start_carries_its_deep_link_payload_and_commands_their_arguments(
    tmp_path: Path,
) -> None:
    chat = Conversation(compile_yaml(BOT, tmp_path))
    assert texts(chat.send("/start ref42")) == ["payload=ref42", "Menu."]
    assert texts(chat.send("/find large pizza")) == ["Looking for large pizza."]
    assert chat.session.state == "menu"


def test_a_state_replaces_a_command_and_role_commands_do_not_exist_for_others(
    chat: Conversation, tmp_path: Path
) -> None:
    assert texts(chat.send("/help")) == ["Help for the menu."]
    assert texts(chat.send("/staff")) == ["Sorry, I did not understand that."]
    admin = Conversation(compile_yaml(BOT, tmp_path, "admin.yaml"), roles=frozenset({"admin"}))
    admin.send("/start")
    assert texts(admin.send("/staff")) == ["Staff only."]


def test_match_groups_are_available_to_the_handler(chat: Conversation) -> None:
    assert texts(chat.send("where is my order 42-abc?")) == ["Order 42, abc (from 'order 42-abc')"]


@pytest.mark.parametrize(
    ("kind", "reply"),
    [
        ("voice", "A voice note."),
        ("sticker", "A sticker."),
        ("video", "A video: FILE."),
        ("document", "Something else: document."),
        ("photo", "Something else: photo."),
    ],
)
def test_handlers_match_by_message_type(chat: Conversation, kind: str, reply: str) -> None:
    assert texts(chat.media(kind)) == [reply]


def test_contacts_locations_and_other_messages_reach_type_any(chat: Conversation) -> None:
    assert texts(chat.contact("+49301234567")) == ["Something else: contact."]
    assert texts(chat.location(52.5, 13.4)) == ["Something else: location."]
    poll = OtherMessage(user=chat.user, chat=chat.chat, kind="poll")
    assert texts(chat.event(poll)) == ["Something else: other."]


def test_http_without_save_as_is_an_effect_for_the_outbox(chat: Conversation) -> None:
    effects = chat.send("ping")
    assert effects[0] == HttpRequest(
        "POST", "https://hooks.example/ping", json={"from": 7}, timeout=10.0
    )
    assert texts(effects) == ["Pinged."]
    assert chat.services.calls == []  # nothing waited for an answer inside the step


def test_ago_counts_from_the_time_of_the_message(chat: Conversation) -> None:
    assert NOW.isoformat().startswith("2026-11-25T12:00")
    assert texts(chat.send("when")) == ["Last seen 3 days ago."]
    chat.now = NOW.replace(day=29)
    assert texts(chat.send("when")) == ["Last seen 1 week ago."]


def test_number_photo_document_and_optional_questions(chat: Conversation) -> None:
    chat.send("questions")
    assert texts(chat.send("11")) == ["From 0 to 10, please."]
    assert texts(chat.send("2,5")) == ["A photo?"]
    assert texts(chat.send("here it is")) == ["Please send a photo."]
    assert texts(chat.media("photo", "PHOTO1")) == ["A file?"]
    assert texts(chat.media("photo", "PHOTO2")) == ["Please send a file."]
    assert texts(chat.media("document", "DOC1")) == ["A promo code?"]
    assert texts(chat.send("no code")) == ["n=2.5 pic=PHOTO1 doc=DOC1 code="]
    assert chat.session.vars["code"] is None and chat.session.ended
    assert not any(isinstance(e, ReportProblem) for e in chat.last.effects)  # type: ignore[union-attr]


def test_an_optional_question_still_takes_an_answer(chat: Conversation) -> None:
    for answer in ("questions", "3"):
        chat.send(answer)
    chat.media("photo", "P")
    chat.media("document", "D")
    assert texts(chat.send("PIZZA10")) == ["n=3 pic=P doc=D code=PIZZA10"]


PLUGIN_BOT = """
bot: {name: P, start: a}
vars: {stock: null}
states:
  a:
    say: Which size?
    ask: {var: size, choices: [Small, Large]}
    goto: b
  b:
    do:
      - call: stock_of
        with: {size: "{{ size }}", user: "{{ user.first_name }}"}
        save_as: stock
    say: "{{ stock.left if stock else 'No idea how many' }} left."
    goto: a
"""


def test_a_plugin_registered_by_name_is_called_and_a_failing_one_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ports, "_PLUGINS", {})
    seen: list[tuple[object, object]] = []

    @ports.register_plugin("stock_of")
    def stock_of(arguments: Any, context: Mapping[str, Any]) -> Any:
        seen.append((arguments, context["size"]))
        if arguments["size"] == "Large":
            raise RuntimeError("the stock service is down")
        return {"left": 3}

    chat = Conversation(compile_yaml(PLUGIN_BOT, tmp_path))  # no plugins given: the registry
    chat.send("/start")
    assert texts(chat.send("Small")) == ["3 left.", "Which size?"]
    assert seen == [({"size": "Small", "user": "Ann"}, "Small")]
    effects = chat.send("Large")
    assert texts(effects) == ["No idea how many left.", "Which size?"]
    assert any(
        isinstance(e, ReportProblem) and "the stock service is down" in e.message for e in effects
    )


ANY_MESSAGE = """
bot: {name: T, start: menu}
states:
  menu:
    say: Send anything.
    on:
      - type: any
        say:
          - text: "not a command"
            if: message.command != "start"
          - "args: [{{ message.args }}] caption: [{{ message.caption }}]"
"""


def test_a_field_of_another_kind_of_message_is_null_not_a_failure(tmp_path: Path) -> None:
    """`message.command` on a typed text, `message.args` on a photo: null, printed as
    nothing; the message was dropped and a problem reported before."""
    chat = Conversation(compile_yaml(ANY_MESSAGE, tmp_path))
    chat.send("/start")
    assert texts(chat.send("hello")) == ["not a command", "args: [] caption: []"]
    assert texts(chat.contact("+4930123")) == ["not a command", "args: [] caption: []"]

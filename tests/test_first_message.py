"""The message that starts a conversation is handled after the greeting, not lost: a new user's
"hello" or "/prices" gets the start state's greeting and then its answer."""

from __future__ import annotations

from pathlib import Path

from builders import Conversation, compile_yaml, texts

SHOP = """
bot: {name: T, start: welcome}
vars: {name: null}
commands:
  help: {description: Help, say: The help.}
on:
  - command: prices
    say: Small 8 €, large 12 €.
  - type: photo
    say: Nice picture!
states:
  welcome:                      # passes the user on at once
    say: Welcome!
    goto: menu
  menu:
    say: Menu
    on:
      - {text: [hello, hi], say: Hello to you too.}
      - {text: order, goto: order}
      - {text: menu, goto: menu}
      - {type: text, say: Please use the words hello or order.}
  order:
    say: Which size?
    buttons: [{text: Done, goto: bye}]
  bye:
    say: Bye.
    end: true
"""


def test_a_first_hello_is_answered_after_the_greeting(tmp_path: Path) -> None:
    chat = Conversation(compile_yaml(SHOP, tmp_path))
    assert texts(chat.send("hello")) == ["Welcome!", "Menu", "Hello to you too."]
    assert chat.session.state == "menu"


def test_a_first_message_may_move_the_user_on(tmp_path: Path) -> None:
    chat = Conversation(compile_yaml(SHOP, tmp_path))
    assert texts(chat.send("order")) == ["Welcome!", "Menu", "Which size?"]
    assert chat.session.state == "order"


def test_a_first_command_or_photo_is_handled_by_the_top_level_handlers(tmp_path: Path) -> None:
    chat = Conversation(compile_yaml(SHOP, tmp_path))
    assert texts(chat.send("/prices")) == ["Welcome!", "Menu", "Small 8 €, large 12 €."]
    chat = Conversation(compile_yaml(SHOP, tmp_path))
    assert texts(chat.media("photo")) == ["Welcome!", "Menu", "Nice picture!"]


def test_start_and_unknown_first_messages_only_start(tmp_path: Path) -> None:
    chat = Conversation(compile_yaml(SHOP, tmp_path))
    assert texts(chat.send("/start")) == ["Welcome!", "Menu"]
    chat = Conversation(compile_yaml(SHOP, tmp_path))
    assert texts(chat.send("what is this?")) == ["Welcome!", "Menu"]  # not the catch-all
    assert texts(chat.send("what is this?")) == ["Please use the words hello or order."]
    chat = Conversation(compile_yaml(SHOP, tmp_path))
    assert texts(chat.send("/nonsense")) == ["Welcome!", "Menu"]


def test_a_first_message_that_would_only_show_the_state_again_greets_once(tmp_path: Path) -> None:
    chat = Conversation(compile_yaml(SHOP, tmp_path))
    assert texts(chat.send("menu")) == ["Welcome!", "Menu"]
    assert texts(chat.send("menu")) == ["Menu"]  # later, it shows the menu again


def test_a_first_command_of_the_commands_runs_before_the_greeting(tmp_path: Path) -> None:
    chat = Conversation(compile_yaml(SHOP, tmp_path))
    assert texts(chat.send("/help")) == ["The help.", "Welcome!", "Menu"]


def test_the_message_after_the_end_is_handled_as_a_first_one(tmp_path: Path) -> None:
    chat = Conversation(compile_yaml(SHOP, tmp_path))
    chat.send("order")
    chat.press("Done")
    assert chat.session.ended
    assert texts(chat.send("hi")) == ["Welcome!", "Menu", "Hello to you too."]
    assert not chat.session.ended


QUESTION = """
bot: {name: T, start: name}
vars: {name: null}
on:
  - {text: help, say: Just type your name.}
states:
  name:
    say: What is your name?
    ask: {var: name, min_length: 2}
    goto: hello
  hello:
    say: "Hello {{ name }}!"
    end: true
"""


def test_a_first_message_is_never_the_answer_to_the_start_question(tmp_path: Path) -> None:
    chat = Conversation(compile_yaml(QUESTION, tmp_path))
    assert texts(chat.send("hi")) == ["What is your name?"]
    assert chat.session.state == "name" and chat.session.vars.get("name") is None
    assert chat.session.attempts == 0
    assert texts(chat.send("Ann")) == ["Hello Ann!"]
    chat = Conversation(compile_yaml(QUESTION, tmp_path))
    assert texts(chat.send("help")) == ["What is your name?", "Just type your name."]

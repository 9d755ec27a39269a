"""Which moves edit the pressed message in place, and buttons that `return` from a sub-flow."""

from __future__ import annotations

from pathlib import Path

from builders import Conversation, compile_yaml, texts

from engine.core.effects import EditText, Effect, SendText

MOVES = """
bot: {name: T, start: menu}
vars: {address: null, vip: false}
states:
  menu:
    say: Menu
    buttons:
      - [{text: Route, goto: router}, {text: Address, call: addr}]
      - [{text: Loud, goto: loud}, {text: Order, goto: order}]
  router:                         # passes the user on at once, saying nothing
    goto:
      - {if: vip, to: vip}
      - {to: info}
  loud:                           # passes the user on at once, after a message of its own
    say: Routing…
    goto: info
  info:
    say: Info
    buttons: [{text: Back, goto: menu}]
  vip:
    say: VIP
    buttons: [{text: Back, goto: menu}]
  order:                          # a state's own call: its goto follows the return
    call: addr
    goto: summary
  summary:
    say: "To {{ address }}"
    buttons: [{text: Back, goto: menu}]
  addr:
    say: Address?
    buttons:
      - [{text: Home, set: {address: home}, return: true}, {text: Cancel, return: true}]
    on:
      - {text: back, return: true}
"""


def shown(effects: list[Effect]) -> list[tuple[str, str]]:
    """Each message the user sees as ("edit", text) or ("send", text)."""
    return [
        ("edit" if isinstance(e, EditText) else "send", e.text)
        for e in effects
        if isinstance(e, EditText | SendText)
    ]


def test_an_immediate_goto_after_a_press_still_edits_the_menu(tmp_path: Path) -> None:
    chat = Conversation(compile_yaml(MOVES, tmp_path))
    chat.send("/start")
    assert shown(chat.press("Route")) == [("edit", "Info")]
    assert chat.session.state == "info"


def test_only_the_first_message_of_a_press_replaces_the_menu(tmp_path: Path) -> None:
    chat = Conversation(compile_yaml(MOVES, tmp_path))
    chat.send("/start")
    assert shown(chat.press("Loud")) == [("edit", "Routing…"), ("send", "Info")]


def test_a_call_from_a_button_edits_the_menu(tmp_path: Path) -> None:
    chat = Conversation(compile_yaml(MOVES, tmp_path))
    chat.send("/start")
    assert shown(chat.press("Address")) == [("edit", "Address?")]
    assert chat.session.state == "addr"


def test_a_button_returns_from_a_sub_flow_and_edits_in_place(tmp_path: Path) -> None:
    chat = Conversation(compile_yaml(MOVES, tmp_path))
    chat.send("/start")
    chat.press("Address")
    assert shown(chat.press("Home")) == [("edit", "Menu")]
    assert chat.session.state == "menu" and chat.session.vars["address"] == "home"
    assert chat.session.stack == ()


def test_a_button_return_follows_the_calling_states_goto(tmp_path: Path) -> None:
    chat = Conversation(compile_yaml(MOVES, tmp_path))
    chat.send("/start")
    assert shown(chat.press("Order")) == [("edit", "Address?")]
    assert shown(chat.press("Home")) == [("edit", "To home")]
    assert chat.session.state == "summary" and chat.session.stack == ()


def test_a_typed_return_sends_a_new_message(tmp_path: Path) -> None:
    chat = Conversation(compile_yaml(MOVES, tmp_path))
    chat.send("/start")
    chat.press("Address")
    assert shown(chat.send("back")) == [("send", "Menu")]


def test_a_button_return_without_a_call_starts_over(tmp_path: Path) -> None:
    """A sub-flow's button pressed after /start emptied the stack: back to bot.start."""
    chat = Conversation(compile_yaml(MOVES, tmp_path))
    chat.send("/start")
    chat.press("Address")
    chat.session = chat.session.evolve(stack=())
    assert texts(chat.press("Cancel")) == ["Menu"]
    assert chat.session.state == "menu"


EDIT_OFF = """
bot: {name: T, start: menu}
states:
  menu:
    say: Menu
    buttons: [{text: Go, goto: router}, {text: Sub, call: sub}]
  router:
    goto: plain
  plain:
    edit: false
    say: Plain
    buttons: [{text: Back, goto: menu}]
  sub:
    edit: false
    say: Sub
    buttons: [{text: Done, return: true}]
"""


def test_edit_false_on_the_state_shown_sends_a_new_message(tmp_path: Path) -> None:
    chat = Conversation(compile_yaml(EDIT_OFF, tmp_path))
    chat.send("/start")
    assert shown(chat.press("Go")) == [("send", "Plain")]
    chat.press("Back")
    assert shown(chat.press("Sub")) == [("send", "Sub")]
    assert shown(chat.press("Done")) == [("edit", "Menu")]

"""Every inline button has one identity: a press runs the button that was drawn, from every
place a button can be written, and nothing that was never drawn for this user (issue 13)."""

from __future__ import annotations

from pathlib import Path

import pytest
from builders import Conversation, compile_yaml, texts

from engine.core.callback_data import button_data, decode, user_tag
from engine.core.effects import AnswerButton
from engine.core.events import Chat, User
from engine.telegram.updates import allowed_updates

EXPIRED = AnswerButton("cb", "This button has expired.")

# Button 0 of `hub` is a hidden admin button: before buttons had one identity, a press of
# the first button of a handler's, command's, timer's, retry's or fallback's message ran it.
PLACES = """
bot: {name: T, start: hub}
vars: {admin: false}
commands:
  deal:
    description: Today's deal
    say: {text: Deal of the day, buttons: [{text: Take the deal, say: Deal taken}]}
fallback:
  say: {text: I did not get that, buttons: [{text: Fallback help, say: Fallback helped}]}
states:
  hub:
    say: Hub
    buttons:
      - {text: Wipe everything, if: admin, say: WIPED}
      - {text: Ask me, goto: quiz}
      - {text: Nest, say: {text: Nested, buttons: [{text: Inner, say: Inner pressed}]}}
    on:
      - text: tip
        say: {text: A tip, buttons: [{text: Tip button, say: Tip pressed}]}
    after:
      delay: 1m
      say: {text: Still there?, buttons: [{text: Timer button, say: Timer pressed}]}
  quiz:
    say: How many?
    ask:
      var: n
      type: integer
      retry: {text: A number please, buttons: [{text: Retry button, say: Retry pressed}]}
    goto: hub
"""


def _pressed(chat: Conversation, label: str) -> list[str]:
    effects = chat.press(label)
    assert effects[0] == AnswerButton("cb"), effects[0]
    return texts(effects)


def test_a_press_runs_the_button_drawn_from_every_place(tmp_path: Path) -> None:
    chat = Conversation(compile_yaml(PLACES, tmp_path))
    chat.send("/start")
    assert "Wipe everything" not in chat.buttons  # hidden: admin is false
    chat.send("tip")
    assert _pressed(chat, "Tip button") == ["Tip pressed"]
    chat.send("/deal")
    assert _pressed(chat, "Take the deal") == ["Deal taken"]
    chat.send("what?")
    assert _pressed(chat, "Fallback help") == ["Fallback helped"]
    chat.fire("hub", 0, chat.session.epoch)
    assert _pressed(chat, "Timer button") == ["Timer pressed"]
    chat = Conversation(chat.scenario)
    chat.send("/start")
    chat.press("Nest")
    assert _pressed(chat, "Inner") == ["Inner pressed"]
    chat = Conversation(chat.scenario)
    chat.send("/start")
    chat.press("Ask me")
    chat.send("many")
    assert _pressed(chat, "Retry button") == ["Retry pressed"]
    assert chat.session.state == "quiz"


def test_no_press_reaches_the_hidden_button(tmp_path: Path) -> None:
    chat = Conversation(compile_yaml(PLACES, tmp_path))
    chat.send("/start")
    hidden = button_data("hub", 0, chat.session.epoch)
    assert "WIPED" not in texts(chat.press_data(hidden))
    for place in ("/deal", "tip", "what?"):
        chat.send(place)
        for data in chat.buttons.values():
            assert "WIPED" not in texts(chat.press_data(data))


MESSAGE_IF = """
bot: {name: T, start: a}
vars: {vip: false}
states:
  a:
    say:
      - {text: For VIPs, if: vip, buttons: [{text: Free pizza, say: FREE PIZZA}]}
      - Welcome
    buttons: [{text: Stay, say: Stayed}]
"""


def test_a_forged_press_of_a_message_level_if_button_is_refused(tmp_path: Path) -> None:
    chat = Conversation(compile_yaml(MESSAGE_IF, tmp_path))
    chat.send("/start")
    assert set(chat.buttons) == {"Stay"}
    assert chat.press_data(button_data("a", 0, chat.session.epoch)) == [EXPIRED]
    assert _pressed(chat, "Stay") == ["Stayed"]


RANDOM = """
bot: {name: T, start: a}
fallback: {say: Once more, repeat: true}
states:
  a:
    say:
      random:
        - {text: Heads, buttons: [{text: Claim heads, say: HEADS}]}
        - {text: Tails, buttons: [{text: Claim tails, say: TAILS}]}
"""


@pytest.mark.parametrize("user_id", range(7, 13))
def test_only_the_drawn_random_variant_can_be_pressed(tmp_path: Path, user_id: int) -> None:
    chat = Conversation(compile_yaml(RANDOM, tmp_path))
    chat.user, chat.chat = User(user_id, "Ann"), Chat(user_id)
    chat.send("/start")
    (label,) = chat.buttons
    drawn, other = (0, 1) if label == "Claim heads" else (1, 0)
    epoch = chat.session.epoch
    assert chat.press_data(button_data("a", other, epoch)) == [EXPIRED]
    assert texts(chat.press_data(button_data("a", drawn, epoch))) == [label[6:].upper()]
    # the pick holds for the visit: the same message shown again shows the same variant
    chat.send("again?")  # the fallback shows the state again, in the same visit
    assert chat.session.epoch == epoch
    assert set(chat.buttons) == {label}


GROUP = """
bot: {name: T, start: menu}
states:
  menu:
    say: Menu
    buttons: [{text: Pay, goto: paid}]
  paid:
    say: Paid
    end: true
"""


def _in_group(chat: Conversation, user_id: int) -> None:
    chat.user, chat.chat = User(user_id, "U"), Chat(-100, "group")


def test_in_a_group_someone_elses_button_is_not_for_you(tmp_path: Path) -> None:
    ann = Conversation(compile_yaml(GROUP, tmp_path))
    _in_group(ann, 1)
    ann.send("/start")
    pay = ann.buttons["Pay"]
    assert decode(pay) is not None and decode(pay).tag == user_tag(1)  # type: ignore[union-attr]
    bob = Conversation(ann.scenario)
    _in_group(bob, 2)
    bob.send("/start")  # Bob is at the same place: the press would have run in his session
    assert bob.press_data(pay) == [AnswerButton("cb", "This button is not for you.")]
    assert bob.session.state == "menu"
    assert texts(ann.press("Pay")) == ["Paid"]


def test_shared_buttons_let_anyone_in_the_group_press(tmp_path: Path) -> None:
    scenario = compile_yaml(
        GROUP.replace("start: menu}", "start: menu, shared_buttons: true}"), tmp_path
    )
    ann, bob = Conversation(scenario), Conversation(scenario)
    _in_group(ann, 1)
    _in_group(bob, 2)
    ann.send("/start")
    bob.send("/start")
    assert decode(ann.buttons["Pay"]).tag == ""  # type: ignore[union-attr]
    assert texts(bob.press_data(ann.buttons["Pay"])) == ["Paid"]


def test_private_chat_buttons_carry_no_tag(tmp_path: Path) -> None:
    chat = Conversation(compile_yaml(GROUP, tmp_path))
    chat.send("/start")
    assert chat.buttons["Pay"] == button_data("menu", 0, chat.session.epoch)


COMMAND_ONLY = """
bot: {name: T, start: a}
commands:
  staff:
    description: Staff
    only: [admin]
    hidden: true
    say: {text: Staff menu, buttons: [{text: Refund all, say: REFUNDED}]}
states:
  a:
    say: Hi
    on: [{text: x, say: X}]
"""


def test_a_commands_button_needs_the_commands_roles(tmp_path: Path) -> None:
    scenario = compile_yaml(COMMAND_ONLY, tmp_path)
    admin = Conversation(scenario, roles=frozenset({"admin"}))
    admin.send("/start")
    admin.send("/staff")
    assert texts(admin.press("Refund all")) == ["REFUNDED"]
    user = Conversation(scenario)
    user.send("/start")
    assert user.press_data(button_data("/staff", 0, user.session.epoch)) == [EXPIRED]


def test_presses_are_asked_for_when_only_a_command_or_the_fallback_has_buttons(
    tmp_path: Path,
) -> None:
    plain = "bot: {name: T, start: a}\nstates:\n  a: {say: Hi, on: [{text: x, say: X}]}\n"
    assert "callback_query" not in allowed_updates(compile_yaml(plain, tmp_path))
    command = plain.replace(
        "states:", "commands:\n  deal: {say: {text: D, buttons: [{text: Take, say: T}]}}\nstates:"
    )
    assert "callback_query" in allowed_updates(compile_yaml(command, tmp_path))
    fallback = plain.replace(
        "states:", "fallback: {say: {text: F, buttons: [{text: Help, say: H}]}}\nstates:"
    )
    assert "callback_query" in allowed_updates(compile_yaml(fallback, tmp_path))


def test_forgetme_in_a_group_is_confirmed_only_by_whom_it_asked(tmp_path: Path) -> None:
    scenario = compile_yaml(
        GROUP.replace(
            "start: menu}", "start: menu, shared_buttons: true}\nprivacy: {forgetme: true}"
        ),
        tmp_path,
    )
    ann, bob = Conversation(scenario), Conversation(scenario)
    _in_group(ann, 1)
    _in_group(bob, 2)
    ann.send("/start")
    bob.send("/start")
    ann.send("/forgetme")
    yes = next(data for label, data in ann.buttons.items() if label.startswith("🗑"))
    assert bob.press_data(yes) == [AnswerButton("cb", "This button is not for you.")]
    assert bob.session.state == "menu"

"""`only:` is checked on every event, not only on the way in: a user whose role is gone (a
changed BOT_ADMINS, a reload adding `only:`, a migration, a `return`) starts over (issue 13)."""

from __future__ import annotations

from pathlib import Path

from builders import Conversation, compile_yaml, texts

from engine.core.effects import AnswerButton
from engine.core.model import Scenario

ADMIN = frozenset({"admin"})

PANEL = """
bot: {name: T, start: menu}
commands:
  panel: {description: Panel, goto: panel, only: admin, hidden: true}
fallback: {say: Say again?, repeat: true}
states:
  menu:
    say: Menu
    on: [{text: vault, goto: vault}]
  panel:
    only: admin
    say: Secret panel
    buttons: [{text: Refund everyone, say: REFUNDED}, {text: Check, call: check}]
    on: [{text: refund, say: REFUNDED}]
    after: {delay: 1m, say: PANEL TIMER}
  check:
    say: Checking
    on: [{text: done, return: true}]
  vault:
    say: Vault
    on: [{text: open, say: OPENED}]
"""


def _admin_in_panel(scenario: Scenario) -> Conversation:
    chat = Conversation(scenario, roles=ADMIN)
    chat.send("hi")
    assert texts(chat.send("/panel")) == ["Secret panel"]
    return chat


def _demoted(chat: Conversation) -> Conversation:
    """The same conversation after the user's id left BOT_ADMINS (a restart)."""
    chat.session = chat.session.evolve(roles=frozenset())
    return chat


def test_a_demoted_user_cannot_use_the_states_handlers(tmp_path: Path) -> None:
    chat = _demoted(_admin_in_panel(compile_yaml(PANEL, tmp_path)))
    said = texts(chat.send("refund"))
    assert "REFUNDED" not in said
    assert said == ["Menu"] and chat.session.state == "menu"


def test_a_demoted_user_cannot_press_the_states_buttons(tmp_path: Path) -> None:
    chat = _demoted(_admin_in_panel(compile_yaml(PANEL, tmp_path)))
    effects = chat.press("Refund everyone")
    assert effects[0] == AnswerButton("cb", "This button has expired.")
    assert "REFUNDED" not in texts(effects)
    assert chat.session.state == "menu"


def test_the_fallbacks_repeat_does_not_show_the_state_again(tmp_path: Path) -> None:
    chat = _demoted(_admin_in_panel(compile_yaml(PANEL, tmp_path)))
    assert "Secret panel" not in texts(chat.send("gibberish"))
    assert chat.session.state == "menu"


def test_a_timer_of_the_state_does_nothing(tmp_path: Path) -> None:
    chat = _demoted(_admin_in_panel(compile_yaml(PANEL, tmp_path)))
    assert texts(chat.fire("panel", 0, chat.session.epoch)) == []


def test_return_does_not_lead_back_into_a_state_no_longer_theirs(tmp_path: Path) -> None:
    chat = _admin_in_panel(compile_yaml(PANEL, tmp_path))
    chat.press("Check")
    assert chat.session.state == "check"
    _demoted(chat)
    said = texts(chat.send("done"))
    assert "Secret panel" not in said
    assert chat.session.state == "menu" and chat.session.stack == ()


def test_a_reload_that_adds_only_moves_the_users_inside(tmp_path: Path) -> None:
    chat = Conversation(compile_yaml(PANEL, tmp_path))
    chat.send("hi")
    chat.send("vault")
    assert chat.session.state == "vault"
    chat.scenario = compile_yaml(
        PANEL.replace("  vault:\n", "  vault:\n    only: admin\n"), tmp_path, "v2.yaml"
    )
    said = texts(chat.send("open"))
    assert "OPENED" not in said and chat.session.state == "menu"


def test_a_migration_cannot_move_a_user_into_an_admin_state(tmp_path: Path) -> None:
    chat = Conversation(compile_yaml(PANEL, tmp_path))
    chat.send("hi")
    chat.send("vault")
    chat.scenario = compile_yaml(
        PANEL.replace("  vault:", "  treasury:")
        .replace("goto: vault", "goto: treasury")
        .replace("states:", "migrations: {vault: panel}\nstates:"),
        tmp_path,
        "v2.yaml",
    )
    said = texts(chat.send("refund"))
    assert "REFUNDED" not in said and chat.session.state == "menu"


def test_admins_keep_their_state(tmp_path: Path) -> None:
    chat = _admin_in_panel(compile_yaml(PANEL, tmp_path))
    assert texts(chat.send("refund")) == ["REFUNDED"]
    assert chat.session.state == "panel"

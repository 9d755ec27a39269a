"""Handlers for every state (the top-level `on`): where they come in the order of matching,
what the checker says about them, and how --test coverage counts them."""

from __future__ import annotations

import io
from pathlib import Path

from builders import Conversation, compile_yaml, texts

from engine.i18n.extraction import scenario_messages
from engine.scenario import validate_file
from engine.testing import run_test_files

SHOP = """
bot: {name: T, start: menu}
vars: {size: null}
commands:
  start: {description: Start, goto: menu}
  help: {description: Help, say: The help of the commands.}
fallback: Sorry?
on:
  - button: ⬅️ Menu
    goto: menu
  - text: hello
    say: Hello from anywhere.
  - command: help
    if: size
    say: "Help with your {{ size }} pizza."
  - text: info
    say: {text: Tap for more., buttons: [{text: More, say: More info.}]}
  - text: address
    call: addr
  - text: never mind
    return: true
states:
  menu:
    say: Menu
    keyboard: [[🍕 Order, ℹ️ About]]
    on:
      - {button: 🍕 Order, goto: size}
      - {button: ℹ️ About, goto: about}
      - {text: hello, say: Hello from the menu.}
  about:
    say: Since 1999.
    keyboard: [[⬅️ Menu]]
  size:
    say: Which size?
    keyboard: [[Small, Large], [⬅️ Menu]]
    ask: {var: size, choices: [Small, Large]}
    goto: done
  done:
    say: "A {{ size }} one."
    on:
      - {command: help, say: Your pizza is on its way.}
  addr:
    say: Where?
    ask: {var: address}
    return: true
"""


def test_a_top_level_handler_works_in_every_state(tmp_path: Path) -> None:
    chat = Conversation(compile_yaml(SHOP, tmp_path))
    chat.send("/start")
    chat.send("ℹ️ About")
    assert texts(chat.send("hello")) == ["Hello from anywhere."]
    assert chat.session.state == "about"  # no goto: the user stays, the state is not re-entered
    assert texts(chat.send("⬅️ Menu")) == ["Menu"]
    assert chat.session.state == "menu"


def test_the_states_own_handler_wins(tmp_path: Path) -> None:
    chat = Conversation(compile_yaml(SHOP, tmp_path))
    chat.send("/start")
    assert texts(chat.send("hello")) == ["Hello from the menu."]


def test_a_top_level_handler_comes_before_the_question(tmp_path: Path) -> None:
    chat = Conversation(compile_yaml(SHOP, tmp_path))
    chat.send("/start")
    chat.send("🍕 Order")
    assert texts(chat.send("⬅️ Menu")) == ["Menu"]  # not "not one of the sizes"
    assert chat.session.state == "menu" and chat.session.attempts == 0
    chat.send("🍕 Order")
    assert texts(chat.send("Large")) == ["A Large one."]  # answers still reach the question


def test_nothing_matching_still_gets_the_fallback(tmp_path: Path) -> None:
    chat = Conversation(compile_yaml(SHOP, tmp_path))
    chat.send("/start")
    chat.send("ℹ️ About")
    assert texts(chat.send("what?")) == ["Sorry?"]


def test_a_top_level_command_handler_replaces_the_command_when_its_if_holds(
    tmp_path: Path,
) -> None:
    chat = Conversation(compile_yaml(SHOP, tmp_path))
    chat.send("/start")
    assert texts(chat.send("/help")) == ["The help of the commands."]  # size not set: the if fails
    chat.send("🍕 Order")
    chat.send("Small")
    assert texts(chat.send("/help")) == ["Your pizza is on its way."]  # the state's own wins
    chat.send("⬅️ Menu")
    assert texts(chat.send("/help")) == ["Help with your Small pizza."]


def test_buttons_of_a_top_level_handler_can_be_pressed(tmp_path: Path) -> None:
    chat = Conversation(compile_yaml(SHOP, tmp_path))
    chat.send("/start")
    chat.send("ℹ️ About")
    assert texts(chat.send("info")) == ["Tap for more."]
    assert texts(chat.press("More")) == ["More info."]
    chat.send("⬅️ Menu")  # a new visit: the old button has expired
    assert texts(chat.press("More")) == []


def test_a_top_level_call_comes_back_and_its_return_leaves_the_sub_flow(tmp_path: Path) -> None:
    chat = Conversation(compile_yaml(SHOP, tmp_path))
    chat.send("/start")
    chat.send("ℹ️ About")
    assert texts(chat.send("address")) == ["Where?"]
    assert texts(chat.send("Main St 1")) == ["Since 1999."]  # the caller is entered again
    assert chat.session.state == "about" and chat.session.vars["address"] == "Main St 1"
    chat.send("address")
    assert texts(chat.send("never mind")) == ["Since 1999."]
    assert chat.session.stack == ()


def codes(path: Path) -> list[tuple[int, str]]:
    return [(d.position.line, d.code) for d in validate_file(str(path)).diagnostics]


def test_the_shop_and_the_docs_example_are_clean(tmp_path: Path) -> None:
    """No warnings: `about` has no way out of its own, but the top-level ⬅️ Menu is one."""
    path = tmp_path / "bot.yaml"
    path.write_text(SHOP, encoding="utf-8")
    assert codes(path) == []
    docs = (Path(__file__).parents[1] / "docs" / "scenario-language.md").read_text("utf-8")
    section = docs.split("### Handlers for every state: top-level `on`")[1]
    example = section.split("```yaml\n")[1].split("```")[0]
    path.write_text("bot: {name: T, start: menu}\n" + example, "utf-8")
    assert codes(path) == []


NO_WAY_OUT = """\
bot: {name: T, start: menu}
on:
  - {text: hello, say: Hi.}
states:
  menu:
    say: Menu
    buttons: [{text: About, goto: about}]
  about:
    say: Since 1999.
"""


def test_a_top_level_handler_that_moves_the_user_is_a_way_out(tmp_path: Path) -> None:
    path = tmp_path / "bot.yaml"
    path.write_text(NO_WAY_OUT, "utf-8")
    assert codes(path) == [(8, "dead-end")]  # saying hello is no way out
    path.write_text(NO_WAY_OUT.replace("say: Hi.", "goto: menu"), "utf-8")
    assert codes(path) == []


BROKEN = """\
bot: {name: T, start: menu}
on:
  - say: Everything.
  - text: menu
    goto: mneu
  - match: '(unclosed'
    say: "{{ sise }}"
  - txt: hi
states:
  menu:
    say: Menu
    on: [{text: x, say: y}]
  lost:
    say: Only a top-level handler leads here.
    end: true
"""


def test_top_level_handlers_are_checked_like_a_states(tmp_path: Path) -> None:
    path = tmp_path / "bot.yaml"
    path.write_text(BROKEN, "utf-8")
    report = validate_file(str(path))
    found = [(d.position.line, d.code) for d in report.diagnostics]
    assert (5, "unknown-state") in found
    assert (4, "unreachable-handler") in found
    assert (6, "invalid-regex") in found
    assert (7, "undefined-variable") in found
    assert (8, "unknown-key") in found
    message = next(d.message for d in report.diagnostics if d.code == "unknown-state")
    assert "Did you mean 'menu'?" in message and "on[1].goto" in message
    path.write_text(BROKEN.replace("goto: mneu", "goto: lost"), "utf-8")
    assert "unreachable-state" not in {d.code for d in validate_file(str(path)).diagnostics}


def test_coverage_counts_the_top_level_handlers(tmp_path: Path) -> None:
    (tmp_path / "bot.yaml").write_text(SHOP, "utf-8")
    tests = tmp_path / "bot.tests.yaml"
    tests.write_text(
        """\
- name: every top-level handler that moves the user
  steps:
    - send: /start
    - send: ℹ️ About
    - send: ⬅️ Menu
      expect_state: menu
    - send: address
      expect: Where?
    - send: never mind
      expect: Menu
""",
        "utf-8",
    )
    out = io.StringIO()
    assert run_test_files([str(tests)], out) == 0, out.getvalue()
    report = out.getvalue()
    assert "(any state) -> menu (handler button: ⬅️ Menu)" not in report, report
    assert "(any state) -> addr (call text: address)" not in report, report
    assert "size -> done (answer" in report  # not taken: the report does list what was missed


BACK = """\
bot: {name: T, start: menu}
on:
  - {command: back, goto: menu}
states:
  menu: {say: Menu, buttons: [{text: Go, goto: away}]}
  away: {say: Away., buttons: [{text: Stay, say: Staying.}]}
"""


def test_coverage_counts_a_top_level_command_handler_by_its_command(tmp_path: Path) -> None:
    (tmp_path / "bot.yaml").write_text(BACK, "utf-8")
    tests = tmp_path / "bot.tests.yaml"
    steps = "- name: t\n  steps:\n    - send: /start\n    - press: Go\n"
    tests.write_text(steps, "utf-8")
    out = io.StringIO()
    assert run_test_files([str(tests)], out) == 0, out.getvalue()
    assert "transitions 2/3" in out.getvalue()
    assert "(any state) -> menu (handler command: back) was never taken" in out.getvalue()
    tests.write_text(steps + "    - send: /back\n      expect: Menu\n", "utf-8")
    out = io.StringIO()
    assert run_test_files([str(tests)], out) == 0, out.getvalue()
    assert "transitions 3/3 (100%)" in out.getvalue(), out.getvalue()


def test_their_texts_are_offered_for_translation(tmp_path: Path) -> None:
    path = tmp_path / "bot.yaml"
    path.write_text(SHOP, "utf-8")
    report = validate_file(str(path))
    assert report.scenario is not None
    found = {
        (m.msgid, m.role)
        for m in scenario_messages(report.scenario.data, report.scenario.source, str(tmp_path))
    }
    assert ("hello", "what users type (any state)") in found
    assert ("Hello from anywhere.", "message (any state)") in found
    assert ("More", "button (any state)") in found

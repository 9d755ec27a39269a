"""`python run.py --chat` and `--graph`, driven through run() with text streams."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from builders import ROOT

from engine.cli import run
from engine.console import run_chat
from engine.core import ports
from engine.scenario import validate_file
from engine.scenario.compiler import compile_scenario

DEMO = str(ROOT / "scenarios" / "demo.yaml")


def chat(lines: list[str], *extra: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    code = run(
        ["--chat", DEMO, *extra], out, err, io.StringIO("".join(f"{line}\n" for line in lines))
    )
    assert code == 0, err.getvalue()
    return out.getvalue()


def test_buttons_are_numbered_and_a_number_presses_one() -> None:
    output = chat(["1", "/debug"])
    assert "[1] 🍕 Order a pizza  [2] ℹ️ About us" in output
    assert "bot: Which size would you like?" in output
    assert "keys: Small | Medium | Large" in output
    assert "state: size" in output


def test_reset_starts_over_and_wait_fires_timers() -> None:
    output = chat(["1", "/reset", "/debug", "/start", "/wait 2h"])
    assert "(conversation reset)" in output
    assert "state: None" in output


def test_markup_is_shown_as_the_user_sees_it() -> None:
    output = chat(["2"])
    assert "Pizza Planet 🪐 wood-fired pizza since 1999." in output  # <b> removed
    assert "<b>" not in output


def test_a_broken_scenario_is_refused_with_positions(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "bot: {name: X, start: nowhere}\nstates:\n  a: {say: hi, end: true}\n", encoding="utf-8"
    )
    out, err = io.StringIO(), io.StringIO()
    assert run(["--chat", str(broken)], out, err, io.StringIO("")) == 1
    assert f"{broken}:1:23: error: there is no state 'nowhere'" in err.getvalue()


def test_graph_prints_mermaid_and_dot() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert run(["--graph", DEMO], out, err) == 0
    assert out.getvalue().startswith("flowchart TD")
    out = io.StringIO()
    assert run(["--graph", DEMO, "--format", "dot"], out, err) == 0
    assert out.getvalue().startswith("digraph")


def test_format_must_fit_the_mode() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert run(["--graph", DEMO, "--format", "json"], out, err) == 2
    assert "does not apply" in err.getvalue()


def test_wait_moves_the_clock_so_timers_fire_when_due(tmp_path: Path) -> None:
    bot = tmp_path / "bot.yaml"
    bot.write_text(
        "bot: {name: T, start: a}\nstates:\n  a:\n    say: Hello.\n"
        "    buttons: [{text: Stay, say: OK}]\n    after: {delay: 10m, say: Still there?}\n",
        encoding="utf-8",
    )
    out, err = io.StringIO(), io.StringIO()
    code = run(["--chat", str(bot)], out, err, io.StringIO("hi\n/wait 5m\n/wait 5m\n/wait 1h\n"))
    assert code == 0, err.getvalue()
    replies = out.getvalue().split("you: ")  # before the first prompt, then after each line
    assert "bot: Hello." in replies[0]
    # after 5 minutes: nothing yet, and when it will be (issue 16: /wait said nothing)
    assert replies[2] == "(after 5m: nothing was due; the timer of state 'a' fires in 5 min)\n"
    # after 10: the timer fired, once, and says so
    assert replies[3] == "(after 5m: the timer of state 'a' fires)\nbot: Still there?\n"
    assert replies[4] == "(after 1h: nothing was due; no timer is waiting)\n"


def test_lang_chooses_the_language_of_the_conversation() -> None:
    assert "bot: Привет, You! Добро пожаловать в Pizza Planet 🍕" in chat([], "--lang", "ru")
    assert "Добро пожаловать" not in chat([])


def test_a_number_is_an_answer_when_the_latest_message_has_no_buttons() -> None:
    output = chat(["1", "Large", "2", "/debug"])  # the menu's [2] is gone: 2 pizzas
    assert "bot: How many Large pizzas? From 1 to 30." in output
    assert "This button has expired." not in output
    assert "'quantity': 2" in output


def test_the_scenarios_plugin_actions_run_in_the_chat(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ports, "_PLUGINS", {})
    monkeypatch.delenv("BOT_PLUGINS", raising=False)
    scenario = compile_scenario(validate_file(DEMO).scenario)  # type: ignore[arg-type]
    out = io.StringIO()
    # demo_plugins.py beside demo.yaml provides check_stock, as for the live bot
    run_chat(scenario, io.StringIO("1\nLarge\n2\n"), out, scenario_path=DEMO)
    assert "problem" not in out.getvalue()
    assert "bot: Great, we have them! Anything extra on your Large pizza?" in out.getvalue()


def test_the_chat_runs_the_scenarios_plugin_actions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BOT_PLUGINS", raising=False)
    output = chat(["1", "Small", "2"])
    assert "Anything extra on your Small pizza?" in output  # check_stock from demo_plugins.py

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
    script = "hi\n/wait 5m\n/wait 4m55s\n/wait 5s\n/wait 1h\n"
    code = run(["--chat", str(bot)], out, err, io.StringIO(script))
    assert code == 0, err.getvalue()
    replies = out.getvalue().split("you: ")  # before the first prompt, then after each line
    assert "bot: Hello." in replies[0]
    # after 5 minutes: nothing yet, and when it will be (issue 16: /wait said nothing)
    assert replies[2] == "(after 5m: nothing was due; the timer of state 'a' fires in 5 min)\n"
    # 5 s before it: said in seconds (it was "1 min")
    assert replies[3] == "(after 4m55s: nothing was due; the timer of state 'a' fires in 5 s)\n"
    # after 10: the timer fired, once, and says so
    assert replies[4] == "(after 5s: the timer of state 'a' fires)\nbot: Still there?\n"
    assert replies[5] == "(after 1h: nothing was due; no timer is waiting)\n"


def test_lang_chooses_the_language_of_the_conversation() -> None:
    assert "bot: Привет, Alex! Добро пожаловать в Pizza Planet 🍕" in chat([], "--lang", "ru")
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


SHARING = """\
bot: {name: T, start: phone}
states:
  phone:
    say: Your number?
    keyboard: [{text: 📱 Share my number, request_contact: true}]
    ask: {var: phone, type: contact}
    goto: where
  where:
    say: Got {{ phone }}. Where are you?
    keyboard: [{text: 📍 Here, request_location: true}]
    ask: {var: spot, type: location}
    goto: pic
  pic:
    say: At {{ spot.latitude }}, {{ spot.longitude }}. A photo?
    ask: {var: pic, type: photo}
    goto: done
  done:
    say: "Photo {{ pic }} ({{ message.caption }}), thanks {{ user.first_name }}."
    end: true
"""


def chat_with(tmp_path: Path, text: str, lines: list[str], *extra: str) -> list[str]:
    """The replies to each typed line (the first entry: what came before the first line)."""
    bot = tmp_path / "bot.yaml"
    bot.write_text(text, encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    typed = io.StringIO("".join(f"{line}\n" for line in lines))
    assert run(["--chat", str(bot), *extra], out, err, typed) == 0, err.getvalue()
    return out.getvalue().split("you: ")


def test_contact_location_and_photo_are_shared_with_commands(tmp_path: Path) -> None:
    replies = chat_with(
        tmp_path,
        SHARING,
        ["/contact +44 20 7946 0958", "/location 51.5, -0.12", "/photo cat.jpg My cat"],
    )
    assert (
        replies[1]
        == "(you share the phone number +44 20 7946 0958)\nbot: Got +44 20 7946 0958. Where are you?\n   keys: 📍 Here (shares your location)\n"
    )
    assert replies[2].startswith(
        "(you share the location 51.5, -0.12)\nbot: At 51.5, -0.12. A photo?"
    )
    assert (
        replies[3]
        == "(you send the photo cat.jpg with the caption 'My cat')\nbot: Photo cat.jpg (My cat), thanks Alex.\n"
    )


def test_request_keys_share_when_their_text_is_typed(tmp_path: Path) -> None:
    replies = chat_with(tmp_path, SHARING, ["📱 Share my number", "📍 Here", "/photo"])
    assert "keys: 📱 Share my number (shares your phone number)" in replies[0]
    assert "bot: Got +49 30 1234567." in replies[1]  # the default number
    assert "bot: At 52.52, 13.405. A photo?" in replies[2]  # the default place
    assert "(you send the photo photo-1)" in replies[3]  # a name made up when none is given
    assert "thanks Alex." in replies[3]


def test_a_wrong_location_is_explained_and_not_sent(tmp_path: Path) -> None:
    replies = chat_with(
        tmp_path, SHARING, ["/contact", "/location north", "/location 95 10", "/debug"]
    )
    for reply in replies[2:4]:
        assert reply.startswith("(write /location LATITUDE LONGITUDE, for example")
        assert "bot:" not in reply
    assert "state: where" in replies[4]


def test_other_media_kinds_and_plain_text_are_no_photo(tmp_path: Path) -> None:
    replies = chat_with(
        tmp_path, SHARING, ["/contact", "/location", "/document report.pdf", "a photo", "/debug"]
    )
    assert replies[3].startswith("(you send the document report.pdf)\n")
    assert "state: pic" in replies[5]  # neither a document nor a text answers a photo question


def test_help_lists_the_console_commands_and_the_bots_own_help() -> None:
    output = chat(["/help", "//help"])
    for command in (
        "/contact [phone]",
        "/location [lat lon]",
        "/photo [name] [caption]",
        "/wait 2h",
    ):
        assert command in output
    assert "This bot's own /help: send with //help." in output
    # two slashes: the demo's own /help command answers
    assert output.endswith(
        "bot: Tap the buttons below the messages. /cancel starts again, /support reaches a human.\nyou: \n"
    )


def test_the_user_has_a_name_that_reads_well_and_can_be_chosen() -> None:
    assert "bot: Hi Alex! Welcome to Pizza Planet 🍕" in chat([])
    assert "bot: Hi Ann Marie! Welcome to Pizza Planet 🍕" in chat([], "--name", "Ann Marie")


def test_an_edited_message_shows_its_new_buttons_and_they_can_be_pressed() -> None:
    output = chat(["2", "1", "/debug"]).split("you: ")
    # "About us" edits the menu in place: the new text, and its buttons numbered from 1
    assert output[1].startswith("bot (edits): Pizza Planet 🪐 wood-fired pizza since 1999.")
    assert output[1].endswith("   [1] ⬅️ Back  [2] 🌐 Language\n")
    # [1] is now "Back", which edits the menu back in
    assert output[2].startswith("bot (edits): What would you like?\n   [1] 🍕 Order a pizza")
    assert "state: menu" in output[3]

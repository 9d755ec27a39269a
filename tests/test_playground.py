"""`run.py --playground`: the scenario played through the real pipeline, as the page sees it
over HTTP (the browser's own tests are in test_playground_browser.py)."""

from __future__ import annotations

import base64
import io
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from builders import ROOT
from playground_helpers import SCENARIO, bot_texts, playground, rewrite, write_scenario

from engine.cli import run


def test_the_conversation_starts_with_start_and_a_press_edits_the_message(tmp_path: Path) -> None:
    with playground(write_scenario(tmp_path), "--name", "Ann") as page:
        view = page.view()
        assert view["name"] == "Play Bot" and view["state"] == "menu"
        first = view["messages"][1]
        assert first["html"] == "Hello <b>Ann</b>! Pick one:"
        assert [[b["text"] for b in row] for row in first["buttons"]] == [
            ["Joke", "Phone"],
            ["Timer"],
        ]
        view = page.press("Joke")
        assert view["state"] == "joke"
        edited = view["messages"][1]
        assert edited["id"] == first["id"] and edited["edited"] is True  # in place, not a new one
        assert edited["html"] == "A <i>short</i> joke."
        assert [[b["text"] for b in row] for row in edited["buttons"]] == [["Back"]]


def test_a_sharing_key_shares_a_contact_and_the_sensitive_variable_is_masked(
    tmp_path: Path,
) -> None:
    with playground(write_scenario(tmp_path)) as page:
        view = page.press("Phone")
        assert view["keyboard"] == [[{"text": "Share my phone number", "shares": "contact"}]]
        view = page.post("api/send", {"text": "Share my phone number"})
        assert view["state"] == "thanks" and view["ended"] is True
        assert "Thanks, we will call you." in bot_texts(view)
        assert view["keyboard"] == []  # remove_keyboard
        assert view["variables"]["phone"] == "••••••"  # stored, but not shown
        notes = [m["html"] for m in view["messages"] if m["from"] == "note"]
        assert any("you share the phone number" in n for n in notes)


def test_the_clock_fires_a_timer(tmp_path: Path) -> None:
    with playground(write_scenario(tmp_path)) as page:
        assert page.view()["next_timer"] is None
        assert page.press("Timer")["next_timer"] == 600
        view = page.post("api/wait", {"duration": "5m"})
        assert "Ten minutes are over." not in bot_texts(view)
        assert view["next_timer"] == 300
        view = page.post("api/wait", {"duration": "6m"})
        assert "Ten minutes are over." in bot_texts(view)
        assert view["state"] == "menu" and view["next_timer"] is None


def test_stopped_it_exits_0_and_deletes_its_database(tmp_path: Path) -> None:
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    with playground(write_scenario(tmp_path), env={"TMPDIR": str(temporary)}) as page:
        page.press("Joke")
        (folder,) = temporary.iterdir()
        assert "playground-1.db" in [f.name for f in folder.iterdir()]
    assert list(temporary.iterdir()) == []  # stopped by SIGTERM: nothing left behind


def test_restart_starts_over(tmp_path: Path) -> None:
    with playground(write_scenario(tmp_path)) as page:
        page.press("Joke")
        view = page.post("api/restart")
        assert view["state"] == "menu"
        assert bot_texts(view) == ["Hello <b>Alex</b>! Pick one:"]


def test_a_language_switch_starts_over_in_that_language() -> None:
    with playground(ROOT / "scenarios" / "demo.yaml", "--name", "Jonas") as page:
        view = page.view()
        assert view["languages"] == ["en", "ru", "de"]
        assert bot_texts(view)[0] == "Hi Jonas! Welcome to <b>Pizza Planet</b> 🍕"
        view = page.post("api/language", {"language": "de"})
        assert view["language"] == "de"
        assert bot_texts(view)[0] == "Hi Jonas! Willkommen bei <b>Pizza Planet</b> 🍕"
        assert page.press("🍕 Pizza bestellen")["keyboard"][0][2]["text"] == "Groß"
        with pytest.raises(urllib.error.HTTPError) as refused:
            page.post("api/language", {"language": "fr"})
        refused.value.close()
        assert refused.value.code == 400


def test_a_message_cannot_put_markup_into_the_page(tmp_path: Path) -> None:
    scenario = SCENARIO.replace(
        "A <i>short</i> joke.", "You said {{ message.text }}. <a href='javascript:alert(1)'>x</a>"
    ).replace("buttons:\n      - {text: Back, goto: menu}", "on:\n      - {type: text, goto: joke}")
    with playground(write_scenario(tmp_path, scenario)) as page:
        page.press("Joke")
        view = page.post("api/send", {"text": "<img src=x onerror=alert(1)>"})
        said = bot_texts(view)[-1]
        assert said.startswith("You said &lt;img src=x onerror=alert(1)&gt;.")
        assert '<span class="link">x</span>' in said  # a javascript: link is no link
        assert "<img" not in said and "javascript:" not in said


def test_pages_carry_a_content_security_policy_and_only_this_page_may_post(
    tmp_path: Path,
) -> None:
    with playground(write_scenario(tmp_path)) as page:
        with urllib.request.urlopen(page.url, timeout=10) as answer:
            html = answer.read().decode()
            policy = answer.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "default-src 'none'" in policy
        assert 'src="/static/mermaid.min.js"' in html and "http" not in html.split("<body>")[0]
        with urllib.request.urlopen(page.url + "static/mermaid.min.js", timeout=10) as answer:
            assert answer.headers["Content-Security-Policy"]
        form = urllib.request.Request(page.url + "api/send", data=b"text=hi", method="POST")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(form, timeout=10)
        refused.value.close()
        assert refused.value.code == 415  # a form of another site cannot post here
        rebound = urllib.request.Request(page.url + "api/view", headers={"Host": "evil.example"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(rebound, timeout=10)
        refused.value.close()
        assert refused.value.code == 403
        assert page.view()["messages"][-1]["from"] == "bot"  # nothing of it reached the chat


def test_a_saved_file_runs_from_the_next_message_and_a_broken_one_shows_its_errors(
    tmp_path: Path,
) -> None:
    path = write_scenario(tmp_path)
    with playground(path) as page:
        version = page.view()["version"]
        rewrite(path, SCENARIO.replace("A <i>short</i> joke.", "A <i>new</i> joke."))
        view = page.until(lambda v: v["version"] != version)
        assert view["errors"] == [] and view["state"] == "menu"  # the conversation goes on
        assert page.press("Joke")["messages"][1]["html"] == "A <i>new</i> joke."
        rewrite(path, SCENARIO.replace("{text: Back, goto: menu}", "{text: Back, goto: nowhere}"))
        view = page.until(lambda v: bool(v["errors"]))
        error = view["errors"][0]
        assert error["where"] == f"{path}:{error['line']}:{error['column']}"
        assert error["line"] == 17 and "nowhere" in error["message"]
        view = page.press("Back")  # the previous version keeps answering
        assert view["state"] == "menu"
        rewrite(path, SCENARIO)
        assert page.until(lambda v: not v["errors"])["running"]


def test_a_renamed_state_migrates_the_conversation_standing_in_it(tmp_path: Path) -> None:
    path = write_scenario(tmp_path)
    with playground(path) as page:
        version = page.press("Joke")["version"]
        renamed = (
            SCENARIO.replace("  joke:\n", "  gag:\n")
            .replace("goto: joke}", "goto: gag}")
            .replace("A <i>short</i> joke.", "A <i>renamed</i> joke.")
            .replace("states:\n", "migrations: {joke: gag}\nstates:\n")
        )
        rewrite(path, renamed)
        view = page.until(lambda v: v["version"] != version)
        assert view["errors"] == [] and view["state"] == "joke"  # stored, not yet moved
        view = page.post("api/send", {"text": "hello"})  # the next message: as the live bot
        assert view["state"] == "gag"
        view = page.press("Back")  # a button of the old version's `joke`, as on Telegram:
        assert view["messages"][-1] == {"from": "notice", "html": "This button has expired."}
        page.post("api/send", {"text": "/start"})
        assert page.press("Joke")["messages"][-1]["html"] == "A <i>renamed</i> joke."


def test_an_included_file_is_watched_too(tmp_path: Path) -> None:
    part = tmp_path / "jokes.yaml"
    part.write_text("states:\n  joke:\n    say: Old joke.\n    goto: menu\n", encoding="utf-8")
    main = SCENARIO.replace("states:\n", "include: [jokes.yaml]\nstates:\n", 1)
    main = main[: main.index("  joke:\n")] + main[main.index("  ask_phone:\n") :]
    with playground(write_scenario(tmp_path, main)) as page:
        version = page.view()["version"]
        rewrite(part, part.read_text(encoding="utf-8").replace("Old joke.", "New joke."))
        page.until(lambda v: v["version"] != version)
        assert "New joke." in bot_texts(page.press("Joke"))


def test_a_file_broken_from_the_start_shows_its_errors_then_runs_once_fixed(
    tmp_path: Path,
) -> None:
    path = write_scenario(tmp_path, SCENARIO.replace("start: menu", "start: nowhere"))
    with playground(path) as page:
        view = page.view()
        assert not view["running"] and view["errors"]
        assert view["errors"][0]["where"].startswith(f"{path}:4:")
        rewrite(path, SCENARIO)
        view = page.until(lambda v: v["running"])
        assert bot_texts(view) == ["Hello <b>Alex</b>! Pick one:"]


def test_the_diagram_names_each_state_and_a_state_shows_its_yaml_lines(tmp_path: Path) -> None:
    with playground(write_scenario(tmp_path)) as page:
        diagram = page.get("api/diagram")
        assert diagram["mermaid"].startswith("flowchart")
        assert set(diagram["ids"]) == {"menu", "joke", "ask_phone", "thanks", "waiting"}
        assert f'{diagram["ids"]["joke"]}["joke"]' in diagram["mermaid"]
        source = page.get("api/state?name=joke")
        assert source["line"] == 14
        assert source["lines"] == [
            "  joke:",
            "    say: A <i>short</i> joke.",
            "    buttons:",
            "      - {text: Back, goto: menu}",
        ]
        with pytest.raises(urllib.error.HTTPError) as missing:
            page.get("api/state?name=nowhere")
        missing.value.close()
        assert missing.value.code == 404


def test_save_as_test_writes_a_case_that_run_py_test_passes(tmp_path: Path) -> None:
    path = write_scenario(tmp_path)
    with playground(path, "--name", "Ann") as page:
        page.press("Joke")
        page.press("Back")
        page.press("Timer")
        page.post("api/wait", {"duration": "11m"})
        page.press("Phone")
        page.post("api/send", {"text": "Share my phone number"})
        saved = page.post("api/save-test", {"name": "from the playground"})
        page.post("api/send", {"text": "/start"})
        page.post("api/save-test", {"name": "and on after the end"})  # appended to the file
    tests = tmp_path / "play.tests.yaml"
    assert saved["file"] == str(tests)
    written = tests.read_text(encoding="utf-8")
    assert written.startswith("# Conversation tests of play.yaml: run them with")
    case, second = yaml.safe_load(written)
    assert second["name"] == "and on after the end" and len(second["steps"]) == 8
    assert case["name"] == "from the playground" and case["user"] == {"first_name": "Ann"}
    assert list(case["steps"][0].items()) == [  # in the order a person writes them
        ("send", "/start"),
        ("expect", "Hello Ann! Pick one:"),
        ("expect_state", "menu"),
    ]
    assert case["steps"][1]["press"] == "Joke" and case["steps"][1]["expect_state"] == "joke"
    run_it = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), "--test", str(tests)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert run_it.returncode == 0, run_it.stdout + run_it.stderr
    assert "PASS  from the playground" in run_it.stdout
    assert "2 tests in 1 file: 2 passed" in run_it.stdout


def test_wrong_command_lines_are_refused_before_anything_is_served(tmp_path: Path) -> None:
    for argv, said in [
        (["--chat", "--port", "8000"], "--port applies to --playground only"),
        (["--playground", "--port", "70000"], "from 0 (a free one) to 65535"),
        (["--playground", str(tmp_path / "none.yaml")], "no such file"),
        (["--playground", "a.yaml", "b.yaml"], "--playground takes one scenario"),
    ]:
        err = io.StringIO()
        assert run(argv, io.StringIO(), err) == 2, argv
        assert said in err.getvalue(), err.getvalue()


def test_the_demo_shows_media_notices_links_and_what_the_user_shares() -> None:
    with playground(ROOT / "scenarios" / "demo.yaml") as page:
        view = page.view()
        photo = next(m for m in view["messages"] if m.get("media"))
        assert photo["media"] == {"kind": "photo", "name": "https://pizza-planet.example/menu.jpg"}
        assert photo["html"] == "Today's menu. Every pizza is baked fresh in 15 minutes."
        view = page.press("🌐 Our website")
        assert view["messages"][-1] == {
            "from": "note",
            "html": "(opens https://pizza-planet.example)",
        }
        page.press("🍕 Order a pizza")
        page.post("api/send", {"text": "Large"})
        page.post("api/send", {"text": "2"})
        page.press("🧀 Extra cheese")
        view = page.press("🧀 Extra cheese")  # its `if: not cheese` no longer holds
        assert view["messages"][-1] == {"from": "notice", "html": "This button has expired."}
        page.press("➡️ Continue")
        view = page.post("api/share", {"kind": "location"})
        notes = [m["html"] for m in view["messages"] if m["from"] == "note"]
        assert "(you share the location 52.52, 13.405)" in notes
        view = page.post("api/share", {"kind": "photo"})
        assert "(you send the photo photo-1)" in [m["html"] for m in view["messages"]]
        with pytest.raises(urllib.error.HTTPError) as refused:
            page.post("api/share", {"kind": "hologram"})
        refused.value.close()
        assert refused.value.code == 400


PIXEL = base64.b64decode(  # a 1×1 PNG
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)


def test_a_local_picture_is_shown_and_a_file_the_bot_cannot_send_says_why(
    tmp_path: Path,
) -> None:
    (tmp_path / "menu.png").write_bytes(PIXEL)
    path = write_scenario(
        tmp_path,
        """\
bot: {name: Pictures, language: en, start: show}
vars: {other: gone.png}
states:
  show:
    say:
      - {photo: menu.png, caption: Our menu}
      - {photo: "{{ other }}"}
""",
    )
    with playground(path) as page:
        first, second = (m["media"] for m in page.view()["messages"] if m.get("media"))
        assert first == {"kind": "photo", "name": "menu.png", "preview": "/media/1.png"}
        with urllib.request.urlopen(page.url + "media/1.png", timeout=10) as answer:
            assert answer.headers["Content-Type"] == "image/png"
            assert answer.read() == PIXEL
        assert second["problem"] == (
            "the bot cannot send this file: there is no media file gone.png in the media folder"
        )
        for guess in ("media/2.png", "media/..%2Fplay.yaml", "media/menu.png"):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(page.url + guess, timeout=10)
            refused.value.close()
            assert refused.value.code == 404, guess


def test_a_problem_of_the_bot_is_shown_where_it_happened(tmp_path: Path) -> None:
    path = write_scenario(
        tmp_path,
        """\
bot: {name: Divider, language: en, start: ask}
vars: {n: null}
states:
  ask:
    ask: {var: n, type: number}
    say: A number?
    goto: answer
  answer:
    say: "100 / {{ n }} = {{ 100 / n }}"
    goto: ask
""",
    )
    with playground(path) as page:
        view = page.post("api/send", {"text": "4"})
        assert "100 / 4 = 25.0" in bot_texts(view)
        view = page.post("api/send", {"text": "0"})
        problems = [m["html"] for m in view["messages"] if m["from"] == "problem"]
        assert len(problems) == 1 and "in state answer" in problems[0], view["messages"]

"""The conversation test runner: test files, steps and checks, fake clock, mocks, coverage."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from engine.testing import (
    Conversation,
    discover_test_files,
    load_suite,
    run_test,
    run_test_files,
)
from engine.testing.checks import visible_text
from engine.testing.conversation import Action

ROOT = Path(__file__).resolve().parent.parent

TINY = """\
bot: {name: Tiny, language: en, start: ask}
commands:
  start: {description: Start, goto: ask}
  reset: {description: Reset, goto: ask}
states:
  ask:
    say: Tea or coffee?
    buttons:
      - [{text: Tea, goto: tea}, {text: Coffee, goto: coffee}]
  tea:
    say: Here is your tea.
    buttons: [{text: Again, goto: ask}]
    after: {delay: 10m, say: Still there?, goto: bye}
  coffee:
    say: Here is your <b>coffee</b> &amp; cake.
    goto: bye
  bye:
    say: Bye!
    end: true
"""

SHOP = """\
bot: {name: Shop, language: en, start: menu}
commands:
  start: {description: Start, goto: menu}
states:
  menu:
    say: Ready.
    buttons: [{text: Buy, goto: buy}]
  buy:
    do:
      - http: {method: POST, url: "{{ config.SHOP_URL }}/orders", json: {item: tea}, save_as: order, on_error: failed}
      - call: stock
        save_as: left
    say: Order {{ order.id }} placed, {{ left }} left.
    buttons: [{text: Again, goto: buy}]
  failed:
    say: The shop is closed.
    buttons: [{text: Retry, goto: buy}]
"""


def write(folder: Path, scenario: str, tests: str, name: str = "bot") -> Path:
    (folder / f"{name}.yaml").write_text(scenario, encoding="utf-8")
    path = folder / f"{name}.tests.yaml"
    path.write_text(tests, encoding="utf-8")
    return path


def run(*paths: Path | str) -> tuple[int, str]:
    out = io.StringIO()
    code = run_test_files([str(p) for p in paths], out)
    return code, out.getvalue()


def test_a_passing_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        TINY,
        """\
- name: coffee
  user: {first_name: Ann}
  steps:
    - send: /start
      expect: Tea or coffee?
      buttons: [Tea, Coffee]
      expect_state: ask
    - press: Coffee
      expect:                 # tags are stripped and entities undone
        - Here is your coffee & cake.
        - Bye!
      edited: true
      expect_state: bye
""",
    )
    code, out = run(path)
    assert code == 0, out
    assert "  PASS  coffee" in out
    assert "ran 1 test in 1 file: 1 passed" in out


def test_a_failing_expect_shows_a_diff_and_the_step_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        TINY,
        """\
- name: wrong greeting
  steps:
    - send: hi
      expect: Tea or coffee?
    - press: Tea
      expect: Here is your coffee.
""",
    )
    code, out = run(path)
    assert code == 1
    assert "  FAIL  wrong greeting" in out
    assert f"{path}:5:7: test 'wrong greeting', step 2 (press: Tea)" in out
    assert "--- expected" in out and "+++ actual" in out
    assert "-Here is your coffee." in out
    assert "+Here is your tea." in out
    assert "(the user is now in state 'tea')" in out


def test_an_unknown_button_lists_the_labels_there(tmp_path: Path) -> None:
    path = write(tmp_path, TINY, "- name: t\n  steps:\n    - send: hi\n    - press: Te\n")
    code, out = run(path)
    assert code == 1
    assert "there is no button 'Te' in the latest message with buttons" in out
    assert '"Tea", "Coffee"' in out
    assert "Did you mean 'Tea'?" in out


def test_wait_fires_timers_in_due_order(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        TINY,
        """\
- name: waits
  steps:
    - send: /start
    - press: Tea
      expect_state: tea
    - wait: 9m
      no_reply: true
    - wait: 1m
      expect: [Still there?, Bye!]
      expect_state: bye
""",
    )
    code, out = run(path)
    assert code == 0, out


LEAVES = """\
- name: leaves before the timer
  steps:
    - send: /start
    - press: Tea
    - press: Again
      expect: Tea or coffee?
      expect_state: ask
    - wait: 1h
      no_reply: true
      expect_state: ask
"""


def test_a_timer_of_a_state_left_does_not_fire(tmp_path: Path) -> None:
    path = write(tmp_path, TINY, LEAVES)
    assert run(path)[0] == 0
    suite = load_suite(str(path))
    assert suite.scenario is not None
    chat = Conversation(suite.scenario, suite.file.tests[0])
    for step in suite.file.tests[0].steps[:2]:
        chat.do(step.action)
    assert [(t.state, t.due.isoformat()) for t in chat.timers] == [
        ("tea", "2025-01-06T12:10:00+00:00")
    ]
    chat.do(suite.file.tests[0].steps[2].action)
    assert chat.timers == []  # leaving `tea` cancelled its timer


def test_a_stale_timer_is_ignored_by_the_engine(tmp_path: Path) -> None:
    """Even a timer nobody cancelled does nothing once the user has left its state."""
    suite = load_suite(str(write(tmp_path, TINY, LEAVES)))
    assert suite.scenario is not None
    chat = Conversation(suite.scenario, suite.file.tests[0])
    chat.do(Action("send", "/start"))
    chat.do(Action("press", "Tea"))
    stale = list(chat.timers)
    chat.do(Action("press", "Again"))
    chat.timers.extend(stale)  # as if CancelTimers had been lost
    outcome = chat.do(Action("wait", seconds=3600))
    assert outcome.replies == [] and outcome.problems == []
    assert chat.session.state == "ask" and chat.timers == []


SHOP_TESTS = """\
- name: buys
  config: {SHOP_URL: "https://shop.example"}
  mock:
    http:
      - {method: POST, url: "https://shop.example/orders", json: {id: 42}}
    plugins: {stock: 7}
  steps:
    - send: /start
    - press: Buy
      expect: Order 42 placed, 7 left.
      expect_vars: {order: {id: 42}, left: 7}
- name: the shop fails, then answers
  config: {SHOP_URL: "https://shop.example"}
  mock:
    http:
      - {url: "https://shop.example/*", error: true}
      - {url: "https://shop.example/*", status: 500, text: oops}
      - {url: "https://shop.example/*", json: {id: 43}}
    plugins: {stock: 1}
  steps:
    - send: /start
    - press: Buy
      expect: The shop is closed.
      expect_state: failed
      expect_vars: {order: null}
    - press: Retry
      expect: The shop is closed.
    - press: Retry
      expect: Order 43 placed, 1 left.
    - press: Again            # all mocks used: the last one answers again
      expect: Order 43 placed, 1 left.
"""


def test_http_mocks_answer_in_order_and_can_fail(tmp_path: Path) -> None:
    code, out = run(write(tmp_path, SHOP, SHOP_TESTS))
    assert code == 0, out
    assert out.count("PASS") == 2


def test_an_unmocked_call_fails_the_step_unless_problems_are_allowed(tmp_path: Path) -> None:
    tests = """\
- name: t
  config: {SHOP_URL: "https://shop.example"}
  mock: {plugins: {stock: 1}}
  steps:
    - send: hi
    - press: Buy
      expect: The shop is closed.
"""
    code, out = run(write(tmp_path, SHOP, tests))
    assert code == 1
    assert "the scenario reported a problem" in out
    assert "http POST https://shop.example/orders failed: no mock answers" in out
    allowed = tests.replace("press: Buy", "press: Buy\n      allow_problems: true")
    code, out = run(write(tmp_path, SHOP, allowed))
    assert code == 0, out


def test_coverage_of_a_tiny_scenario(tmp_path: Path) -> None:
    path = write(tmp_path, TINY, "- name: t\n  steps:\n    - send: /start\n    - press: Tea\n")
    code, out = run(path)
    assert code == 0, out
    scenario = tmp_path / "bot.yaml"
    lines = out.splitlines()
    start = lines.index(f"coverage {scenario}: states 2/4 (50%), transitions 3/8 (38%)")
    assert lines[start + 1 :] == [
        f"  {scenario}:4:37: transition (any state) -> ask (command /reset) was never taken",
        f"  {scenario}:9:55: transition ask -> coffee (button 'Coffee') was never taken",
        f"  {scenario}:12:35: transition tea -> ask (button 'Again') was never taken",
        f"  {scenario}:13:50: transition tea -> bye (timer 10m) was never taken",
        f"  {scenario}:14:3: state 'coffee' was never entered",
        f"  {scenario}:16:11: transition coffee -> bye (goto) was never taken",
        f"  {scenario}:17:3: state 'bye' was never entered",
    ]


def test_coverage_counts_the_goto_after_a_sub_flow_returns(tmp_path: Path) -> None:
    scenario = """\
bot: {name: Sub, language: en, start: first}
states:
  first:
    call: ask_name
    goto: done
  ask_name:
    say: Your name?
    ask: {var: name}
    goto: back
  back:
    return: true
  done:
    say: Hello {{ name }}!
    end: true
"""
    tests = "- name: t\n  steps:\n    - send: hi\n    - send: Ann\n      expect: Hello Ann!\n"
    code, out = run(write(tmp_path, scenario, tests))
    assert code == 0, out
    assert "states 4/4 (100%), transitions 4/4 (100%)" in out


def test_no_tests_found(tmp_path: Path) -> None:
    assert run() == (2, "no conversation tests found (NAME.tests.yaml beside NAME.yaml)\n")
    assert discover_test_files(str(tmp_path)) == []
    (tmp_path / "bot.yaml").write_text(TINY, encoding="utf-8")
    code, out = run(tmp_path / "bot.yaml")
    assert code == 2
    assert "no conversation tests" in out


def test_discovery_and_scenario_paths(tmp_path: Path) -> None:
    path = write(tmp_path, TINY, "- name: t\n  steps:\n    - send: hi\n")
    (tmp_path / "sub").mkdir()
    other = write(tmp_path / "sub", TINY, "- name: u\n  steps:\n    - send: hi\n", "other")
    assert discover_test_files(str(tmp_path)) == [str(path), str(other)]
    assert run(tmp_path / "bot.yaml")[0] == 0  # a scenario's path runs its tests
    code, out = run(tmp_path)
    assert code == 0 and "ran 2 tests in 2 files" in out


def test_test_file_mistakes_are_reported_with_positions(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        TINY,
        """\
- name: typos
  stepz: []
- name: more
  steps:
    - send: hi
      expected: Tea or coffee?
    - send: a
      press: Tea
    - expect: x
    - wait: soon
""",
    )
    code, out = run(path)
    assert code == 1
    assert f"{path}:2:3: error: unknown key 'stepz' in test 1. Did you mean 'steps'?" in out
    assert f"{path}:1:3: error: test 'typos' needs `steps:`" in out
    assert f"{path}:6:7: error: unknown key 'expected' in step 1 of test 'more'." in out
    assert "Did you mean 'expect'?" in out
    assert "step 2 of test 'more' does 2 things (send, press)" in out
    assert "step 3 of test 'more' has nothing to do" in out
    assert f"{path}:10:13: error: `wait`: 'soon' is not a duration" in out
    assert "ran 0 tests in 1 file: 0 passed, 1 file broken" in out


def test_names_a_test_uses_must_exist_in_the_scenario(tmp_path: Path) -> None:
    tests = """\
- name: t
  steps:
    - send: hi
      expect_state: aks
      expect_vars: {nmae: 1}
"""
    code, out = run(write(tmp_path, TINY, tests))
    assert code == 1
    assert ":4:21: error: the scenario has no state 'aks'. Did you mean 'ask'?" in out


def test_a_broken_scenario_prints_its_diagnostics(tmp_path: Path) -> None:
    path = write(
        tmp_path, TINY.replace("goto: bye", "goto: bey"), "- name: t\n  steps:\n    - send: hi\n"
    )
    code, out = run(path)
    assert code == 1
    assert (
        f"{tmp_path / 'bot.yaml'}: the scenario has errors; the tests of {path} cannot run:" in out
    )
    assert "there is no state 'bey'" in out and "Did you mean 'bye'?" in out


def test_a_missing_scenario_and_an_empty_test_file(tmp_path: Path) -> None:
    lonely = tmp_path / "lonely.tests.yaml"
    lonely.write_text("- name: t\n  steps:\n    - send: hi\n", encoding="utf-8")
    code, out = run(lonely)
    assert code == 1 and "there is no scenario" in out
    empty = write(tmp_path, TINY, "# nothing yet\n")
    code, out = run(empty)
    assert code == 1 and "the test file is empty" in out


@pytest.mark.parametrize(
    ("text", "mode", "visible"),
    [
        ("<b>Hi</b> &lt;you&gt;", "HTML", "Hi <you>"),
        (
            "*Hi* \\_you\\_ \\(2\\.5\\) [site](https://x.example)",
            "MarkdownV2",
            "Hi _you_ (2.5) site",
        ),
        ("<b>kept</b>", None, "<b>kept</b>"),
        ("12:00\u202fPM ", "HTML", "12:00 PM"),
    ],
)
def test_visible_text(text: str, mode: str | None, visible: str) -> None:
    assert visible_text(text, mode) == visible


def test_numbers_are_sent_as_written_and_commands_get_args(tmp_path: Path) -> None:
    scenario = """\
bot: {name: Echo, language: en, start: echo}
commands:
  start: {description: Start, say: "payload={{ message.args }}", goto: echo}
states:
  echo:
    say: Send something.
    on:
      - type: text
        say: "got {{ message.text }}"
"""
    tests = """\
- name: echoes
  steps:
    - send: /start from-flyer
      expect: [payload=from-flyer, Send something.]
    - send: 2.50
      expect: got 2.50
    - send: 007
      expect: got 007
"""
    code, out = run(write(tmp_path, scenario, tests))
    assert code == 0, out


def test_run_test_reports_the_first_failing_step_only(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        TINY,
        "- name: t\n  steps:\n    - send: hi\n      expect: nope\n    - send: hi\n      expect: no\n",
    )
    suite = load_suite(str(path))
    assert suite.scenario is not None
    result = run_test(suite.scenario, suite.file.tests[0])
    assert (
        result.failure is not None and "step 1" in result.failure and "step 2" not in result.failure
    )


def test_pytest_collects_conversation_tests(tmp_path: Path) -> None:
    write(
        tmp_path,
        TINY,
        "- name: passes\n  steps:\n    - send: hi\n      expect: Tea or coffee?\n- name: fails\n  steps:\n    - send: hi\n      expect: Tea?\n",
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "engine.testing.pytest_plugin",
            "-p",
            "no:cacheprovider",
            "-q",
            ".",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1, done.stdout
    assert "1 failed, 1 passed" in done.stdout
    assert "bot.tests.yaml:7:7: test 'fails', step 1 (send: hi)" in done.stdout
    assert "-Tea?" in done.stdout


def test_pytest_xdist_workers_add_up_to_the_same_coverage_as_one_run(tmp_path: Path) -> None:
    tea = "  steps:\n    - send: /start\n    - press: Tea\n"
    coffee = "  steps:\n    - send: /start\n    - press: Coffee\n"
    tests = "".join(f"- name: tea {n}\n{tea}- name: coffee {n}\n{coffee}" for n in range(4))
    path = write(tmp_path, TINY, tests)
    code, alone = run(path)
    assert code == 0, alone
    expected = alone[alone.index("coverage ") :].splitlines()
    assert "states 4/4 (100%), transitions 5/8 (63%)" in expected[0]  # tea's and coffee's
    done = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "-p", "engine.testing.pytest_plugin"),
            *("-p", "no:cacheprovider", "-n", "2", str(path)),
        ],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout
    assert "2 workers [8 items]" in done.stdout
    section = done.stdout.split("== conversation coverage ==")[1].splitlines()[1:]
    shown = [line.replace("bot.yaml", str(tmp_path / "bot.yaml")) for line in section]
    assert shown[: len(expected)] == expected
    assert shown[len(expected)].startswith("=")  # the summary ends there


KEYS = """\
bot: {name: Keys, language: en, start: pick}
vars: {n: 0, ok: false}
states:
  pick:
    set: {n: "{{ n + 1 }}"}
    do:
      - notify: {to: admins, say: "visit {{ n }}"}
    say: [Hello., Pick one.]         # the keys ride on the first message, the buttons on the last
    keyboard: [[A, B]]
    buttons:
      - {text: Site, url: "https://site.example"}
      - {text: Again, goto: pick}
"""


def test_every_failing_check_of_a_step_is_reported(tmp_path: Path) -> None:
    tests = """\
- name: many
  steps:
    - send: hi
      expect: [Hello., Pick one., More?]
      buttons: [Site]
      keyboard: [A, C]
      expect_vars: {n: true, ok: false}
      expect_notify: visit 2
      expect_notice: Done
      no_reply: true
"""
    code, out = run(write(tmp_path, KEYS, tests))
    assert code == 1
    assert "the replies differ (expected 3 messages, the bot sent 2 messages):" in out
    assert "        -message 3:\n        -  More?" in out
    assert 'the last reply\'s buttons are ["Site", "Again"], not ["Site"]' in out
    assert 'the keyboard shows ["A", "B"], not ["A", "C"]' in out
    assert "`n` is 1, not true" in out  # true is not 1
    assert 'the notifications were ["visit 1"], not ["visit 2"]' in out
    assert 'the button notices were [], not ["Done"]' in out
    assert 'expected no reply, but the bot sent:\n        "Hello."\n        "Pick one."' in out


def test_a_link_button_cannot_be_pressed(tmp_path: Path) -> None:
    tests = "- name: t\n  steps:\n    - send: hi\n    - press: Site\n"
    code, out = run(write(tmp_path, KEYS, tests))
    assert code == 1
    assert "the button 'Site' opens https://site.example; it cannot be pressed" in out


def test_the_demos_tests_pass_and_reach_nine_in_ten_transitions() -> None:
    code, out = run(ROOT / "scenarios" / "demo.tests.yaml")
    assert code == 0, out
    line = next(x for x in out.splitlines() if x.startswith("coverage "))
    match = re.search(r"states (\d+)/(\d+) \(\d+%\), transitions (\d+)/(\d+)", line)
    assert match is not None, line
    states, all_states, taken, transitions = map(int, match.groups())
    assert states == all_states and transitions >= 60
    assert taken >= 0.9 * transitions, line


def test_coverage_counts_a_command_whose_goto_is_a_conditional_list(tmp_path: Path) -> None:
    """Such a command's edges carry their condition as the label, and were looked for among
    the messages' edges: never counted, whatever the tests sent."""
    scenario = """\
bot: {name: Menu, language: en, start: menu}
vars: {vip: false}
commands:
  start: {description: Start, goto: menu}
  shop:
    description: Shop
    goto:
      - {if: vip, to: lounge}
      - {to: counter}
states:
  menu:
    say: Hi
    buttons: [{text: VIP, set: {vip: true}, goto: menu}]
  lounge: {say: Welcome back., end: true}
  counter: {say: Next please., end: true}
"""
    tests = """\
- name: plain
  steps:
    - send: /shop
      expect: Next please.
- name: vip
  steps:
    - send: /start
    - press: VIP
    - send: /shop
      expect: Welcome back.
"""
    code, out = run(write(tmp_path, scenario, tests))
    assert code == 0, out
    summary = next(line for line in out.splitlines() if line.startswith("coverage "))
    assert summary.endswith("transitions 5/5 (100%)"), out

"""The ported example bots of scenarios/examples/ stay living documentation: each one passes
`--validate --strict`, its conversation tests pass and reach every state, and it says where it
comes from, under which licence, and what differs from the original."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from builders import Conversation

from engine.bundled_files import DEMO, default_scenario
from engine.core.effects import SendText
from engine.core.events import TextMessage
from engine.core.model import Scenario
from engine.scenario import validate_file
from engine.scenario.compiler import compile_scenario
from engine.scenario.validation import discover

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "scenarios" / "examples"
Cli = Callable[..., Any]  # the fixture of conftest.py
# the first comment block of a port names these (see scenarios/examples/README.md)
HEADER_PARTS = ("Ported from ", "https://github.com/", "Licence of the original: ", "What differs:")
LICENCES = ("CC0-1.0", "MIT", "Apache-2.0")


def _examples() -> list[Path]:
    return sorted(Path(p) for p in discover(str(EXAMPLES)))


def _header(path: Path) -> str:
    """The comment lines at the top of a scenario file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return "\n".join(line for line in lines[: next(i for i, s in enumerate(lines) if s[:1] != "#")])


def test_at_least_six_bots_are_ported() -> None:
    assert len(_examples()) >= 6, [p.name for p in _examples()]


@pytest.mark.parametrize("example", _examples(), ids=lambda p: p.stem)
def test_an_example_passes_validate_strict(example: Path, cli: Cli) -> None:
    result = cli("--validate", "--strict", example)
    assert result.code == 0, result.out + result.err
    assert result.lines[-1].endswith("no problems found")


@pytest.mark.parametrize("example", _examples(), ids=lambda p: p.stem)
def test_an_examples_tests_pass_and_reach_every_state(example: Path, cli: Cli) -> None:
    tests = example.with_name(example.stem + ".tests.yaml")
    assert tests.is_file(), f"{example.name} has no {tests.name}"
    result = cli("--test", example)
    assert result.code == 0, result.out + result.err
    coverage = re.search(r"states (\d+)/(\d+) \(", result.out)
    assert coverage is not None, result.out
    assert coverage.group(1) == coverage.group(2), result.out


@pytest.mark.parametrize("example", _examples(), ids=lambda p: p.stem)
def test_an_example_names_its_original_and_licence(example: Path) -> None:
    header = _header(example)
    for part in HEADER_PARTS:
        assert part in header, f"{example.name}: the header does not say {part!r}"
    licence = header.split("Licence of the original: ", 1)[1]
    assert licence.startswith(LICENCES), f"{example.name}: {licence.splitlines()[0]}"


def test_the_readme_lists_every_example() -> None:
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    missing = [p.name for p in _examples() if f"[{p.name}]({p.name})" not in readme]
    assert not missing, f"not in the table of scenarios/examples/README.md: {missing}"


def test_the_examples_are_never_the_bots_scenario(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without BOT_SCENARIO or a path, the bot and --chat run the demo, not an example."""
    monkeypatch.chdir(ROOT)
    assert Path(default_scenario()) == Path("scenarios") / DEMO


def _compiled(name: str) -> Scenario:
    report = validate_file(str(EXAMPLES / name))
    assert report.scenario is not None, [d.format() for d in report.diagnostics]
    return compile_scenario(report.scenario)


def _sent(chat: Conversation, text: str, message_id: int) -> list[SendText]:
    """What the bot sends when the user types `text` as Telegram's message `message_id`."""
    event = TextMessage(user=chat.user, chat=chat.chat, text=text, message_id=message_id)
    return [e for e in chat.event(event) if isinstance(e, SendText)]


def test_ptb_conversations_gender_keys_are_one_time_with_the_originals_placeholder() -> None:
    """conversationbot.py: ReplyKeyboardMarkup(one_time_keyboard=True,
    input_field_placeholder="Boy or Girl?"), not resized; the conversation tests cannot see
    a keyboard's options."""
    chat = Conversation(_compiled("ptb_conversation.yaml"))
    (asked,) = [e for e in chat.send("/start") if isinstance(e, SendText)]
    markup = asked.markup
    assert [key.text for key in markup.keyboard[0]] == ["Boy", "Girl", "Other"]
    assert (markup.one_time, markup.placeholder, markup.resize) == (True, "Boy or Girl?", False)


def test_ptb_persistent_facts_keys_are_one_time_each_time_they_are_shown() -> None:
    chat = Conversation(_compiled("ptb_persistent_facts.yaml"))
    shown = [e.markup for e in chat.send("/start") if isinstance(e, SendText)]
    chat.send("Age")
    shown += [e.markup for e in chat.send("42") if isinstance(e, SendText)]  # neat
    with_keys = [markup for markup in shown if markup.keyboard]
    assert len(with_keys) == 2
    assert all(markup.one_time and not markup.resize for markup in with_keys)


def test_aiogram_form_quotes_where_the_original_calls_message_reply() -> None:
    """finite_state_machine.py replies to "yes" and to an answer it does not understand;
    everything else is message.answer, a plain message."""
    chat = Conversation(_compiled("aiogram_form.yaml"))
    chat.send("/start")
    (greeted,) = _sent(chat, "Ann", 11)
    assert greeted.reply_to is None
    (puzzled,) = _sent(chat, "perhaps", 12)
    assert (puzzled.text, puzzled.reply_to) == ("I don't understand you :(", 12)
    (cool,) = _sent(chat, "yes", 13)
    assert cool.text.startswith("Cool! I'm too!") and cool.reply_to == 13
    assert all(sent.reply_to is None for sent in _sent(chat, "Python", 14))

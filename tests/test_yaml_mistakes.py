"""The YAML mistakes authors make most, each in one small broken file: the report names the
line and column of the mistake itself (not the line where the parser gave up) and says what
to write instead, in the author's words, not the parser's ("did not find expected key")."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from engine.scenario import validate_file

WriteFile = Callable[..., Path]  # the write_file fixture of conftest.py

HEAD = "bot: {name: T, start: a, language: en}\nvars: {name: Ann}\nstates:\n  a:\n"
TAIL = "  b:\n    say: Bye\n    end: true\n"  # a second state, for `goto: b`


@dataclass(frozen=True)
class Mistake:
    id: str
    lines: str  # the lines of state a (after HEAD), then TAIL
    line: int
    column: int
    fix: str  # what the message must say to write (or do) instead
    code: str = "yaml-syntax"


MISTAKES = [
    Mistake(
        "template-first-then-more-text",
        "    say: {{ name }}, welcome\n    goto: b\n",
        5,
        10,
        'write say: "{{ name }}, welcome"',
    ),
    Mistake(
        "template-alone",
        "    say: {{ name }}\n    goto: b\n",
        5,
        10,
        'write say: "{{ name }}"',
    ),
    Mistake(
        "template-first-in-a-list",
        "    say:\n      - {{ name }} is here\n    goto: b\n",
        6,
        9,
        'write - "{{ name }} is here"',
    ),
    Mistake(
        "template-first-as-a-button-label",
        "    say: Hi\n    buttons:\n      - text: {{ name }}\n        goto: b\n",
        7,
        15,
        'write - text: "{{ name }}"',
    ),
    Mistake(
        "colon-and-space-inside-a-text",
        "    say: Note: we are closed today\n    goto: b\n",
        5,
        14,
        'put the whole text in quotes: write say: "Note: we are closed today"',
    ),
    Mistake(
        "text-ending-with-a-colon",
        "    say: Choose one:\n    goto: b\n",
        5,
        20,
        'write say: "Choose one:"',
    ),
    Mistake(
        "text-ending-with-a-colon-in-a-list",
        "    say:\n      - Choose one:\n      - Small or large\n    goto: b\n",
        6,
        19,
        'write - "Choose one:"',
    ),
    Mistake(
        "colon-and-space-inside-a-text-in-a-list",
        "    say:\n      - Note: we are closed today\n    goto: b\n",
        6,
        9,
        "put it in quotes, or YAML reads 'Note' as a key: write - \"Note: we are closed today\"",
        "unknown-key",
    ),
    Mistake(
        "backtick-at-the-start",
        "    say: `/start` begins again\n    goto: b\n",
        5,
        10,
        "a text cannot start with '`'",
    ),
    Mistake(
        "quotes-around-part-of-a-text",
        "    say: '@admin' will answer\n    goto: b\n",
        5,
        17,
        'put the whole text in one pair of quotes: write say: "@admin will answer"',
    ),
    Mistake(
        "at-sign-without-quotes",
        "    say: @admin will answer\n    goto: b\n",
        5,
        10,
        'write say: "@admin will answer"',
    ),
    Mistake(
        "apostrophe-inside-single-quotes",
        "    say: 'It's late'\n    goto: b\n",
        5,
        13,
        "write say: 'It''s late'",
    ),
    Mistake(
        "comma-inside-braces",
        "    say: Hi\n    buttons:\n      - {text: Yes, please, goto: b}\n",
        7,
        16,
        'write text: "Yes, please"',
    ),
    Mistake(
        "two-commas-inside-braces",
        "    say: Hi\n    buttons:\n      - {text: Yes, sure, please, goto: b}\n",
        7,
        16,
        'write text: "Yes, sure, please"',
    ),
    Mistake(
        "comma-inside-a-state-in-braces",
        "    {say: Hi, bye., end: true}\n",
        5,
        11,
        'write say: "Hi, bye."',
    ),
    Mistake(
        "key-indented-like-the-state-names",
        "    say: Hi\n  goto: b\n",
        6,
        3,
        "indent it by 4 spaces, like the keys of state 'a' (line 5)",
        "misplaced-key",
    ),
    Mistake(
        "key-indented-further-than-the-one-above",
        "    say: Hi\n      goto: b\n",
        6,
        7,
        "indent `goto:` by 4 spaces, like `say:`",
    ),
    Mistake(
        "key-indented-by-one-space-too-few",
        "    say: Hi\n   goto: b\n",
        6,
        4,
        "`goto:` is indented by 3 spaces, which lines it up with no key above it",
    ),
    Mistake(
        "key-lined-up-with-the-dash-of-a-list",
        "    say: Hi\n    buttons:\n      - text: Go\n      goto: b\n",
        8,
        7,
        "if it belongs to the item, indent it by 2 more spaces, like `text:`",
    ),
]


@pytest.mark.parametrize("mistake", MISTAKES, ids=[m.id for m in MISTAKES])
def test_a_yaml_mistake_is_explained_at_its_place(mistake: Mistake, write_file: WriteFile) -> None:
    report = validate_file(str(write_file(HEAD + mistake.lines + TAIL)))
    shown = "\n".join(d.format() for d in report.diagnostics)
    first = report.diagnostics[0]
    assert (first.code, first.position.line, first.position.column) == (
        mistake.code,
        mistake.line,
        mistake.column,
    ), shown
    assert mistake.fix in first.message, shown
    assert first.is_error and report.errors > 0
    for parser_words in ("while parsing", "did not find expected", "invalid YAML"):
        assert parser_words not in shown
    if mistake.code == "yaml-syntax":  # read as the author meant: no follow-up errors
        assert "unknown key" not in shown


def test_the_fix_a_message_gives_is_valid_and_means_what_was_meant(write_file: WriteFile) -> None:
    """Writing what the message says in place of what was written makes the file valid."""
    fixed_count = 0
    for mistake in MISTAKES:
        broken = HEAD + mistake.lines + TAIL
        message = validate_file(str(write_file(broken))).diagnostics[0].message
        if ": write " not in message:
            continue
        written = message.split(": write ", 1)[1]
        head, _, value = written.partition(": ") if ": " in written else written.partition(" ")
        head += ":" if ": " in written else ""
        meant = yaml.safe_load(value)
        as_written = f"{head} {meant}".strip()
        if as_written not in broken:
            continue  # the quotes were there, the text inside them was wrong
        fixed = write_file(broken.replace(as_written, written, 1), "fixed.yaml")
        report = validate_file(str(fixed))
        assert report.errors == 0, (mistake.id, fixed.read_text(), report.diagnostics)
        assert meant in str(yaml.safe_load(fixed.read_text()))
        fixed_count += 1
    assert fixed_count >= 10


def test_a_mistake_not_recognised_keeps_the_parsers_words(write_file: WriteFile) -> None:
    report = validate_file(str(write_file(HEAD + "    say: [Hi, Hello\n    goto: b\n" + TAIL)))
    (diagnostic,) = report.diagnostics
    assert diagnostic.code == "yaml-syntax"
    assert diagnostic.message.startswith("invalid YAML: while parsing a flow sequence")

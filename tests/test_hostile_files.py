"""Hostile and malformed files: each fails fast with exactly one clear one-line error through the
command line (no traceback, no hang, nothing executed); YAML 1.1 traps load as written."""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from engine.scenario import validate_file
from engine.scenario.yaml_loader import load_yaml_text

WriteFile = Callable[..., Path]  # fixtures of conftest.py
Cli = Callable[..., Any]

HANG_GUARD_SECONDS = 5.0  # each of these takes milliseconds; this only catches a hang

MINIMAL = "bot: {name: T, start: a}\nstates:\n  a:\n    say: Hi\n    end: true\n"

# ~300 bytes that expand to 9**9 (387 million) strings if aliases are followed blindly.
BILLION_LAUGHS = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{name}: &{name} [{','.join(['*' + prev] * 9)}]\n"
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True)
)


def test_the_alias_bomb_is_small() -> None:
    assert len(BILLION_LAUGHS) < 350


def _junk() -> bytes:
    rng = random.Random(20240229)  # fixed: the same junk every run
    body = bytearray(rng.randbytes(4096))
    body[100] = 0  # a NUL for sure, even if the generator produced none
    return b"\x89PNG\r\n\x1a\n" + bytes(body)


HOSTILE: list[tuple[str, Callable[[Path], bytes], str]] = [
    ("billion-laughs", lambda _: BILLION_LAUGHS.encode(), "too-many-nodes"),
    ("50000-nested-brackets", lambda _: b"[" * 50_000, "too-deep"),
    ("50000-nested-brackets-closed", lambda _: b"[" * 50_000 + b"]" * 50_000, "too-deep"),
    (
        "100-nested-block-lists",
        lambda _: b"".join(b" " * i + b"-\n" for i in range(100)),
        "too-deep",
    ),
    ("alias-inside-itself", lambda _: b"bot: &loop [*loop]\n", "too-deep"),
    (
        "chain-of-aliases-deeper-than-the-cap",
        lambda _: (
            "".join(
                f"l{i}: &l{i} " + "[" * 40 + (f"*l{i - 1}" if i else "1") + "]" * 40 + "\n"
                for i in range(30)
            )
        ).encode(),
        "too-deep",
    ),
    ("20-mb-file", lambda _: MINIMAL.encode() + b"#" * 20_000_000 + b"\n", "file-too-large"),
    ("binary-junk", lambda _: _junk(), "not-text"),
    (
        "python-tag-runs-nothing",
        lambda tmp: (
            "bot: {name: T, start: a}\nstates:\n  a:\n"
            f'    say: !!python/object/apply:os.system ["touch {tmp / "pwned"}"]\n'
            "    end: true\n"
        ).encode(),
        "yaml-tag",
    ),
    (
        "python-tag-on-a-key",
        lambda tmp: (
            f'? !!python/object/apply:os.system ["touch {tmp / "pwned"}"]\n: 1\n' + MINIMAL
        ).encode(),
        "complex-key",
    ),
    ("empty-file", lambda _: b"", "empty-file"),
    ("only-comments", lambda _: b"# a bot, one day\n#\n   # indented comment\n", "empty-file"),
    ("several-documents", lambda _: (MINIMAL + "---\n" + MINIMAL).encode(), "multiple-documents"),
    ("utf-16-with-bom", lambda _: MINIMAL.encode("utf-16"), "encoding"),
    ("utf-16-big-endian-with-bom", lambda _: b"\xfe\xff" + MINIMAL.encode("utf-16-be"), "encoding"),
    (
        "invalid-utf-8",
        lambda _: MINIMAL.replace("Hi", "H\udcffi").encode("utf-8", "surrogateescape"),
        "encoding",
    ),
    ("cp1251-cyrillic", lambda _: MINIMAL.replace("Hi", "Привет").encode("cp1251"), "encoding"),
]

DIAGNOSTIC_LINE = re.compile(
    r"^(?P<path>.+?):(?P<line>\d+):(?P<column>\d+): error: .+ \[(?P<code>[a-z-]+)\]$"
)
# A file-level problem (the file as a whole is too large) has no line to point at.
FILE_LEVEL_LINE = re.compile(r"^(?P<path>.+?): error: .+ \[(?P<code>[a-z-]+)\]$")


@pytest.mark.parametrize(
    ("content", "code"), [(c, code) for _, c, code in HOSTILE], ids=[i for i, _, _ in HOSTILE]
)
def test_a_hostile_file_fails_with_one_clear_line(
    content: Callable[[Path], bytes], code: str, tmp_path: Path, cli: Cli
) -> None:
    path = tmp_path / "hostile.yaml"
    path.write_bytes(content(tmp_path))
    started = time.monotonic()
    result = cli("--validate", path)
    assert time.monotonic() - started < HANG_GUARD_SECONDS
    assert result.code == 1
    assert result.err == ""
    assert "Traceback" not in result.out
    problems = [line for line in result.lines if ": error: " in line or ": warning: " in line]
    assert len(problems) == 1, result.out
    (line,) = problems
    match = DIAGNOSTIC_LINE.match(line) or (
        FILE_LEVEL_LINE.match(line) if code == "file-too-large" else None
    )
    assert match, line
    assert match["path"] == str(path)
    assert match["code"] == code
    assert len(line) < 400, "one short line, not a dump of the file"
    assert result.lines[-1] == "checked 1 scenario (1 file): 1 error, 0 warnings"
    assert not (tmp_path / "pwned").exists(), "a tag ran a command"


def test_the_python_tag_is_not_executed_even_where_it_is_allowed_to_load(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    raw = f'x: !!python/object/apply:os.system ["touch {marker}"]\n'.encode()
    document, problems = load_yaml_text("t.yaml", raw)
    assert [p.code for p in problems] == ["yaml-tag"]
    assert document is not None and document.data == {"x": [f"touch {marker}"]}
    assert not marker.exists()


def test_a_utf8_bom_is_accepted(write_file: WriteFile, cli: Cli) -> None:
    """A deliberate decision: Windows Notepad saves UTF-8 with a byte order mark."""
    path = write_file(b"\xef\xbb\xbf" + MINIMAL.encode())
    assert validate_file(str(path)).diagnostics == ()
    result = cli("--validate", path)
    assert (result.code, result.lines) == (0, ["checked 1 scenario (1 file): no problems found"])


def test_positions_after_a_utf8_bom_count_from_the_first_visible_character(
    write_file: WriteFile,
) -> None:
    path = write_file(
        b"\xef\xbb\xbfbot: {name: T, start: a, colour: red}\n" + MINIMAL[25:].encode()
    )
    report = validate_file(str(path))
    assert [(d.code, d.position.line, d.position.column) for d in report.diagnostics] == [
        ("unknown-key", 1, 26)
    ]


# ---- YAML 1.1 traps: the values stay what the author wrote ---------------------------------


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("choices: [Yes, No]", {"choices": ["Yes", "No"]}),
        (
            "choices: [yes, no, y, n, Y, N, YES, NO]",
            {"choices": ["yes", "no", "y", "n", "Y", "N", "YES", "NO"]},
        ),
        ("text: on", {"text": "on"}),
        ("text: Off", {"text": "Off"}),
        ("on: [hello]", {"on": ["hello"]}),
        ("delay: 1:30", {"delay": "1:30"}),
        ("mode: 0755", {"mode": 755}),
        ("mode: 0o755", {"mode": 0o755}),
        ("mask: 0x1F", {"mask": 31}),
        ("day: 2024-12-24", {"day": "2024-12-24"}),
        ("count: 1_000", {"count": "1_000"}),
        ("flags: [true, false, True, FALSE]", {"flags": [True, False, True, False]}),
        ("empty: [~, null, Null, '']", {"empty": [None, None, None, ""]}),
        ("price: 9.50", {"price": 9.5}),
        ("big: 1e3", {"big": 1000.0}),
        ("version: 1.10", {"version": 1.1}),
        ("'<<': not a merge", {"<<": "not a merge"}),
    ],
)
def test_yaml_1_1_traps_stay_as_written(yaml_text: str, expected: dict[str, Any]) -> None:
    document, problems = load_yaml_text("t.yaml", (yaml_text + "\n").encode())
    assert problems == []
    assert document is not None
    assert document.data == expected
    for key, value in expected.items():
        assert type(document.data[key]) is type(value)


def test_yes_no_buttons_and_choices_validate_clean(write_file: WriteFile) -> None:
    path = write_file(
        "bot: {name: T, start: a}\nstates:\n  a:\n    say: Ready?\n"
        "    ask: {var: ready, choices: [Yes, No]}\n    goto: b\n"
        "  b:\n    say: Sure?\n    buttons: [[{text: Yes, goto: c}, {text: No, goto: a}]]\n"
        "  c: {say: on, end: true}\n"
    )
    assert validate_file(str(path)).diagnostics == ()

"""What a template may build: every value is held to the limits of engine.core.template_limits
before it is built, `_()` formats only when given variables, and translations' `%` stays
inert. A refused render is reported and the conversation goes on."""

from __future__ import annotations

import time
import tomllib
from pathlib import Path

import pytest
from builders import ROOT, Conversation, compile_yaml, texts

from engine.core.effects import ReportProblem
from engine.core.template_limits import MAX_WIDTH
from engine.core.templating import escape_markdown

ECHO = """
bot: {{name: T, start: listen, parse_mode: {mode}}}
vars: {{said: null}}
states:
  listen:
    say: Say something
    ask: {{var: said}}
    goto: answer
  answer:
    say: "{text}"
    goto: listen
"""


def answer(tmp_path: Path, text: str, typed: str, mode: str = "HTML") -> list[object]:
    chat = Conversation(compile_yaml(ECHO.format(mode=mode, text=text), tmp_path))
    chat.send("hi")
    return chat.send(typed)


@pytest.mark.parametrize("mode", ["HTML", "MarkdownV2", "none"])
def test_gettext_of_a_users_text_is_not_percent_formatted(tmp_path: Path, mode: str) -> None:
    """`_(said)` applied `%` to what the user typed: "50% off" failed to render and the
    11 characters "%999999999s" took 6.7 s and 2.9 GB. Now both come back as typed."""
    started = time.monotonic()
    for typed in ("50% off", "%999999999s", "%(x)s %% %d"):
        effects = answer(tmp_path, "Got: {{ _(said) }}", typed, mode)
        assert not [e for e in effects if isinstance(e, ReportProblem)], effects
        shown = escape_markdown(typed) if mode == "MarkdownV2" else typed
        assert texts(effects)[0] == f"Got: {shown}"
    assert time.monotonic() - started < 5


def test_gettext_with_variables_formats_within_the_width_limit(tmp_path: Path) -> None:
    effects = answer(tmp_path, "{{ _(said, n=3) }}", "%(n)s items, 100%% sure")
    assert texts(effects)[0] == "3 items, 100% sure"
    effects = answer(tmp_path, "{{ _(said, n=3) }}|next", f"%(n){MAX_WIDTH + 1}s")
    assert texts(effects)[0] == "Say something"  # the text is not sent
    assert any(isinstance(e, ReportProblem) and f"{MAX_WIDTH:,}" in e.message for e in effects), (
        effects
    )


def test_a_trans_block_without_variables_shows_its_percent_signs(tmp_path: Path) -> None:
    effects = answer(tmp_path, "{% trans %}50% off{% endtrans %} {{ said }}", "ok")
    assert texts(effects)[0] == "50% off ok"


def test_the_format_attribute_reaches_nothing(tmp_path: Path) -> None:
    """CVE-2025-27516: under Jinja2 3.1.5 `|attr("format")` gave the unsandboxed str.format,
    which reads the process's environment (the token) through a value's attributes."""
    hostile = "{{ ('{0.__class__.__init__.__globals__}' | attr('format'))(said) }}"
    effects = answer(tmp_path, hostile + "|after", "x")
    assert texts(effects)[0] == "Say something"
    assert any(isinstance(e, ReportProblem) and "unsafe" in e.message for e in effects), effects


def test_jinja2_is_required_at_a_version_without_the_attr_format_escape() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    pins = [d for d in project["project"]["dependencies"] if d.lower().startswith("jinja2")]
    assert pins and ">=3.1.6" in pins[0]


@pytest.mark.parametrize(
    ("template", "words"),
    [
        (
            "{% set ns = namespace(a='x') %}{% for i in range(31) %}{% set ns.a = ns.a ~ ns.a %}"
            "{% endfor %}{{ ns.a | length }}",
            "`~`",
        ),
        (
            "{% set ns = namespace(a='x') %}{% for i in range(31) %}{% set ns.a = ns.a + ns.a %}"
            "{% endfor %}{{ ns.a | length }}",
            "`+`",
        ),
        ("{{ ('x' * 100000) | replace('x', 'y' * 100000) }}", "`replace`"),
        (
            "{{ range(100000) | map('string') | map('replace', '1', 'x' * 100000) | join }}",
            "a list of more than",
        ),
        ("{{ (['x'] * 50000) | join('y' * 100000) }}", "`join`"),
        ("{{ ('y' * 100000).join(['x'] * 50000) }}", "`join`"),
        ("{{ '%(a)999999999s' % {'a': 1} }}", "a width above"),
        ("{{ '%.999999999f' % 1.5 }}", "a width above"),
        ("{{ '%999999999s' | format('a') }}", "a width above"),
        ("{{ '{:999999999}'.format(1) }}", "a width above"),
        ("{{ '{:{w}}'.format(1, w=999999999) }}", "takes its width from a value"),
        ("{{ '{a:999999999}'.format_map({'a': 1}) }}", "a width above"),
        ("{{ 'a'.ljust(999999999) }}", "`ljust`"),
        ("{{ ('\\t' * 100000).expandtabs(100000) }}", "`expandtabs`"),
        ("{{ ('\\n' * 100000) | indent(99999, true, true) }}", "`indent`"),
        ("{{ ('x' * 100000) | wordwrap(1, true, 'y' * 100000) }}", "`wordwrap`"),
        ("{{ ('x' * 100000).translate({120: 'y' * 100000}) }}", "`translate`"),
        ("{{ ((10 ** 100) ** 100) ** 100 }}", "bits"),
        (
            "{% set ns = namespace(a=10) %}{% for i in range(40) %}{% set ns.a = ns.a * ns.a %}"
            "{% endfor %}{{ 1 }}",
            "bits",
        ),
        (
            "{% set ns = namespace(a=[1]) %}{% for i in range(40) %}{% set ns.a = [ns.a, ns.a] %}"
            "{% endfor %}{{ ns.a }}",
            "showing this value",
        ),
        ("{{ [1] | batch(1000000000, 'x') | list | length }}", "`batch`"),
        (
            "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
            "{{ f(40) }}",
            "macro calls",
        ),
        ("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "recursion"),
    ],
)
def test_no_template_builds_a_huge_value(tmp_path: Path, template: str, words: str) -> None:
    """Each of these built hundreds of megabytes (or ran for minutes) before the message
    cap could see it: now the operation is refused before it builds anything."""
    source = (
        f'bot: {{name: T, start: a}}\nstates:\n  a:\n    say: ["{template}", Still here.]\n'
        "    end: true\n"
    )
    chat = Conversation(compile_yaml(source, tmp_path))
    effects = chat.send("hi")
    assert texts(effects) == ["Still here."]
    problems = [e.message for e in effects if isinstance(e, ReportProblem)]
    assert problems and words in problems[0], problems


@pytest.mark.parametrize(
    ("template", "shown"),
    [
        ("{{ 'abcdefghijklmnopq' | truncate(9, leeway=0) }}", "abcdef..."),
        ("{{ 'aaa bbb ccc' | wordwrap(4) }}", "aaa\nbbb\nccc"),
        ("[{{ 'a' | center(5) }}]", "[  a  ]"),
        ("{{ ['a', 'b'] | join(', ') }}, {{ 'x-y' | replace('-', '+') }}", "a, b, x+y"),
        ("{{ '%s is %05.1f%%' % ('pi', 3.14159) }}", "pi is 003.1%"),
        ("{{ '[{:>6}|{}]'.format('ab', 1) }}", "[    ab|1]"),
        ("{{ 'ab' ~ 1 ~ none }}", "ab1None"),
        ("{{ 2 ** 10 * 3 }}, {{ 'ab' * 3 }}", "3072, ababab"),
    ],
)
def test_ordinary_templates_are_unchanged(tmp_path: Path, template: str, shown: str) -> None:
    """(truncate and wordwrap did not work at all: their width cap dropped the environment
    Jinja passes them.)"""
    source = (
        "bot: {name: T, start: a, parse_mode: none}\nstates:\n  a:\n    say: |-\n      "
        + template
        + "\n    end: true\n"
    )
    assert texts(Conversation(compile_yaml(source, tmp_path)).send("hi")) == [shown]

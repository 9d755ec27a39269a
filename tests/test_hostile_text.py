"""Hostile user text comes back as data, escaped for the parse mode; hostile templates stop
at their caps. Nothing a user types reaches the template compiler."""

from __future__ import annotations

from pathlib import Path

import pytest
from builders import Conversation, compile_yaml, texts

from engine.core.effects import ReportProblem

ECHO = """
bot: {{name: T, start: listen, parse_mode: {mode}}}
vars: {{said: null}}
states:
  listen:
    say: Say something
    ask: {{var: said}}
    goto: answer
  answer:
    say: "You said: {{{{ said }}}} / {{{{ message.text }}}}"
    goto: listen
"""


def echo(tmp_path: Path, text: str, mode: str = "HTML") -> list[str]:
    chat = Conversation(compile_yaml(ECHO.format(mode=mode), tmp_path))
    chat.send("hi")
    return texts(chat.send(text))[:-1]  # the last text is the next "Say something."


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("{{ 7*7 }}", "{{ 7*7 }}"),
        ("{% for x in range(9) %}x{% endfor %}", "{% for x in range(9) %}x{% endfor %}"),
        ("<b>&'\"", "&lt;b&gt;&amp;&#39;&#34;"),
        ("{{ ''.__class__.__mro__ }}", "{{ &#39;&#39;.__class__.__mro__ }}"),
        (
            "a\u200bb\u200dc \u202eevil\u202c 👩\u200d👩\u200d👧",
            "a\u200bb\u200dc \u202eevil\u202c 👩\u200d👩\u200d👧",
        ),
    ],
)
def test_user_text_is_data_escaped_for_html(tmp_path: Path, typed: str, shown: str) -> None:
    assert echo(tmp_path, typed) == [f"You said: {shown} / {shown}"]


def test_markdown_v2_specials_in_user_text_are_escaped(tmp_path: Path) -> None:
    assert echo(tmp_path, "*bold* _x_ [a](b) 1.5!", "MarkdownV2") == [
        r"You said: \*bold\* \_x\_ \[a\]\(b\) 1\.5\! / \*bold\* \_x\_ \[a\]\(b\) 1\.5\!"
    ]


def test_plain_parse_mode_passes_text_unchanged(tmp_path: Path) -> None:
    assert echo(tmp_path, "<b>{{ x }}</b>", "none") == ["You said: <b>{{ x }}</b> / <b>{{ x }}</b>"]


def test_100_kb_of_text_is_split_into_messages_and_nothing_is_lost(tmp_path: Path) -> None:
    typed = ("lorem ipsum " * 9000)[:100_000]
    pieces = echo(tmp_path, typed)
    assert all(0 < len(p) <= 4096 for p in pieces) and len(pieces) >= 49
    assert " ".join(pieces).split() == f"You said: {typed} / {typed}".split()


@pytest.mark.parametrize(
    "template",
    [
        "{{ 'x' * 50000000 }}",
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "{{ ''.__class__.__mro__ }}",
        "{{ 'a' | center(1000000000) }}",
        "{{ '%999999999s' % 'a' }}",
        "{{ [1] * 100000000 }}",
    ],
)
def test_hostile_templates_stop_at_their_caps_and_are_reported(
    tmp_path: Path, template: str
) -> None:
    source = f'bot: {{name: T, start: a}}\nstates:\n  a:\n    say: ["{template}", Still here.]\n    end: true\n'
    chat = Conversation(compile_yaml(source, tmp_path))
    effects = chat.send("hi")
    assert texts(effects) == ["Still here."]
    assert any(isinstance(e, ReportProblem) for e in effects)


def test_loops_over_a_users_text_are_capped_too(tmp_path: Path) -> None:
    """Telegram lets a user send 4,096 characters; three loops nested over them would be
    68 billion turns. The render stops at its work budget, the bot carries on."""
    loops = "{% for a in said %}{% for b in said %}{% for c in said %}{% endfor %}{% endfor %}{% endfor %}"
    source = (
        "bot: {name: T, start: a}\nvars: {said: null}\nstates:\n"
        "  a: {say: Say it., ask: {var: said}, goto: b}\n"
        f'  b: {{say: ["{loops}", "Letters: {{% for c in said %}}{{{{ c }}}}.{{% endfor %}}"], end: true}}\n'
    )
    chat = Conversation(compile_yaml(source, tmp_path))
    chat.send("hi")
    assert texts(chat.send("abc")) == ["Letters: a.b.c."]  # small loops are untouched
    chat.send("/start")
    effects = chat.send("x" * 4096)
    assert "".join(texts(effects)) == "Letters:" + "x." * 4096  # in 3 messages
    assert any(isinstance(e, ReportProblem) and "too much work" in e.message for e in effects), (
        effects
    )

"""A reply over 4096 characters is split into messages Telegram accepts one by one: cut at
paragraphs, never inside an HTML tag or entity or after a MarkdownV2 backslash, and with
bold, italic or links that span a cut closed and opened again."""

from __future__ import annotations

import html
import re
from pathlib import Path

from builders import Conversation, compile_yaml, texts, valid_html
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.core.effects import SendText
from engine.core.rendering import split_text
from engine.testing.bot_api_spec import SpecViolation, visible_text

_TAG = re.compile(r"<(/?)([a-z-]+)[^<>]*>")


def visible(text: str) -> str:
    return "".join(html.unescape(_TAG.sub("", text)).split())


def test_bold_over_a_paragraph_cut_is_closed_and_opened_again() -> None:
    text = (
        "<b>"
        + "word " * 700
        + "\n\n"
        + "more " * 300
        + '</b> and <a href="https://x.example">a link</a>'
    )
    pieces = split_text(text, parse_mode="HTML")
    assert len(pieces) == 2 and all(len(p) <= 4096 for p in pieces)
    assert pieces[0].startswith("<b>word") and pieces[0].endswith("word</b>")
    assert pieces[1].startswith("<b>more") and pieces[1].endswith("a link</a>")
    assert all(valid_html(p) for p in pieces)


def test_escaped_user_text_without_spaces_is_never_cut_inside_an_entity(
    tmp_path: Path,
) -> None:
    source = (
        "bot: {name: T, start: a}\nvars: {said: null}\nstates:\n"
        "  a: {say: Say it., ask: {var: said}, goto: b}\n"
        '  b: {say: "<i>You said</i> {{ said }}", end: true}\n'
    )
    chat = Conversation(compile_yaml(source, tmp_path))
    chat.send("hi")
    typed = "&<b>" * 6000  # 24 kB typed, 60 kB once escaped, no space to cut at
    effects = chat.send(typed)
    pieces = texts(effects)
    assert len(pieces) >= 15 and all(isinstance(e, SendText) for e in effects)
    assert all(0 < len(p) <= 4096 and valid_html(p) for p in pieces), [
        (p[:12], p[-12:]) for p in pieces if not valid_html(p)
    ]
    assert visible("".join(pieces)) == visible("You said " + html.escape(typed))


def test_no_message_is_only_tags() -> None:
    """Telegram refuses a message with no text; a cut right after an opening tag made one."""
    pieces = split_text("<b>\n\n" + "x" * 5000 + "</b>", parse_mode="HTML")
    assert all(visible(p) for p in pieces)
    assert all(valid_html(p) and len(p) <= 4096 for p in pieces)
    assert visible("".join(pieces)) == "x" * 5000


def test_markdown_v2_escapes_stay_with_what_they_escape() -> None:
    text = "x" + "\\." * 3000  # odd start: a cut at 4096 would fall between \ and .
    pieces = split_text(text, parse_mode="MarkdownV2")
    assert len(pieces) == 2 and all(len(p) <= 4096 for p in pieces)
    assert not pieces[0].endswith("\\") or pieces[0].endswith("\\\\")
    assert pieces[1].startswith("\\.")
    assert "".join(pieces) == text


words = st.sampled_from(
    ["pizza", "&amp;", "&lt;", "<b>", "</b>", "<i>", "</i>", "x" * 50, " ", "\n", "\n\n", "🍕"]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(words, min_size=1, max_size=400), st.integers(40, 400))
def test_every_piece_of_balanced_html_is_valid_html(parts: list[str], limit: int) -> None:
    text = _balanced("".join(parts))
    pieces = split_text(text, limit, parse_mode="HTML")
    assert all(0 < len(p) <= limit for p in pieces)
    assert all(visible(p) for p in pieces) or not visible(text)
    assert all(valid_html(p) for p in pieces), pieces
    assert visible("".join(pieces)) == visible(text)


def _balanced(text: str) -> str:
    """Drop the closing tags that close nothing, and close what is left open."""
    out: list[str] = []
    stack: list[str] = []
    position = 0
    for found in _TAG.finditer(text):
        out.append(text[position : found.start()])
        position = found.end()
        name = found.group(2)
        if not found.group(1):
            stack.append(name)
            out.append(found.group(0))
        elif stack and stack[-1] == name:
            stack.pop()
            out.append(found.group(0))
    out.append(text[position:])
    out.extend(f"</{name}>" for name in reversed(stack))
    return "".join(out)


def markdown_visible(text: str) -> str:
    return "".join(visible_text(text, "markdownv2").replace("\r", "").split())


def test_markdown_v2_entities_over_a_cut_are_closed_and_opened_again() -> None:
    """A bold paragraph cut at 4,096 characters left `*` open in the first message and a
    stray `*` in the second: Telegram refused both."""
    text = "*" + "bold words " * 500 + "* then _" + "it " * 1500 + "_ __" + "u " * 2000 + "__"
    pieces = split_text(text, parse_mode="MarkdownV2")
    assert len(pieces) >= 3 and all(len(p) <= 4096 for p in pieces)
    for piece in pieces:
        visible_text(piece, "markdownv2")  # raises where Telegram would refuse the piece
    assert pieces[0].startswith("*") and pieces[0].endswith("*")
    assert pieces[1].startswith("*") or pieces[1].startswith("_")
    assert "".join(markdown_visible(p) for p in pieces) == markdown_visible(text)


def test_markdown_v2_code_and_links_survive_a_cut() -> None:
    link = "[the menu](https://example.com/menu)"
    text = "`" + "code " * 1000 + "` " + ("word " * 810) + link + " end"
    pieces = split_text(text, parse_mode="MarkdownV2")
    assert all(len(p) <= 4096 for p in pieces)
    visible_text(pieces[0], "markdownv2")  # (the fake's parser knows no links)
    assert pieces[0].endswith("`") and pieces[1].startswith("`")
    assert sum(link in p for p in pieces) == 1  # never cut inside the link


def test_underline_and_italic_reopened_side_by_side_stay_apart() -> None:
    """`___` reads as underline then italic; a `\\r` (ignored by Telegram) keeps them apart."""
    text = "__ _" + "x " * 3000 + "_ __"
    pieces = split_text(text, parse_mode="MarkdownV2")
    assert pieces[0].endswith("_\r__") and pieces[1].startswith("__\r_")


md_words = st.sampled_from(
    ["pizza", "\\.", "\\!", "*", "_", "__", "~", "||", " ", "\n", "\n\n", "🍕", "x" * 40]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(md_words, min_size=1, max_size=300), st.integers(60, 400))
def test_every_piece_of_valid_markdown_v2_is_valid(parts: list[str], limit: int) -> None:
    text = "".join(parts)
    try:
        visible_text(text, "markdownv2")
    except SpecViolation:
        return  # only texts Telegram accepts as a whole
    pieces = split_text(text, limit, parse_mode="MarkdownV2")
    assert all(0 < len(p) <= limit for p in pieces)
    for piece in pieces:
        visible_text(piece, "markdownv2")

"""A message's text as safe HTML for the playground page, the way Telegram shows it: the
entities of its parse mode (bold, italic, underline, strike, spoiler, code, pre, links, quotes)
become the page's own tags, and everything else is text, escaped. Nothing an author or a user
writes reaches the page as markup, so a message cannot run a script in it."""

from __future__ import annotations

import html
from html.parser import HTMLParser

from engine.core.markdown_v2 import RESERVED

# Telegram's HTML tags, by the page's tag each is shown with
_HTML_TAGS = {
    "b": "b",
    "strong": "b",
    "i": "i",
    "em": "i",
    "u": "u",
    "ins": "u",
    "s": "s",
    "strike": "s",
    "del": "s",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}
_SAFE_SCHEMES = ("http://", "https://", "tg://", "mailto:")
_SPOILER = '<span class="spoiler" tabindex="0">'
# MarkdownV2 marks, longest first (`__` is underline, `_` italic), by the page's tag
_MARKS = {"||": "spoiler", "__": "u", "*": "b", "_": "i", "~": "s"}


def as_html(text: str, parse_mode: str | None) -> str:
    """`text` of a message with `parse_mode` (HTML, MarkdownV2 or None) as safe HTML."""
    if parse_mode == "HTML":
        return _from_html(text)
    if parse_mode == "MarkdownV2":
        return _from_markdown(text)
    return html.escape(text, quote=False)


def _link(url: str) -> str:
    """An opening <a> for `url`, or a plain <span> when its scheme could run something."""
    if url.strip().lower().startswith(_SAFE_SCHEMES):
        return f'<a href="{html.escape(url.strip())}" target="_blank" rel="noopener noreferrer">'
    return '<span class="link">'


class _TelegramHtml(HTMLParser):
    """Telegram's HTML subset rebuilt tag by tag; a tag outside it shows as text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open: list[str] = []  # the page's closing tags, innermost last

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag in _HTML_TAGS:
            self._open(f"<{_HTML_TAGS[tag]}>", f"</{_HTML_TAGS[tag]}>")
        elif tag == "tg-spoiler" or (tag == "span" and values.get("class") == "tg-spoiler"):
            self._open(_SPOILER, "</span>")
        elif tag == "a":
            opening = _link(values.get("href", ""))
            self._open(opening, "</a>" if opening.startswith("<a") else "</span>")
        elif tag == "tg-emoji":
            self._open("<span>", "</span>")
        else:
            self.out.append(html.escape(self.get_starttag_text() or f"<{tag}>", quote=False))

    def _open(self, opening: str, closing: str) -> None:
        self.out.append(opening)
        self.open.append(closing)

    def handle_endtag(self, tag: str) -> None:
        if self.open and tag in (*_HTML_TAGS, "tg-spoiler", "span", "a", "tg-emoji"):
            self.out.append(self.open.pop())
        else:
            self.out.append(html.escape(f"</{tag}>", quote=False))

    def handle_data(self, data: str) -> None:
        self.out.append(html.escape(data, quote=False))

    def result(self) -> str:
        self.close()
        return "".join(self.out) + "".join(reversed(self.open))


def _from_html(text: str) -> str:
    parser = _TelegramHtml()
    parser.feed(text)
    return parser.result()


def _from_markdown(text: str) -> str:
    """MarkdownV2 read as Telegram reads it: `\\x` is a literal x; marks toggle entities;
    inside code and pre only their own closing mark counts; `[text](url)` is a link;
    `>` at a line's start is a quote."""
    out: list[str] = []
    open_marks: list[str] = []
    index, size = 0, len(text)
    quote = False
    while index < size:
        char = text[index]
        at_line_start = index == 0 or text[index - 1] == "\n"
        if at_line_start and quote and char != ">":
            out.append("</blockquote>")
            quote = False
        if at_line_start and char == ">":
            if not quote:
                out.append("<blockquote>")
                quote = True
            index += 1
            continue
        if char == "\\" and index + 1 < size and text[index + 1] in RESERVED:
            out.append(html.escape(text[index + 1], quote=False))
            index += 2
        elif text.startswith("```", index):
            end = text.find("```", index + 3)
            end = size if end < 0 else end
            body = text[index + 3 : end]
            first, newline, rest = body.partition("\n")
            if newline and (not first or first.isidentifier()):
                body = rest
            out.append(f"<pre>{html.escape(_unescaped(body), quote=False)}</pre>")
            index = end + 3
        elif char == "`":
            end = text.find("`", index + 1)
            end = size if end < 0 else end
            body = _unescaped(text[index + 1 : end])
            out.append(f"<code>{html.escape(body, quote=False)}</code>")
            index = end + 1
        elif char == "[" and (link := _markdown_link(text, index)) is not None:
            label, url, index = link
            opening = _link(url)
            closing = "</a>" if opening.startswith("<a") else "</span>"
            out.append(opening + _from_markdown(label) + closing)
        elif mark := next((m for m in _MARKS if text.startswith(m, index)), None):
            tag = _MARKS[mark]
            if mark in open_marks:
                while open_marks and open_marks[-1] != mark:  # badly nested: close inner ones
                    out.append(_closing(_MARKS[open_marks.pop()]))
                open_marks.pop()
                out.append(_closing(tag))
            else:
                open_marks.append(mark)
                out.append(_SPOILER if tag == "spoiler" else f"<{tag}>")
            index += len(mark)
        else:
            out.append(html.escape(char, quote=False))
            index += 1
    out.extend(_closing(_MARKS[mark]) for mark in reversed(open_marks))
    if quote:
        out.append("</blockquote>")
    return "".join(out)


def _closing(tag: str) -> str:
    return "</span>" if tag == "spoiler" else f"</{tag}>"


def _unescaped(text: str) -> str:
    """Code and pre keep their text; only `\\` before ` and \\ is an escape in them."""
    return text.replace("\\`", "`").replace("\\\\", "\\")


def _markdown_link(text: str, start: int) -> tuple[str, str, int] | None:
    """`[label](url)` at `start`: its label, url and the index after it; None otherwise."""
    depth, index = 0, start
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
            if depth == 0:
                break
        index += 1
    if index >= len(text) or not text.startswith("(", index + 1):
        return None
    close = index + 2
    while close < len(text) and text[close] != ")":
        close += 2 if text[close] == "\\" else 1
    if close >= len(text):
        return None
    url = text[index + 2 : close].replace("\\)", ")").replace("\\\\", "\\")
    return text[start + 1 : index], url, close + 1

"""Reading Telegram's MarkdownV2 as Telegram does: which entities are open at a point of a
text (so a long text is cut into messages that each close and reopen them) and which
reserved characters are written bare (Telegram refuses the whole message for one `.`)."""

from __future__ import annotations

from dataclasses import dataclass

# Characters Telegram reserves: outside entities each must be written with a `\` before it.
RESERVED = frozenset("_*[]()~`>#+-=|{}.!\\")
# Marks that open and close an entity, longest first (`__` is underline, `_` italic).
_MARKS = ("```", "||", "__", "*", "_", "~", "`")


@dataclass(frozen=True)
class Reading:
    """What is still open at the end of a text."""

    entities: tuple[str, ...]  # the opening marks, outermost first (a pre block with its language)
    link_start: int | None  # where an unfinished `[text](url)` starts


def closing_mark(opening: str) -> str:
    return "```" if opening.startswith("```") else opening


def read(text: str) -> Reading:
    """The entities open at the end of `text` and an unfinished link, escapes respected;
    inside code and pre blocks only their own closing mark counts."""
    stack: list[str] = []
    link: int | None = None
    in_url = False
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        code = stack[-1] if stack and stack[-1][0] == "`" else None
        if code is not None:
            close = closing_mark(code)
            if text.startswith(close, index):
                stack.pop()
                index += len(close)
            else:
                index += 1
            continue
        if in_url:
            if char == ")":
                in_url, link = False, None
            index += 1
            continue
        if char == "[" and link is None:
            link = index
        elif char == "]" and link is not None:
            if text.startswith("(", index + 1):
                in_url = True
                index += 2
                continue
            link = None
        mark = next((m for m in _MARKS if text.startswith(m, index)), None)
        if mark is None:
            index += 1
            continue
        opening = mark
        if mark == "```":
            end = text.find("\n", index)
            language = text[index + 3 : end] if end >= 0 else ""
            if language and language.isidentifier():
                opening = mark + language + "\n"
        if any(closing_mark(o) == mark for o in stack) and mark != "```":
            while stack and closing_mark(stack[-1]) != mark:
                stack.pop()  # (badly nested: Telegram would refuse it anyway)
            stack.pop()
        else:
            stack.append(opening)
        index += len(opening)
    return Reading(tuple(stack), link)


def bare_reserved(text: str) -> list[int]:
    """Where `text` holds a reserved character Telegram refuses unescaped: every one that
    is not part of an entity mark, a `[text](url)` link, a `>` quote at a line's start, or
    inside code. Template syntax must be taken out by the caller."""
    found: list[int] = []
    in_code: str | None = None
    link_depth = 0
    in_url = False
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if in_code is not None:
            if text.startswith(in_code, index):
                index += len(in_code)
                in_code = None
            else:
                index += 1
            continue
        if in_url:
            if char == ")":
                in_url = False
            index += 1
            continue
        if text.startswith("```", index) or char == "`":
            in_code = "```" if text.startswith("```", index) else "`"
            index += len(in_code)
            continue
        mark = next((m for m in _MARKS if text.startswith(m, index)), None)
        if mark is not None:
            index += len(mark)
            continue
        if char == "[" and text.find("](", index) >= 0:
            link_depth += 1
        elif char == "]" and link_depth and text.startswith("(", index + 1):
            link_depth -= 1
            in_url = True
            index += 2
            continue
        elif char == ">" and (index == 0 or text[index - 1] == "\n"):
            pass  # a quote
        elif char in RESERVED:
            found.append(index)
        index += 1
    return found


def joined(*parts: str) -> str:
    """Parts put together with a `\r` (which Telegram ignores) where an `_` would meet an
    `_`: `___` is read as underline then italic, whatever was meant."""
    out = ""
    for part in parts:
        if out.endswith("_") and part.startswith("_") and not out.endswith("\\_"):
            out += "\r"
        out += part
    return out


def escaped(text: str, positions: list[int]) -> str:
    """`text` with a `\\` before each of `positions`."""
    out = list(text)
    for position in reversed(positions):
        out.insert(position, "\\")
    return "".join(out)


def without_marks(text: str) -> str:
    """`text` with every unescaped reserved character escaped: its marks shown as written."""
    out: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\":
            out.append(text[index : index + 2])
            index += 2
            continue
        out.append("\\" + char if char in RESERVED else char)
        index += 1
    return "".join(out)

"""YAML syntax errors explained in the author's words: the parser says "while parsing a block
mapping; did not find expected key" where the author wrote a `{{` without quotes or indented a
key by one space too many. The common mistakes are recognised from the lines around the
parser's marks and told with the right line and the line to write instead; anything else
keeps the parser's own words."""

from __future__ import annotations

import re
from dataclasses import dataclass

# `key: value`, `- key: value` or `- value` at the start of a line: group 1 is everything up
# to the value (indentation, dash, key, colon, spaces), group 2 the key if there is one
_VALUE_LINE = re.compile(
    r"^(\s*(?:-\s+)*(?:([^\s#'\"{}\[\],&*!|>%@`-][^:#]*?|\"[^\"]*\"|'[^']*')\s*:\s+)?(?:-\s+)*)(\S.*)$"
)
_KEY_LINE = re.compile(r"^(\s*)(?:-\s+)*([^\s#:][^:#]*?)\s*:(?:\s|$)")


@dataclass(frozen=True)
class Explanation:
    """What went wrong, where (line and column from 1) and what to write instead."""

    line: int
    column: int
    message: str


def quoted(text: str) -> str:
    """`text` as a YAML text in double quotes (single quotes when it holds a double quote)."""
    if '"' in text and "'" not in text:
        return f"'{text}'"
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _plain_value(rest: str) -> str:
    """A plain value as the author meant it: up to a comment (` #`), without trailing spaces."""
    comment = re.search(r"\s#", rest)
    return (rest[: comment.start()] if comment else rest).rstrip()


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _written_with_quotes(lines: list[str], number: int) -> tuple[str, str] | None:
    """The line as it should be written, its value in quotes: (what to write, the key shown)."""
    if not 0 <= number < len(lines):
        return None
    match = _VALUE_LINE.match(lines[number])
    if match is None:
        return None
    head, key, rest = match.group(1), match.group(2), match.group(3)
    value = _plain_value(rest)
    return f"{head.strip()} {quoted(value)}".strip(), key or ""


def explain(
    text: str,
    problem: str,
    problem_at: tuple[int, int] | None,
    context: str = "",
    context_at: tuple[int, int] | None = None,
) -> Explanation | None:
    """The common mistake behind a parser error, or None; positions count from 0, as the
    parser's marks do."""
    if problem_at is None:
        return None
    lines = text.splitlines()
    line, column = problem_at
    current = lines[line] if 0 <= line < len(lines) else ""
    for candidate in _candidates(line, context_at):
        found = unquoted_braces(lines, candidate)
        if found is not None:
            return found
    if "mapping values are not allowed" in problem:
        return _colon(lines, line, column)
    if "cannot start any token" in problem and current[column : column + 1] in ("`", "@"):
        return _reserved_start(lines, line, column)
    if context_at is not None and ("block mapping" in context or "block collection" in context):
        return (
            _text_after_quotes(lines, line, column)
            or _list_item_without_dash(lines, line, column, context, context_at)
            or _wrong_indentation(lines, line, column, context_at)
        )
    return None


def _candidates(line: int, context_at: tuple[int, int] | None) -> list[int]:
    """The lines a mistake can be on: the parser stops on it, or a little after it."""
    found = [line]
    if context_at is not None and context_at[0] not in found:
        found.append(context_at[0])
    return found


def unquoted_braces(lines: list[str], number: int) -> Explanation | None:
    """`say: {{ name }}, hi`: the braces start a mapping, and what follows it is a mistake."""
    if not 0 <= number < len(lines):
        return None
    match = _VALUE_LINE.match(lines[number])
    if match is None or not match.group(3).startswith("{{"):
        return None
    written = _written_with_quotes(lines, number)
    assert written is not None
    return Explanation(
        number + 1,
        len(match.group(1)) + 1,
        "a text that starts with '{{' needs quotes around it, or YAML reads the braces as a "
        f"mapping: write {written[0]}",
    )


def _colon(lines: list[str], line: int, column: int) -> Explanation | None:
    """'mapping values are not allowed': a ': ' in a text, a text ending with ':', or a key
    indented further than the key above it (so it continues that key's text)."""
    current = lines[line] if 0 <= line < len(lines) else ""
    key = _KEY_LINE.match(current)
    if key is not None and len(key.group(0).rstrip()) == column + 1 and line > 0:
        above = _previous_content_line(lines, line)
        if above is not None:
            above_key = _KEY_LINE.match(lines[above])
            if above_key is not None and _indent(lines[above]) < _indent(current):
                name, spaces = key.group(2), above_key.start(2)
                return Explanation(
                    line + 1,
                    _indent(current) + 1,
                    f"`{name}:` is indented more than `{above_key.group(2)}:` on line "
                    f"{above + 1}, so YAML reads it as more of that text; indent `{name}:` "
                    f"by {spaces} spaces, like `{above_key.group(2)}:`.",
                )
    written = _written_with_quotes(lines, line)
    if written is None:
        return None
    if current[column + 1 :].strip() == "" or current[column + 1 :].lstrip().startswith("#"):
        return Explanation(
            line + 1,
            column + 1,
            "a text that ends with ':' must be in quotes, or YAML reads it as a key: "
            f"write {written[0]}",
        )
    return Explanation(
        line + 1,
        column + 1,
        "this text contains ': ', which YAML reads as the start of a key: put the whole "
        f"text in quotes: write {written[0]}",
    )


def _reserved_start(lines: list[str], line: int, column: int) -> Explanation | None:
    character = lines[line][column]
    written = _written_with_quotes(lines, line)
    if written is None:
        return None
    return Explanation(
        line + 1,
        column + 1,
        f"a text cannot start with '{character}' unless it is in quotes (YAML keeps that "
        f"character for itself): write {written[0]}",
    )


def _text_after_quotes(lines: list[str], line: int, column: int) -> Explanation | None:
    """`say: "Hi" there` or `say: 'It's'`: the quotes closed before the text ended."""
    current = lines[line] if 0 <= line < len(lines) else ""
    match = _VALUE_LINE.match(current)
    if match is None or column <= len(match.group(1)):
        return None
    value = _plain_value(match.group(3))
    quote = value[:1]
    if quote not in ("'", '"'):
        return None
    closing = len(current[:column].rstrip())  # the quote that ended the text, from 1
    if value.endswith(quote) and len(value) > 1:  # a quote inside the quotes: `'It's late'`
        inner = value[1:-1]
        if quote == "'":
            fixed = "'" + inner.replace("''", "'").replace("'", "''") + "'"
            advice = "inside '…' write a ' twice ('')"
        else:
            fixed = '"' + inner.replace('\\"', '"').replace('"', '\\"') + '"'
            advice = 'inside "…" write a " as \\"'
        return Explanation(
            line + 1,
            closing,
            f"this quote ends the text, and what follows it is not understood ({advice}): "
            f"write {match.group(1).strip()} {fixed}",
        )
    whole = value[1:].replace(quote, "", 1)  # `"Hi" there`: the quotes around part of it
    return Explanation(
        line + 1,
        closing,
        "this quote ends the text, and what follows it is not understood: put the whole text "
        f"in one pair of quotes: write {match.group(1).strip()} {quoted(whole)}",
    )


def _list_item_without_dash(
    lines: list[str], line: int, column: int, context: str, context_at: tuple[int, int]
) -> Explanation | None:
    """A key lined up with the '-' of the list above it: neither an item nor the list's owner's."""
    if "block collection" not in context or column != context_at[1]:
        return None
    key = _KEY_LINE.match(lines[line])
    if key is None:
        return None
    item_key = _KEY_LINE.match(lines[_last_item_line(lines, line, column)])
    inside = f", like `{item_key.group(2)}:`" if item_key is not None else ""
    return Explanation(
        line + 1,
        column + 1,
        f"`{key.group(2)}:` lines up with the '-' of the list on line {context_at[0] + 1} but "
        f"is not an item: if it belongs to the item, indent it by 2 more spaces{inside}; if it "
        "belongs beside the list, indent it less, like the key above the list.",
    )


def _last_item_line(lines: list[str], line: int, column: int) -> int:
    for number in range(line - 1, -1, -1):
        if lines[number][column : column + 1] == "-" and _indent(lines[number]) == column:
            return number
    return line


def _wrong_indentation(
    lines: list[str], line: int, column: int, context_at: tuple[int, int]
) -> Explanation | None:
    """A key indented by a number of spaces no key above it has."""
    current = lines[line] if 0 <= line < len(lines) else ""
    key = _KEY_LINE.match(current)
    if key is None or column != _indent(current):
        return None
    levels = sorted(
        {
            _indent(lines[n])
            for n in range(context_at[0], line)
            if _KEY_LINE.match(lines[n]) and not lines[n].lstrip().startswith("-")
        }
    )
    shown = " or ".join(str(level) for level in levels) or str(context_at[1])
    return Explanation(
        line + 1,
        column + 1,
        f"`{key.group(2)}:` is indented by {column} spaces, which lines it up with no key "
        f"above it (the keys there are indented by {shown}): indent it exactly like the key "
        "it belongs beside.",
    )


def _previous_content_line(lines: list[str], line: int) -> int | None:
    for number in range(line - 1, -1, -1):
        stripped = lines[number].strip()
        if stripped and not stripped.startswith("#"):
            return number
    return None


def comma_in_braces(key: str, joined: str, written_key: str) -> str:
    """`{say: Hi, bye.}`: inside braces a comma separates entries, so 'bye.' became a key."""
    return (
        f"inside {{ }} a comma separates entries, so the text is cut at the comma and '{key}' "
        f"is read as a key: put the text in quotes: write {written_key}: {quoted(joined)}"
    )


def text_ending_with_colon(text: str) -> str:
    """`- Choose one:` in a list: a key with no value, where a text was meant."""
    return (
        "a text that ends with ':' must be in quotes, or YAML reads it as a key: "
        f"write - {quoted(text)}"
    )

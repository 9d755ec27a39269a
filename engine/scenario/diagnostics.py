"""Problems found in scenario files, as values with positions (never raised one by one)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Position:
    """A place in a file; line and column count from 1, as editors show them."""

    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line <= 0:
            return self.file
        return f"{self.file}:{self.line}:{self.column}"


# How relevant each kind of problem is: lower comes first. A file that cannot be read
# hides everything else; a misspelt key or state explains more than a style warning.
_RANK = {
    "file": 0,
    "yaml": 1,
    "schema": 2,
    "reference": 3,
    "content": 4,
    "style": 5,
}


@dataclass(frozen=True)
class Diagnostic:
    """One problem: where it is, how bad it is, what to write instead, and a stable code."""

    position: Position
    severity: Severity
    code: str
    message: str
    group: str = "content"

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def sort_key(self) -> tuple[int, int, str, int, int, str]:
        return (
            0 if self.is_error else 1,
            _RANK.get(self.group, 9),
            self.position.file,
            self.position.line,
            self.position.column,
            self.code,
        )

    def format(self) -> str:
        return f"{self.position}: {self.severity.value}: {self.message} [{self.code}]"

    def as_json(self) -> dict[str, object]:
        return {
            "file": self.position.file,
            "line": self.position.line,
            "column": self.position.column,
            "severity": self.severity.value,
            "code": self.code,
            "message": self.message,
        }


# Messages quote what the author wrote, which may hold line breaks (a `|` text, a "\n"); each
# problem must stay on one line of output, so they are shown escaped.
_LINE_BREAKS = str.maketrans({c: repr(c)[1:-1] for c in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"})


def error(position: Position, code: str, message: str, group: str = "content") -> Diagnostic:
    return Diagnostic(position, Severity.ERROR, code, message.translate(_LINE_BREAKS), group)


def warning(position: Position, code: str, message: str, group: str = "style") -> Diagnostic:
    return Diagnostic(position, Severity.WARNING, code, message.translate(_LINE_BREAKS), group)


def ordered(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Errors before warnings, the most relevant kind first, then in file order; no repeats."""
    unique = {(d.position, d.code, d.message): d for d in diagnostics}
    return sorted(unique.values(), key=Diagnostic.sort_key)


def as_json_document(
    files: list[str],
    diagnostics: list[Diagnostic],
    translated: dict[str, dict[str, str]] | None = None,
) -> str:
    """The report for editors and CI; `translated`: per scenario, each language's share."""
    errors = sum(1 for d in diagnostics if d.is_error)
    return json.dumps(
        {
            "files": files,
            "errors": errors,
            "warnings": len(diagnostics) - errors,
            "diagnostics": [d.as_json() for d in diagnostics],
            "translated": translated or {},
        },
        ensure_ascii=False,
        indent=2,
    )

"""The diagnostic codes the scenario checker can emit, read from engine/scenario's source, so
that tests notice a new code (it needs a broken-scenario case) or a misspelt expectation."""

from __future__ import annotations

import ast
import fnmatch
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Codes that are warnings: the bot can run, but something is probably not what was meant.
WARNING_CODES = frozenset(
    {
        "unreachable-state",
        "dead-end",
        "migration-never-used",
        "unreachable-branch",
        "unreachable-handler",
        "ask-option-unused",
        "set-and-clear",
        "set-text-template",
        "set-text-shown",
        "null-filter",
        "keyboard-options-unused",
        "answers-taken",
        "role-never-granted",
    }
)

# Problems with the file as a whole: they have no line (Position.line is 0).
FILE_LEVEL_CODES = frozenset({"file-too-large", "file-not-found", "file-unreadable"})


def _codes_in(node: ast.expr) -> set[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _codes_in(node.body) | _codes_in(node.orelse)
    if isinstance(node, ast.JoinedStr):  # f"duplicate-{kind}" becomes the pattern duplicate-*
        return {"".join(str(v.value) if isinstance(v, ast.Constant) else "*" for v in node.values)}
    return set()


@cache
def emitted_codes(package: str = "scenario") -> frozenset[str]:
    """The second argument of every error(), warning() and _fatal() call in engine/<package>,
    and what is assigned to a variable named `code` there; f-strings become patterns."""
    codes: set[str] = set()
    for source in sorted((ROOT / "engine" / package).glob("*.py")):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("error", "warning", "_fatal")
                and len(node.args) >= 2
            ):
                codes |= _codes_in(node.args[1])
            elif isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "code" for t in node.targets
            ):
                codes |= _codes_in(node.value)
    return frozenset(codes)


def is_known_code(code: str) -> bool:
    return any(fnmatch.fnmatchcase(code, pattern) for pattern in emitted_codes())

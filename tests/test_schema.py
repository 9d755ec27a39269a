"""The published schema: every key documented with a description and an example that is
itself valid, unknown keys rejected everywhere, and the bundled scenarios valid against it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "schemas" / "scenario.schema.json").read_text(encoding="utf-8"))


def _objects(node: Any, where: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        if "properties" in node:
            yield where, node
        for key, value in node.items():
            yield from _objects(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _objects(value, f"{where}/{i}")


PROPERTIES = [
    (f"{where}/{name}", sub)
    for where, obj in _objects(SCHEMA)
    for name, sub in obj["properties"].items()
]


def test_schema_is_valid_2020_12() -> None:
    Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"].endswith("2020-12/schema")


def test_the_schema_has_the_keys_of_the_language_brief() -> None:
    state_keys = set(SCHEMA["$defs"]["state"]["properties"])
    assert {
        "say",
        "buttons",
        "keyboard",
        "ask",
        "on",
        "goto",
        "set",
        "clear",
        "do",
        "call",
        "return",
        "after",
        "only",
        "end",
    } <= state_keys
    assert {"bot", "vars", "commands", "fallback", "migrations", "include", "states"} <= set(
        SCHEMA["properties"]
    )


@pytest.mark.parametrize(("where", "sub"), PROPERTIES, ids=[w for w, _ in PROPERTIES])
def test_every_key_has_a_description_and_a_valid_example(where: str, sub: dict[str, Any]) -> None:
    assert sub.get("description"), f"{where} has no description"
    assert sub.get("examples"), f"{where} has no example"
    validator = Draft202012Validator({**sub, "$defs": SCHEMA["$defs"]})
    for example in sub["examples"]:
        problems = [e.message for e in validator.iter_errors(example)]
        assert not problems, f"the example {example!r} of {where} is invalid: {problems}"


@pytest.mark.parametrize(
    ("where", "obj"), list(_objects(SCHEMA)), ids=[w for w, _ in _objects(SCHEMA)]
)
def test_unknown_keys_are_rejected_everywhere(where: str, obj: dict[str, Any]) -> None:
    assert obj.get("additionalProperties") is False, f"{where} accepts unknown keys"


@pytest.mark.parametrize("name", ["hello.yaml", "demo.yaml"])
def test_bundled_scenarios_match_the_schema(name: str) -> None:
    from engine.scenario import validate_file

    report = validate_file(str(ROOT / "scenarios" / name))
    assert [d.format() for d in report.diagnostics] == []

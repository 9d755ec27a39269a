"""The JSON Schema check, with each schema error turned into a sentence an author understands."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from engine.bundled_files import schema_text
from engine.scenario.diagnostics import Diagnostic, error
from engine.scenario.suggestions import did_you_mean
from engine.scenario.yaml_explanations import quoted
from engine.scenario.yaml_loader import Path, SourceMap

_TYPE_WORDS = {
    "string": "a text",
    "object": "a mapping (name: value lines)",
    "array": "a list",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "null": "an empty value",
}
_STATE_KEYS = ("say", "ask", "goto", "buttons", "on", "end")


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The published schema (schemas/scenario.schema.json), shipped inside the package."""
    loaded: dict[str, Any] = json.loads(schema_text())
    return loaded


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    published = schema()
    return Draft202012Validator(
        {**_inline_refs(published, published["$defs"], ()), "$defs": published["$defs"]}
    )


def _inline_refs(node: Any, defs: dict[str, Any], expanding: tuple[str, ...]) -> Any:
    """The schema with each `$ref` replaced by its definition, except where a definition
    contains itself (kept as a `$ref`). Same meaning; resolving references was most of the
    validation time."""
    if isinstance(node, list):
        return [_inline_refs(item, defs, expanding) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        name = ref.removeprefix("#/$defs/")
        if name not in expanding:
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            target = _inline_refs(defs[name], defs, (*expanding, name))
            return (
                {**target, **siblings}
                if not set(siblings) & set(target) - {"description", "examples"}
                else node
            )
    return {k: (v if k == "$defs" else _inline_refs(v, defs, expanding)) for k, v in node.items()}


def check_schema(data: Any, source: SourceMap) -> list[Diagnostic]:
    """Every schema error in `data`, explained, with the position of the node it is about."""
    found: list[Diagnostic] = []
    misplaced = dict(_keys_read_as_states(data, source))
    for problem in _validator().iter_errors(data):
        path = tuple(problem.absolute_path)
        if path[:2] in misplaced:
            continue  # explained once below, as a key indented like a state name
        found.extend(_explain(problem, source))
    return found + list(misplaced.values())


def _state_keys() -> set[str]:
    return set(schema()["$defs"]["state"].get("properties", {}))


def _keys_read_as_states(data: Any, source: SourceMap) -> Iterator[tuple[Path, Diagnostic]]:
    """A state's key written as far left as the state names (`goto: b` under `a:`, lined up
    with `a:`) is read as a state called 'goto'; say so, instead of "in state 'goto'"."""
    states = data.get("states") if isinstance(data, dict) else None
    if not isinstance(states, dict):
        return
    keys = _state_keys()
    names = list(states)
    for index, name in enumerate(names):
        value = states[name]
        if name not in keys or (isinstance(value, dict) and set(value) & keys):
            continue
        position = source.key_of(("states", name))
        above = names[index - 1] if index > 0 else None
        inside = (
            [source.key_of(("states", above, k)) for k in states[above] or ()]
            if above is not None and isinstance(states[above], dict)
            else []
        )
        like = (
            f"indent it by {inside[0].column - 1} spaces, like the keys of state '{above}' "
            f"(line {inside[0].line})"
            if inside
            else "indent it under the state it belongs to"
        )
        yield (
            ("states", name),
            error(
                position,
                "misplaced-key",
                f"`{name}:` is indented like a state name, so it is read as a state called "
                f"'{name}': {like}.",
                "schema",
            ),
        )


def describe_path(path: Sequence[str | int]) -> str:
    """Where something is, in the author's terms: "in state 'welcome' at `buttons[0]`"."""

    def tail(parts: Sequence[str | int]) -> str:
        text = ""
        for part in parts:
            text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
        return text

    if not path:
        return "at the top level"
    if len(path) == 1:
        return f"under `{path[0]}`"
    if path[0] == "states":
        rest = f" at `{tail(path[2:])}`" if len(path) > 2 else ""
        return f"in state '{path[1]}'{rest}"
    if path[0] == "commands":
        rest = f" at `{tail(path[2:])}`" if len(path) > 2 else ""
        return f"in command /{path[1]}{rest}"
    return f"at `{tail(path)}`"


def _type_word(value: Any) -> str:
    if isinstance(value, bool):
        return "true or false"
    if value is None:
        return "an empty value"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text '{value[:40]}'"
    if isinstance(value, list):
        return "a list"
    return "a mapping"


def _fails_on_type(problem: ValidationError) -> bool:
    """Whether this error means 'the value is of another kind altogether'."""
    if problem.relative_path:
        return False
    if problem.validator == "type":
        return True
    if problem.validator in ("anyOf", "oneOf") and problem.context:
        return all(_fails_on_type(p) for p in _branches(problem).get(0, [])) and all(
            any(_fails_on_type(p) for p in errs) for errs in _branches(problem).values()
        )
    return False


def _branches(problem: ValidationError) -> dict[Any, list[ValidationError]]:
    grouped: dict[Any, list[ValidationError]] = defaultdict(list)
    for sub in problem.context or []:
        grouped[sub.relative_schema_path[0]].append(sub)
    return grouped


def _expected_types(problem: ValidationError) -> list[str]:
    if problem.validator == "type":
        value: Any = problem.validator_value
        return list(value) if isinstance(value, list) else [value]
    found: list[str] = []
    for sub in problem.context or []:
        if not sub.relative_path:
            found.extend(t for t in _expected_types(sub) if t not in found)
    return found


def _explain(problem: ValidationError, source: SourceMap) -> Iterator[Diagnostic]:
    path: Path = tuple(problem.absolute_path)
    where = describe_path(path)
    kind: Any = problem.validator
    value: Any = problem.validator_value
    instance: Any = problem.instance
    subschema: dict[str, Any] = dict(problem.schema) if isinstance(problem.schema, dict) else {}
    position = source.of(path)

    if kind in ("anyOf", "oneOf") and problem.context:
        candidates = [
            errs for errs in _branches(problem).values() if not any(_fails_on_type(e) for e in errs)
        ]
        if candidates:
            for sub in min(candidates, key=len):
                yield from _explain(sub, source)
            return
        words = " or ".join(_TYPE_WORDS.get(t, str(t)) for t in _expected_types(problem))
        yield _wrong_type(position, where, words, instance)
    elif (
        kind == "type"
        and path
        and path[-1] in ("delay", "timeout")
        and isinstance(instance, int | float)
    ):
        yield error(
            position,
            "wrong-type",
            f"{instance} has no unit {where}: write it like {instance}s, {instance}m or {instance}h.",
            "schema",
        )
    elif kind == "type":
        types = value if isinstance(value, list) else [value]
        yield _wrong_type(
            position, where, " or ".join(_TYPE_WORDS.get(t, str(t)) for t in types), instance
        )
    elif kind == "additionalProperties" and isinstance(instance, dict):
        allowed = list(subschema.get("properties", {}))
        for key in instance:
            if key in allowed:
                continue
            hint = did_you_mean(key, allowed) or f" Allowed here: {', '.join(allowed)}."
            if (
                not path
                and isinstance(instance[key], dict)
                and any(k in instance[key] for k in _STATE_KEYS)
            ):
                hint = f" '{key}' looks like a state: put it under `states:`."
            elif (
                path
                and isinstance(path[-1], int)
                and len(instance) == 1
                and isinstance(instance[key], str | int | float)
                and not isinstance(instance[key], bool)
            ):  # `- Note: we are closed` in a list of texts
                text = f"{key}: {instance[key]}"
                hint = did_you_mean(key, allowed) + (
                    f" If this is the text '{text[:60]}', put it in quotes, or YAML reads "
                    f"'{key}' as a key: write - {quoted(text)}"
                )
            elif not path and key in _state_keys():
                hint = (
                    f" `{key}:` is a key of a state: indent it like the other keys of its "
                    "state, under `states:`."
                )
            yield error(
                source.key_of((*path, key)),
                "unknown-key",
                f"unknown key '{key}' {where}.{hint}",
                "schema",
            )
    elif kind == "required" and isinstance(instance, dict):
        properties = subschema.get("properties", {})
        for key in value:
            if key not in instance:
                about = properties.get(key, {}).get("description", "")
                yield error(
                    position,
                    "missing-key",
                    f"`{key}` is missing {where}. {about}".rstrip(),
                    "schema",
                )
    elif kind == "enum":
        options = [str(v) for v in value]
        hint = did_you_mean(str(instance), options)
        yield error(
            position,
            "invalid-value",
            f"{_type_word(instance)} is not allowed {where}; write one of: {', '.join(options)}.{hint}",
            "schema",
        )
    elif kind == "pattern":
        hint = subschema.get("x-hint", f"It must match {value}.")
        if "propertyNames" in problem.absolute_schema_path:
            yield error(
                source.key_of((*path, instance)),
                "invalid-name",
                f"'{instance}' is not a valid name {where}. {hint}",
                "schema",
            )
        else:
            yield error(
                position, "invalid-value", f"'{instance}' is not valid {where}. {hint}", "schema"
            )
    elif kind in ("minLength", "minProperties") and value == 1:
        yield error(position, "empty-value", f"this must not be empty {where}.", "schema")
    elif kind in ("maxLength", "minLength"):
        word = "at most" if kind == "maxLength" else "at least"
        yield error(
            position,
            "wrong-length",
            f"{where}: {word} {value} characters are allowed here (this has {len(instance)}).",
            "schema",
        )
    elif kind in ("maxItems", "maxProperties", "minItems"):
        word = "at least" if kind == "minItems" else "at most"
        yield error(
            position,
            "wrong-count",
            f"{where}: {word} {value} entries are allowed here (this has {len(instance)}).",
            "schema",
        )
    elif kind in ("minimum", "maximum"):
        word = "at least" if kind == "minimum" else "at most"
        yield error(
            position,
            "out-of-range",
            f"{instance} is out of range {where}: it must be {word} {value}.",
            "schema",
        )
    else:
        yield error(position, "schema", f"{where}: {problem.message}.", "schema")


def _wrong_type(position: Any, where: str, expected: str, instance: Any) -> Diagnostic:
    hint = ""
    if "a text" in expected and isinstance(instance, dict | list):
        hint = " If this is a text that starts with '{' or '[', put the whole text in quotes."
    elif "a text" in expected and isinstance(instance, bool):
        hint = " Write true or false only for switches; put other texts in quotes."
    return error(
        position,
        "wrong-type",
        f"expected {expected} {where}, found {_type_word(instance)}.{hint}",
        "schema",
    )

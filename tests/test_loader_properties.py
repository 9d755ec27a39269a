"""Properties of the loader and the checker over generated input: data survives a dump and a
load, nothing ever raises, and every position points into the file."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scenario_codes import FILE_LEVEL_CODES, is_known_code

from engine.scenario import LoaderLimits, validate_file
from engine.scenario.yaml_loader import YamlDocument, load_yaml_text

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "scenarios" / "demo.yaml"
DEMO_PARTS = [ROOT / "scenarios" / "demo_support.yaml"]  # what demo.yaml includes

# Plain scalars that YAML 1.2's core schema reads as numbers but YAML 1.1 reads as text, so
# PyYAML's dumper (a 1.1 dumper) writes them unquoted: 1e5, +.5, 09, 0o17. The loader reads
# them as numbers on purpose (test_a_1_1_dumper_leaves_1_2_numbers_unquoted); the round trip
# holds for every other text.
YAML_1_2_NUMBER = re.compile(
    r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+"
    r"|[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?"
    r"|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)"
)

texts = st.text(st.characters(codec="utf-8"), max_size=30)  # no lone surrogates
# PyYAML's dumper writes NEL, LS and PS unescaped inside single quotes, where YAML reads them
# as line breaks (folded to a space; PyYAML's own loader agrees), so with allow_unicode=True
# they cannot survive. Escaped (allow_unicode=False), every character does.
LINE_BREAKS = "\x85\u2028\u2029"


def json_like(strings: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    strings = strings.filter(lambda t: not YAML_1_2_NUMBER.fullmatch(t))
    scalars = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False)  # NaN is not equal to itself
        | strings
    )
    return st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=5) | st.dictionaries(strings, children, max_size=5)
        ),
        max_leaves=25,
    )


def _paths(data: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    yield path
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _paths(value, (*path, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _paths(value, (*path, i))


def _line_count(text: str) -> int:
    return len(re.findall(r"\r\n|[\r\n\x85\u2028\u2029]", text)) + 1  # YAML's line breaks


def _assert_positions(document: YamlDocument, data: Any, text: str) -> None:
    lines = _line_count(text)
    for path in _paths(data):
        position = document.source.values.get(path)
        assert position is not None, f"no position for {path}"
        assert 1 <= position.line <= lines and position.column >= 1, (path, position)
        if path:  # inside its parent (dumped JSON-like data has no aliases)
            parent = document.source.values[path[:-1]]
            assert (position.line, position.column) >= (parent.line, parent.column), path
        if path and isinstance(path[-1], str):
            key = document.source.keys.get(path)
            assert key is not None, f"no key position for {path}"
            assert (key.line, key.column) <= (position.line, position.column), path


@settings(max_examples=150, deadline=None)
@given(json_like(texts))
def test_dumped_data_loads_back_equal_with_a_position_for_every_path(data: Any) -> None:
    _assert_round_trip(data, yaml.safe_dump(data))


@settings(max_examples=150, deadline=None)
@given(json_like(texts.filter(lambda t: not any(c in t for c in LINE_BREAKS))))
def test_dumped_unicode_loads_back_equal_with_a_position_for_every_path(data: Any) -> None:
    _assert_round_trip(data, yaml.safe_dump(data, allow_unicode=True))


def _assert_round_trip(data: Any, text: str) -> None:
    document, problems = load_yaml_text("t.yaml", text.encode("utf-8"))
    assert problems == []
    assert document is not None
    assert document.data == data
    assert _same_types(document.data, data)
    _assert_positions(document, data, text)


def _same_types(loaded: Any, original: Any) -> bool:
    if isinstance(original, dict):
        return isinstance(loaded, dict) and all(
            _same_types(loaded[k], v) for k, v in original.items()
        )
    if isinstance(original, list):
        return isinstance(loaded, list) and all(
            _same_types(a, b) for a, b in zip(loaded, original, strict=True)
        )
    return type(loaded) is type(original)


@settings(max_examples=100, deadline=None)
@given(st.recursive(texts, lambda c: st.lists(c, max_size=4), max_leaves=15))
def test_quoted_texts_load_back_exactly_whatever_they_look_like(data: Any) -> None:
    text = yaml.safe_dump(data, default_style='"')  # every text in double quotes, escaped
    document, problems = load_yaml_text("t.yaml", text.encode("utf-8"))
    assert problems == []
    assert document is not None and document.data == data


@pytest.mark.parametrize(
    ("written", "read"),
    [("1e5", 100000.0), ("+.5", 0.5), ("09", 9), ("0o17", 15), ("-.0", -0.0)],
)
def test_a_1_1_dumper_leaves_1_2_numbers_unquoted(written: str, read: float) -> None:
    """Why the round trip above leaves these texts out: YAML 1.2 reads them as numbers."""
    text = yaml.safe_dump({"k": written})
    assert text == f"k: {written}\n"
    document, _ = load_yaml_text("t.yaml", text.encode())
    assert document is not None and document.data == {"k": read}


# ---- nothing raises, whatever the input ---------------------------------------------------

YAML_PIECES = [
    "a", "b", "say", "1", "0o7", "1e5", "true", "Yes", "~", "null", "{{ x }}", "é", "🍕",
    ":", ": ", "- ", "? ", ",", "[", "]", "{", "}", "&x ", "*x", "&y ", "*y", "<<: ",
    "!!str ", "!!python/object/apply:os.system ", "!t ", "|", "|-\n", ">", "'", '"', "\\",
    "# c", "---\n", "...\n", "%YAML 1.2\n", "\n", "\r\n", "  ", "    ", "\t", "\ufeff", "\x00",
    "\x85", "\u2028",
]  # fmt: skip
yaml_ish = st.lists(st.sampled_from(YAML_PIECES), max_size=40).map("".join)
SMALL_LIMITS = LoaderLimits(max_bytes=300, max_depth=4, max_nodes=40, max_items=6)


def _assert_sane_result(document: YamlDocument | None, problems: list[Any], raw: bytes) -> None:
    if document is None:
        assert problems, "no document and no reason"
        assert any(p.is_error for p in problems)
    lines = _line_count(raw.decode("utf-8", "replace")) + 1  # a mark may be just past the end
    for problem in problems:
        assert is_known_code(problem.code), problem.code
        assert problem.message and "\n" not in problem.format(), problem
        if problem.position.line == 0:
            assert problem.code in FILE_LEVEL_CODES, problem
        else:
            assert 1 <= problem.position.line <= lines, problem
            assert problem.position.column >= 1, problem


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    document, problems = load_yaml_text("t.yaml", raw)
    _assert_sane_result(document, problems, raw)


@settings(max_examples=150, deadline=None)
@given(texts | yaml_ish)
def test_arbitrary_text_never_raises(text: str) -> None:
    raw = text.encode("utf-8")
    document, problems = load_yaml_text("t.yaml", raw)
    _assert_sane_result(document, problems, raw)


@settings(max_examples=150, deadline=None)
@given(yaml_ish | st.binary(max_size=400).map(lambda b: b.decode("utf-8", "replace")))
def test_the_caps_hold_for_arbitrary_text(text: str) -> None:
    raw = text.encode("utf-8")
    document, problems = load_yaml_text("t.yaml", raw, SMALL_LIMITS)
    _assert_sane_result(document, problems, raw)
    if document is not None:
        depth = _depth(document.data)
        assert depth <= SMALL_LIMITS.max_depth
        assert _count(document.data) <= SMALL_LIMITS.max_nodes


def _depth(data: Any) -> int:
    if isinstance(data, dict):
        return 1 + max(map(_depth, data.values()), default=0)
    if isinstance(data, list):
        return 1 + max(map(_depth, data), default=0)
    return 0


def _count(data: Any) -> int:
    if isinstance(data, dict):
        return 1 + sum(1 + _count(v) for v in data.values())
    if isinstance(data, list):
        return 1 + sum(map(_count, data))
    return 1


# ---- the whole checker on a real scenario with random damage -------------------------------

DEMO_LINES = DEMO.read_text(encoding="utf-8").splitlines(keepends=True)
index = st.integers(min_value=0, max_value=10_000)  # taken modulo the number of lines
damage = st.one_of(
    st.tuples(st.just("delete"), index),
    st.tuples(st.just("duplicate"), index),
    st.tuples(st.just("swap"), index, index),
    st.tuples(
        st.just("insert"),
        index,
        index,
        st.text(st.sampled_from(" \t:-{}[]'\"&*!#|>\n%@`,?abc{{}}"), min_size=1, max_size=6),
    ),
)


def _damaged(lines: list[str], steps: list[tuple[Any, ...]]) -> str:
    lines = list(lines)
    for step in steps:
        kind, at = step[0], step[1] % len(lines)
        if kind == "delete" and len(lines) > 1:
            del lines[at]
        elif kind == "duplicate":
            lines.insert(at, lines[at])
        elif kind == "swap":
            other = step[2] % len(lines)
            lines[at], lines[other] = lines[other], lines[at]
        elif kind == "insert":
            column = step[2] % (len(lines[at]) or 1)
            lines[at] = lines[at][:column] + step[3] + lines[at][column:]
    return "".join(lines)


@pytest.fixture(scope="module")
def damaged_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    for part in DEMO_PARTS:
        shutil.copy(part, folder / part.name)
    return folder / DEMO.name


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],  # the fixture is per module
)
@given(st.lists(damage, min_size=1, max_size=3))
def test_damaged_demo_never_raises_and_points_into_the_files(
    damaged_copy: Path, steps: list[tuple[Any, ...]]
) -> None:
    text = _damaged(DEMO_LINES, steps)
    damaged_copy.write_text(text, encoding="utf-8")
    report = validate_file(str(damaged_copy))
    sizes = {str(damaged_copy): text.count("\n") + 1}
    for part in DEMO_PARTS:
        sizes[str(damaged_copy.parent / part.name)] = (
            part.read_text(encoding="utf-8").count("\n") + 1
        )
    for diagnostic in report.diagnostics:
        assert is_known_code(diagnostic.code), diagnostic.format()
        assert diagnostic.position.file in sizes, diagnostic.format()
        assert 1 <= diagnostic.position.line <= sizes[diagnostic.position.file], diagnostic.format()
        assert diagnostic.position.column >= 1, diagnostic.format()
        assert "\n" not in diagnostic.format(), diagnostic.format()
    severities = [d.is_error for d in report.diagnostics]
    assert severities == sorted(severities, reverse=True), "errors must come first"


def test_the_undamaged_demo_is_clean() -> None:
    assert validate_file(str(DEMO)).diagnostics == ()

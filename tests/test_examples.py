"""The ported example bots of scenarios/examples/ stay living documentation: each one passes
`--validate --strict`, its conversation tests pass and reach every state, and it says where it
comes from, under which licence, and what differs from the original."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from engine.bundled_files import DEMO, default_scenario
from engine.scenario.validation import discover

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "scenarios" / "examples"
Cli = Callable[..., Any]  # the fixture of conftest.py
# the first comment block of a port names these (see scenarios/examples/README.md)
HEADER_PARTS = ("Ported from ", "https://github.com/", "Licence of the original: ", "What differs:")
LICENCES = ("CC0-1.0", "MIT", "Apache-2.0")


def _examples() -> list[Path]:
    return sorted(Path(p) for p in discover(str(EXAMPLES)))


def _header(path: Path) -> str:
    """The comment lines at the top of a scenario file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return "\n".join(line for line in lines[: next(i for i, s in enumerate(lines) if s[:1] != "#")])


def test_at_least_six_bots_are_ported() -> None:
    assert len(_examples()) >= 6, [p.name for p in _examples()]


@pytest.mark.parametrize("example", _examples(), ids=lambda p: p.stem)
def test_an_example_passes_validate_strict(example: Path, cli: Cli) -> None:
    result = cli("--validate", "--strict", example)
    assert result.code == 0, result.out + result.err
    assert result.lines[-1].endswith("no problems found")


@pytest.mark.parametrize("example", _examples(), ids=lambda p: p.stem)
def test_an_examples_tests_pass_and_reach_every_state(example: Path, cli: Cli) -> None:
    tests = example.with_name(example.stem + ".tests.yaml")
    assert tests.is_file(), f"{example.name} has no {tests.name}"
    result = cli("--test", example)
    assert result.code == 0, result.out + result.err
    coverage = re.search(r"states (\d+)/(\d+) \(", result.out)
    assert coverage is not None, result.out
    assert coverage.group(1) == coverage.group(2), result.out


@pytest.mark.parametrize("example", _examples(), ids=lambda p: p.stem)
def test_an_example_names_its_original_and_licence(example: Path) -> None:
    header = _header(example)
    for part in HEADER_PARTS:
        assert part in header, f"{example.name}: the header does not say {part!r}"
    licence = header.split("Licence of the original: ", 1)[1]
    assert licence.startswith(LICENCES), f"{example.name}: {licence.splitlines()[0]}"


def test_the_readme_lists_every_example() -> None:
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    missing = [p.name for p in _examples() if f"[{p.name}]({p.name})" not in readme]
    assert not missing, f"not in the table of scenarios/examples/README.md: {missing}"


def test_the_examples_are_never_the_bots_scenario(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without BOT_SCENARIO or a path, the bot and --chat run the demo, not an example."""
    monkeypatch.chdir(ROOT)
    assert Path(default_scenario()) == Path("scenarios") / DEMO

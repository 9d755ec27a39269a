"""Where the files the engine ships besides its code are: the scenario schema, and the demo
project (scenarios/ and locales/) that runs where the working directory has no scenarios/.

Each has one source, the repository's schemas/, scenarios/ and locales/ folders. An installed
wheel carries them inside the package as engine/bundled/ (pyproject.toml maps the folders
there), so `pip install` gives a complete engine; a checkout (run.py, editable installs) reads
the folders of the repository itself. Both have the same layout, so a scenario's catalogs
and its `$schema=../schemas/...` line resolve the same way in either."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

SCENARIOS = "scenarios"  # the project folder of scenario files, in the working directory
DEMO = "demo.yaml"
SCHEMA = "scenario.schema.json"


class MissingBundledFile(Exception):
    """A file the engine ships is not there: the installation is incomplete."""


def bundled_root() -> Path:
    """The folder holding schemas/, scenarios/ and locales/ as the engine was shipped."""
    package = resources.files("engine")
    if not isinstance(package, Path):  # a zipped install: files need real paths (plugins, .po)
        raise MissingBundledFile(
            f"the engine is installed as an archive ({package}); install it unpacked (pip install)"
        )
    packaged = package / "bundled"
    if packaged.is_dir():
        return packaged
    return package.parent  # a checkout: the repository's own folders


def schema_text() -> str:
    """The scenario language's JSON Schema (schemas/scenario.schema.json), as text."""
    path = bundled_root() / "schemas" / SCHEMA
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MissingBundledFile(
            f"the scenario schema {path} cannot be read ({exc.strerror or exc}): the engine's "
            "installation is incomplete; reinstall it"
        ) from exc


def bundled_scenarios() -> str:
    """The demo project's scenarios/ folder as shipped with the engine."""
    return str(bundled_root() / SCENARIOS)


def uses_bundled_demo() -> bool:
    """Whether the working directory has no scenarios/ of its own, so that the scenario
    commands and the bot fall back to the bundled demo (a fresh install runs out of the box)."""
    return not os.path.isdir(SCENARIOS)


def scenarios_dir() -> str:
    """The scenarios/ folder the commands read when given no paths: the working directory's,
    else the bundled demo's."""
    return bundled_scenarios() if uses_bundled_demo() else SCENARIOS


def default_scenario() -> str:
    """The scenario the bot and --chat/--graph run without BOT_SCENARIO or a path."""
    return os.path.join(scenarios_dir(), DEMO)


def fallback_note(prog: str) -> str:
    """The line that says the bundled demo is used, and how to use one's own files."""
    return (
        f"{prog}: note: there is no {SCENARIOS}/ folder in {os.getcwd()}: using the bundled "
        f"demo in {bundled_scenarios()} (give scenario paths, set BOT_SCENARIO, or start in "
        f"the folder that holds your {SCENARIOS}/)\n"
    )

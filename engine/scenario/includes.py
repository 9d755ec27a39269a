"""Assembling a scenario from its main file and the files it includes."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from engine.ops.files import NotARegularFile, regular_file_size
from engine.scenario.diagnostics import Diagnostic, Position, error
from engine.scenario.yaml_loader import (
    DEFAULT_LIMITS,
    LoaderLimits,
    Path,
    SourceMap,
    YamlDocument,
    load_yaml_file,
)

# What an included file may add to the scenario that includes it.
INCLUDABLE_SECTIONS = ("states", "vars", "commands")
_SINGULAR = {"states": "state", "vars": "variable", "commands": "command"}


@dataclass(frozen=True)
class ScenarioSource:
    """The merged data of a scenario and where each part of it was written."""

    files: tuple[str, ...]
    data: dict[str, Any]
    source: SourceMap


def include_paths(document: YamlDocument) -> list[tuple[str, Path]]:
    """The files `document` includes, resolved relative to it, with the path of each entry."""
    data = document.data
    entries = data.get("include") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        return []
    base = os.path.dirname(document.file)
    return [
        (os.path.normpath(os.path.join(base, entry)), ("include", i))
        for i, entry in enumerate(entries)
        if isinstance(entry, str) and entry
    ]


def assemble(
    path: str, limits: LoaderLimits = DEFAULT_LIMITS
) -> tuple[ScenarioSource | None, list[Diagnostic]]:
    """Load `path` and everything it includes (recursively), merging states, vars and commands."""
    main, problems = load_yaml_file(path, limits)
    if main is None:
        return None, problems
    if not isinstance(main.data, dict):
        problems.append(
            error(
                main.source.of(()),
                "not-a-mapping",
                "a scenario must be a mapping with `bot:` and `states:` at the top, "
                "not a list or a single value.",
                "schema",
            )
        )
        return None, problems
    data = dict(main.data)
    values = dict(main.source.values)
    keys = dict(main.source.keys)
    files = [path]
    seen = {os.path.realpath(path)}

    folder = os.path.dirname(os.path.abspath(path))

    def merge(document: YamlDocument, chain: tuple[str, ...]) -> None:
        for target, entry_path in include_paths(document):
            where = document.source.of(entry_path)
            refused = _refusal(folder, target, document.data["include"][entry_path[1]], where)
            if refused is not None:
                problems.append(refused)
                continue
            real = os.path.realpath(target)
            if real in chain:
                problems.append(
                    error(
                        where,
                        "include-cycle",
                        f"'{target}' includes itself (through {' → '.join(chain)}); remove this entry.",
                        "reference",
                    )
                )
                continue
            if real in seen:
                continue  # included twice (a diamond): its content is already here
            seen.add(real)
            included, more = load_yaml_file(target, limits)
            problems.extend(more)
            if included is None:
                continue
            files.append(target)
            _merge_document(included, data, values, keys, problems)
            merge(included, (*chain, real))

    merge(main, (os.path.realpath(path),))
    return ScenarioSource(tuple(files), data, SourceMap(path, values, keys)), problems


def _refusal(folder: str, target: str, entry: str, where: Position) -> Diagnostic | None:
    """Why `target` may not be included, or None. An included file must be a regular file
    inside the main scenario's folder once links are followed: a scenario cannot show users
    a file from elsewhere, nor wait forever reading a named pipe."""
    real_folder = os.path.realpath(folder)
    real = os.path.realpath(target)
    if os.path.commonpath([real_folder, real]) != real_folder:
        if os.path.commonpath([folder, os.path.abspath(target)]) == folder:
            return error(
                where,
                "include-outside",
                f"'{entry}' is a symbolic link to {real}, outside the scenario's folder "
                f"{folder}; copy the file into that folder instead of linking to it.",
                "reference",
            )
        return error(
            where,
            "include-outside",
            f"'{entry}' is outside the scenario's folder {folder}; included files must be in "
            "it or its subfolders: move the file there and write its path relative to this "
            f"file, like '{os.path.basename(target)}'.",
            "reference",
        )
    try:
        regular_file_size(target)
    except FileNotFoundError:
        return error(
            where,
            "include-not-found",
            f"the included file '{target}' does not exist; check the name and that the path "
            "is relative to this file.",
            "reference",
        )
    except NotARegularFile as exc:
        return error(
            where,
            "include-not-a-file",
            f"'{entry}' is {exc.what}, not a file; include YAML files only.",
            "reference",
        )
    except OSError:
        pass  # the loader says why it cannot be read, in its own words
    return None


def _merge_document(
    included: YamlDocument,
    data: dict[str, Any],
    values: dict[Path, Any],
    keys: dict[Path, Any],
    problems: list[Diagnostic],
) -> None:
    content = included.data
    if not isinstance(content, dict):
        problems.append(
            error(
                included.source.of(()),
                "not-a-mapping",
                "an included file must be a mapping with `states:` (and optionally `vars:` and `commands:`).",
                "schema",
            )
        )
        return
    accepted: set[Path] = set()
    for section, section_data in content.items():
        if section == "include":
            continue
        if section not in INCLUDABLE_SECTIONS:
            problems.append(
                error(
                    included.source.key_of((section,)),
                    "include-key",
                    f"an included file may hold only {', '.join(INCLUDABLE_SECTIONS)} and include; move `{section}:` to the main scenario file.",
                    "schema",
                )
            )
            continue
        if not isinstance(section_data, dict):
            continue  # the schema check of the main file reports wrong shapes of its own sections
        merged = data.setdefault(section, {})
        if not isinstance(merged, dict):
            continue
        for name, value in section_data.items():
            if name in merged:
                first = SourceMap("", values, keys).key_of((section, name))
                problems.append(
                    error(
                        included.source.key_of((section, name)),
                        f"duplicate-{_SINGULAR[section]}",
                        f"the {_SINGULAR[section]} '{name}' is already defined at {first}; names must be unique across included files. Rename one of them.",
                        "reference",
                    )
                )
                continue
            merged[name] = value
            accepted.add((section, name))
    for positions, target in ((included.source.values, values), (included.source.keys, keys)):
        target.update((p, pos) for p, pos in positions.items() if p[:2] in accepted)

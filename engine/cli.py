"""The command line: `run(argv, stdout, stderr) -> exit code`, so tests call it directly."""

from __future__ import annotations

import argparse
import os
import sys
from typing import NoReturn, TextIO

from engine.scenario import ValidationReport, discover, validate_file
from engine.scenario.diagnostics import as_json_document, ordered

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2
DEFAULT_SCENARIO_DIR = "scenarios"


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors to our caller instead of exiting the process."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _parser() -> _Parser:
    parser = _Parser(
        prog="run.py",
        description="A declarative conversation engine for Telegram bots.",
        epilog="Docs: docs/scenario-language.md",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--validate",
        action="store_true",
        help="check scenario files (all under scenarios/ when no path is given)",
    )
    parser.add_argument("paths", nargs="*", metavar="PATH", help="scenario files")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    parser.add_argument("--strict", action="store_true", help="treat warnings as errors")
    return parser


def run(argv: list[str], stdout: TextIO, stderr: TextIO) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
        return _validate(args.paths, args.format, args.strict, stdout)
    except UsageError as exc:
        parser.print_usage(stderr)
        stderr.write(f"run.py: error: {exc}\n")
        return EXIT_USAGE


def _validate(paths: list[str], output: str, strict: bool, stdout: TextIO) -> int:
    if not paths:
        if not os.path.isdir(DEFAULT_SCENARIO_DIR):
            raise UsageError(
                f"there is no {DEFAULT_SCENARIO_DIR}/ folder here; give the scenario files to check"
            )
        paths = discover(DEFAULT_SCENARIO_DIR)
        if not paths:
            raise UsageError(f"no scenario files (*.yaml) under {DEFAULT_SCENARIO_DIR}/")
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        raise UsageError(f"no such file: {', '.join(missing)}")
    reports = [validate_file(p) for p in paths]
    diagnostics = ordered(d for r in reports for d in r.diagnostics)
    errors = sum(r.errors for r in reports)
    warnings = sum(r.warnings for r in reports)
    if output == "json":
        files = [f for r in reports for f in r.files]
        stdout.write(as_json_document(files, diagnostics) + "\n")
    else:
        for diagnostic in diagnostics:
            stdout.write(diagnostic.format() + "\n")
        stdout.write(_summary(reports, errors, warnings) + "\n")
    failed = errors > 0 or (strict and warnings > 0)
    return EXIT_PROBLEMS if failed else EXIT_OK


def _summary(reports: list[ValidationReport], errors: int, warnings: int) -> str:
    files = sum(len(r.files) for r in reports)
    checked = f"checked {len(reports)} scenario{'s' if len(reports) != 1 else ''} ({files} file{'s' if files != 1 else ''})"
    if not errors and not warnings:
        return f"{checked}: no problems found"
    return f"{checked}: {errors} error{'s' if errors != 1 else ''}, {warnings} warning{'s' if warnings != 1 else ''}"


def main() -> None:
    sys.exit(run(sys.argv[1:], sys.stdout, sys.stderr))

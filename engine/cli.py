"""The command line: `run(argv, stdout, stderr) -> exit code`, so tests call it directly."""

from __future__ import annotations

import argparse
import os
import sys
from typing import NoReturn, TextIO

from engine.core.model import Scenario
from engine.scenario import ValidationReport, discover, validate_file
from engine.scenario.compiler import compile_scenario
from engine.scenario.diagnostics import as_json_document, ordered

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2
DEFAULT_SCENARIO_DIR = "scenarios"
DEFAULT_SCENARIO = os.path.join(DEFAULT_SCENARIO_DIR, "demo.yaml")
_FORMATS = {"validate": ("text", "json"), "graph": ("mermaid", "dot")}


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors to our caller instead of exiting the process."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _parser() -> _Parser:
    parser = _Parser(
        prog="run.py",
        add_help=False,
        description="A declarative conversation engine for Telegram bots.",
        epilog="Docs: docs/scenario-language.md. Without a mode, --validate runs.",
    )
    parser.add_argument("-h", "--help", action="store_true", help="show this help and exit")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--validate",
        action="store_true",
        help="check scenario files (all under scenarios/ without paths)",
    )
    mode.add_argument(
        "--test",
        action="store_true",
        help="run conversation tests (NAME.tests.yaml; all under scenarios/ without paths)",
    )
    mode.add_argument(
        "--chat",
        action="store_true",
        help="talk to a scenario in the terminal (default scenarios/demo.yaml)",
    )
    mode.add_argument(
        "--graph",
        action="store_true",
        help="print a scenario's state diagram (default scenarios/demo.yaml)",
    )
    parser.add_argument("paths", nargs="*", metavar="PATH", help="scenario (or test) files")
    parser.add_argument(
        "--format", help="validate: text (default) or json; graph: mermaid (default) or dot"
    )
    parser.add_argument("--strict", action="store_true", help="validate: treat warnings as errors")
    parser.add_argument("--lang", help="chat: the user's language")
    return parser


def run(argv: list[str], stdout: TextIO, stderr: TextIO, stdin: TextIO | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
        if args.help:
            parser.print_help(stdout)
            return EXIT_OK
        mode = next((m for m in ("test", "chat", "graph") if getattr(args, m)), "validate")
        allowed = _FORMATS.get(mode, ())
        if args.format is not None and args.format not in allowed:
            raise UsageError(
                f"--format {args.format} does not apply here; use one of: {', '.join(allowed) or 'none'}"
            )
        if mode == "test":
            from engine.testing import discover_test_files, run_test_files

            paths = args.paths or discover_test_files(DEFAULT_SCENARIO_DIR)
            _require_files(paths, folders=True)
            return run_test_files(paths, stdout)
        if mode in ("chat", "graph"):
            if len(args.paths) > 1:
                raise UsageError(f"--{mode} takes one scenario")
            path = args.paths[0] if args.paths else os.environ.get("BOT_SCENARIO", DEFAULT_SCENARIO)
            _require_files([path])
            if mode == "graph":
                return _graph(path, args.format or "mermaid", stdout, stderr)
            scenario = _load(path, stderr)
            if scenario is None:
                return EXIT_PROBLEMS
            from engine.console import run_chat

            return run_chat(scenario, stdin or sys.stdin, stdout, args.lang)
        return _validate(args.paths, args.format or "text", args.strict, stdout)
    except UsageError as exc:
        parser.print_usage(stderr)
        stderr.write(f"run.py: error: {exc}\n")
        return EXIT_USAGE


def _require_files(paths: list[str], folders: bool = False) -> None:
    if not paths:
        raise UsageError(
            f"nothing to do: no files given and none found under {DEFAULT_SCENARIO_DIR}/"
        )
    missing = [p for p in paths if not (os.path.isfile(p) or (folders and os.path.isdir(p)))]
    if missing:
        raise UsageError(f"no such file: {', '.join(missing)}")


def _load(path: str, stderr: TextIO) -> Scenario | None:
    """A compiled scenario, or None after printing why it cannot run."""
    report = validate_file(path)
    if report.errors or report.scenario is None:
        for diagnostic in report.diagnostics:
            stderr.write(diagnostic.format() + "\n")
        stderr.write(f"{path} has errors; fix them first (python run.py --validate {path}).\n")
        return None
    return compile_scenario(report.scenario)


def _graph(path: str, fmt: str, stdout: TextIO, stderr: TextIO) -> int:
    from engine.graph import render_graph

    report = validate_file(path)
    if report.scenario is None:
        for diagnostic in report.diagnostics:
            stderr.write(diagnostic.format() + "\n")
        return EXIT_PROBLEMS
    stdout.write(render_graph(report.scenario.data, fmt))
    return EXIT_OK


def _validate(paths: list[str], output: str, strict: bool, stdout: TextIO) -> int:
    if not paths:
        if not os.path.isdir(DEFAULT_SCENARIO_DIR):
            raise UsageError(
                f"there is no {DEFAULT_SCENARIO_DIR}/ folder here; give the scenario files to check"
            )
        paths = discover(DEFAULT_SCENARIO_DIR)
        if not paths:
            raise UsageError(f"no scenario files (*.yaml) under {DEFAULT_SCENARIO_DIR}/")
    _require_files(paths)
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


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _summary(reports: list[ValidationReport], errors: int, warnings: int) -> str:
    files = sum(len(r.files) for r in reports)
    checked = f"checked {_plural(len(reports), 'scenario')} ({_plural(files, 'file')})"
    if not errors and not warnings:
        return f"{checked}: no problems found"
    return f"{checked}: {_plural(errors, 'error')}, {_plural(warnings, 'warning')}"


def main() -> None:
    try:
        sys.exit(run(sys.argv[1:], sys.stdout, sys.stderr))
    except BrokenPipeError:  # `python run.py --graph | head`: the reader left early
        sys.stderr.close()
        sys.exit(EXIT_OK)

"""The command line: `run(argv, stdout, stderr) -> exit code`, so tests call it directly."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, NoReturn, TextIO

from engine.bundled_files import DEMO, fallback_note, scenarios_dir, uses_bundled_demo
from engine.command_name import command, set_program
from engine.core.model import Scenario
from engine.scenario import ValidationReport, discover, validate_file
from engine.scenario.compiler import compile_scenario
from engine.scenario.diagnostics import as_json_document, ordered

if TYPE_CHECKING:
    from engine.runtime.config import DotEnvFile

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2
DEFAULT_SCENARIO_DIR = "scenarios"
_FORMATS = {
    "validate": ("text", "json"),
    "graph": ("mermaid", "dot", "svg", "png"),
    "stats": ("table", "csv", "json"),
}


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors to our caller instead of exiting the process."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _parser(prog: str) -> _Parser:
    parser = _Parser(
        prog=prog,
        add_help=False,
        description="A declarative conversation engine for Telegram bots.",
        epilog="Without a mode: the bot (on Telegram with TELEGRAM_BOT_TOKEN, else in the terminal). Docs: docs/.",
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
        help="talk to a scenario in the terminal (default scenarios/demo.yaml, else the bundled demo)",
    )
    mode.add_argument(
        "--playground",
        action="store_true",
        help="talk to a scenario in the browser, its diagram beside, reloaded when saved "
        "(http://127.0.0.1:PORT/; default scenarios/demo.yaml)",
    )
    mode.add_argument(
        "--graph",
        action="store_true",
        help="print or draw a scenario's state diagram (default scenarios/demo.yaml, else the bundled demo)",
    )
    mode.add_argument(
        "--extract", action="store_true", help="write locales/NAME.pot from the scenarios' texts"
    )
    mode.add_argument("--init", metavar="LANG", help="start a catalog for a new language")
    mode.add_argument(
        "--update", action="store_true", help="bring every catalog up to date with the scenario"
    )
    mode.add_argument("--compile", action="store_true", help="compile catalogs to .mo files")
    mode.add_argument(
        "--migrate",
        action="store_true",
        help="create or upgrade the database schema (DATABASE_URL)",
    )
    mode.add_argument(
        "--export-user", type=int, metavar="ID", help="print everything stored about a user as JSON"
    )
    mode.add_argument(
        "--delete-user", type=int, metavar="ID", help="delete everything stored about a user"
    )
    mode.add_argument(
        "--prune",
        action="store_true",
        help="delete logs older than BOT_LOG_RETENTION_DAYS (30)",
    )
    mode.add_argument(
        "--hash-password",
        action="store_true",
        help="make BOT_ADMIN_PASSWORD_HASH for the admin panel (asks for the password)",
    )
    mode.add_argument(
        "--stats-indexes",
        choices=("on", "off"),
        help="build (on) or drop (off) the indexes that make --stats fast on a big message log",
    )
    mode.add_argument(
        "--stats",
        action="store_true",
        help="print users, activity per day and the funnel of the database (DATABASE_URL)",
    )
    mode.add_argument(
        "--grant", nargs=2, metavar=("USER_ID", "ROLE"), help="grant a role (for `only:`)"
    )
    mode.add_argument("--revoke", nargs=2, metavar=("USER_ID", "ROLE"), help="revoke a role")
    mode.add_argument("--roles", action="store_true", help="list the roles granted in the database")
    mode.add_argument(
        "--flag", nargs=2, metavar=("NAME", "on|off"), help="switch a feature flag at run time"
    )
    mode.add_argument(
        "--flags", action="store_true", help="list the feature flags, their values and defaults"
    )
    mode.add_argument(
        "--broadcast",
        action="store_true",
        help="queue a message to every user (--text or --message, --where, --dry-run); the "
        "running bot sends it",
    )
    mode.add_argument("--cancel", type=int, metavar="ID", help="stop a broadcast")
    mode.add_argument("--broadcasts", action="store_true", help="list broadcasts and their counts")
    parser.add_argument("--text", help="broadcast: the message (plain text, up to 4096 characters)")
    parser.add_argument(
        "--message",
        metavar="NAME",
        help="broadcast: a text of the scenario's `messages:`, sent to each user in their language",
    )
    parser.add_argument(
        "--where",
        metavar="CONDITION",
        help="broadcast: only users it holds for, as `if:` (language, state, variables, "
        "last_seen, days_since_seen)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="broadcast: say how many would get it, send nothing"
    )
    parser.add_argument("paths", nargs="*", metavar="PATH", help="scenario (or test) files")
    parser.add_argument(
        "--format",
        help="validate: text (default) or json; graph: mermaid (default), dot, svg or png "
        "(svg and png are drawn by Graphviz's dot)",
    )
    parser.add_argument(
        "--output",
        metavar="FILE",
        help="graph: write the diagram to FILE; its ending (.svg, .png, .dot, .mmd) "
        "chooses the format when --format is not given",
    )
    parser.add_argument("--strict", action="store_true", help="validate: treat warnings as errors")
    parser.add_argument(
        "--days", type=int, metavar="N", help="stats: per-day figures and funnel of the last N days"
    )
    parser.add_argument(
        "--html",
        metavar="FILE",
        help="stats: write the figures as a page with charts to FILE instead of printing them",
    )
    parser.add_argument(
        "--port", type=int, metavar="N", help="playground: the port (default: a free one)"
    )
    parser.add_argument("--lang", help="chat and playground: the user's language")
    parser.add_argument(
        "--name", help="chat and the terminal bot: the user's first name (default Alex)"
    )
    return parser


def run(
    argv: list[str],
    stdout: TextIO,
    stderr: TextIO,
    stdin: TextIO | None = None,
    prog: str = "run.py",
) -> int:
    """`prog` is the name the command goes by in its messages: run.py in a checkout, the
    console script's scenario-bot when installed (the messages of the rest of the engine
    too: engine.command_name)."""
    set_program(prog)
    parser = _parser(prog)
    try:
        args = parser.parse_args(argv)
        if args.help:
            parser.print_help(stdout)
            return EXIT_OK
        modes = ("test", "chat", "playground", "graph", "stats")
        mode = next((m for m in modes if getattr(args, m)), "validate")
        allowed = _FORMATS.get(mode, ())
        if args.format is not None and args.format not in allowed:
            raise UsageError(
                f"--format {args.format} does not apply here; use one of: {', '.join(allowed) or 'none'}"
            )
        if args.output is not None and mode != "graph":
            raise UsageError("--output applies to --graph only")
        if args.port is not None and (mode != "playground" or not 0 <= args.port <= 65535):
            raise UsageError("--port applies to --playground only, from 0 (a free one) to 65535")
        if args.days is not None and (mode != "stats" or args.days < 1):
            raise UsageError("--days applies to --stats only, and counts at least 1 day")
        if args.html is not None and (mode != "stats" or args.format is not None):
            raise UsageError("--html applies to --stats only, instead of --format")
        if args.hash_password:
            from engine.web.admin_auth import run_hash_password

            return run_hash_password(stdin or sys.stdin, stdout, stderr)
        if (
            args.migrate
            or args.export_user is not None
            or args.delete_user is not None
            or args.prune
            or args.stats
            or args.stats_indexes
            or args.grant
            or args.revoke
            or args.roles
            or args.flag
            or args.flags
            or args.broadcast
            or args.cancel is not None
            or args.broadcasts
        ):
            _broadcast_usage(args)
            return _store_command(args, stdout, stderr, prog)
        if _broadcast_options(args):
            raise UsageError("--text, --message, --where and --dry-run apply to --broadcast only")
        if args.extract or args.init or args.update or args.compile:
            return _catalogs(args, stdout, stderr, prog)
        if mode == "test":
            from engine.testing import discover_test_files, run_test_files

            paths = args.paths or discover_test_files(_scenario_folder(stderr, prog))
            _require_files(paths, folders=True)
            return run_test_files(paths, stdout)
        if mode in ("chat", "graph", "playground"):
            if len(args.paths) > 1:
                raise UsageError(f"--{mode} takes one scenario")
            path = (
                args.paths[0]
                if args.paths
                else os.environ.get("BOT_SCENARIO", "").strip()
                or os.path.join(_scenario_folder(stderr, prog), DEMO)
            )
            _require_files([path])
            if mode == "graph":
                return _graph(path, args.format, args.output, stdout, stderr, prog)
            if mode == "playground":
                from engine.web.playground import run_playground

                return run_playground(
                    path, args.port or 0, stdout, args.name, args.lang, _media_dir()
                )
            scenario = _load(path, stderr, prog)
            if scenario is None:
                return EXIT_PROBLEMS
            from engine.console import run_chat

            return run_chat(
                scenario, stdin or sys.stdin, stdout, args.lang, scenario_path=path, name=args.name
            )
        if args.validate or args.format or args.strict:
            paths = args.paths or discover(_scenario_folder(stderr, prog))
            return _validate(paths, args.format or "text", args.strict, stdout)
        return _main_job(args.paths, stdin or sys.stdin, stdout, stderr, prog, args.name)
    except UsageError as exc:
        parser.print_usage(stderr)
        stderr.write(f"{prog}: error: {exc}\n")
        return EXIT_USAGE


def no_terminal() -> str:
    return (
        "TELEGRAM_BOT_TOKEN is not set and standard input is not a terminal, so there is no "
        "one to talk to: set TELEGRAM_BOT_TOKEN (in .env in the working directory, or in the "
        f"environment) to run the bot on Telegram, or start `{command()}` in a terminal to "
        "talk to it there"
    )


def _scenario_folder(stderr: TextIO, prog: str) -> str:
    """The scenarios/ folder read without paths: the working directory's, else the bundled
    demo's, which is said on stderr (a wrong working directory is noticed)."""
    if uses_bundled_demo():
        stderr.write(fallback_note(prog))
    return scenarios_dir()


def _main_job(
    paths: list[str],
    stdin: TextIO,
    stdout: TextIO,
    stderr: TextIO,
    prog: str,
    name: str | None = None,
) -> int:
    """The bot itself: on Telegram with a token, else in the terminal through the same
    pipeline; without either (a supervisor with no token), a refusal rather than exit 0."""
    from engine.runtime.config import SettingsError, read_settings

    dotenv = _read_dotenv(stderr, prog)
    if paths:
        os.environ["BOT_SCENARIO"] = paths[0]
    has_token = bool(os.environ.get("TELEGRAM_BOT_TOKEN", "").strip())
    refusal = None if has_token or _is_terminal(stdin) else no_terminal()
    try:
        settings = read_settings(need_token=has_token, dotenv=dotenv)
    except SettingsError as exc:
        stderr.write(f"{prog}: {exc}\n" + (f"- {refusal}\n" if refusal else ""))
        return EXIT_USAGE
    if refusal:
        stderr.write(f"{prog}: {refusal}\n")
        return EXIT_USAGE
    if uses_bundled_demo() and settings.scenario == os.path.join(scenarios_dir(), DEMO):
        stderr.write(fallback_note(prog))
    if has_token:
        from engine.runtime.app import run_bot

        return run_bot(settings, stderr)
    from engine.runtime.local_chat import run_local

    return run_local(settings, stdin, stdout, stderr, name)


def _is_terminal(stream: TextIO | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (ValueError, OSError):  # a closed standard input
        return False


def _read_dotenv(stderr: TextIO, prog: str) -> DotEnvFile:
    """The .env of the working directory, the one place settings files are read from; a
    .env left beside run.py while starting elsewhere is pointed out, not silently unused."""
    from engine.runtime.config import DOTENV, load_dotenv

    beside_run_py = os.path.join(os.path.dirname(os.path.dirname(__file__)), DOTENV)
    if not os.path.isfile(DOTENV) and os.path.isfile(beside_run_py):
        stderr.write(
            f"{prog}: note: {beside_run_py} is not read: settings come from the .env of the "
            f"working directory ({os.getcwd()}), which has none; start run.py from "
            f"{os.path.dirname(beside_run_py)} or copy the file here\n"
        )
    return load_dotenv(DOTENV)


def _store_command(args: argparse.Namespace, stdout: TextIO, stderr: TextIO, prog: str) -> int:
    import peewee

    from engine.admin import commands
    from engine.admin.flags import FlagError
    from engine.admin.roles import RoleError
    from engine.runtime.config import SettingsError, read_store_settings
    from engine.store import admin
    from engine.store.crypto import EncryptionKeyError
    from engine.store.database import DatabaseURLError
    from engine.store.migrations import SchemaError

    try:
        settings = read_store_settings(dotenv=_read_dotenv(stderr, prog))
    except SettingsError as exc:
        stderr.write(f"{prog}: {exc}\n")
        return EXIT_USAGE
    url = settings.database_url
    try:
        if args.grant or args.revoke:
            user, role = args.grant or args.revoke
            user_id = _user_id(user)
            if args.grant:
                return commands.run_grant(url, user_id, role, stdout)
            return commands.run_revoke(url, user_id, role, stdout)
        if args.roles:
            return commands.run_roles(url, stdout)
        if args.flag or args.flags:
            return _flag_command(args, url, stdout, stderr, prog)
        if args.migrate:
            return admin.run_migrate(url, stdout, stderr)
        if args.export_user is not None:
            return admin.run_export(url, args.export_user, stdout)
        if args.delete_user is not None:
            return admin.run_delete(url, args.delete_user, stdout)
        if args.stats_indexes:
            from engine.admin.stats_command import run_stats_indexes

            return run_stats_indexes(url, args.stats_indexes, stdout)
        if args.stats:
            from engine.admin.stats_command import run_stats

            return run_stats(url, args.format or "table", args.days, stdout, args.html, stderr)
        if args.broadcast or args.cancel is not None or args.broadcasts:
            from engine.admin import broadcast_command as cast

            if args.cancel is not None:
                return cast.run_cancel(url, args.cancel, stdout, stderr, prog)
            if args.broadcasts:
                return cast.run_list(url, stdout)
            follow = _is_terminal(stderr)  # a script gets the id and goes on
            if args.message is not None:
                return _message_broadcast(args, url, follow, stdout, stderr, prog)
            return cast.run_broadcast(
                url, args.text, args.where, args.dry_run, follow, stdout, stderr, prog
            )
        return admin.run_prune(url, stdout, settings.log_retention_days)
    except (RoleError, FlagError) as exc:
        stderr.write(f"{prog}: {exc}\n")
        return EXIT_USAGE
    except (SchemaError, DatabaseURLError, EncryptionKeyError) as exc:
        stderr.write(f"{prog}: {exc}\n")
        return EXIT_PROBLEMS
    except peewee.DatabaseError as exc:  # unreachable server, wrong password, locked file
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        stderr.write(f"{prog}: cannot use the database of DATABASE_URL: {first_line}\n")
        return EXIT_PROBLEMS


def _flag_command(
    args: argparse.Namespace, url: str, stdout: TextIO, stderr: TextIO, prog: str
) -> int:
    """--flag and --flags, checked against the scenario the bot runs (a PATH given, else
    BOT_SCENARIO, else scenarios/demo.yaml) when there is one."""
    from engine.admin import commands

    if args.flag and args.flag[1] not in ("on", "off"):
        raise UsageError(f"--flag NAME takes on or off, not '{args.flag[1]}'")
    path = _bots_scenario(args)
    scenario = None
    if os.path.isfile(path):
        scenario = _load(path, stderr, prog)
        if scenario is None:
            return EXIT_PROBLEMS
    else:
        stderr.write(f"{prog}: note: no scenario at {path}: flag names are not checked\n")
    if args.flag:
        return commands.run_flag(url, args.flag[0], args.flag[1], scenario, stdout)
    return commands.run_flags(url, scenario, stdout)


def _bots_scenario(args: argparse.Namespace) -> str:
    """The scenario the bot runs: a path given, else BOT_SCENARIO, else scenarios/demo.yaml."""
    return (
        args.paths[0]
        if args.paths
        else os.environ.get("BOT_SCENARIO", "").strip() or os.path.join(DEFAULT_SCENARIO_DIR, DEMO)
    )


def _message_broadcast(
    args: argparse.Namespace, url: str, follow: bool, stdout: TextIO, stderr: TextIO, prog: str
) -> int:
    """--broadcast --message NAME: the name checked against the scenario the bot runs, so a
    misspelt one is refused now rather than found by the sender with nobody reached."""
    from engine.admin import broadcast_command as cast
    from engine.admin.broadcast_texts import unknown_message

    path = _bots_scenario(args)
    if not os.path.isfile(path):
        stderr.write(
            f"{prog}: --message needs the scenario the bot runs, to take the text from: there "
            f"is no {path} (give its path, or set BOT_SCENARIO)\n"
        )
        return EXIT_PROBLEMS
    scenario = _load(path, stderr, prog)
    if scenario is None:
        return EXIT_PROBLEMS
    why = unknown_message(scenario, args.message)
    if why is not None:
        stderr.write(f"{prog}: {why} ({path})\n")
        return EXIT_PROBLEMS
    return cast.run_broadcast(
        url,
        None,
        args.where,
        args.dry_run,
        follow,
        stdout,
        stderr,
        prog,
        message_key=args.message,
    )


def _broadcast_options(args: argparse.Namespace) -> bool:
    return (
        args.text is not None or args.message is not None or args.where is not None or args.dry_run
    )


def _user_id(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"USER_ID must be a Telegram user id (a number), not '{text}'") from None


def _broadcast_usage(args: argparse.Namespace) -> None:
    """--broadcast needs its text (one); its options belong to it alone."""
    if args.broadcast and args.text is None and args.message is None:
        raise UsageError("--broadcast needs --text TEXT or --message NAME")
    if args.broadcast and args.text is not None and args.message is not None:
        raise UsageError("--broadcast takes --text TEXT or --message NAME, not both")
    if not args.broadcast and _broadcast_options(args):
        raise UsageError("--text, --message, --where and --dry-run apply to --broadcast only")


def _catalogs(args: argparse.Namespace, stdout: TextIO, stderr: TextIO, prog: str) -> int:
    from engine import i18n

    paths = args.paths or discover(DEFAULT_SCENARIO_DIR)
    _require_files(paths)
    try:
        for path in paths:
            if args.extract:
                lines = [i18n.extract(path)]
            elif args.init:
                lines = [i18n.init(path, args.init)]
            elif args.update:
                lines = i18n.update(path)
            else:
                lines = i18n.compile_catalogs(path)
            for line in lines:
                stdout.write(line + "\n")
    except i18n.CatalogError as exc:
        stderr.write(f"{prog}: {exc}\n")
        return EXIT_PROBLEMS
    return EXIT_OK


def _require_files(paths: list[str], folders: bool = False) -> None:
    if not paths:
        raise UsageError(
            f"nothing to do: no files given and none found under {DEFAULT_SCENARIO_DIR}/"
        )
    missing = [p for p in paths if not (os.path.isfile(p) or (folders and os.path.isdir(p)))]
    if missing:
        raise UsageError(f"no such file: {', '.join(missing)}")


def _media_dir() -> str | None:
    """BOT_MEDIA_DIR as the bot reads it: literal media paths are checked against it."""
    return os.environ.get("BOT_MEDIA_DIR", "").strip() or None


def _load(path: str, stderr: TextIO, prog: str) -> Scenario | None:
    """A compiled scenario, or None after printing why it cannot run."""
    report = validate_file(path, media_dir=_media_dir())
    if report.errors or report.scenario is None:
        for diagnostic in report.diagnostics:
            stderr.write(diagnostic.format() + "\n")
        stderr.write(f"{path} has errors; fix them first ({command()} --validate {path}).\n")
        return None
    scenario = compile_scenario(report.scenario)
    from engine.i18n.catalogs import ignored_translations

    for ignored in ignored_translations(scenario.translator):  # told once, as the bot logs it
        stderr.write(f"warning: {ignored.format()}\n")
    return scenario


def _graph(
    path: str, fmt: str | None, output: str | None, stdout: TextIO, stderr: TextIO, prog: str
) -> int:
    """The diagram as text (mermaid, dot) or a picture (svg, png, drawn by Graphviz). A
    scenario with errors is still drawn (missing states show as such), with its errors on
    stderr and exit 1, so a script never takes a broken bot's picture for a good one."""
    from engine.graph import render_graph
    from engine.graph_image import PICTURE_FORMATS, GraphvizError, draw, format_for

    chosen = fmt or (format_for(output) if output else "mermaid")
    if chosen is None:
        raise UsageError(
            f"cannot tell the format from the name {output}: end it in .svg, .png, .dot or "
            ".mmd, or add --format"
        )
    report = validate_file(path, media_dir=_media_dir())
    for diagnostic in report.diagnostics if report.errors or report.scenario is None else ():
        stderr.write(diagnostic.format() + "\n")
    if report.scenario is None:
        return EXIT_PROBLEMS
    text = render_graph(report.scenario.data, "dot" if chosen in PICTURE_FORMATS else chosen)
    content: str | bytes = text
    if chosen in PICTURE_FORMATS:
        try:
            content = draw(text, chosen)
        except GraphvizError as exc:
            stderr.write(f"{prog}: {exc}\n")
            return EXIT_PROBLEMS
    if output is not None:
        try:
            with open(output, "wb") as file:
                file.write(content.encode("utf-8") if isinstance(content, str) else content)
        except OSError as exc:  # a folder that does not exist, no permission
            stderr.write(f"{prog}: cannot write {output}: {exc.strerror or exc}\n")
            return EXIT_PROBLEMS
        stderr.write(f"wrote the {chosen} diagram of {path} to {output}\n")
    elif isinstance(content, bytes) and chosen == "png":
        binary = getattr(stdout, "buffer", None)
        if binary is None or _is_terminal(stdout):
            raise UsageError("a PNG is no text for the terminal: add --output FILE.png")
        stdout.flush()
        binary.write(content)
        binary.flush()
    else:
        stdout.write(content.decode("utf-8") if isinstance(content, bytes) else content)
    if report.errors:
        stderr.write(
            f"{path} has errors (above); the diagram shows what can be read, missing states "
            f"marked (missing). Fix them: {command()} --validate {path}\n"
        )
        return EXIT_PROBLEMS
    return EXIT_OK


def _validate(paths: list[str], output: str, strict: bool, stdout: TextIO) -> int:
    if not paths:
        raise UsageError(f"no scenario files (*.yaml) under {DEFAULT_SCENARIO_DIR}/")
    _require_files(paths, folders=True)
    # a folder stands for the scenarios in it (not its tests files), as for --test
    paths = [found for p in paths for found in (discover(p) if os.path.isdir(p) else [p])]
    if not paths:
        raise UsageError("no scenario files (*.yaml) in the folders given")
    from engine.i18n import check_catalogs

    reports = [validate_file(p, media_dir=_media_dir()) for p in paths]
    found = [d for r in reports for d in r.diagnostics]
    translated: dict[str, dict[str, str]] = {}
    for report in reports:
        if report.scenario is not None and not report.errors:
            languages: dict[str, str] = {}
            found.extend(check_catalogs(report.path, report.scenario, languages))
            if languages:
                translated[report.path] = languages
    shares = [
        f"{path}: translated " + ", ".join(f"{k} {v}" for k, v in languages.items())
        for path, languages in translated.items()
    ]
    diagnostics = ordered(found)
    errors = sum(1 for d in diagnostics if d.is_error)
    warnings = len(diagnostics) - errors
    if output == "json":
        files = [f for r in reports for f in r.files]
        stdout.write(as_json_document(files, diagnostics, translated) + "\n")
    else:
        for diagnostic in diagnostics:
            stdout.write(diagnostic.format() + "\n")
        for line in shares:
            stdout.write(line + "\n")
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


def main(prog: str = "scenario-bot") -> None:
    """The console script `scenario-bot`; run.py calls it with its own name."""
    try:
        sys.exit(run(sys.argv[1:], sys.stdout, sys.stderr, prog=prog))
    except BrokenPipeError:  # `python run.py --graph | head`: the reader left early
        sys.stderr.close()
        sys.exit(EXIT_OK)

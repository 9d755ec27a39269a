"""What `--validate` says about a scenario's catalogs: per language the share translated,
missing and fuzzy texts (warnings); broken .po files, hostile plural rules, and translations
that drop, rename or add a `{{ placeholder }}` or break template syntax (errors)."""

from __future__ import annotations

import gettext
import io
import os
from collections.abc import Iterator
from typing import Any

from babel.messages.pofile import PoFileError, read_po

from engine.command_name import command
from engine.core.templating import environment
from engine.i18n.catalogs import (
    MAX_CATALOG_BYTES,
    broken_po_line,
    domain_of,
    forbidden_statements,
    locales_dir,
    msgstr_lines,
    placeholder_change,
    po_path,
    safe_translation,
)
from engine.i18n.extraction import scenario_messages
from engine.ops.files import read_regular_file
from engine.scenario.diagnostics import Diagnostic, Position, error, warning
from engine.scenario.includes import ScenarioSource
from engine.scenario.template_checks import has_template_syntax


def check_catalogs(
    scenario_path: str, scenario: ScenarioSource, shares: dict[str, str] | None = None
) -> Iterator[Diagnostic]:
    """Problems of the scenario's catalogs; `shares` receives "ru: 132/132 (100%)" per language."""
    bot = scenario.data.get("bot") if isinstance(scenario.data, dict) else None
    if not isinstance(bot, dict):
        return
    source = bot.get("language", "en")
    languages = [
        code for code in bot.get("languages", ()) if isinstance(code, str) and code != source
    ]
    if not languages:
        return
    locales = locales_dir(scenario_path)
    domain = domain_of(scenario_path)
    msgids = list(dict.fromkeys(m.msgid for m in scenario_messages(scenario.data, scenario.source)))
    for language in languages:
        path = po_path(locales, language, domain)
        if not os.path.exists(path):
            yield warning(
                scenario.source.of(("bot", "languages")),
                "catalog-missing",
                f"there is no {language} catalog ({path}): users who speak {language} read {source}. "
                f"Create it with: {command()} --init {language} {scenario_path}",
            )
            continue
        yield from _check_language(
            path, language, source, msgids, shares if shares is not None else {}
        )


def _unterminated(path: str, content: bytes) -> Iterator[Diagnostic]:
    """Babel reads an unclosed quote silently (and loses a letter); say where it is."""
    broken = broken_po_line(content)
    if broken is not None:
        yield error(
            Position(path, broken[0], 1),
            "po-syntax",
            f"this line of the .po file is broken: {broken[1][:60]!r}. Every text is "
            'in double quotes, and a quote inside a text is written \\".',
            "file",
        )


def _check_language(
    path: str, language: str, source: str, msgids: list[Any], shares: dict[str, str]
) -> Iterator[Diagnostic]:
    try:
        content = read_regular_file(path, MAX_CATALOG_BYTES)
    except OSError as exc:
        yield error(
            Position(path, 1, 1), "po-syntax", f"this .po file cannot be read: {exc}.", "file"
        )
        return
    broken = list(_unterminated(path, content))
    if broken:
        yield from broken
        return
    try:
        catalog = read_po(io.BytesIO(content), abort_invalid=True)
    except PoFileError as exc:
        line = getattr(exc, "lineno", 0) or 1
        yield error(
            Position(path, line, 1),
            "po-syntax",
            f"this .po file is broken here: {exc}. Open it in Poedit, which shows and repairs such lines.",
            "file",
        )
        return
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        yield error(
            Position(path, 1, 1), "po-syntax", f"this .po file cannot be read: {exc}.", "file"
        )
        return
    try:
        gettext.c2py(catalog.plural_expr)
    except (ValueError, SyntaxError, RecursionError):
        yield error(
            Position(path, 1, 1),
            "po-plural-forms",
            f"the Plural-Forms header is not a valid rule: write the rule for {language}, e.g. from `{command()} --init {language}`.",
            "file",
        )
    translated = fuzzy = 0
    po_lines = content.decode("utf-8", "replace").splitlines()
    for msgid in msgids:
        message = catalog.get(msgid)
        strings = (
            ()
            if message is None
            else (message.string if isinstance(message.string, tuple) else (message.string,))
        )
        if message is None or not strings or not all(strings):
            continue
        if message.fuzzy:
            fuzzy += 1
            continue
        translated += 1
        originals = msgid if isinstance(msgid, tuple) else (msgid,)
        lines = msgstr_lines(po_lines, message.lineno or 1, len(strings))
        for string, line in zip(strings, lines, strict=True):
            if not isinstance(string, str):
                continue
            yield from _check_translation(
                Position(path, line, 1),
                originals[-1] if len(strings) > 1 else originals[0],
                string,
            )
    total = len(msgids)
    shares[language] = f"{translated}/{total} ({100 * translated // total if total else 100}%)"
    missing = total - translated - fuzzy
    if missing or fuzzy:
        share = 100 * translated // total if total else 100
        yield warning(
            Position(path, 1, 1),
            "translation-incomplete",
            f"{language}: {translated} of {total} texts translated ({share}%), {missing} missing, {fuzzy} fuzzy; "
            f"until they are done, users see the {source} text. Run `{command()} --update`, then translate them.",
        )


def _check_translation(position: Position, original: str, translation: str) -> Iterator[Diagnostic]:
    change = placeholder_change(original, translation)
    if change:
        yield error(
            position,
            "translation-placeholders",
            f"the translation of '{original[:60]}' {change}; keep every "
            "{{ placeholder }} exactly as in the original (the words around them may change).",
        )
    if has_template_syntax(translation):
        try:
            environment().parse(translation)
        except Exception as exc:
            yield error(
                position,
                "translation-syntax",
                f"the translation of '{original[:60]}' breaks the template: {getattr(exc, 'message', exc)}.",
            )
            return
        tags = forbidden_statements(translation)
        if tags:
            shown = ", ".join(f"{{% {tag} %}}" for tag in tags)
            yield error(
                position,
                "translation-statement",
                f"the translation of '{original[:60]}' uses {shown}, which translations may not "
                "use (it is left out and users see the original): translate the words around "
                "the {{ placeholders }} and keep the {% if %} and {% for %} of the original as "
                "they are.",
            )
            return
    if not safe_translation(original, translation):
        yield error(
            position,
            "translation-format",
            f"the translation of '{original[:60]}' holds a %-sequence; write %% for a percent sign.",
        )

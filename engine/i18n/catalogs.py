"""Loading gettext catalogs once, and translating texts with them at run time."""

from __future__ import annotations

import gettext
import io
import os
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from jinja2 import nodes

from engine.core.model import Text
from engine.core.template_gettext import make_gettext, make_ngettext
from engine.core.templating import environment
from engine.ops.files import read_regular_file
from engine.scenario.template_checks import has_template_syntax

ENGINE_LOCALES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "locales")
ENGINE_DOMAIN = "engine"
# The only %-conversion a translation may hold: named text, as {% trans %} writes it.
_TAGS = re.compile(r"\{%.*?%\}", re.DOTALL)  # {% if %} blocks are template syntax, not %-format
_FORMAT = re.compile(r"%(?!\(\w+\)s|%)")


def locales_dir(scenario_path: str) -> str:
    """Where a scenario's catalogs live: `BOT_LOCALES`, else `locales/` beside the scenario
    file or beside its folder (the project layout: scenarios/ and locales/ side by side)."""
    configured = os.environ.get("BOT_LOCALES")
    if configured:
        return configured
    folder = os.path.dirname(os.path.abspath(scenario_path))
    beside = os.path.join(folder, "locales")
    above = os.path.join(os.path.dirname(folder), "locales")
    found = beside
    if not os.path.isdir(beside) and (
        os.path.isdir(above) or os.path.basename(folder) == "scenarios"
    ):
        found = above
    relative = os.path.relpath(found)
    return found if relative.startswith("..") else relative


def domain_of(scenario_path: str) -> str:
    return os.path.splitext(os.path.basename(scenario_path))[0]


def po_path(locales: str, language: str, domain: str) -> str:
    return os.path.join(locales, language, "LC_MESSAGES", f"{domain}.po")


def formatted(message_id: Any) -> bool:
    """Whether the text is %-formatted when shown: plural and {% trans %} texts are."""
    return isinstance(message_id, tuple) or "%(" in str(message_id)


# What a translation may hold besides text and {{ values }}: the conditions and loops of its
# original. A translation that assigns (`{% set %}`), defines (`{% macro %}`), imports or
# switches escaping off could show a value under another name or unescaped.
_ALLOWED_STATEMENTS = (nodes.Output, nodes.If, nodes.For)
_TAG_NAMES = {
    nodes.Assign: "set",
    nodes.AssignBlock: "set",
    nodes.Macro: "macro",
    nodes.CallBlock: "call",
    nodes.Import: "import",
    nodes.FromImport: "from … import",
    nodes.Include: "include",
    nodes.Extends: "extends",
    nodes.Block: "block",
    nodes.FilterBlock: "filter",
    nodes.With: "with",
    nodes.ScopedEvalContextModifier: "autoescape",
    nodes.EvalContextModifier: "autoescape",
}


def forbidden_statements(translation: str) -> list[str]:
    """The tags (`set`, `macro`, ...) a translation uses that translations may not use;
    [] for a text without template syntax. Raises TemplateSyntaxError for broken syntax."""
    if not has_template_syntax(translation):
        return []
    tree = environment().parse(translation)
    found = [
        _TAG_NAMES.get(type(node), type(node).__name__.lower())
        for node in tree.find_all(nodes.Stmt)
        if not isinstance(node, _ALLOWED_STATEMENTS)
    ]
    return list(dict.fromkeys(found))


def safe_translation(message_id: Any, translation: str) -> bool:
    """A translation is used only if it cannot do harm when rendered or %-formatted: no
    stray %-sequence where it is formatted, valid syntax, no assignment or definition."""
    if formatted(message_id) and _FORMAT.search(_TAGS.sub("", translation).replace("%%", "")):
        return False
    try:
        return not forbidden_statements(translation)
    except Exception:
        return False


# bytes of one .po file: a catalog of the largest scenario is far smaller; a named pipe or a
# device named .po is refused without being opened for reading (it would never end)
MAX_CATALOG_BYTES = 10_000_000


_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}|%\((\w+)\)s", re.DOTALL)


def placeholders(text: str) -> Counter[str]:
    """The `{{ placeholders }}` and `%(name)s` of a text, spaces inside them ignored."""
    return Counter(re.sub(r"\s+", "", a or f"%({b})s") for a, b in _PLACEHOLDER.findall(text))


def shown_placeholder(placeholder: str) -> str:
    return placeholder if placeholder.startswith("%(") else "{{ " + placeholder + " }}"


def placeholder_change(original: str, translation: str) -> str:
    """'drops {{ size }} and adds {{ размер }}', or '' when the placeholders are the same."""
    expected, found = placeholders(original), placeholders(translation)
    dropped = sorted(shown_placeholder(p) for p in (expected - found).elements())
    added = sorted(shown_placeholder(p) for p in (found - expected).elements())
    parts = [
        f"drops {', '.join(dropped)}" if dropped else "",
        f"adds {', '.join(added)}" if added else "",
    ]
    return " and ".join(p for p in parts if p)


def translation_problem(original: str, message_id: Any, translation: str) -> str | None:
    """Why a translation cannot be used (None: it can): the one rule `--validate`, `--chat`,
    `--test` and the bot share. `original` is the text it translates (of a plural, the plural
    form); `message_id` the catalog's id (a tuple for a plural)."""
    change = placeholder_change(original, translation)
    if change:
        return f"it {change}"
    try:
        tags = forbidden_statements(translation)
    except Exception as exc:
        return f"it breaks the template: {getattr(exc, 'message', exc)}"
    if tags:
        return f"it uses {', '.join(f'{{% {tag} %}}' for tag in tags)}"
    if not safe_translation(message_id, translation):
        return "it holds a %-sequence; write %% for a percent sign"
    return None


_PO_LINE = re.compile(
    r'^\s*(#.*|(msgctxt|msgid|msgid_plural|msgstr(\[\d+\])?)?\s*"(\\.|[^"\\])*"\s*)?$'
)


def broken_po_line(content: bytes) -> tuple[int, str] | None:
    """The first line of a .po file that is not a comment or a quoted text (Babel reads an
    unclosed quote silently, losing a letter): (its number, the line)."""
    lines = io.TextIOWrapper(io.BytesIO(content), encoding="utf-8", errors="replace")
    for number, line in enumerate(lines, 1):
        if not _PO_LINE.match(line.rstrip("\n")):
            return number, line.strip()
    return None


def msgstr_lines(po_lines: list[str], msgid_line: int, count: int) -> list[int]:
    """The line of each `msgstr` (`msgstr[n]` of a plural) of the entry whose msgid is at
    `msgid_line`: a broken translation is reported where the translator writes it."""
    found: list[int] = []
    for number in range(msgid_line, len(po_lines) + 1):
        text = po_lines[number - 1].lstrip()
        if text.startswith("msgstr"):
            found.append(number)
        elif found and not text.startswith('"'):
            break  # the entry's last msgstr (and its continuation lines) ended
    found = found[:count]
    return found + [msgid_line] * (count - len(found))


@dataclass(frozen=True)
class IgnoredTranslation:
    """A translation (or a whole catalog, `original` None) the bot does not use, and why:
    users see the original text instead, and the author is told once, when it is loaded."""

    file: str
    line: int
    original: str | None
    reason: str

    def format(self) -> str:
        if self.original is None:
            return (
                f"{self.file}:{self.line}: this catalog is not used ({self.reason}); users of "
                "its language see the original texts. `--validate` shows what to fix."
            )
        return (
            f"{self.file}:{self.line}: the translation of '{self.original[:60]}' is not used "
            f"({self.reason}); users see the original text. `--validate` shows what to fix."
        )


def read_catalog(
    path: str,
) -> tuple[gettext.GNUTranslations | None, tuple[IgnoredTranslation, ...]]:
    """A .po file as gettext translations (compiled in memory), without its fuzzy entries and
    without the broken ones, which are returned with why; (None, why) when the whole file
    cannot be used, (None, ()) when there is no such file."""
    try:
        content = read_regular_file(path, MAX_CATALOG_BYTES)
    except FileNotFoundError:
        return None, ()
    except Exception as exc:
        return None, (IgnoredTranslation(path, 1, None, f"it cannot be read: {exc}"),)
    broken = broken_po_line(content)
    if broken is not None:
        reason = f"line {broken[0]} is broken: {broken[1][:60]!r}"
        return None, (IgnoredTranslation(path, broken[0], None, reason),)
    try:
        catalog = read_po(io.BytesIO(content), abort_invalid=True)
    except Exception as exc:
        line = getattr(exc, "lineno", 0) or 1
        return None, (IgnoredTranslation(path, line, None, f"it is broken: {exc}"),)
    po_lines = content.decode("utf-8", "replace").splitlines()
    cleaned = Catalog(locale=catalog.locale, fuzzy=False)
    ignored: list[IgnoredTranslation] = []
    for message in catalog:
        if not message.id or message.fuzzy or not message.string:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        texts = [s for s in strings if isinstance(s, str) and s]
        if len(texts) < len(strings):
            continue  # not translated yet (a plural with a form missing)
        ids = [str(i) for i in (message.id if isinstance(message.id, tuple) else (message.id,))]
        original = ids[-1] if len(texts) > 1 else ids[0]
        lines = msgstr_lines(po_lines, message.lineno or 1, len(texts))
        problems = [
            (line, problem)
            for text, line in zip(texts, lines, strict=True)
            if (problem := translation_problem(original, message.id, text)) is not None
        ]
        if problems:
            line, problem = problems[0]
            ignored.append(IgnoredTranslation(path, line, ids[0], problem))
            continue
        cleaned.add(message.id, message.string)
    cleaned.mime_headers = catalog.mime_headers  # keeps the file's Plural-Forms
    buffer = io.BytesIO()
    write_mo(buffer, cleaned)
    buffer.seek(0)
    try:
        return gettext.GNUTranslations(buffer), tuple(ignored)
    except (ValueError, SyntaxError, OSError) as exc:  # e.g. a hostile Plural-Forms expression
        reason = f"its Plural-Forms header is not a valid rule ({exc})"
        return None, (IgnoredTranslation(path, 1, None, reason),)


def load_catalog(path: str) -> gettext.GNUTranslations | None:
    """A .po file as gettext translations, broken entries left out; None when the file is
    missing or broken (`read_catalog` says why)."""
    return read_catalog(path)[0]


class CatalogTranslator:
    """Translations of one scenario (its domain) with the engine's own texts as fallback."""

    def __init__(
        self,
        source: str,
        catalogs: Mapping[str, gettext.NullTranslations],
        ignored: tuple[IgnoredTranslation, ...] = (),
    ) -> None:
        self.source = source
        self.catalogs = dict(catalogs)
        self.ignored = ignored  # broken translations left out: told once, where it loads
        self._texts: dict[tuple[str, str, str], Text] = {}
        self._globals: dict[str, Mapping[str, Any]] = {}

    def _catalog(self, language: str) -> gettext.NullTranslations | None:
        return self.catalogs.get(language)

    def gettext(self, language: str, message: str) -> str:
        catalog = self._catalog(language)
        return _translated(catalog, message) if catalog is not None else message

    def text(self, text: Text, language: str) -> Text:
        if text.mode == "data":
            return text
        key = (language, text.mode, text.source)
        found = self._texts.get(key)
        if found is None:
            translated = self.gettext(language, text.source)
            if translated == text.source:
                found = text
            else:
                template = (
                    environment(text.mode).from_string(translated)
                    if has_template_syntax(translated)
                    else None
                )
                found = Text(translated, text.mode, template)
            self._texts[key] = found
        return found

    def template_globals(self, language: str) -> Mapping[str, Any]:
        found = self._globals.get(language)
        if found is None:
            catalog = self._catalog(language) or gettext.NullTranslations()
            found = self._globals[language] = {
                "_": make_gettext(partial(_translated, catalog)),
                "gettext": make_gettext(partial(_translated, catalog)),
                "ngettext": make_ngettext(catalog.ngettext),
            }
        return found


def _translated(catalog: gettext.NullTranslations, message: str) -> str:
    """The catalog's translation; an empty text stays empty (gettext gives the catalog's
    header for it: `fallback: ""`, meant as silence, sent "Project-Id-Version: ...")."""
    return catalog.gettext(message) if message else message


def load_translator(
    scenario_path: str, source: str, languages: tuple[str, ...]
) -> CatalogTranslator:
    """Every language's catalog, loaded once: the scenario's, falling back to the engine's."""
    locales = locales_dir(scenario_path)
    domain = domain_of(scenario_path)
    catalogs: dict[str, gettext.NullTranslations] = {}
    ignored: list[IgnoredTranslation] = []
    for language in sorted({source, *languages}):
        engine = load_catalog(po_path(ENGINE_LOCALES, language, ENGINE_DOMAIN))
        own: gettext.GNUTranslations | None = None
        if language != source:
            own, left_out = read_catalog(po_path(locales, language, domain))
            ignored.extend(left_out)
        chain: gettext.NullTranslations | None = own or engine
        if own is not None and engine is not None:
            own.add_fallback(engine)
        if chain is not None:
            catalogs[language] = chain
    return CatalogTranslator(source, catalogs, tuple(ignored))


def ignored_translations(translator: Any) -> tuple[IgnoredTranslation, ...]:
    """What a compiled scenario's translator left out (none without catalogs)."""
    found: tuple[IgnoredTranslation, ...] = getattr(translator, "ignored", ())
    return found

"""Loading gettext catalogs once, and translating texts with them at run time."""

from __future__ import annotations

import gettext
import io
import os
import re
from collections.abc import Mapping
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


def load_catalog(path: str) -> gettext.GNUTranslations | None:
    """A .po file as gettext translations (compiled in memory, fuzzy and unsafe entries left
    out); None when the file is missing or broken (`--validate` says why)."""
    try:
        catalog = read_po(io.BytesIO(read_regular_file(path, MAX_CATALOG_BYTES)))
    except Exception:
        return None
    cleaned = Catalog(locale=catalog.locale, fuzzy=False)
    for message in catalog:
        if not message.id or message.fuzzy or not message.string:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if all(isinstance(s, str) and s and safe_translation(message.id, s) for s in strings):
            cleaned.add(message.id, message.string)
    cleaned.mime_headers = catalog.mime_headers  # keeps the file's Plural-Forms
    buffer = io.BytesIO()
    write_mo(buffer, cleaned)
    buffer.seek(0)
    try:
        return gettext.GNUTranslations(buffer)
    except (ValueError, SyntaxError, OSError):  # e.g. a hostile Plural-Forms expression
        return None


class CatalogTranslator:
    """Translations of one scenario (its domain) with the engine's own texts as fallback."""

    def __init__(self, source: str, catalogs: Mapping[str, gettext.NullTranslations]) -> None:
        self.source = source
        self.catalogs = dict(catalogs)
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
    for language in {source, *languages}:
        engine = load_catalog(po_path(ENGINE_LOCALES, language, ENGINE_DOMAIN))
        own = load_catalog(po_path(locales, language, domain)) if language != source else None
        chain: gettext.NullTranslations | None = own or engine
        if own is not None and engine is not None:
            own.add_fallback(engine)
        if chain is not None:
            catalogs[language] = chain
    return CatalogTranslator(source, catalogs)

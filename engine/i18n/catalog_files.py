"""`--extract`, `--init LANG`, `--update` and `--compile`: Babel's catalog operations, through
its Python API, for one scenario's domain (the scenario file's name)."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass

from babel import Locale, UnknownLocaleError
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from engine.command_name import command
from engine.i18n.catalogs import MAX_CATALOG_BYTES, domain_of, locales_dir, po_path
from engine.i18n.extraction import build_template, scenario_messages
from engine.ops.files import read_regular_file
from engine.scenario import validate_file


class CatalogError(Exception):
    """A catalog operation cannot be done; the message says what to do instead."""


@dataclass(frozen=True)
class CatalogPlace:
    scenario: str
    locales: str
    domain: str
    languages: tuple[str, ...]  # the bot's languages other than its source language

    @property
    def template(self) -> str:
        return os.path.join(self.locales, f"{self.domain}.pot")

    def po(self, language: str) -> str:
        return po_path(self.locales, language, self.domain)


def place_of(scenario: str) -> tuple[CatalogPlace, Catalog]:
    """Where the scenario's catalogs live, and its messages as a template catalog."""
    report = validate_file(scenario)
    if report.scenario is None or report.errors:
        raise CatalogError(
            f"{scenario} has errors; fix them first ({command()} --validate {scenario})"
        )
    data = report.scenario.data
    bot = data.get("bot", {})
    source = bot.get("language", "en")
    languages = tuple(code for code in bot.get("languages", ()) if code != source)
    locales = locales_dir(scenario)
    base = os.path.dirname(locales) or "."
    messages = scenario_messages(data, report.scenario.source, base)
    template = build_template(bot.get("name", domain_of(scenario)), messages)
    return CatalogPlace(scenario, locales, domain_of(scenario), languages), template


def _write(path: str, catalog: Catalog) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        # no wrapping: Babel wraps at spaces, and `{{ user.first_name }}` came out cut in
        # two across lines, for translators to break; a text's own line breaks still show
        write_po(handle, catalog, width=0, sort_output=False, include_previous=True)


def _read(path: str) -> Catalog:
    return read_po(io.BytesIO(read_regular_file(path, MAX_CATALOG_BYTES)))


def extract(scenario: str) -> str:
    place, template = place_of(scenario)
    _write(place.template, template)
    return f"{place.template}: {len(template)} messages"


def init(scenario: str, language: str) -> str:
    place, template = place_of(scenario)
    language = language.replace("-", "_")  # pt-BR, as Telegram writes it: the folder is pt_BR
    try:
        locale = Locale.parse(language)
    except (ValueError, UnknownLocaleError):
        raise CatalogError(
            f"'{language}' is not a language code Babel knows; write one like ru, de or pt_BR"
        ) from None
    target = place.po(language)
    if os.path.exists(target):
        raise CatalogError(f"{target} exists already; use --update to bring it up to date")
    _write(place.template, template)
    catalog = Catalog(locale=locale, project=template.project, charset="utf-8", fuzzy=False)
    for message in template:
        if message.id:  # plural texts get one form per plural of the language (ru: 3)
            empty = ("",) * catalog.num_plurals if message.pluralizable else ""
            catalog.add(
                message.id,
                empty,
                list(message.locations),
                auto_comments=list(message.auto_comments),
            )
    _write(target, catalog)
    note = "" if language in place.languages else f" (add {language} to bot.languages to offer it)"
    return f"{target}: created with {len(catalog)} messages to translate{note}"


def update(scenario: str) -> list[str]:
    place, template = place_of(scenario)
    if not place.languages:
        return [f"{scenario}: no languages besides bot.language; nothing to update"]
    _write(place.template, template)
    done = []
    for language in place.languages:
        target = place.po(language)
        if not os.path.exists(target):
            done.append(f"{target}: missing; create it with --init {language}")
            continue
        catalog = _read(target)
        catalog.update(template, update_header_comment=False)
        _write(target, catalog)
        untranslated = sum(1 for m in catalog if m.id and not m.string)
        fuzzy = sum(1 for m in catalog if m.id and m.fuzzy)
        done.append(f"{target}: updated; {untranslated} untranslated, {fuzzy} fuzzy")
    return done


def compile_catalogs(scenario: str) -> list[str]:
    place, _template = place_of(scenario)
    done = []
    for language in place.languages:
        source = place.po(language)
        if not os.path.exists(source):
            done.append(f"{source}: missing; create it with --init {language}")
            continue
        catalog = _read(source)
        with open(source[:-3] + ".mo", "wb") as handle:
            write_mo(handle, catalog, use_fuzzy=False)
        done.append(f"{source[:-3]}.mo: compiled")
    return done

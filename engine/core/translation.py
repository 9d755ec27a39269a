"""How the core asks for translations, without knowing where catalogs come from.

A text is translated before it is rendered (translators see and keep `{{ placeholders }}`);
the implementation with gettext catalogs lives in engine/i18n."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from engine.core.model import Text


class Translator(Protocol):
    def text(self, text: Text, language: str) -> Text:
        """`text` in `language` (compiled), or `text` itself when there is no translation."""
        ...

    def gettext(self, language: str, message: str) -> str: ...

    def template_globals(self, language: str) -> Mapping[str, Any]:
        """`_`, `gettext` and `ngettext` for templates, speaking `language`."""
        ...


class NoTranslation:
    """The bot speaks only its source language."""

    def text(self, text: Text, language: str) -> Text:
        return text

    def gettext(self, language: str, message: str) -> str:
        return message

    def template_globals(self, language: str) -> Mapping[str, Any]:
        return {}


def negotiate(language_code: str, offered: tuple[str, ...], source: str) -> str:
    """The bot language for a Telegram `language_code`: pt-BR → pt_BR → pt → the source."""
    if not language_code:
        return source
    wanted = language_code.replace("-", "_")
    by_lower = {code.lower(): code for code in (source, *offered)}
    for candidate in (wanted, wanted.split("_")[0]):
        found = by_lower.get(candidate.lower())
        if found is not None:
            return found
    return source

"""The command menu Telegram shows, per language (setMyCommands with language_code)."""

from __future__ import annotations

from engine.core import builtin_texts
from engine.core.model import Scenario
from engine.core.translation import NoTranslation, Translator

_PRIVACY = {
    "mydata": builtin_texts.MYDATA_DESCRIPTION,
    "forgetme": builtin_texts.FORGETME_DESCRIPTION,
}


def command_menus(scenario: Scenario) -> dict[str, list[tuple[str, str]]]:
    """For each of the bot's languages, its commands with their translated descriptions
    (commands marked `hidden` or limited to roles with `only` are left out of the menu)."""
    translator: Translator = scenario.translator or NoTranslation()
    menus: dict[str, list[tuple[str, str]]] = {}
    for language in scenario.offered_languages:
        menus[language] = [
            (name, translator.text(command.description, language).source[:256])
            for name, command in scenario.commands.items()
            if command.description is not None and not command.hidden and not command.only
        ]
        for name, description in _PRIVACY.items():
            if name in scenario.privacy:
                menus[language].append((name, translator.gettext(language, description)))
    return menus

"""The text of a `--message NAME` broadcast for one user: the scenario's `messages:` entry,
translated into the user's language through the scenario's catalogs (as every text of the
bot) and rendered with the user's own variables in the same sandbox as every template."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from engine.core.model import Scenario
from engine.core.rendering import Scope, render
from engine.core.translation import NoTranslation, Translator, negotiate
from engine.scenario.suggestions import did_you_mean


class UnknownMessage(Exception):
    """The scenario has no such entry under `messages:`; the message says which it has."""


@dataclass(frozen=True)
class Recipient:
    """What a broadcast's text may use of one user: their language and variables (the
    sensitive ones are left out: they are stored encrypted)."""

    user_id: int
    first_name: str | None
    language: str | None  # the session's (a bot language), else Telegram's language code
    variables: Mapping[str, Any]


def unknown_message(scenario: Scenario, name: str) -> str | None:
    """Why `name` cannot be broadcast from this scenario, or None when it can."""
    if name in scenario.messages:
        return None
    listed = ", ".join(sorted(scenario.messages)) or "none"
    return (
        f"the scenario has no message '{name}' under `messages:` (its messages: {listed})."
        f"{did_you_mean(name, scenario.messages)}"
    )


class MessageTexts:
    """`BroadcastFeeder.text_for` of a running bot: reads the scenario each time (a reload
    or a switched flag counts from the next chunk)."""

    def __init__(self, scenario: Callable[[], Scenario]) -> None:
        self.scenario = scenario

    def __call__(self, name: str, recipient: Recipient, now: dt.datetime) -> str:
        """The text for one user; UnknownMessage, or RenderError for a template that fails
        for this user (a variable they lack in a comparison)."""
        scenario = self.scenario()
        why = unknown_message(scenario, name)
        if why is not None:
            raise UnknownMessage(why)
        language = negotiate(
            recipient.language or "", scenario.offered_languages, scenario.language
        )
        translator: Translator = scenario.translator or NoTranslation()
        text = translator.text(scenario.messages[name], language)
        if text.template is None:
            return text.source
        hidden = scenario.sensitive  # stored encrypted: not readable here
        values = {  # the scenario's `vars:` for what the user's session does not have yet
            k: v for k, v in {**scenario.defaults, **recipient.variables}.items() if k not in hidden
        }
        scope = Scope(
            {
                **values,
                "user": {
                    "id": recipient.user_id,
                    "first_name": recipient.first_name,
                    "language": language,
                },
                "now": now,
                "flags": scenario.flags,
                "_locale": language,
                **translator.template_globals(language),
            }
        )
        return render(text, scope)

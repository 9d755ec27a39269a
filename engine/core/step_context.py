"""One step's working memory: the session being changed, the effects so far, the names
templates see, and how messages are emitted. The interpreter and its side effects build on it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

from engine.core.callback_data import user_tag
from engine.core.effects import (
    EditMarkup,
    EditText,
    Effect,
    Markup,
    ReportProblem,
    SendLocation,
    SendMedia,
    SendText,
)
from engine.core.events import (
    ButtonPress,
    Event,
    message_view,
)
from engine.core.model import (
    Goto,
    Scenario,
    State,
)
from engine.core.output import MessageBuilder, Outgoing, attach, to_effects
from engine.core.ports import Services
from engine.core.quick_init import quick_init
from engine.core.rendering import Scope
from engine.core.session import Session
from engine.core.translation import NoTranslation, Translator, negotiate

MAX_MOVES = 50  # state entries in one step; more means a loop the validator could not see


@quick_init
@dataclass(frozen=True)
class StepResult:
    session: Session
    effects: tuple[Effect, ...]
    trace: tuple[tuple[str | None, str], ...] = ()  # states entered, (from, to), in order
    fallback: bool = False  # the event was not understood: the fallback answered it


class StepBase:
    fell_back = False  # the fallback answered (the message log marks it for statistics)

    def __init__(
        self,
        scenario: Scenario,
        session: Session,
        event: Event,
        now: dt.datetime,
        services: Services,
    ) -> None:
        self.scenario = scenario
        self.session = session
        self.event = event
        self.now = now
        self.services = services
        self.state = session.state
        self.vars: dict[str, Any] = {**scenario.defaults, **session.vars}
        self.stack = list(session.stack)
        self.attempts = session.attempts
        self.epoch = session.epoch
        self.translator: Translator = scenario.translator or NoTranslation()
        language = session.language or negotiate(
            event.user.language, scenario.languages, scenario.language
        )
        self.ended = session.ended
        self.effects: list[Effect] = []
        self.trace: list[tuple[str | None, str]] = []
        self.moves = 0
        self.match: list[str | None] = []
        self.edit_message_id = event.message_id if isinstance(event, ButtonPress) else None
        # the moves of a pressed button's actions (goto, call, return and the moves that
        # follow at once): the first message shown replaces the pressed one, as a menu does
        self.editing = False
        self.remove_keyboard = False
        self._context: Scope | None = None
        self._fixed: dict[str, Any] | None = None  # the names that do not change within a step
        self._users_language: str | None = None  # while a message is built in another one
        private = event.chat.id == event.user.id or scenario.shared_buttons
        self.builder = MessageBuilder(
            self.context,
            self.report,
            event.seed,
            self.translator,
            language,
            event.user.id,
            "" if private else user_tag(event.user.id),
        )

    @property
    def language(self) -> str:
        """The language of this step's messages, kept where the messages are built."""
        return self.builder.language

    @language.setter
    def language(self, language: str) -> None:
        self.builder.language = language

    # -- plumbing --------------------------------------------------------------------------

    def result(self) -> StepResult:
        old = self.session
        session = Session(
            old.chat_id,
            old.user_id,
            self.state,
            self.vars,
            tuple(self.stack),
            self.attempts,
            self.epoch,
            self.builder.language,
            old.roles,
            self.ended,
            self.scenario.version,
        )
        return StepResult(session, tuple(self.effects), tuple(self.trace), self.fell_back)

    def report(self, message: str, kind: str = "step") -> None:
        self.effects.append(ReportProblem(self.state, message, kind=kind))

    def context(self) -> Scope:
        if self._context is None:
            if self._fixed is None:
                event, user, language = self.event, self.event.user, self.language
                self._fixed = {
                    "user": {
                        "id": user.id,
                        "first_name": user.first_name,
                        "last_name": user.last_name,
                        "username": user.username,
                        "language": self._users_language or language,
                    },
                    "chat": {
                        "id": event.chat.id,
                        "type": event.chat.type,
                        "title": event.chat.title,
                    },
                    "message": message_view(event),
                    "now": self.now,
                    "config": self.services.config,
                    "flags": self.scenario.flags,
                    "_locale": language,
                    **self.translator.template_globals(language),
                }
            self._context = Scope({**self.vars, **self._fixed, "match": self.match})
        return self._context

    def changed(self) -> None:
        self._context = None

    def in_bots_language(self, say: tuple[Any, ...]) -> list[Outgoing]:
        """Messages for the admins (`notify`), built in the bot's own language: the user's
        is the customer's, which the admins may not read. `user.language` stays the user's."""
        language = self.language
        if language == self.scenario.language:
            return self.builder.messages(say, self.state or "", self.epoch)
        self._users_language, self.language = language, self.scenario.language
        self._fixed = None
        self.changed()
        try:
            return self.builder.messages(say, self.state or "", self.epoch)
        finally:
            self._users_language, self.language = None, language
            self._fixed = None
            self.changed()

    def set_var(self, name: str, value: Any) -> None:
        self.vars[name] = value
        self.changed()

    def current(self) -> State | None:
        return self.scenario.states.get(self.state) if self.state is not None else None

    def emit(
        self, messages: list[Outgoing], markup: Markup | None = None, edit: bool = False
    ) -> None:
        edit_id = self.edit_message_id if edit else None
        if (
            markup
            and markup.inline
            and not messages
            and edit_id is not None
            and not (markup.keyboard or markup.remove_keyboard)
        ):  # nothing to say, only buttons: the pressed message keeps its text, gets them
            self.effects.append(EditMarkup(self.event.chat.id, edit_id, markup))
            self.edit_message_id = None
            return
        if markup is not None:
            attach(messages, markup, self.ride)
        if self.remove_keyboard:
            for message in messages:
                if not message.markup:
                    message.markup = Markup(remove_keyboard=True)
                    self.remove_keyboard = False
                    break
        if edit_id is not None and messages:
            self.edit_message_id = None
        reply_to = None if isinstance(self.event, ButtonPress) else self.event.message_id
        self.effects.extend(to_effects(messages, self.event.chat.id, edit_id, reply_to))

    def ride(self, markup: Markup) -> bool:
        """Put a keyboard on the latest message this step sent, if that has none (instead of
        a message of its own): it is sent with the rest, nothing has gone out yet."""
        for index in range(len(self.effects) - 1, -1, -1):
            effect = self.effects[index]
            if isinstance(effect, SendText | SendMedia | SendLocation):
                if effect.markup:
                    return False
                self.effects[index] = replace(effect, markup=markup)
                return True
            if isinstance(effect, EditText | EditMarkup):
                return False  # an edited message cannot take a reply keyboard
        return False

    def say(self, say: tuple[Any, ...]) -> None:
        self.emit(self.builder.messages(say, self.state or "", self.epoch))

    # -- the order of matching -------------------------------------------------------------

    def says(self, text: str, option: str, exact: bool = False) -> bool:
        """Whether the user's text is `option` (as written, or in the user's language)."""
        typed = text.strip()
        candidates = (option, self.translator.gettext(self.language, option))
        if exact:
            return typed in candidates
        return typed.casefold() in (c.casefold() for c in candidates)

    def builtin(self, message: str) -> str:
        return self.translator.gettext(self.language, message)

    def choose(self, goto: Goto) -> str | None:
        for branch in goto.branches:
            if branch.condition is None or self.builder.holds(branch.condition):
                return branch.target
        return None

    # -- moving between states -------------------------------------------------------------

    def enter(self, name: str) -> None:
        raise NotImplementedError  # the interpreter moves between states

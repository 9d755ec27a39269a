"""The compiled scenario: frozen values with templates and patterns compiled once at load."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import jinja2


@dataclass(frozen=True)
class Text:
    """A text as the author wrote it (the msgid) and its compiled template (None when plain)."""

    source: str
    mode: str  # the escaping: HTML, MarkdownV2, none, or data
    template: jinja2.Template | None = None


@dataclass(frozen=True)
class Expression:
    source: str
    compiled: Any  # jinja2 TemplateExpression


# A `set` value: a Text (rendered to a string), an Expression (a whole "{{ expr }}", which
# keeps its type: numbers stay numbers) or a plain value.
Value = Text | Expression | Any


@dataclass(frozen=True)
class Branch:
    target: str
    condition: Expression | None = None


@dataclass(frozen=True)
class Goto:
    branches: tuple[Branch, ...]


@dataclass(frozen=True)
class Http:
    method: str
    url: Text
    headers: tuple[tuple[str, Value], ...] = ()
    json: Any = None  # nested values with Text/Expression leaves
    form: tuple[tuple[str, Value], ...] = ()
    timeout: float = 10.0
    save_as: str | None = None
    on_error: str | None = None


@dataclass(frozen=True)
class Notify:
    to: tuple[str | int, ...]
    say: tuple[Message, ...]


@dataclass(frozen=True)
class Assign:
    values: tuple[tuple[str, Value], ...]


@dataclass(frozen=True)
class Plugin:
    name: str
    arguments: Any = None
    save_as: str | None = None


@dataclass(frozen=True)
class SetLanguage:
    language: Text


@dataclass(frozen=True)
class Broadcast:
    """`do: broadcast`: a text (rendered in the admin's step) or the name of one of the
    scenario's `messages:` (rendered for each user, in their language, when it is sent) to
    every user, or to those `where` picks (a condition over each user,
    engine/admin/broadcasts.py)."""

    text: Text | None
    where: str | None = None
    message: str | None = None


Action = Http | Notify | Assign | Plugin | SetLanguage | Broadcast


@dataclass(frozen=True)
class ButtonList:
    """Buttons made from a list (`buttons: - list: …`): one per entry, a page at a time.
    A press of an entry stores its value in `save_as`; the value's check (a short hash in
    the button's data) tells a press of an entry that has since changed."""

    source: Expression  # the list, evaluated when the keyboard is drawn and when pressed
    label: Text  # per entry, with `item` (and `number`, from 1) in scope
    value: Value  # per entry, likewise; None: the entry itself
    save_as: str
    page_size: int = 5
    columns: int = 1
    previous: Text | None = None  # the page buttons' labels; None: ◀️ and ▶️
    next: Text | None = None


@dataclass(frozen=True)
class Button:
    """An inline button. Its identity, carried in its callback data, is where it was written
    (`home`: a state's name, `/command` or `~fallback`) and its place among that home's
    buttons, so a press finds this button and no other."""

    text: Text
    index: int  # place among its home's inline buttons (callback data); -1: a url button
    url: Text | None = None
    condition: Expression | None = None
    actions: Actions | None = None
    home: str = ""
    # the `if:` of the messages around it: a press counts only while they hold
    guards: tuple[Expression, ...] = ()
    # in a `random:` message: (its pick key, this variant's place, the variants); a press
    # counts only when this variant is the one drawn for the visit
    variant: tuple[str, int, int] | None = None
    listing: ButtonList | None = None  # buttons made from a list, in pages


@dataclass(frozen=True)
class KeyboardOptions:
    """How a reply keyboard behaves (`keyboard_options`)."""

    one_time: bool = False  # hidden once a key is pressed
    placeholder: Text | None = None  # the hint in the empty typing field
    resize: bool = True  # keys as tall as their text (false: Telegram's big keys)


@dataclass(frozen=True)
class Key:
    text: Text
    request_contact: bool = False
    request_location: bool = False


@dataclass(frozen=True)
class Message:
    text: Text | None = None
    media_kind: str | None = None
    media: Text | None = None
    caption: Text | None = None
    location: tuple[float, float] | None = None
    buttons: tuple[tuple[Button, ...], ...] = ()
    keyboard: tuple[tuple[Key, ...], ...] = ()
    remove_keyboard: bool = False
    condition: Expression | None = None
    variants: tuple[Message, ...] = ()  # `random:`
    parse_mode: str = "HTML"
    # a `random:` message with inline buttons draws one variant per visit (not per event),
    # keyed by this, so that a press can tell which variant was shown
    pick_key: str = ""
    keyboard_options: KeyboardOptions | None = None
    reply: bool = False  # quote the user's message


@dataclass(frozen=True)
class Actions:
    """What a state (on entry), command, handler, button or timer does, in the brief's order."""

    assign: tuple[tuple[str, Value], ...] = ()
    clear: tuple[str, ...] = ()
    do: tuple[Action, ...] = ()
    say: tuple[Message, ...] = ()
    goto: Goto | None = None
    call: str | None = None
    returns: bool = False


@dataclass(frozen=True)
class Choice:
    text: Text
    value: Any
    match: str  # casefolded label the answer is compared with


@dataclass(frozen=True)
class Ask:
    var: str
    type: str
    choices: tuple[Choice, ...] = ()
    minimum: Any = None
    maximum: Any = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: Any = None  # compiled regex
    retry: tuple[tuple[Message, ...], ...] = ()  # the ladder: one entry per failed attempt
    max_attempts: int | None = None
    on_fail: str | None = None
    optional: bool = False
    skip_text: Text | None = None


@dataclass(frozen=True)
class Handler:
    actions: Actions
    command: str | None = None
    texts: tuple[str, ...] = ()  # as written (translated before comparing, case ignored)
    pattern: Any = None
    button: str | None = None
    type: str | None = None
    condition: Expression | None = None

    @property
    def names_input(self) -> bool:
        """Whether the handler names what it matches (a command, a text, a pattern, a key, a
        kind of message other than any text): only such a handler takes the message that
        starts a conversation; a catch-all would answer what the greeting just answered."""
        return bool(
            self.command
            or self.texts
            or self.pattern is not None
            or self.button is not None
            or self.type not in (None, "text", "any")
        )


@dataclass(frozen=True)
class Timer:
    index: int
    delay: float  # seconds (0 when the delay is computed)
    actions: Actions
    # a delay written as a template ("{{ minutes }}m"), read each time the state is entered
    delay_template: Text | None = None


@dataclass(frozen=True)
class State:
    name: str
    enter: Actions
    buttons: tuple[tuple[Button, ...], ...] = ()
    keyboard: tuple[tuple[Key, ...], ...] = ()
    remove_keyboard: bool = False
    ask: Ask | None = None
    handlers: tuple[Handler, ...] = ()
    timers: tuple[Timer, ...] = ()
    only: frozenset[str] = frozenset()
    end: bool = False
    edit: bool = True
    all_buttons: tuple[Button, ...] = ()  # every inline button of the state, by index
    keyboard_options: KeyboardOptions | None = None

    @property
    def awaits_input(self) -> bool:
        return bool(self.ask or self.handlers or self.buttons)

    @property
    def shows_reply_keyboard(self) -> bool:
        """Whether entering the state shows reply keys (its own, or its question's)."""
        ask = self.ask
        if self.keyboard or ask is None or self.remove_keyboard:
            return bool(self.keyboard)
        keyed = ask.choices or ask.type in ("choice", "yes_no", "contact", "phone", "location")
        return bool(keyed or (ask.optional and ask.skip_text is not None))


@dataclass(frozen=True)
class Command:
    name: str
    description: Text | None
    actions: Actions
    hidden: bool = False
    only: frozenset[str] = frozenset()
    all_buttons: tuple[Button, ...] = ()  # every inline button of its messages, by index


@dataclass(frozen=True)
class Fallback:
    say: tuple[Message, ...] = ()
    repeat: bool = False
    goto: Goto | None = None
    all_buttons: tuple[Button, ...] = ()


@dataclass(frozen=True)
class Scenario:
    name: str
    start: str
    states: Mapping[str, State]
    language: str = "en"
    languages: tuple[str, ...] = ()
    parse_mode: str = "HTML"
    defaults: Mapping[str, Any] = field(default_factory=dict)
    sensitive: frozenset[str] = frozenset()
    commands: Mapping[str, Command] = field(default_factory=dict)
    # the top-level `on`: tried in every state after its own handlers, before its question
    handlers: tuple[Handler, ...] = ()
    handler_buttons: tuple[Button, ...] = ()  # every inline button of their messages, by index
    fallback: Fallback = Fallback()
    migrations: Mapping[str, str] = field(default_factory=dict)
    version: str = ""
    base_dir: str = "."
    translator: Any = None  # a Translator (engine.core.translation); None: no catalogs
    privacy: frozenset[str] = frozenset()  # built-in commands enabled: mydata, forgetme
    # some action needs an answer within the step (http with save_as/on_error, a plugin):
    # a live bot then makes such calls outside the store's transaction
    waits_for_calls: bool = False
    # inline buttons in groups answer only the user they were sent to, unless shared
    shared_buttons: bool = False
    # feature flags (`flags:`): the declared defaults; a running bot steps with the values
    # switched in the database (with_flags), read as `flags.NAME` in conditions and templates
    flags: Mapping[str, bool] = field(default_factory=dict)
    # `messages:`: named texts for broadcasts (`--message NAME`), translated per user
    messages: Mapping[str, Text] = field(default_factory=dict)

    def with_flags(self, switched: Mapping[str, bool]) -> Scenario:
        """This scenario with the flags as switched at run time; a stored flag the scenario
        does not declare is left out (it may be an older version's)."""
        values = {name: switched.get(name, default) for name, default in self.flags.items()}
        return self if values == self.flags else replace(self, flags=values)

    @cached_property
    def restricted(self) -> bool:
        """Some state is only for some roles (`only:`); if none is, no step needs to check
        that its user may stay where they are. Worked out once per scenario."""
        return any(state.only for state in self.states.values())

    @cached_property
    def granted_roles(self) -> bool:
        """Some state or command is for a role other than `admin` (BOT_ADMINS'), so the bot
        reads the roles granted in the database; without, it never needs to."""
        used = {r for s in self.states.values() for r in s.only}
        used |= {r for c in self.commands.values() for r in c.only}
        return bool(used - {"admin"})

    @property
    def offered_languages(self) -> tuple[str, ...]:
        return (self.language, *(code for code in self.languages if code != self.language))

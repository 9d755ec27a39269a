"""Compiling validated scenario data into the core's frozen model, templates compiled once."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, TypeVar

import regex
from babel import Locale, UnknownLocaleError

from engine.core.durations import parse_duration
from engine.core.model import (
    Action,
    Actions,
    Ask,
    Assign,
    Branch,
    Broadcast,
    Button,
    ButtonList,
    Choice,
    Command,
    Expression,
    Fallback,
    Goto,
    Handler,
    Http,
    Key,
    KeyboardOptions,
    Message,
    Notify,
    Plugin,
    Scenario,
    SetLanguage,
    State,
    Text,
    Timer,
    Value,
)
from engine.core.templating import environment
from engine.core.url_template import url_template
from engine.scenario.button_homes import (
    FALLBACK_HOME,
    HANDLERS_HOME,
    NOTIFY_HOME,
    ButtonHome,
    command_buttons,
    command_home,
    fallback_buttons,
    handlers_buttons,
    state_buttons,
)
from engine.scenario.includes import ScenarioSource
from engine.scenario.inventory import MEDIA_KEYS
from engine.scenario.template_checks import has_template_syntax

_Home = TypeVar("_Home", Command, Fallback)
_WHOLE_EXPRESSION = re.compile(r"^\s*\{\{(?P<expr>.*)\}\}\s*$", re.DOTALL)


class ScenarioCompiler:
    """Builds a Scenario from data that passed validation (so shapes can be trusted)."""

    def __init__(self, data: dict[str, Any], base_dir: str = ".") -> None:
        self.data = data
        self.base_dir = base_dir
        self.waits_for_calls = False  # an action whose answer a step needs was compiled
        bot = data.get("bot", {})
        self.parse_mode: str = bot.get("parse_mode", "HTML")

    # -- leaves ----------------------------------------------------------------------------
    def text(self, source: str, mode: str | None = None) -> Text:
        mode = mode or self.parse_mode
        if not has_template_syntax(source):
            return Text(source, mode)
        return Text(source, mode, environment(mode).from_string(source))

    def url(self, source: str) -> Text:
        """An `http:` or button url: values encoded for the part of the URL they stand in."""
        if not has_template_syntax(source):
            return Text(source, "data")
        return Text(source, "data", url_template(source))

    def condition(self, source: str | None) -> Expression | None:
        if source is None:
            return None
        return Expression(source, environment("data").compile_expression(source))

    def value(self, raw: Any) -> Value:
        """A `set`/http value: whole "{{ expr }}" keeps its type; other templates give text."""
        if isinstance(raw, str):
            whole = _WHOLE_EXPRESSION.match(raw)
            if whole and not has_template_syntax(whole.group("expr")):
                return Expression(raw, environment("data").compile_expression(whole.group("expr")))
            return self.text(raw, "data") if has_template_syntax(raw) else raw
        if isinstance(raw, list):
            return tuple(self.value(item) for item in raw)
        if isinstance(raw, dict):
            return {key: self.value(item) for key, item in raw.items()}
        return raw

    def goto(self, raw: Any) -> Goto | None:
        if raw is None:
            return None
        if isinstance(raw, str):
            return Goto((Branch(raw),))
        return Goto(tuple(Branch(b["to"], self.condition(b.get("if"))) for b in raw))

    # -- messages --------------------------------------------------------------------------
    def say(
        self, raw: Any, home: ButtonHome, guards: tuple[Expression, ...] = ()
    ) -> tuple[Message, ...]:
        if raw is None:
            return ()
        items = raw if isinstance(raw, list) else [raw]
        return tuple(self.message(item, home, guards) for item in items)

    def message(
        self,
        raw: Any,
        home: ButtonHome,
        guards: tuple[Expression, ...] = (),
        variant: tuple[str, int, int] | None = None,
    ) -> Message:
        if isinstance(raw, str):
            return Message(text=self.text(raw), parse_mode=self.parse_mode)
        mode = raw.get("parse_mode", self.parse_mode)
        media_kind = next((k for k in MEDIA_KEYS if k in raw), None)
        location = raw.get("location")
        condition = self.condition(raw.get("if"))
        inner = (*guards, condition) if condition is not None else guards
        variants: tuple[Message, ...] = ()
        pick_key = ""
        if raw.get("random"):
            options = raw["random"]
            if _has_inline_buttons(options):
                pick_key = home.next_pick()
            variants = tuple(
                self.message(v, home, inner, (pick_key, i, len(options)) if pick_key else None)
                for i, v in enumerate(options)
            )
        return Message(
            text=self.text(raw["text"], mode) if "text" in raw else None,
            media_kind=media_kind,
            media=self.text(raw[media_kind], "data") if media_kind else None,
            caption=self.text(raw["caption"], mode) if "caption" in raw else None,
            location=(location["latitude"], location["longitude"]) if location else None,
            buttons=self.buttons(raw.get("buttons"), home, inner, variant),
            keyboard=self.keyboard(raw.get("keyboard")),
            remove_keyboard=raw.get("remove_keyboard", False),
            condition=condition,
            variants=variants,
            parse_mode=mode,
            pick_key=pick_key,
            keyboard_options=self.keyboard_options(raw.get("keyboard_options")),
            reply=raw.get("reply", False) is True,
        )

    def buttons(
        self,
        raw: Any,
        home: ButtonHome,
        guards: tuple[Expression, ...] = (),
        variant: tuple[str, int, int] | None = None,
    ) -> tuple[tuple[Button, ...], ...]:
        if not raw:
            return ()
        rows: list[tuple[Button, ...]] = []
        for row in raw:
            items = row if isinstance(row, list) else [row]
            rows.append(tuple(self.button(item, home, guards, variant) for item in items))
        return tuple(rows)

    def button(
        self,
        raw: dict[str, Any],
        home: ButtonHome,
        guards: tuple[Expression, ...],
        variant: tuple[str, int, int] | None,
    ) -> Button:
        if "url" in raw:
            return Button(
                self.text(raw["text"], "none"),
                -1,
                url=self.url(raw["url"]),
                condition=self.condition(raw.get("if")),
                home=home.name,
            )
        index = home.next_index()  # before its actions: their buttons come after it
        return Button(
            text=self.text(raw["text"], "none"),
            index=index,
            condition=self.condition(raw.get("if")),
            actions=self.actions(raw, home),
            home=home.name,
            guards=guards,
            variant=variant,
            listing=self.button_list(raw) if "list" in raw else None,
        )

    def button_list(self, raw: dict[str, Any]) -> ButtonList:
        """`list:`: the entries' source, their label and value, and the pages."""
        source = self.condition(raw["list"])
        assert source is not None
        return ButtonList(
            source=source,
            label=self.text(raw["text"], "none"),
            value=self.value(raw["value"]) if "value" in raw else None,
            save_as=raw["save_as"],
            page_size=raw.get("page_size", 5),
            columns=raw.get("columns", 1),
            previous=self.text(raw["previous"], "none") if "previous" in raw else None,
            next=self.text(raw["next"], "none") if "next" in raw else None,
        )

    def keyboard_options(self, raw: Any) -> KeyboardOptions | None:
        if not raw:
            return None
        placeholder = raw.get("placeholder")
        return KeyboardOptions(
            one_time=raw.get("one_time", False) is True,
            placeholder=self.text(placeholder, "none") if placeholder else None,
            resize=raw.get("resize", True) is not False,
        )

    def keyboard(self, raw: Any) -> tuple[tuple[Key, ...], ...]:
        if not raw:
            return ()
        rows = []
        for row in raw:
            items = row if isinstance(row, list) else [row]
            rows.append(
                tuple(
                    Key(self.text(k, "none"))
                    if isinstance(k, str)
                    else Key(
                        self.text(k["text"], "none"),
                        k.get("request_contact", False),
                        k.get("request_location", False),
                    )
                    for k in items
                )
            )
        return tuple(rows)

    # -- behaviour -------------------------------------------------------------------------
    def actions(self, raw: Mapping[str, Any], home: ButtonHome) -> Actions:
        clear = raw.get("clear", ())
        return Actions(
            assign=self.assignments(raw.get("set")),
            clear=(clear,) if isinstance(clear, str) else tuple(clear),
            do=tuple(self.action(a) for a in raw.get("do", ())),
            say=self.say(raw.get("say"), home),
            goto=self.goto(raw.get("goto")),
            call=raw.get("call") if isinstance(raw.get("call"), str) else None,
            returns=raw.get("return", False) is True,
        )

    def assignments(self, raw: Any) -> tuple[tuple[str, Value], ...]:
        return tuple((name, self.value(v)) for name, v in (raw or {}).items())

    def action(self, raw: dict[str, Any]) -> Action:
        if "http" in raw:
            http = raw["http"]
            body = http.get("json")
            if http.get("save_as") is not None or http.get("on_error") is not None:
                self.waits_for_calls = True
            return Http(
                method=http.get("method", "POST" if body is not None or "form" in http else "GET"),
                url=self.url(http["url"]),
                headers=self.assignments(http.get("headers")),
                json=self.value(body),
                form=self.assignments(http.get("form")),
                timeout=parse_duration(http["timeout"]) if "timeout" in http else 10.0,
                save_as=http.get("save_as"),
                on_error=http.get("on_error"),
            )
        if "notify" in raw:
            to = raw["notify"]["to"]
            return Notify(
                tuple(to) if isinstance(to, list) else (to,),
                self.say(raw["notify"]["say"], ButtonHome(NOTIFY_HOME)),
            )
        if "call" in raw:
            self.waits_for_calls = True
            return Plugin(raw["call"], self.value(raw.get("with")), raw.get("save_as"))
        if "broadcast" in raw:
            cast = raw["broadcast"]
            text = self.text(cast["text"], "none") if "text" in cast else None
            return Broadcast(text, cast.get("where"), cast.get("message"))
        if "set_language" in raw:
            return SetLanguage(self.text(raw["set_language"], "data"))
        return Assign(self.assignments(raw.get("set")))

    def ask(self, raw: dict[str, Any], home: ButtonHome) -> Ask:
        choices = tuple(
            Choice(self.text(str(c), "none"), c, str(c).casefold())
            if not isinstance(c, dict)
            else Choice(
                self.text(c["text"], "none"), c.get("value", c["text"]), c["text"].casefold()
            )
            for c in raw.get("choices", ())
        )
        retry = raw.get("retry")
        ladder = retry if isinstance(retry, list) else ([retry] if retry is not None else [])
        return Ask(
            var=raw["var"],
            type=raw.get("type") or ("choice" if choices else "text"),
            choices=choices,
            minimum=raw.get("min"),
            maximum=raw.get("max"),
            min_length=raw.get("min_length"),
            max_length=raw.get("max_length"),
            pattern=regex.compile(raw["pattern"]) if "pattern" in raw else None,
            retry=tuple(self.say(step, home) for step in ladder),
            max_attempts=raw.get("max_attempts"),
            on_fail=raw.get("on_fail"),
            optional=raw.get("optional", False),
            skip_text=self.text(raw["skip_text"], "none") if "skip_text" in raw else None,
        )

    def handler(self, raw: dict[str, Any], home: ButtonHome) -> Handler:
        texts = raw.get("text", ())
        return Handler(
            actions=self.actions(raw, home),
            command=raw.get("command"),
            texts=tuple([texts] if isinstance(texts, str) else texts),
            pattern=regex.compile(raw["match"]) if "match" in raw else None,
            button=raw.get("button"),
            type=raw.get("type"),
            condition=self.condition(raw.get("if")),
        )

    def timer(self, index: int, raw: dict[str, Any], home: ButtonHome) -> Timer:
        """A timer; a delay with `{{ }}` is computed (and checked) when the state is entered."""
        delay = raw["delay"]
        if has_template_syntax(delay):
            return Timer(index, 0.0, self.actions(raw, home), self.text(delay, "data"))
        return Timer(index, parse_duration(delay), self.actions(raw, home))

    def state(self, name: str, raw: dict[str, Any]) -> State:
        home = ButtonHome(name)
        enter = self.actions(raw, home)
        if raw.get("buttons") == "languages":
            buttons = self.language_buttons(name, raw, home)
        else:
            buttons = self.buttons(raw.get("buttons"), home)
        after = raw.get("after")
        timers = after if isinstance(after, list) else ([after] if after else [])
        only = raw.get("only", ())
        state = State(
            name=name,
            enter=enter,
            buttons=buttons,
            keyboard=self.keyboard(raw.get("keyboard")),
            remove_keyboard=raw.get("remove_keyboard", False),
            ask=self.ask(raw["ask"], home) if "ask" in raw else None,
            handlers=tuple(self.handler(h, home) for h in raw.get("on", ())),
            timers=tuple(self.timer(i, t, home) for i, t in enumerate(timers)),
            only=frozenset([only] if isinstance(only, str) else only),
            end=raw.get("end", False) is True,
            edit=raw.get("edit", True),
            keyboard_options=self.keyboard_options(raw.get("keyboard_options")),
        )
        return replace(state, all_buttons=state_buttons(state))

    def language_buttons(
        self, state: str, raw: dict[str, Any], home: ButtonHome
    ) -> tuple[tuple[Button, ...], ...]:
        """`buttons: languages`: each button names its language in that language."""
        bot = self.data["bot"]
        source = bot.get("language", "en")
        codes = [source, *(c for c in bot.get("languages", ()) if c != source)]
        after = self.goto(raw.get("goto")) or Goto((Branch(state),))
        rows = []
        for code in codes:
            actions = Actions(do=(SetLanguage(Text(code, "data")),), goto=after)
            label = Text(language_name(code), "none")
            rows.append((Button(label, home.next_index(), actions=actions, home=home.name),))
        return tuple(rows)

    def scenario(self) -> Scenario:
        data = self.data
        bot = data["bot"]
        commands = {
            name: _with_buttons(
                Command(
                    name=name,
                    description=self.text(c["description"], "none") if "description" in c else None,
                    actions=self.actions(c, ButtonHome(command_home(name))),
                    hidden=c.get("hidden", False),
                    only=frozenset(
                        [c["only"]] if isinstance(c.get("only"), str) else c.get("only", ())
                    ),
                )
            )
            for name, c in data.get("commands", {}).items()
        }
        fallback = data.get("fallback")
        if isinstance(fallback, str):
            fallback = {"say": fallback}
        fallback = fallback or {}
        home = ButtonHome(HANDLERS_HOME)  # one numbering for all top-level handlers
        handlers = tuple(self.handler(h, home) for h in data.get("on", ()))
        return Scenario(
            name=bot["name"],
            start=bot["start"],
            states={name: self.state(name, raw) for name, raw in data["states"].items()},
            language=bot.get("language", "en"),
            languages=tuple(bot.get("languages", ())),
            parse_mode=self.parse_mode,
            defaults=dict(data.get("vars", {})),
            sensitive=frozenset(data.get("sensitive", ())),
            commands=commands,
            handlers=handlers,
            handler_buttons=handlers_buttons(handlers),
            fallback=_with_buttons(
                Fallback(
                    self.say(fallback.get("say"), ButtonHome(FALLBACK_HOME)),
                    fallback.get("repeat", False),
                    self.goto(fallback.get("goto")),
                )
            ),
            migrations=dict(data.get("migrations", {})),
            privacy=frozenset(k for k, on in data.get("privacy", {}).items() if on),
            flags={str(k): bool(v) for k, v in data.get("flags", {}).items()},
            messages={str(k): self.text(v, "none") for k, v in data.get("messages", {}).items()},
            version=hashlib.sha256(
                json.dumps(data, sort_keys=True, default=str).encode()
            ).hexdigest()[:12],
            base_dir=self.base_dir,
            waits_for_calls=self.waits_for_calls,  # after the states and commands compiled
            shared_buttons=bot.get("shared_buttons", False) is True,
        )


def _with_buttons(home: _Home) -> _Home:
    """A command or the fallback with its inline buttons listed by index, for presses."""
    if isinstance(home, Command):
        return replace(home, all_buttons=command_buttons(home))
    return replace(home, all_buttons=fallback_buttons(home))


def language_name(code: str) -> str:
    """A language's own name for itself: English, Русский, Deutsch."""
    try:
        name = Locale.parse(code.replace("-", "_")).get_display_name(code.replace("-", "_")) or code
    except (ValueError, UnknownLocaleError):
        return code
    return name[:1].upper() + name[1:]


def compile_scenario(source: ScenarioSource) -> Scenario:
    """The runnable scenario, with its translations (catalogs beside it) loaded once."""
    from engine.i18n.catalogs import load_translator  # i18n builds on the scenario layer

    path = source.files[0]
    scenario = ScenarioCompiler(source.data, os.path.dirname(os.path.abspath(path))).scenario()
    translator = load_translator(path, scenario.language, scenario.languages)
    return replace(scenario, translator=translator)


def _has_inline_buttons(variants: list[Any]) -> bool:
    """Whether a `random:` message's variants carry buttons a press must be checked against."""
    for variant in variants:
        rows = variant.get("buttons") if isinstance(variant, dict) else None
        for row in rows if isinstance(rows, list) else ():
            for item in row if isinstance(row, list) else [row]:
                if isinstance(item, dict) and "url" not in item:
                    return True
    return False

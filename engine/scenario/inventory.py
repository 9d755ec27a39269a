"""One walk over a scenario's data, gathering what the checks (and the graph) look at:
state-to-state edges, templates, conditions, patterns, durations, keyboards and variables.

The walk is defensive: it runs even when the schema check failed, skipping shapes it does
not recognise, so that one file's problems are all reported in one run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.scenario.yaml_loader import Path

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
MEDIA_KEYS = ("photo", "document", "video", "audio", "voice", "animation", "sticker")


@dataclass(frozen=True)
class Edge:
    """A way from one state to another. `source` is None for global ways (commands, start)."""

    source: str | None
    target: str
    kind: str  # goto, button, answer, handler, on_fail, on_error, call, timer, command, fallback, start, migration
    label: str
    path: Path
    conditional: bool = False


@dataclass(frozen=True)
class Text:
    """A string that may hold template syntax; `limit` is Telegram's length limit for it."""

    text: str
    path: Path
    limit: int | None = None
    parse_mode: str = ""  # of a message's text or caption: how Telegram reads it
    names: frozenset[str] = frozenset()  # names it may use besides the variables (`item`)


@dataclass(frozen=True)
class Name:
    name: str
    path: Path


@dataclass(frozen=True)
class Keyboard:
    """The labels of one keyboard, to find duplicates: inline buttons, reply keys or choices."""

    state: str | None
    kind: str  # inline, reply, choices
    labels: tuple[Name, ...]


@dataclass(frozen=True)
class Button:
    state: str | None
    path: Path
    data: dict[str, Any]


@dataclass(frozen=True)
class Ask:
    state: str
    path: Path
    data: dict[str, Any]


@dataclass
class StateFacts:
    name: str
    path: Path
    awaits_input: bool  # has ask, on or buttons: stops and waits for the user
    end: bool
    returns: bool
    immediate: str | None = None  # the state entered at once, without input, if unconditional
    inline_buttons: int = 0  # buttons that send callback data
    asks_var: str | None = None
    listed: bool = False  # has buttons made from a list (their data is longer)


@dataclass(frozen=True)
class SetText:
    """A `set:` value that is a plain text (no template): `set: {rating: good}`."""

    name: str
    value: str
    path: Path


@dataclass
class Inventory:
    states: dict[str, StateFacts] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    templates: list[Text] = field(default_factory=list)
    media: list[Text] = field(default_factory=list)  # photo, document … values of messages
    conditions: list[Text] = field(default_factory=list)
    patterns: list[Name] = field(default_factory=list)
    durations: list[Name] = field(default_factory=list)
    defined_vars: dict[str, Path] = field(default_factory=dict)
    flags: frozenset[str] = frozenset()  # the feature flags declared under `flags:`
    # `broadcast: {message: NAME}`: the names, each to be found under `messages:`
    broadcast_messages: list[Name] = field(default_factory=list)
    cleared_vars: list[Name] = field(default_factory=list)
    commands: list[Name] = field(default_factory=list)
    keyboards: list[Keyboard] = field(default_factory=list)
    buttons: list[Button] = field(default_factory=list)
    asks: list[Ask] = field(default_factory=list)
    goto_lists: list[tuple[Path, list[Any]]] = field(default_factory=list)
    handler_lists: list[tuple[Path, list[Any]]] = field(default_factory=list)
    # a variable both set and cleared by one block (the clear runs last: the set is lost)
    set_and_cleared: list[Name] = field(default_factory=list)
    # `set:` values with `{% %}`: rendered to text, never a number or a list
    text_set_values: list[Name] = field(default_factory=list)
    # `set:` values that are plain words: shown to users, they are not translated
    set_texts: list[SetText] = field(default_factory=list)
    # variables given a value (not null) outside `vars:`: by set, an answer, a save_as
    assigned_vars: set[str] = field(default_factory=set)
    # the variables of questions that may be skipped (a skipped answer is stored as null)
    optional_answers: list[Name] = field(default_factory=list)
    # `keyboard_options` and whether a reply keyboard is shown with them
    keyboard_options: list[tuple[Path, bool]] = field(default_factory=list)
    start: str | None = None
    # a top-level `on` handler moves the user (goto, call or return): a way out of any state
    leaves_anywhere: bool = False


def take_inventory(data: Any) -> Inventory:
    walker = _Walker()
    if isinstance(data, dict):
        walker.scenario(data)
    return walker.inventory


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


_KEYED_TYPES = ("choice", "yes_no", "contact", "phone", "location")


def _shows_keys(state: dict[str, Any]) -> bool:
    """Whether a state shows reply keys: its own, or its question's (as the engine draws)."""
    if "keyboard" in state:
        return True
    ask = state.get("ask")
    if not isinstance(ask, dict) or state.get("remove_keyboard") is True:
        return False
    return bool(
        ask.get("choices")
        or ask.get("type") in _KEYED_TYPES
        or (ask.get("optional") is True and "skip_text" in ask)
    )


def _rows(value: Any) -> list[tuple[Any, Path]]:
    """Items of a keyboard (a list of rows; a row is an item or a list of items) with sub-paths."""
    items: list[tuple[Any, Path]] = []
    if not isinstance(value, list):
        return items
    for r, row in enumerate(value):
        if isinstance(row, list):
            items.extend((item, (r, c)) for c, item in enumerate(row))
        else:
            items.append((row, (r,)))
    return items


class _Walker:
    def __init__(self) -> None:
        self.inventory = Inventory()
        self.parse_mode = "HTML"  # the bot's, for messages that do not name their own

    # -- top level -------------------------------------------------------------------------
    def scenario(self, data: dict[str, Any]) -> None:
        inv = self.inventory
        for name in _dict(data.get("vars")):
            self.define(name, ("vars", name))
        inv.flags = frozenset(str(name) for name in _dict(data.get("flags")))
        for name, text in _dict(data.get("messages")).items():
            if isinstance(text, str):  # a broadcast's text: its template is checked too
                inv.templates.append(Text(text, ("messages", name), 4096))
        bot = _dict(data.get("bot"))
        self.parse_mode = str(bot.get("parse_mode", "HTML"))
        start = bot.get("start")
        if isinstance(start, str):
            inv.start = start
            inv.edges.append(Edge(None, start, "start", "start", ("bot", "start")))
        for name, command in _dict(data.get("commands")).items():
            path: Path = ("commands", name)
            inv.commands.append(Name(name, path))
            self.actions(None, _dict(command), path, "command", f"/{name}")
        handlers = data.get("on")
        if isinstance(handlers, list):
            inv.handler_lists.append((("on",), handlers))
            for i, handler in enumerate(handlers):
                handler = _dict(handler)
                self.handler(None, handler, ("on", i))
                if any(k in handler for k in ("goto", "call")) or handler.get("return") is True:
                    inv.leaves_anywhere = True
        fallback = data.get("fallback")
        if isinstance(fallback, str):
            self.say(None, fallback, ("fallback",))
        else:
            self.actions(None, _dict(fallback), ("fallback",), "fallback", "fallback")
        for old, new in _dict(data.get("migrations")).items():
            if isinstance(new, str):
                inv.edges.append(Edge(None, new, "migration", old, ("migrations", old)))
        for name, state in _dict(data.get("states")).items():
            if isinstance(state, dict):
                self.state(name, state, ("states", name))

    def define(self, name: Any, path: Path, value: Any = ...) -> None:
        """`value`: what `set:` gives it (null is no value); ... where it is not known."""
        if isinstance(name, str):
            self.inventory.defined_vars.setdefault(name, path)
            if path[0] != "vars" and value is not None:
                self.inventory.assigned_vars.add(name)

    # -- states ----------------------------------------------------------------------------
    def state(self, name: str, state: dict[str, Any], path: Path) -> None:
        facts = StateFacts(
            name,
            path,
            awaits_input=any(k in state for k in ("ask", "on", "buttons")),
            end=state.get("end") is True,
            returns=state.get("return") is True,
        )
        self.inventory.states[name] = facts
        self.actions(name, state, path, "goto", "")
        self.buttons(name, state.get("buttons"), (*path, "buttons"))
        self.keyboard(name, state.get("keyboard"), (*path, "keyboard"))
        self.keyboard_options(state, (*path, "keyboard_options"), _shows_keys(state))
        ask = state.get("ask")
        if isinstance(ask, dict):
            self.ask(name, ask, (*path, "ask"))
        handlers = state.get("on")
        if isinstance(handlers, list):
            self.inventory.handler_lists.append(((*path, "on"), handlers))
            for i, handler in enumerate(handlers):
                self.handler(name, _dict(handler), (*path, "on", i))
        after = state.get("after")
        timers = after if isinstance(after, list) else [after]
        for i, timer in enumerate(timers):
            tpath = (*path, "after", i) if isinstance(after, list) else (*path, "after")
            timer = _dict(timer)
            if "delay" in timer:
                self.inventory.durations.append(Name(timer["delay"], (*tpath, "delay")))
                if isinstance(timer["delay"], str):  # may be a template: "{{ minutes }}m"
                    self.inventory.templates.append(Text(timer["delay"], (*tpath, "delay")))
            self.say(name, timer.get("say"), (*tpath, "say"))
            self.goto(
                name, timer.get("goto"), (*tpath, "goto"), "timer", str(timer.get("delay", ""))
            )
        if not facts.awaits_input and not facts.end and not facts.returns:
            call, goto = state.get("call"), state.get("goto")
            if isinstance(call, str):
                facts.immediate = call
            elif isinstance(goto, str):
                facts.immediate = goto

    def actions(
        self, state: str | None, block: dict[str, Any], path: Path, kind: str, label: str
    ) -> None:
        """The keys a state, command, handler or button share: set, clear, do, say, goto, call."""
        self.set(block.get("set"), (*path, "set"))
        self.clear(block.get("clear"), (*path, "clear"))
        cleared = block.get("clear")
        cleared = [cleared] if isinstance(cleared, str) else cleared
        if isinstance(cleared, list):
            assigned = _dict(block.get("set"))
            self.inventory.set_and_cleared.extend(
                Name(name, (*path, "set", name)) for name in assigned if name in cleared
            )
        self.do(state, block.get("do"), (*path, "do"))
        self.say(state, block.get("say"), (*path, "say"))
        answer_kind = "answer" if kind == "goto" and "ask" in block else kind
        self.goto(state, block.get("goto"), (*path, "goto"), answer_kind, label)
        call = block.get("call")
        if isinstance(call, str):
            self.inventory.edges.append(Edge(state, call, "call", label, (*path, "call")))

    def goto(self, state: str | None, goto: Any, path: Path, kind: str, label: str) -> None:
        if isinstance(goto, str):
            self.inventory.edges.append(Edge(state, goto, kind, label, path))
        elif isinstance(goto, list):
            self.inventory.goto_lists.append((path, goto))
            for i, branch in enumerate(goto):
                branch = _dict(branch)
                condition = branch.get("if")
                if isinstance(condition, str):
                    self.inventory.conditions.append(Text(condition, (*path, i, "if")))
                target = branch.get("to")
                if isinstance(target, str):
                    text = condition if isinstance(condition, str) else label
                    self.inventory.edges.append(
                        Edge(
                            state, target, kind, text, (*path, i, "to"), isinstance(condition, str)
                        )
                    )

    def set(self, assignments: Any, path: Path) -> None:
        for name, value in _dict(assignments).items():
            self.define(name, (*path, name), value)
            self.template_values(value, (*path, name))
            if isinstance(value, str) and "{%" in value:
                self.inventory.text_set_values.append(Name(name, (*path, name)))
            elif isinstance(value, str) and "{{" not in value and any(c.isalpha() for c in value):
                self.inventory.set_texts.append(SetText(name, value, (*path, name)))

    def clear(self, names: Any, path: Path) -> None:
        if isinstance(names, str):
            self.inventory.cleared_vars.append(Name(names, path))
        elif isinstance(names, list):
            self.inventory.cleared_vars.extend(
                Name(n, (*path, i)) for i, n in enumerate(names) if isinstance(n, str)
            )

    def template_values(self, value: Any, path: Path) -> None:
        """Every string inside a value (set values, http bodies) may be a template."""
        if isinstance(value, str):
            self.inventory.templates.append(Text(value, path))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                self.template_values(item, (*path, i))
        elif isinstance(value, dict):
            for key, item in value.items():
                self.template_values(item, (*path, key))

    # -- messages --------------------------------------------------------------------------
    def say(self, state: str | None, say: Any, path: Path) -> None:
        if isinstance(say, list):
            for i, message in enumerate(say):
                self.message(state, message, (*path, i))
        elif say is not None:
            self.message(state, say, path)

    def message(self, state: str | None, message: Any, path: Path) -> None:
        inv = self.inventory
        if isinstance(message, str):
            inv.templates.append(Text(message, path, TEXT_LIMIT, self.parse_mode))
            return
        if not isinstance(message, dict):
            return
        mode = str(message.get("parse_mode", self.parse_mode))
        if isinstance(message.get("text"), str):
            inv.templates.append(Text(message["text"], (*path, "text"), TEXT_LIMIT, mode))
        if isinstance(message.get("caption"), str):
            caption = Text(message["caption"], (*path, "caption"), CAPTION_LIMIT, mode)
            inv.templates.append(caption)
        for key in MEDIA_KEYS:
            if isinstance(message.get(key), str):
                inv.templates.append(Text(message[key], (*path, key)))
                inv.media.append(Text(message[key], (*path, key)))
        if isinstance(message.get("if"), str):
            inv.conditions.append(Text(message["if"], (*path, "if")))
        self.buttons(state, message.get("buttons"), (*path, "buttons"))
        self.keyboard(state, message.get("keyboard"), (*path, "keyboard"))
        self.keyboard_options(message, (*path, "keyboard_options"), "keyboard" in message)
        if isinstance(message.get("random"), list):
            for i, variant in enumerate(message["random"]):
                self.message(state, variant, (*path, "random", i))

    def buttons(self, state: str | None, rows: Any, path: Path) -> None:
        labels: list[Name] = []
        for button, sub in _rows(rows):
            if not isinstance(button, dict):
                continue
            bpath = (*path, *sub)
            text = button.get("text")
            label = text if isinstance(text, str) else ""
            listed = "list" in button
            if listed:
                label = self.button_list(state, button, bpath)
            elif isinstance(text, str):
                self.inventory.templates.append(Text(text, (*bpath, "text")))
            if isinstance(text, str):
                labels.append(Name(text, (*bpath, "text")))
            if isinstance(button.get("if"), str):
                self.inventory.conditions.append(Text(button["if"], (*bpath, "if")))
            self.inventory.buttons.append(Button(state, bpath, button))
            if "url" not in button and state in self.inventory.states:
                self.inventory.states[state].inline_buttons += 1
            self.actions(state, button, bpath, "button", label)
        if labels:
            self.inventory.keyboards.append(Keyboard(state, "inline", tuple(labels)))

    def button_list(self, state: str | None, button: dict[str, Any], path: Path) -> str:
        """`list:`: the list (an expression), the entries' label and value (which see `item`
        and `number`), the page buttons' labels and the variable a press fills."""
        inv = self.inventory
        entry = frozenset({"item", "number"})
        if isinstance(button.get("list"), str):
            inv.conditions.append(Text(button["list"], (*path, "list")))
        for key in ("text", "value"):
            if isinstance(button.get(key), str):
                inv.templates.append(Text(button[key], (*path, key), names=entry))
        for key in ("previous", "next"):
            if isinstance(button.get(key), str):
                inv.templates.append(Text(button[key], (*path, key)))
        self.define(button.get("save_as"), (*path, "save_as"))
        if state in inv.states:
            inv.states[state].listed = True
        return f"each of {button.get('list')}"

    def keyboard_options(self, block: dict[str, Any], path: Path, keys: bool) -> None:
        options = block.get("keyboard_options")
        if isinstance(options, dict):
            if isinstance(options.get("placeholder"), str):
                self.inventory.templates.append(
                    Text(options["placeholder"], (*path, "placeholder"))
                )
            self.inventory.keyboard_options.append((path, keys))

    def keyboard(self, state: str | None, rows: Any, path: Path) -> None:
        labels: list[Name] = []
        for key, sub in _rows(rows):
            if isinstance(key, str):
                labels.append(Name(key, (*path, *sub)))
            elif isinstance(key, dict) and isinstance(key.get("text"), str):
                labels.append(Name(key["text"], (*path, *sub, "text")))
        if labels:
            self.inventory.keyboards.append(Keyboard(state, "reply", tuple(labels)))

    # -- input -----------------------------------------------------------------------------
    def ask(self, state: str, ask: dict[str, Any], path: Path) -> None:
        inv = self.inventory
        inv.asks.append(Ask(state, path, ask))
        self.define(ask.get("var"), (*path, "var"))
        if ask.get("optional") is True and isinstance(ask.get("var"), str):
            self.inventory.optional_answers.append(Name(ask["var"], (*path, "var")))
        if isinstance(ask.get("var"), str):
            inv.states[state].asks_var = ask["var"]
        if isinstance(ask.get("pattern"), str):
            inv.patterns.append(Name(ask["pattern"], (*path, "pattern")))
        retry = ask.get("retry")
        self.say(state, retry, (*path, "retry"))
        if isinstance(ask.get("on_fail"), str):
            inv.edges.append(
                Edge(state, ask["on_fail"], "on_fail", "too many attempts", (*path, "on_fail"))
            )
        labels: list[Name] = []
        for i, choice in enumerate(ask.get("choices") or []):
            if isinstance(choice, str | int | float) and not isinstance(choice, bool):
                labels.append(Name(str(choice), (*path, "choices", i)))
            elif isinstance(choice, dict) and isinstance(choice.get("text"), str):
                labels.append(Name(choice["text"], (*path, "choices", i, "text")))
        if labels:
            inv.keyboards.append(Keyboard(state, "choices", tuple(labels)))

    def handler(self, state: str | None, handler: dict[str, Any], path: Path) -> None:
        inv = self.inventory
        if isinstance(handler.get("command"), str):
            inv.commands.append(Name(handler["command"], (*path, "command")))
        if isinstance(handler.get("match"), str):
            inv.patterns.append(Name(handler["match"], (*path, "match")))
        if isinstance(handler.get("if"), str):
            inv.conditions.append(Text(handler["if"], (*path, "if")))
        label = next(
            (
                f"{k}: {handler[k]}"
                for k in ("command", "text", "match", "button", "type", "if")
                if k in handler
            ),
            "anything",
        )
        self.actions(state, handler, path, "handler", label)

    def do(self, state: str | None, actions: Any, path: Path) -> None:
        if not isinstance(actions, list):
            return
        inv = self.inventory
        for i, action in enumerate(actions):
            apath = (*path, i)
            action = _dict(action)
            http = _dict(action.get("http"))
            for key in ("url", "headers", "json", "form"):
                if key in http:
                    self.template_values(http[key], (*apath, "http", key))
            if "timeout" in http:
                inv.durations.append(Name(http["timeout"], (*apath, "http", "timeout")))
            self.define(http.get("save_as"), (*apath, "http", "save_as"))
            if isinstance(http.get("on_error"), str):
                inv.edges.append(
                    Edge(
                        state,
                        http["on_error"],
                        "on_error",
                        "http error",
                        (*apath, "http", "on_error"),
                    )
                )
            notify = _dict(action.get("notify"))
            self.say(state, notify.get("say"), (*apath, "notify", "say"))
            self.set(action.get("set"), (*apath, "set"))
            if "with" in action:
                self.template_values(action["with"], (*apath, "with"))
            self.define(action.get("save_as"), (*apath, "save_as"))
            broadcast = _dict(action.get("broadcast"))
            if isinstance(broadcast.get("text"), str):
                inv.templates.append(Text(broadcast["text"], (*apath, "broadcast", "text")))
            if isinstance(broadcast.get("message"), str):
                inv.broadcast_messages.append(
                    Name(broadcast["message"], (*apath, "broadcast", "message"))
                )
            if isinstance(action.get("set_language"), str):
                inv.templates.append(Text(action["set_language"], (*apath, "set_language")))

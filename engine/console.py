"""`python run.py --chat`: talk to a scenario in the terminal, no Telegram token needed.

Buttons are listed with numbers (type the number to press one); `/contact`, `/location` and
`/photo` (and the other media kinds) share what a phone would; `/debug` shows the state and
variables, `/wait 2h` moves the clock on so timers fire, `/reset` starts over, `/quit` ends.
A command of the bot's that one of these hides is sent with two slashes (`//help`)."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any, TextIO

from engine.core.durations import DurationError, parse_duration
from engine.core.effects import (
    AnswerButton,
    CancelTimers,
    EditMarkup,
    EditText,
    Effect,
    InlineButton,
    Markup,
    NotifyChat,
    ReplyKey,
    ReportProblem,
    SendLocation,
    SendMedia,
    SendText,
    StartTimer,
)
from engine.core.events import (
    MEDIA_KINDS,
    ButtonPress,
    Chat,
    CommandMessage,
    ContactShared,
    Event,
    LocationShared,
    MediaMessage,
    TextMessage,
    TimerFired,
    User,
)
from engine.core.interpreter import step
from engine.core.model import Scenario
from engine.core.ports import OfflineServices
from engine.core.session import Session, new_session
from engine.testing.checks import visible_text

HELP = "Type a message, a number to press a button, /help for more, or /quit."
# a first name that reads well in "Hi {{ user.first_name }}!", the same on every machine
DEFAULT_NAME = "Alex"
# what `/contact` and `/location` share without values (a made-up number, central Berlin)
DEFAULT_PHONE = "+49 30 1234567"
DEFAULT_LOCATION = (52.52, 13.405)
CONSOLE_COMMANDS = ("help", "debug", "wait", "reset", "quit", "exit", "contact", "location")


def help_text(scenario: Scenario) -> str:
    """/help: what can be typed here; a command of the bot's that a console command hides
    is named with the way to send it anyway."""
    others = ", ".join(f"/{kind}" for kind in MEDIA_KINDS if kind != "photo")
    rows = [
        ("1, 2, ...", "press the button with that number (of the latest message)"),
        ("/contact [phone]", f"share a phone number (default {DEFAULT_PHONE})"),
        ("/location [lat lon]", "share a location (default {} {})".format(*DEFAULT_LOCATION)),
        ("/photo [name] [caption]", f"send a photo; a name stands for the file (also {others})"),
        ("/debug", "the state, the variables and the call stack"),
        ("/wait 2h", "move the clock on: the timers then due fire"),
        ("/reset", "start over as a new user"),
        ("/quit", "end (or Ctrl-D)"),
        ("//name", "send the bot's own /name where the console uses the name"),
    ]
    lines = [
        "Type a message as the user would; reply keys (keys:) are pressed by typing their text.",
        *(f"  {typed:<25}{meaning}" for typed, meaning in rows),
    ]
    hidden = [c for c in scenario.commands if c in (*CONSOLE_COMMANDS, *MEDIA_KINDS)]
    if hidden:
        own = ", ".join(f"/{c}" for c in hidden)
        lines.append(f"This bot's own {own}: send with {', '.join(f'//{c}' for c in hidden)}.")
    return "\n".join(lines)


class ConsoleChat:
    def __init__(
        self,
        scenario: Scenario,
        stdout: TextIO,
        language: str | None = None,
        name: str | None = None,
    ) -> None:
        self.scenario = scenario
        self.out = stdout
        first_name = (name or "").strip() or DEFAULT_NAME
        self.user = User(
            1,
            first_name,
            username=first_name.casefold().replace(" ", "_"),
            language=language or scenario.language,
        )
        self.chat = Chat(1)
        self.language = language
        self.clock = dt.datetime.now(dt.UTC).replace(microsecond=0)
        self.services = OfflineServices()
        self.reset()

    def reset(self) -> None:
        self.session: Session = new_session(self.chat.id, self.user.id).evolve(
            language=self.language
        )
        self.buttons: list[InlineButton] = []
        self.keys: list[ReplyKey] = []  # the reply keyboard shown, pressed by typing a key
        self.messages = 0  # ids of the messages shown, so an edit names the message it changes
        self.buttons_of = 0  # the message whose buttons the numbers press
        self.timers: list[StartTimer] = []
        self.seed = 0
        self.media_sent = 0  # names the files sent without one: photo-1, document-2

    def handle_line(self, line: str) -> bool:
        """One line typed by the user; False when the conversation should end."""
        line = line.strip()
        command, _, args = line[1:].partition(" ")
        command, args = command.casefold(), args.strip()
        if line in ("/quit", "/exit"):
            return False
        if line == "/reset":
            self.reset()
            self.out.write("(conversation reset)\n")
        elif line == "/debug":
            self.out.write(f"state: {self.session.state}\nvariables: {dict(self.session.vars)}\n")
            if self.session.stack:
                self.out.write(f"call stack: {[f.state for f in self.session.stack]}\n")
        elif line.startswith("/wait"):
            self.wait(line.removeprefix("/wait").strip() or "1m")
        elif line == "/help":
            self.out.write(help_text(self.scenario) + "\n")
        elif line.startswith("/") and command in ("contact", "location", *MEDIA_KINDS):
            self.share(command, args)
        elif line.isdigit() and 1 <= int(line) <= len(self.buttons):
            button = self.buttons[int(line) - 1]
            if button.url:
                self.out.write(f"(opens {button.url})\n")
            else:
                self.send(
                    ButtonPress(
                        **self.sender(),
                        data=button.data or "",
                        callback_id=str(self.seed),
                        message_id=self.buttons_of,
                    )
                )
        else:
            self.type_line(line)
        return True

    def type_line(self, line: str) -> None:
        """What the user typed, as Telegram would deliver it: a reply key's text (a sharing
        key shares), a /command (`//name` for one the console hides), or a text message."""
        if key := next((k for k in self.keys if k.text == line), None):
            if key.request_contact or key.request_location:
                self.share("contact" if key.request_contact else "location", "")
            else:
                self.send(TextMessage(**self.said(), text=line))
        elif line.startswith("/") and len(line) > 1:
            command, _, args = line.removeprefix("//").removeprefix("/").partition(" ")
            self.send(
                CommandMessage(**self.said(), command=command.split("@")[0], args=args.strip())
            )
        elif line:
            self.send(TextMessage(**self.said(), text=line))

    def sender(self) -> dict[str, Any]:
        """Who sends an event and where, with the seed that picks `random:` variants."""
        return {"user": self.user, "chat": self.chat, "seed": self.seed}

    def said(self) -> dict[str, Any]:
        """`sender()` for a message the user writes or shares: its id is what a reply quotes."""
        return {**self.sender(), "message_id": self.seed}

    def share(self, kind: str, args: str) -> None:
        """Send what `/contact`, `/location` or `/photo` (or another media kind) stands for,
        said back so the user sees what the bot got; wrong values are explained instead."""
        shared = self._shared(kind, args)
        if shared is not None:
            self.send(shared)

    def _shared(self, kind: str, args: str) -> Event | None:
        if kind == "contact":
            phone = args or DEFAULT_PHONE
            self.out.write(f"(you share the phone number {phone})\n")
            return ContactShared(
                **self.said(),
                phone_number=phone,
                first_name=self.user.first_name,
                contact_user_id=self.user.id,
            )
        if kind == "location":
            where = _coordinates(args) if args else DEFAULT_LOCATION
            if where is None:
                self.out.write(
                    "(write /location LATITUDE LONGITUDE, for example /location 52.52 13.405: "
                    "latitude from -90 to 90, longitude from -180 to 180)\n"
                )
                return None
            self.out.write(f"(you share the location {where[0]:g}, {where[1]:g})\n")
            return LocationShared(**self.said(), latitude=where[0], longitude=where[1])
        name, _, caption = args.partition(" ")
        self.media_sent += 1
        file_id = name or f"{kind}-{self.media_sent}"
        said = f"(you send the {kind} {file_id}" + (
            f" with the caption {caption.strip()!r}" if caption.strip() else ""
        )
        self.out.write(said + ")\n")
        return MediaMessage(**self.said(), kind=kind, file_id=file_id, caption=caption.strip())

    def wait(self, duration: str) -> None:
        """Move the clock on; the timers now due fire, and the user is told which did, or
        that none was due and when the next one is."""
        try:
            self.clock += dt.timedelta(seconds=parse_duration(duration))
        except DurationError as exc:
            self.out.write(f"({exc})\n")
            return
        self.fire_due(duration)

    def fire_due(self, waited: str) -> None:
        due = [t for t in sorted(self.timers, key=lambda t: t.due) if t.due <= self.clock]
        if not due:
            self.out.write(f"(after {waited}: nothing was due{self._next_timer()})\n")
        for timer in due:
            self.out.write(f"(after {waited}: the timer of state '{timer.state}' fires)\n")
            self.timers.remove(timer)
            self.send(
                TimerFired(
                    **self.sender(),
                    state=timer.state,
                    index=timer.index,
                    epoch=timer.epoch,
                )
            )

    def _next_timer(self) -> str:
        if not self.timers:
            return "; no timer is waiting"
        timer = min(self.timers, key=lambda t: t.due)
        left = _time_left((timer.due - self.clock).total_seconds())
        return f"; the timer of state '{timer.state}' fires in {left}"

    def send(self, event: Event) -> None:
        self.seed += 1
        result = step(self.scenario, self.session, event, self.clock, self.services)
        self.session = result.session
        for effect in result.effects:
            self.show(effect)

    def show(self, effect: Effect) -> None:
        out = self.out
        if isinstance(effect, SendText | SendMedia | SendLocation):
            self.messages += 1
        if isinstance(effect, SendText | EditText):
            prefix = "bot (edits): " if isinstance(effect, EditText) else "bot: "
            if isinstance(effect, SendText) and effect.reply_to is not None:
                prefix = "bot (replying to you): "
            out.write(prefix + visible_text(effect.text, effect.parse_mode) + "\n")
        elif isinstance(effect, EditMarkup):
            out.write("bot (changes the buttons):\n")
        elif isinstance(effect, SendMedia):
            caption = visible_text(effect.caption, effect.parse_mode)
            out.write(f"bot: [{effect.kind}: {effect.media}] {caption}".rstrip() + "\n")
        elif isinstance(effect, SendLocation):
            out.write(f"bot: [location {effect.latitude}, {effect.longitude}]\n")
        elif isinstance(effect, AnswerButton) and effect.text:
            out.write(f"bot (notice): {effect.text}\n")
        elif isinstance(effect, NotifyChat):
            out.write(f"(to {effect.to}): {visible_text(effect.text, effect.parse_mode)}\n")
        elif isinstance(effect, StartTimer):
            self.timers.append(effect)
        elif isinstance(effect, CancelTimers):
            self.timers = [t for t in self.timers if t.state != effect.state]
        elif isinstance(effect, ReportProblem):
            out.write(f"(problem in state {effect.state}: {effect.message})\n")
        if isinstance(effect, SendText | SendMedia | SendLocation | EditText | EditMarkup):
            edited = effect.message_id if isinstance(effect, EditText | EditMarkup) else None
            message = self.messages if edited is None else edited
            self.show_markup(effect.markup, message)

    def show_markup(self, markup: Markup, message: int) -> None:
        """A message's buttons, numbered: the numbers now press them, an edited message's
        too (its new buttons are printed again under its new text); its reply keys."""
        if not markup.inline:
            self.buttons = []  # numbers press the latest message's buttons; without any, they are text
        else:
            self.buttons = [b for row in markup.inline for b in row]
            self.buttons_of = message
            for row in markup.inline:
                start = self.buttons.index(row[0]) + 1
                self.out.write(
                    "   " + "  ".join(f"[{start + i}] {b.text}" for i, b in enumerate(row)) + "\n"
                )
        if markup.keyboard:
            self.keys = [k for row in markup.keyboard for k in row]
            options = [
                *(["hidden after one press"] if markup.one_time else []),
                *([f"typing field: {markup.placeholder}"] if markup.placeholder else []),
            ]
            self.out.write(
                "   keys: "
                + " | ".join(_key(k) for k in self.keys)
                + (f"  ({'; '.join(options)})" if options else "")
                + "\n"
            )
        elif markup.remove_keyboard:
            self.keys = []


def _time_left(seconds: float) -> str:
    """ "5 s", "4 min", "2 h 5 min": as exact as /wait can be given (it was "1 min" for 5 s)."""
    seconds = max(1, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def _key(key: ReplyKey) -> str:
    if key.request_contact:
        return f"{key.text} (shares your phone number)"
    if key.request_location:
        return f"{key.text} (shares your location)"
    return key.text


def _coordinates(text: str) -> tuple[float, float] | None:
    """ "52.52 13.405" or "52.52, 13.405" as (latitude, longitude); None when it is not one."""
    parts = text.replace(",", " ").split()
    try:
        latitude, longitude = (float(p) for p in parts)
    except ValueError:  # not two numbers
        return None
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return None
    return latitude, longitude


def run_chat(
    scenario: Scenario,
    stdin: TextIO,
    stdout: TextIO,
    language: str | None = None,
    scenario_path: str | None = None,
    name: str | None = None,
) -> int:
    """The console conversation; with `scenario_path`, the scenario's plugin actions run."""
    if scenario_path is not None:
        from engine.runtime.plugins import PluginLoadError, load_plugins, plugin_names

        try:
            load_plugins(plugin_names(os.environ, scenario_path))
        except PluginLoadError as exc:
            stdout.write(f"({exc}; plugin actions will fail)\n")
    chat = ConsoleChat(scenario, stdout, language, name)
    stdout.write(f"Chatting with {scenario.name}. {HELP}\n")
    chat.handle_line("/start")
    converse(chat, stdin, stdout)
    return 0


def converse(chat: ConsoleChat, stdin: TextIO, stdout: TextIO) -> None:
    """Read the user's lines until the input ends or /quit."""
    while True:
        stdout.write("you: ")
        stdout.flush()
        line = stdin.readline()
        if not line or not chat.handle_line(line):
            stdout.write("\n")
            return

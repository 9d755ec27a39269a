"""`python run.py --chat`: talk to a scenario in the terminal, no Telegram token needed.

Buttons are listed with numbers (type the number to press one); `/debug` shows the state and
variables, `/wait 2h` moves the clock on so timers fire, `/reset` starts over, `/quit` ends."""

from __future__ import annotations

import datetime as dt
import os
from typing import TextIO

from engine.core.durations import DurationError, parse_duration
from engine.core.effects import (
    AnswerButton,
    CancelTimers,
    EditMarkup,
    EditText,
    Effect,
    InlineButton,
    NotifyChat,
    ReportProblem,
    SendLocation,
    SendMedia,
    SendText,
    StartTimer,
)
from engine.core.events import (
    ButtonPress,
    Chat,
    CommandMessage,
    Event,
    TextMessage,
    TimerFired,
    User,
)
from engine.core.interpreter import step
from engine.core.model import Scenario
from engine.core.ports import OfflineServices
from engine.core.session import Session, new_session
from engine.testing.checks import visible_text

HELP = "Type a message, a number to press a button, /debug, /wait 10m, /reset or /quit."


class ConsoleChat:
    def __init__(self, scenario: Scenario, stdout: TextIO, language: str | None = None) -> None:
        self.scenario = scenario
        self.out = stdout
        self.user = User(1, "You", language=language or scenario.language)
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
        self.timers: list[StartTimer] = []
        self.seed = 0

    def handle_line(self, line: str) -> bool:
        """One line typed by the user; False when the conversation should end."""
        line = line.strip()
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
            self.out.write(HELP + "\n")
        elif line.isdigit() and 1 <= int(line) <= len(self.buttons):
            button = self.buttons[int(line) - 1]
            if button.url:
                self.out.write(f"(opens {button.url})\n")
            else:
                self.send(
                    ButtonPress(
                        user=self.user,
                        chat=self.chat,
                        seed=self.seed,
                        data=button.data or "",
                        callback_id=str(self.seed),
                        message_id=1,
                    )
                )
        elif line.startswith("/") and len(line) > 1:
            command, _, args = line[1:].partition(" ")
            self.send(
                CommandMessage(
                    user=self.user,
                    chat=self.chat,
                    seed=self.seed,
                    command=command.split("@")[0],
                    args=args.strip(),
                )
            )
        elif line:
            self.send(
                TextMessage(
                    user=self.user, chat=self.chat, seed=self.seed, message_id=self.seed, text=line
                )
            )
        return True

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
                    user=self.user,
                    chat=self.chat,
                    seed=self.seed,
                    state=timer.state,
                    index=timer.index,
                    epoch=timer.epoch,
                )
            )

    def _next_timer(self) -> str:
        if not self.timers:
            return "; no timer is waiting"
        timer = min(self.timers, key=lambda t: t.due)
        minutes = max(1, round((timer.due - self.clock).total_seconds() / 60))
        return f"; the timer of state '{timer.state}' fires in {minutes} min"

    def send(self, event: Event) -> None:
        self.seed += 1
        result = step(self.scenario, self.session, event, self.clock, self.services)
        self.session = result.session
        for effect in result.effects:
            self.show(effect)

    def show(self, effect: Effect) -> None:
        out = self.out
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
        markup = getattr(effect, "markup", None)
        if markup is None:
            return
        if not markup.inline:
            self.buttons = []  # numbers press the latest message's buttons; without any, they are text
        else:
            self.buttons = [b for row in markup.inline for b in row]
            for row in markup.inline:
                start = self.buttons.index(row[0]) + 1
                out.write(
                    "   " + "  ".join(f"[{start + i}] {b.text}" for i, b in enumerate(row)) + "\n"
                )
        if markup.keyboard:
            options = [
                *(["hidden after one press"] if markup.one_time else []),
                *([f"typing field: {markup.placeholder}"] if markup.placeholder else []),
            ]
            out.write(
                "   keys: "
                + " | ".join(k.text for row in markup.keyboard for k in row)
                + (f"  ({'; '.join(options)})" if options else "")
                + "\n"
            )


def run_chat(
    scenario: Scenario,
    stdin: TextIO,
    stdout: TextIO,
    language: str | None = None,
    scenario_path: str | None = None,
) -> int:
    """The console conversation; with `scenario_path`, the scenario's plugin actions run."""
    if scenario_path is not None:
        from engine.runtime.plugins import PluginLoadError, load_plugins, plugin_names

        try:
            load_plugins(plugin_names(os.environ, scenario_path))
        except PluginLoadError as exc:
            stdout.write(f"({exc}; plugin actions will fail)\n")
    chat = ConsoleChat(scenario, stdout, language)
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

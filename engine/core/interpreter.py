"""The interpreter: `step(scenario, session, event, now) -> (new session, effects)`.

Pure: no disk, network, clock or randomness of its own. Side effects that need an answer
within the step (HTTP with `save_as`, plugin actions) go through the `services` port."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from engine.core import builtin_texts, callback_data
from engine.core.answers import PATTERN_TIMEOUT, check_answer
from engine.core.effects import (
    AnswerButton,
    CancelTimers,
    Effect,
    HttpRequest,
    Markup,
    NotifyChat,
    ReportProblem,
    SendText,
    StartTimer,
)
from engine.core.events import (
    ButtonPress,
    CommandMessage,
    ContactShared,
    Event,
    LocationShared,
    MediaMessage,
    TextMessage,
    TimerFired,
    message_type,
)
from engine.core.model import (
    Action,
    Actions,
    Assign,
    Goto,
    Handler,
    Http,
    Notify,
    Plugin,
    Scenario,
    SetLanguage,
    State,
    Value,
)
from engine.core.output import MessageBuilder, Outgoing, attach, to_effects
from engine.core.ports import HttpCall, OfflineServices, Services
from engine.core.rendering import RenderError, Scope, _plain, render, resolve
from engine.core.session import Frame, Session

MAX_MOVES = 50  # state entries in one step; more means a loop the validator could not see
_TEXT_ASKS = ("text", "number", "integer", "email", "date", "yes_no", "choice")


@dataclass(frozen=True)
class StepResult:
    session: Session
    effects: tuple[Effect, ...]
    trace: tuple[tuple[str | None, str], ...] = ()  # states entered, (from, to), in order


def step(
    scenario: Scenario,
    session: Session,
    event: Event,
    now: dt.datetime,
    services: Services | None = None,
) -> StepResult:
    """Handle one event. Never raises: a failure keeps the old session and reports why."""
    run = _Step(scenario, session, event, now, services or OfflineServices())
    try:
        run.handle()
    except Exception as exc:  # a bug or a hostile corner: the user hears of it, nothing changes
        return StepResult(
            session,
            (
                ReportProblem(session.state, f"step failed: {type(exc).__name__}: {exc}"),
                SendText(event.chat.id, builtin_texts.SOMETHING_WENT_WRONG, None),
            ),
        )
    return run.result()


class _Step:
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
        self.language = session.language
        self.ended = session.ended
        self.effects: list[Effect] = []
        self.trace: list[tuple[str | None, str]] = []
        self.moves = 0
        self.match: list[str | None] = []
        self.edit_message_id = event.message_id if isinstance(event, ButtonPress) else None
        self.remove_keyboard = False
        self._context: Scope | None = None
        self._fixed: dict[str, Any] | None = None  # the names that do not change within a step
        self.builder = MessageBuilder(self.context, self.report, event.seed)

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
            self.language,
            old.roles,
            self.ended,
            self.scenario.version,
        )
        return StepResult(session, tuple(self.effects), tuple(self.trace))

    def report(self, message: str) -> None:
        self.effects.append(ReportProblem(self.state, message))

    def context(self) -> Scope:
        if self._context is None:
            if self._fixed is None:
                event, user = self.event, self.event.user
                self._fixed = {
                    "user": {
                        "id": user.id,
                        "first_name": user.first_name,
                        "last_name": user.last_name,
                        "username": user.username,
                        "language": self.language or self.scenario.language,
                    },
                    "chat": {
                        "id": event.chat.id,
                        "type": event.chat.type,
                        "title": event.chat.title,
                    },
                    "message": _message_view(event),
                    "now": self.now,
                    "config": self.services.config,
                    "_locale": self.language or self.scenario.language,
                }
            self._context = Scope({**self.vars, **self._fixed, "match": self.match})
        return self._context

    def changed(self) -> None:
        self._context = None

    def set_var(self, name: str, value: Any) -> None:
        self.vars[name] = value
        self.changed()

    def current(self) -> State | None:
        return self.scenario.states.get(self.state) if self.state is not None else None

    def emit(
        self, messages: list[Outgoing], markup: Markup | None = None, edit: bool = False
    ) -> None:
        if markup is not None:
            attach(messages, markup)
        if self.remove_keyboard:
            for message in messages:
                if not message.markup:
                    message.markup = Markup(remove_keyboard=True)
                    self.remove_keyboard = False
                    break
        edit_id = self.edit_message_id if edit else None
        if edit_id is not None and messages:
            self.edit_message_id = None
        self.effects.extend(to_effects(messages, self.event.chat.id, edit_id))

    def say(self, say: tuple[Any, ...]) -> None:
        self.emit(self.builder.messages(say, self.state or "", self.epoch))

    # -- the order of matching -------------------------------------------------------------
    def handle(self) -> None:
        event = self.event
        if isinstance(event, TimerFired):
            self.timer(event)
            return
        if self.state is not None and self.state not in self.scenario.states:
            self.migrate()
        if isinstance(event, ButtonPress):
            self.press(event)
            if self.state is None:  # a new user pressed a button of a forgotten conversation
                self.enter(self.scenario.start)
            return
        if self.state is None or self.ended:
            self.stack.clear()
            if (
                not (isinstance(event, CommandMessage) and self.command(event))
                or self.state is None
            ):
                self.enter(self.scenario.start)  # a new conversation always has a state
            return
        if isinstance(event, CommandMessage) and self.command(event):
            return
        state = self.current()
        assert state is not None
        for handler in state.handlers:
            if self.matches(handler):
                self.run(handler.actions, state)
                return
        if state.ask is not None and self.answer(state):
            return
        self.fallback()

    def migrate(self) -> None:
        old = self.state or ""
        target = self.scenario.migrations.get(old, self.scenario.start)
        self.state = target if target in self.scenario.states else self.scenario.start
        self.stack = [f for f in self.stack if f.state in self.scenario.states]
        self.epoch += 1

    def command(self, event: CommandMessage) -> bool:
        state = self.current()
        if state is not None:
            for handler in state.handlers:
                if handler.command == event.command and self.matches(handler):
                    self.run(handler.actions, state)
                    return True
        command = self.scenario.commands.get(event.command)
        if command is None or (command.only and not command.only & self.session.roles):
            return False
        self.run(command.actions, state)
        return True

    def matches(self, handler: Handler) -> bool:
        event = self.event
        if handler.command is not None and not (
            isinstance(event, CommandMessage) and event.command == handler.command
        ):
            return False
        if handler.command is None and isinstance(event, CommandMessage):
            return False
        text = event.text if isinstance(event, TextMessage) else None
        if handler.texts and (text is None or text.strip().casefold() not in handler.texts):
            return False
        if handler.button is not None and (text is None or text.strip() != handler.button):
            return False
        if (
            handler.type is not None
            and handler.type != "any"
            and handler.type != message_type(event)
        ):
            return False
        if handler.pattern is not None:
            if text is None:
                return False
            try:
                found = handler.pattern.search(text, timeout=PATTERN_TIMEOUT)
            except TimeoutError:
                found = None
            if found is None:
                return False
            self.match = [found.group(0), *found.groups()]
            self.changed()
        return self.builder.holds(handler.condition)

    def press(self, event: ButtonPress) -> None:
        ref = callback_data.decode(event.data)
        state = self.current()
        button = None
        if (
            ref is not None
            and state is not None
            and ref.state == state.name
            and callback_data.same_visit(ref, self.epoch)
            and ref.index < len(state.all_buttons)
        ):
            button = state.all_buttons[ref.index]
        if button is None or button.actions is None or not self.builder.holds(button.condition):
            self.effects.append(AnswerButton(event.callback_id, builtin_texts.BUTTON_EXPIRED))
            return
        self.effects.append(AnswerButton(event.callback_id))
        self.run(button.actions, state)

    def timer(self, event: TimerFired) -> None:
        state = self.current()
        if state is None or state.name != event.state or event.epoch != self.epoch or self.ended:
            return  # the user left the state (or came back later): this timer has expired
        if 0 <= event.index < len(state.timers):
            self.run(state.timers[event.index].actions, state)

    def answer(self, state: State) -> bool:
        ask = state.ask
        assert ask is not None
        event = self.event
        text = event.text.strip() if isinstance(event, TextMessage) else None
        if ask.optional and ask.skip_text is not None and text is not None:
            skip = self.builder.text(ask.skip_text)
            if skip is not None and text.casefold() == skip.strip().casefold():
                return self.accept(state, None)
        if isinstance(event, CommandMessage) or (
            ask.type in _TEXT_ASKS and not isinstance(event, TextMessage)
        ):
            return False  # an unknown command, or a sticker where a text is expected: the fallback
        result = check_answer(ask, event, self.now.date())
        if result.valid:
            return self.accept(state, result.value)
        self.attempts += 1
        if ask.max_attempts is not None and self.attempts >= ask.max_attempts and ask.on_fail:
            self.enter(ask.on_fail)
            return True
        if ask.retry:
            retry = ask.retry[min(self.attempts, len(ask.retry)) - 1]
            messages = self.builder.messages(retry, state.name, self.epoch)
        else:
            messages = [
                Outgoing(
                    builtin_texts.RETRY.get(ask.type, builtin_texts.DID_NOT_UNDERSTAND),
                    parse_mode=None,
                )
            ]
        self.emit(messages, self.builder.state_markup(state, self.epoch))
        return True

    def accept(self, state: State, value: Any) -> bool:
        assert state.ask is not None
        self.set_var(state.ask.var, value)
        self.attempts = 0
        self.remove_keyboard = state.shows_reply_keyboard
        self.leave_by(state.enter, state.name)
        return True

    def fallback(self) -> None:
        fallback = self.scenario.fallback
        if fallback.say:
            self.say(fallback.say)
        else:
            self.emit([Outgoing(builtin_texts.DID_NOT_UNDERSTAND, parse_mode=None)])
        if fallback.goto is not None:
            target = self.choose(fallback.goto)
            if target is not None:
                self.enter(target)
                return
        state = self.current()
        if fallback.repeat and state is not None:
            self.show(state)

    # -- doing things ----------------------------------------------------------------------
    def run(self, actions: Actions, origin: State | None) -> None:
        """A command's, handler's, button's or timer's actions; `call` comes back to `origin`."""
        self.assign(actions.assign, actions.clear)
        if not self.do(actions.do):
            return
        self.say(actions.say)
        if actions.call is not None:
            if origin is not None:
                self.stack.append(Frame(origin.name, follow_goto=False))
            self.enter(actions.call)
        elif actions.returns:
            self.go_back()
        elif actions.goto is not None:
            target = self.choose(actions.goto)
            if target is not None:
                self.enter(target, via_button=isinstance(self.event, ButtonPress))

    def assign(self, values: tuple[tuple[str, Value], ...], clear: tuple[str, ...]) -> None:
        for name, value in values:
            try:
                self.set_var(name, resolve(value, self.context()))
            except RenderError as exc:
                self.report(f"cannot set `{name}`: {exc}")
        for name in clear:
            self.set_var(name, _plain(self.scenario.defaults.get(name)))

    def do(self, actions: tuple[Action, ...]) -> bool:
        """Run side effects in order; False when an http `on_error` moved the user elsewhere."""
        for action in actions:
            if isinstance(action, Http):
                if not self.http(action):
                    return False
            elif isinstance(action, Notify):
                for message in self.builder.messages(action.say, self.state or "", self.epoch):
                    if message.text or message.media_kind:
                        self.effects.extend(
                            NotifyChat(
                                to,
                                message.text,
                                message.parse_mode,
                                message.media_kind,
                                message.media,
                            )
                            for to in action.to
                        )
            elif isinstance(action, Assign):
                self.assign(action.values, ())
            elif isinstance(action, Plugin):
                self.plugin(action)
            elif isinstance(action, SetLanguage):
                language = self.builder.text(action.language)
                offered = {self.scenario.language, *self.scenario.languages}
                if language in offered:
                    self.language = language
                    self._fixed = None
                    self.changed()
                else:
                    self.report(f"set_language: '{language}' is not one of the bot's languages")
        return True

    def http(self, action: Http) -> bool:
        context = self.context()
        try:
            call = HttpCall(
                action.method,
                render(action.url, context),
                tuple((k, str(resolve(v, context))) for k, v in action.headers),
                resolve(action.json, context),
                tuple((k, str(resolve(v, context))) for k, v in action.form),
                action.timeout,
            )
        except RenderError as exc:
            self.report(f"http: {exc}")
            call = None
        if call is not None and action.save_as is None and action.on_error is None:
            self.effects.append(
                HttpRequest(call.method, call.url, call.headers, call.json, call.form, call.timeout)
            )
            return True
        body, ok = None, False
        if call is not None:
            try:
                response = self.services.http(call)
                body, ok = response.body, response.ok
            except Exception as exc:  # network errors, timeouts, a fake's refusal
                self.report(f"http {call.method} {call.url} failed: {exc}")
        if action.save_as is not None:
            self.set_var(action.save_as, _plain(body) if ok else None)
        if not ok and action.on_error is not None:
            self.enter(action.on_error)
            return False
        return True

    def plugin(self, action: Plugin) -> None:
        try:
            arguments = resolve(action.arguments, self.context())
            value = self.services.plugin(action.name, arguments, self.context().values)
        except Exception as exc:  # plugin code is the operator's Python: report, carry on
            self.report(f"plugin action '{action.name}' failed: {type(exc).__name__}: {exc}")
            value = None
        if action.save_as is not None:
            self.set_var(action.save_as, _plain(value))

    def choose(self, goto: Goto) -> str | None:
        for branch in goto.branches:
            if self.builder.holds(branch.condition):
                return branch.target
        return None

    # -- moving between states -------------------------------------------------------------
    def enter(self, name: str, via_button: bool = False) -> None:
        self.moves += 1
        target = self.scenario.states.get(name)
        if self.moves > MAX_MOVES or target is None:
            self.report(
                f"stopped before entering '{name}': "
                + ("too many moves in one step" if target else "no such state")
            )
            return
        if target.only and not target.only & self.session.roles:
            self.fallback()
            return
        leaving = self.current()
        self.trace.append((self.state, name))
        if leaving is not None and leaving.timers:
            self.effects.append(CancelTimers(self.event.chat.id, self.event.user.id, leaving.name))
        self.state, self.attempts, self.ended = name, 0, False
        self.epoch += 1
        self.match = []
        self.changed()
        enter = target.enter
        self.assign(enter.assign, enter.clear)
        if not self.do(enter.do):
            return
        self.show(target, edit=via_button and target.edit)
        for timer in target.timers:
            due = self.now + dt.timedelta(seconds=timer.delay)
            self.effects.append(
                StartTimer(
                    self.event.chat.id, self.event.user.id, name, timer.index, self.epoch, due
                )
            )
        if target.end:
            self.ended = True
            self.stack.clear()
        elif not target.awaits_input:
            self.leave_by(enter, name)

    def show(self, state: State, edit: bool = False) -> None:
        messages = self.builder.messages(state.enter.say, state.name, self.epoch)
        self.emit(messages, self.builder.state_markup(state, self.epoch), edit=edit)

    def leave_by(self, enter: Actions, name: str) -> None:
        """What follows a state once it is done: its call, its return or its goto."""
        if enter.call is not None:
            self.stack.append(Frame(name, follow_goto=True))
            self.enter(enter.call)
        elif enter.returns:
            self.go_back()
        elif enter.goto is not None:
            target = self.choose(enter.goto)
            if target is not None:
                self.enter(target)

    def go_back(self) -> None:
        if not self.stack:
            self.enter(self.scenario.start)
            return
        frame = self.stack.pop()
        caller = self.scenario.states.get(frame.state)
        if caller is None:
            self.enter(self.scenario.start)
        elif not frame.follow_goto:
            self.enter(caller.name)
        else:
            target = self.choose(caller.enter.goto) if caller.enter.goto else None
            if target is not None:
                self.enter(target)
            else:
                self.state = caller.name
                self.epoch += 1


def _message_view(event: Event) -> dict[str, Any]:
    """`message` in templates: the current input as data (never as a template)."""
    view: dict[str, Any] = {"type": message_type(event), "text": ""}
    if isinstance(event, TextMessage):
        view["text"] = event.text
    elif isinstance(event, CommandMessage):
        view.update(
            text=f"/{event.command} {event.args}".strip(),
            command=event.command,
            args=event.args,
            payload=event.args,
        )
    elif isinstance(event, MediaMessage):
        view.update(file_id=event.file_id, caption=event.caption, text=event.caption)
    elif isinstance(event, ContactShared):
        view["contact"] = {
            "phone_number": event.phone_number,
            "first_name": event.first_name,
            "last_name": event.last_name,
            "user_id": event.contact_user_id,
        }
    elif isinstance(event, LocationShared):
        view["location"] = {"latitude": event.latitude, "longitude": event.longitude}
    return view

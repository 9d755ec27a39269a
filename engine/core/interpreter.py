"""The interpreter: `step(scenario, session, event, now) -> (new session, effects)`.

Pure: no disk, network, clock or randomness of its own. Side effects that need an answer
within the step (HTTP with `save_as`, plugin actions) go through the `services` port."""

from __future__ import annotations

import datetime as dt
from typing import Any

from engine.core import builtin_texts, callback_data
from engine.core.answers import PATTERN_TIMEOUT, Answer, check_answer
from engine.core.callback_data import FALLBACK_HOME, HANDLERS_HOME, button_data
from engine.core.durations import DurationError, parse_duration
from engine.core.effects import (
    AdminCommand,
    AnswerButton,
    CancelTimers,
    EditMarkup,
    Effect,
    ExportUserData,
    ForgetUser,
    InlineButton,
    Markup,
    ReportProblem,
    SendText,
    StartTimer,
)
from engine.core.events import (
    ButtonPress,
    CommandMessage,
    Event,
    TextMessage,
    TimerFired,
    message_type,
)
from engine.core.model import (
    Actions,
    Button,
    Handler,
    Scenario,
    State,
    Timer,
)
from engine.core.output import Outgoing
from engine.core.ports import OfflineServices, Services
from engine.core.rendering import RenderError, render
from engine.core.session import Frame, Session
from engine.core.side_effects import SideEffects
from engine.core.step_context import MAX_MOVES, StepResult
from engine.core.translation import NoTranslation, negotiate

__all__ = ["MAX_MOVES", "StepResult", "apology", "show_again", "step"]

# built-in commands for the admins (BOT_ADMINS) in Telegram: engine.admin.chat_commands
ADMIN_COMMANDS = frozenset(
    {
        "flag",
        "flags",
        "grant",
        "revoke",
        "roles",
        "broadcast",
        "broadcasts",
        "cancel",
        "cancel_broadcast",
        "stats",
    }
)
FORGET = "~forget"  # the buttons of the /forgetme question (no state can have this name)
_TEXT_ASKS = ("text", "number", "integer", "email", "date", "yes_no", "choice")


def _apology(scenario: Scenario, session: Session) -> str:
    translator = scenario.translator or NoTranslation()
    return str(
        translator.gettext(
            session.language or scenario.language, builtin_texts.SOMETHING_WENT_WRONG
        )
    )


def apology(scenario: Scenario, event: Event) -> SendText:
    """What a user hears when their update failed outside the step (set aside by the store):
    the step's own apology, in the language their Telegram client asks for."""
    language = negotiate(event.user.language, scenario.languages, scenario.language)
    translator = scenario.translator or NoTranslation()
    text = translator.gettext(language, builtin_texts.SOMETHING_WENT_WRONG)
    return SendText(event.chat.id, str(text), None)


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
                ReportProblem(
                    session.state, f"step failed: {type(exc).__name__}: {exc}", kind="step_failed"
                ),
                SendText(event.chat.id, _apology(scenario, session), None),
            ),
        )
    return run.result()


class _Step(SideEffects):
    forgotten = False  # /forgetme was confirmed in this step: nothing more happens

    def handle(self) -> None:
        event = self.event
        restricted = self.scenario.restricted
        if isinstance(event, TimerFired):
            # a user who may not stay: the timer is dropped; their next message moves them
            if not restricted or self.may_stay():
                self.timer(event)
            return
        if self.state is not None and self.state not in self.scenario.states:
            self.migrate()
        if restricted and not self.may_stay():
            self.turn_away(event)
            return
        if isinstance(event, ButtonPress):
            refused = self.press(event)
            if self.state is None and not (self.forgotten or refused):
                self.enter(self.scenario.start)  # a button of a forgotten conversation
            return
        if self.state is None or self.ended:
            self.start_over(event)
            return
        if isinstance(event, CommandMessage) and self.command(event):
            return
        state = self.current()
        assert state is not None
        if self.handled(state):
            return
        if state.ask is not None and self.answer(state):
            return
        self.fallback()

    def handled(self, state: State) -> bool:
        """The state's own `on` handlers, then the top-level ones: the first match runs."""
        for handler in (*state.handlers, *self.scenario.handlers):
            if self.matches(handler):
                self.run(handler.actions, state)
                return True
        return False

    def start_over(self, event: Event) -> None:
        """A new or finished conversation. A command (from `commands:`) runs as usual; then
        the start state is entered, and the message that started it all is handled there
        (by the state's `on` handlers or the top-level ones that name what they match)
        unless it was /start: "hello" or "/prices" is answered after the greeting instead of
        being lost. A catch-all handler ("please use the buttons"), the question and the
        fallback never take it: the greeting just answered it."""
        self.stack.clear()
        command = event if isinstance(event, CommandMessage) else None
        handled = command is not None and self.command(command, handlers=False)
        if handled and self.state is not None:
            return
        self.enter(self.scenario.start)  # a new conversation always has a state
        if handled or (command is not None and command.command == "start"):
            return
        state = self.current()
        if state is not None and not self.ended:
            self.first_message(state)

    def first_message(self, state: State) -> None:
        """The message that started the conversation, in the state it led to: the first
        handler that names what it matches runs, unless all it would do is show `state`
        again (a "hi" that greets: the greeting was just sent)."""
        for handler in (*state.handlers, *self.scenario.handlers):
            if handler.names_input and self.matches(handler):
                if not self.shows_again(handler.actions, state):
                    self.run(handler.actions, state)
                return

    def shows_again(self, actions: Actions, state: State) -> bool:
        """Whether `actions` do nothing but enter `state` again."""
        if actions.assign or actions.clear or actions.do or actions.say:
            return False
        if actions.call is not None or actions.returns or actions.goto is None:
            return False
        return self.choose(actions.goto) == state.name

    def may_stay(self) -> bool:
        """Whether the user still has a role their state asks for (`only:`): roles change
        (BOT_ADMINS, a reload adding `only:`, a migration) while a user is inside."""
        state = self.current()
        return state is None or not state.only or bool(state.only & self.session.roles)

    def turn_away(self, event: Event) -> None:
        """A user in a state they may no longer be in starts over; the event is not handled
        there (a press of that state's buttons is answered, as expired)."""
        if isinstance(event, ButtonPress):
            self.effects.append(
                AnswerButton(event.callback_id, self.builtin(builtin_texts.BUTTON_EXPIRED))
            )
        self.stack.clear()
        self.enter(self.scenario.start)

    def migrate(self) -> None:
        old = self.state or ""
        target = self.scenario.migrations.get(old, self.scenario.start)
        self.state = target if target in self.scenario.states else self.scenario.start
        self.stack = [f for f in self.stack if f.state in self.scenario.states]
        self.epoch += 1

    def authored(self, command: str) -> bool:
        """Whether the scenario has a command of this name: under `commands:`, or a handler
        of the current state or the top level (a flow's own /cancel, say)."""
        if command in self.scenario.commands:
            return True
        state = self.current()
        own = state.handlers if state is not None else ()
        return any(h.command == command for h in (*own, *self.scenario.handlers))

    def command(self, event: CommandMessage, handlers: bool = True) -> bool:
        """A privacy command, a handler for the command (the state's, then the top-level
        ones; `handlers=False` skips them) or the command under `commands:`."""
        if event.command in self.scenario.privacy:
            self.privacy_command(event.command)
            return True
        if (
            event.command in ADMIN_COMMANDS
            and "admin" in self.session.roles
            and not self.authored(event.command)  # the author's own wins
        ):
            self.effects.append(
                AdminCommand(
                    self.event.chat.id,
                    self.event.user.id,
                    event.command,
                    event.args,
                    tuple(self.scenario.flags),
                )
            )
            return True
        state = self.current()
        if state is not None and handlers:  # they replace the command of the same name
            for handler in (*state.handlers, *self.scenario.handlers):
                if handler.command == event.command and self.matches(handler):
                    self.run(handler.actions, state)
                    return True
        command = self.scenario.commands.get(event.command)
        if command is None and event.command == "start" and handlers:
            # /start without a `start` command of the author's: back to `bot.start`, as the
            # docs promise (it was answered by the fallback in the middle of a conversation)
            self.stack.clear()
            self.enter(self.scenario.start)
            return True
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
        if handler.texts and (
            text is None or not any(self.says(text, option) for option in handler.texts)
        ):
            return False
        if handler.button is not None and (
            text is None or not self.says(text, handler.button, exact=True)
        ):
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
        return handler.condition is None or self.builder.holds(handler.condition)

    def privacy_command(self, command: str) -> None:
        """Built-in /mydata and /forgetme; the store carries out what they ask for."""
        chat, user = self.event.chat.id, self.event.user.id
        if command == "mydata":
            if chat != user:  # a group: the export goes only to the private chat (same id)
                self.emit([Outgoing(self.builtin(builtin_texts.MYDATA_PRIVATE), parse_mode=None)])
                return
            self.effects.append(ExportUserData(chat, user, self.builtin(builtin_texts.MYDATA_SENT)))
            return
        tag = "" if chat == user else callback_data.user_tag(user)  # never shared
        buttons = tuple(
            (InlineButton(self.builtin(label), button_data(FORGET, index, self.epoch, tag)),)
            for index, label in enumerate((builtin_texts.FORGET_YES, builtin_texts.FORGET_NO))
        )
        confirm = Outgoing(self.builtin(builtin_texts.FORGET_CONFIRM), parse_mode=None)
        self.emit([confirm], Markup(inline=buttons))

    def forget(self, event: ButtonPress, confirmed: bool) -> None:
        self.effects.append(AnswerButton(event.callback_id))
        if not confirmed:
            self.emit([Outgoing(self.builtin(builtin_texts.FORGET_CANCELLED), parse_mode=None)])
            return
        self.effects.append(ForgetUser(event.chat.id, event.user.id))
        self.emit([Outgoing(self.builtin(builtin_texts.FORGOTTEN), parse_mode=None)])
        self.state, self.stack, self.ended = None, [], False  # a stranger again, from the start
        self.vars = dict(self.scenario.defaults)
        self.forgotten = True

    def press(self, event: ButtonPress) -> bool:
        """Run the pressed button; True when the press was someone else's (in a group)."""
        ref = callback_data.decode(event.data)
        forget = ref is not None and ref.state == FORGET and "forgetme" in self.scenario.privacy
        if (  # a button sent to someone else in a group (/forgetme's: never shared)
            ref is not None
            and ref.tag
            and (forget or not self.scenario.shared_buttons)
            and ref.tag != callback_data.user_tag(event.user.id)
        ):
            self.effects.append(
                AnswerButton(event.callback_id, self.builtin(builtin_texts.NOT_YOUR_BUTTON))
            )
            return True
        if forget and ref is not None and callback_data.same_visit(ref, self.epoch):
            self.forget(event, confirmed=ref.index == 0)
            return False
        state = self.current()
        button = self.pressed(ref, state) if ref is not None else None
        if button is not None and ref is not None and state is not None and button.listing:
            if ref.page >= 0:
                self.effects.append(AnswerButton(event.callback_id))
                self.redraw(event, state, button, ref.page)
                return False
            if ref.entry >= 0:
                self.press_entry(event, ref, button, state)
                return False
        if (
            button is None
            or button.actions is None
            or button.listing is not None
            or (ref is not None and (ref.entry >= 0 or ref.page >= 0))
        ):
            self.effects.append(
                AnswerButton(event.callback_id, self.builtin(builtin_texts.BUTTON_EXPIRED))
            )
            return False
        self.effects.append(AnswerButton(event.callback_id))
        self.editing = True
        self.run(button.actions, state)
        return False

    def press_entry(
        self, event: ButtonPress, ref: callback_data.ButtonRef, button: Button, state: State
    ) -> None:
        """An entry of a list button: its value (as the list holds it now) is stored in
        `save_as`, then the button's actions run. An entry that changed since it was drawn
        (the list was reloaded, an entry removed) is not guessed at: the user hears so and
        sees the list as it is now."""
        listing = button.listing
        assert listing is not None and button.actions is not None
        entries = self.builder.entries(listing)
        value: Any = None
        fresh = False
        if ref.entry < len(entries):
            try:
                value = self.builder.entry_value(listing, entries[ref.entry], ref.entry)
            except RenderError as exc:
                self.report(f"cannot work out the value of entry {ref.entry + 1}: {exc}")
            else:
                fresh = callback_data.entry_check(value) == ref.check
        if not fresh:
            self.effects.append(
                AnswerButton(event.callback_id, self.builtin(builtin_texts.LIST_CHANGED))
            )
            shown = min(ref.entry, max(len(entries) - 1, 0)) // listing.page_size
            self.redraw(event, state, button, shown)
            return
        self.effects.append(AnswerButton(event.callback_id))
        self.set_var(listing.save_as, value)
        self.editing = True  # its moves edit the pressed message, as any button's do
        shown, epoch = len(self.effects), self.epoch
        self.run(button.actions, state)
        if self.state == state.name and self.epoch == epoch and len(self.effects) == shown:
            # it only changed variables (a tick in a multiselect): the pressed message's
            # buttons are drawn again as they are now, on the page the entry was on
            self.redraw(event, state, button, ref.entry // listing.page_size)

    def redraw(self, event: ButtonPress, state: State, button: Button, page: int) -> None:
        """The state's inline buttons again, the list at `page`, in the pressed message."""
        if event.message_id is None:  # no message to edit (not from Telegram): show anew
            self.show(state)
            return
        markup = self.builder.state_markup(state, self.epoch, {button.index: page})
        self.effects.append(EditMarkup(event.chat.id, event.message_id, Markup(markup.inline)))

    def pressed(self, ref: callback_data.ButtonRef, state: State | None) -> Button | None:
        """The button a press refers to, if it can have been drawn for this user in this visit:
        its home is their state (or a command they may use, or the fallback), and its `if:`,
        its messages' `if:` and its `random:` variant hold as when it was shown."""
        if state is None or not callback_data.same_visit(ref, self.epoch):
            return None
        home = ref.state
        if home == state.name:
            buttons = state.all_buttons
        elif home == FALLBACK_HOME:
            buttons = self.scenario.fallback.all_buttons
        elif home == HANDLERS_HOME:
            buttons = self.scenario.handler_buttons
        elif home.startswith("/"):
            command = self.scenario.commands.get(home[1:])
            if command is None or (command.only and not command.only & self.session.roles):
                return None
            buttons = command.all_buttons
        else:
            return None
        if ref.index >= len(buttons):
            return None
        button = buttons[ref.index]
        if button.variant is not None:
            key, place, count = button.variant
            if self.builder.pick(key, count, self.epoch) != place:
                return None
        for guard in button.guards:
            if not self.builder.holds(guard):
                return None
        if button.condition is not None and not self.builder.holds(button.condition):
            return None
        return button

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
        if not result.valid and ask.type == "yes_no" and text is not None:
            if self.says(text, builtin_texts.YES):
                result = Answer(True, True)
            elif self.says(text, builtin_texts.NO):
                result = Answer(True, False)
        if not result.valid and ask.type == "choice" and text is not None:
            result = next(
                (Answer(True, c.value) for c in ask.choices if self.says(text, c.text.source)),
                result,
            )
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
            retry_text = builtin_texts.RETRY.get(ask.type, builtin_texts.DID_NOT_UNDERSTAND)
            messages = [Outgoing(self.builtin(retry_text), parse_mode=None)]
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
        self.fell_back = True
        fallback = self.scenario.fallback
        if fallback.say:
            self.say(fallback.say)
        else:
            self.emit([Outgoing(self.builtin(builtin_texts.DID_NOT_UNDERSTAND), parse_mode=None)])
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
        if actions.assign or actions.clear:
            self.assign(actions.assign, actions.clear)
        if actions.do and not self.do(actions.do):
            return
        if actions.say:
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
                self.enter(target)

    def enter(self, name: str) -> None:
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
        if enter.assign or enter.clear:
            self.assign(enter.assign, enter.clear)
        if enter.do and not self.do(enter.do):
            return
        self.show(target, edit=self.editing and target.edit)
        for timer in target.timers:
            seconds = self.timer_delay(target, timer)
            if seconds is None:
                continue
            due = self.now + dt.timedelta(seconds=seconds)
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

    def timer_delay(self, state: State, timer: Timer) -> float | None:
        """Seconds until `timer` fires. A computed delay that is not a duration (a null,
        a number without a unit, over a year) is reported, and that timer does not start."""
        if timer.delay_template is None:
            return timer.delay
        written = timer.delay_template.source
        where = f"timer {timer.index + 1} of state '{state.name}' was not started"
        try:
            return parse_duration(render(timer.delay_template, self.context()))
        except RenderError as exc:
            self.report(
                f"{where}: its delay `{written}` cannot be computed: {exc}", "template_failed"
            )
        except DurationError as exc:
            self.report(f"{where} (delay `{written}`): {exc}")
        return None

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
        if caller is None or (caller.only and not caller.only & self.session.roles):
            self.stack.clear()  # gone, or no longer theirs: start over
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


def show_again(
    scenario: Scenario, session: Session, event: Event, now: dt.datetime
) -> tuple[Effect, ...]:
    """What the user's current state shows (its text and buttons), rendered again from the
    stored session without changing it: the terminal chat starting again shows where the
    conversation stands (the outbox keeps no sent texts). Nothing for a conversation that
    has not started or has ended; `event` only stands for the user and the chat."""
    if session.state is None or session.ended:
        return ()
    run = _Step(scenario, session, event, now, OfflineServices())
    state = run.current()
    if state is None:
        return ()
    try:
        run.show(state)
    except Exception as exc:  # a template that fails: said, as step() would
        return (ReportProblem(session.state, f"cannot show the state again: {exc}"),)
    return tuple(run.effects)

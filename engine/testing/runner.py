"""Running conversation tests: each step goes through the interpreter with a fake clock, fake
services (HTTP and plugin answers from `mock:`), and the chat as the user would see it."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.core.effects import (
    AnswerButton,
    CancelTimers,
    EditMarkup,
    EditText,
    Effect,
    InlineButton,
    Markup,
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
    ContactShared,
    Event,
    LocationShared,
    MediaMessage,
    TextMessage,
    TimerFired,
)
from engine.core.interpreter import step
from engine.core.model import Scenario
from engine.core.ports import HttpCall, HttpResponse, PortError
from engine.core.session import new_session
from engine.scenario.suggestions import did_you_mean
from engine.testing.checks import Outcome, Reply, check, normalize, quote, visible_text
from engine.testing.conversation import MEDIA_ACTIONS, Action, ConversationTest, HttpMock
from engine.testing.coverage import ScenarioCoverage

MAX_TIMERS_PER_WAIT = 1000
_MOCKED_FAILURE = "the test's mock makes this call fail (error: true)"


class MockServices:
    """The services port for a test: `config`, HTTP answers and plugin results from `mock:`."""

    def __init__(self, test: ConversationTest) -> None:
        self.config: Mapping[str, str] = test.config
        self.mocks = test.http
        self.plugins = test.plugins
        self.used = [False] * len(test.http)
        self.calls: list[HttpCall] = []

    def http(self, call: HttpCall) -> HttpResponse:
        """The first unused matching mock answers; when all are used, the last one again."""
        self.calls.append(call)
        found = [i for i, mock in enumerate(self.mocks) if mock.answers(call.method, call.url)]
        if not found:
            raise PortError(f"no mock answers {call.method} {call.url}; add one under `mock:`")
        index = next((i for i in found if not self.used[i]), found[-1])
        self.used[index] = True
        mock: HttpMock = self.mocks[index]
        if mock.error:
            raise PortError(_MOCKED_FAILURE)
        return HttpResponse(mock.status, copy.deepcopy(mock.body))

    def plugin(self, name: str, arguments: Any, context: Mapping[str, Any]) -> Any:
        if name not in self.plugins:
            raise PortError(f"no result for the plugin action '{name}'; add `mock: plugins:`")
        return copy.deepcopy(self.plugins[name])


class StepError(Exception):
    """The step could not be done as written (no such button, too many timers)."""


@dataclass
class _Message:
    text: str
    buttons: tuple[InlineButton, ...]
    touched: int


class Conversation:
    """One test's chat: the session, the fake clock, pending timers, and the messages shown."""

    def __init__(
        self, scenario: Scenario, test: ConversationTest, coverage: ScenarioCoverage | None = None
    ) -> None:
        self.scenario = scenario
        self.test = test
        self.coverage = coverage
        self.user = test.user
        self.chat = Chat(test.user.id)
        self.session = new_session(self.chat.id, self.user.id, test.roles).evolve(
            language=test.language
        )
        self.services = MockServices(test)
        self.clock = test.start
        self.timers: list[StartTimer] = []
        self.messages: dict[int, _Message] = {}
        self.keyboard: tuple[str, ...] = ()  # the reply keyboard shown under the typing field
        self.counter = 0

    def do(self, action: Action) -> Outcome:
        outcome = Outcome()
        if action.key == "wait":
            self.wait(action.seconds, outcome)
        else:
            self.send(self.event(action), outcome)
        return outcome

    def event(self, action: Action) -> Event:
        user, chat = self.user, self.chat
        if action.key == "send" and action.text.startswith("/") and len(action.text) > 1:
            command, _, args = action.text[1:].partition(" ")
            return CommandMessage(
                user=user, chat=chat, command=command.split("@")[0], args=args.strip()
            )
        if action.key == "send":
            self.counter += 1  # the user's message has an id too: a reply quotes it
            return TextMessage(user=user, chat=chat, message_id=self.counter, text=action.text)
        if action.key == "press":
            message_id, button = self.button(action)
            self.counter += 1
            data = button.data or ""
            return ButtonPress(
                user=user,
                chat=chat,
                data=data,
                callback_id=str(self.counter),
                message_id=message_id,
            )
        if action.key == "share_contact":
            own = action.first_name is None
            return ContactShared(
                user=user,
                chat=chat,
                phone_number=action.text,
                first_name=self.user.first_name if own else action.first_name or "",
                last_name=self.user.last_name if own else action.last_name,
                contact_user_id=self.user.id if own else None,
            )
        if action.key == "share_location":
            return LocationShared(
                user=user, chat=chat, latitude=action.latitude, longitude=action.longitude
            )
        assert action.key in MEDIA_ACTIONS
        kind = action.key.removeprefix("send_")
        return MediaMessage(
            user=user, chat=chat, kind=kind, file_id=action.text, caption=action.caption
        )

    def button(self, action: Action) -> tuple[int, InlineButton]:
        menus = sorted(
            ((m.touched, i) for i, m in self.messages.items() if m.buttons), reverse=True
        )
        if len(menus) < action.message:
            raise StepError(
                f"there is no button '{action.text}': "
                + (
                    f"only {len(menus)} message{'s' * (len(menus) != 1)} with inline buttons"
                    if menus
                    else "no message has inline buttons"
                )
            )
        message_id = menus[action.message - 1][1]
        message = self.messages[message_id]
        names = [b.text for b in message.buttons]
        for button in message.buttons:
            if normalize(button.text) == normalize(action.text):
                if button.url is not None:
                    raise StepError(
                        f"the button '{button.text}' opens {button.url}; it cannot be pressed"
                    )
                return message_id, button
        which = (
            "latest message with buttons"
            if action.message == 1
            else f"message {action.message} back"
        )
        raise StepError(
            f"there is no button '{action.text}' in the {which} ({quote(message.text)}); "
            f"its buttons are: {', '.join(map(quote, names))}.{did_you_mean(action.text, names)}"
        )

    def wait(self, seconds: float, outcome: Outcome) -> None:
        until = self.clock + dt.timedelta(seconds=seconds)
        for _ in range(MAX_TIMERS_PER_WAIT):
            due = [t for t in self.timers if t.due <= until]
            if not due:
                self.clock = until
                return
            timer = min(due, key=lambda t: t.due)
            self.timers.remove(timer)
            self.clock = max(self.clock, timer.due)
            fired = TimerFired(
                user=self.user,
                chat=self.chat,
                state=timer.state,
                index=timer.index,
                epoch=timer.epoch,
            )
            self.send(fired, outcome)
        raise StepError(
            f"more than {MAX_TIMERS_PER_WAIT} timers fired; does a timer restart itself?"
        )

    def send(self, event: Event, outcome: Outcome) -> None:
        before = self.session
        result = step(self.scenario, before, event, self.clock, self.services)
        self.session = result.session
        if self.coverage is not None:
            self.coverage.record(event, before, result)
        for effect in result.effects:
            self.apply(effect, outcome)

    def apply(self, effect: Effect, outcome: Outcome) -> None:
        if isinstance(effect, SendText | SendMedia | SendLocation | EditText):
            if isinstance(effect, SendLocation):
                text = f"location {effect.latitude:g}, {effect.longitude:g}"
            else:
                shown = effect.caption if isinstance(effect, SendMedia) else effect.text
                text = visible_text(shown, effect.parse_mode)
            buttons = tuple(b for row in effect.markup.inline for b in row)
            edited = isinstance(effect, EditText)
            self.counter += 1
            message_id = effect.message_id if isinstance(effect, EditText) else self.counter
            self.messages[message_id] = _Message(text, buttons, self.counter)
            self.show_keyboard(effect.markup)
            outcome.replies.append(Reply(text, buttons, edited))
        elif isinstance(effect, EditMarkup) and effect.message_id in self.messages:
            old = self.messages[effect.message_id]  # a list's page: new buttons, same text
            inline = tuple(b for row in effect.markup.inline for b in row)
            self.counter += 1
            self.messages[effect.message_id] = _Message(old.text, inline, self.counter)
            outcome.replies.append(Reply(old.text, inline, True))
        elif isinstance(effect, AnswerButton) and effect.text:
            outcome.notices.append(normalize(effect.text))
        elif isinstance(effect, NotifyChat):
            outcome.notifications.append(visible_text(effect.text, effect.parse_mode))
        elif isinstance(effect, StartTimer):
            self.timers.append(effect)
        elif isinstance(effect, CancelTimers):
            self.timers = [t for t in self.timers if t.state != effect.state]
        elif isinstance(effect, ReportProblem) and _MOCKED_FAILURE not in effect.message:
            where = f" (in state '{effect.state}')" if effect.state else ""
            outcome.problems.append(effect.message + where)

    def show_keyboard(self, markup: Markup) -> None:
        if markup.keyboard:
            self.keyboard = tuple(key.text for row in markup.keyboard for key in row)
        elif markup.remove_keyboard:
            self.keyboard = ()


@dataclass(frozen=True)
class ConversationResult:
    test: ConversationTest
    failure: str | None = None  # None: passed

    @property
    def passed(self) -> bool:
        return self.failure is None


def run_test(
    scenario: Scenario, test: ConversationTest, coverage: ScenarioCoverage | None = None
) -> ConversationResult:
    """Run the steps in order; the first step whose checks fail ends the test."""
    chat = Conversation(scenario, test, coverage)
    for current in test.steps:
        try:
            outcome = chat.do(current.action)
            failures = check(current.checks, outcome, chat.session, chat.keyboard, scenario)
        except StepError as exc:
            failures = [str(exc)]
        if failures:
            head = (
                f"{current.position}: test '{test.name}', step {current.number} ({current.summary})"
            )
            lines = [f"  {line}" for failure in failures for line in failure.splitlines()]
            state = f"  (the user is now in state '{chat.session.state}')"
            return ConversationResult(test, "\n".join([head, *lines, state]))
    return ConversationResult(test)

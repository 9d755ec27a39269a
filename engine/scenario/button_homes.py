"""Where inline buttons live, so that each has one identity: the home it was written in (a
state, a command, the fallback) and its place among that home's buttons.

A state's home numbers every button written anywhere inside it (its messages, its own
buttons, its handlers, timers, retries, and the messages of its buttons' actions) in one
sequence; a press then finds exactly the button that was drawn."""

from __future__ import annotations

from dataclasses import dataclass

from engine.core.callback_data import FALLBACK_HOME, HANDLERS_HOME, NOTIFY_HOME, command_home
from engine.core.model import Actions, Button, Command, Fallback, Handler, Message, State

__all__ = ["FALLBACK_HOME", "HANDLERS_HOME", "NOTIFY_HOME", "ButtonHome", "command_home"]


@dataclass
class ButtonHome:
    """The numbering of one home's inline buttons while it is compiled."""

    name: str
    buttons: int = 0  # the next button's index
    picks: int = 0  # `random:` messages with buttons so far

    def next_index(self) -> int:
        self.buttons += 1
        return self.buttons - 1

    def next_pick(self) -> str:
        self.picks += 1
        return f"{self.name}#{self.picks - 1}"


def buttons_of_rows(rows: tuple[tuple[Button, ...], ...]) -> list[Button]:
    """The inline buttons of a keyboard, each followed by those its own actions show."""
    found: list[Button] = []
    for row in rows:
        for button in row:
            if button.index >= 0:
                found.append(button)
            if button.actions is not None:
                found.extend(buttons_of_actions(button.actions))
    return found


def buttons_of_messages(messages: tuple[Message, ...]) -> list[Button]:
    found: list[Button] = []
    for message in messages:
        found.extend(buttons_of_rows(message.buttons))
        found.extend(buttons_of_messages(message.variants))
    return found


def buttons_of_actions(actions: Actions) -> list[Button]:
    return buttons_of_messages(actions.say)


def by_index(found: list[Button]) -> tuple[Button, ...]:
    """The buttons in the order of their index, which is then their place in the tuple."""
    ordered = tuple(sorted(found, key=lambda b: b.index))
    assert all(b.index == i for i, b in enumerate(ordered)), "button indexes must be dense"
    return ordered


def state_buttons(state: State) -> tuple[Button, ...]:
    found = buttons_of_actions(state.enter) + buttons_of_rows(state.buttons)
    for handler in state.handlers:
        found.extend(buttons_of_actions(handler.actions))
    for timer in state.timers:
        found.extend(buttons_of_actions(timer.actions))
    if state.ask is not None:
        for retry in state.ask.retry:
            found.extend(buttons_of_messages(retry))
    return by_index(found)


def command_buttons(command: Command) -> tuple[Button, ...]:
    return by_index(buttons_of_actions(command.actions))


def fallback_buttons(fallback: Fallback) -> tuple[Button, ...]:
    return by_index(buttons_of_messages(fallback.say))


def handlers_buttons(handlers: tuple[Handler, ...]) -> tuple[Button, ...]:
    """The buttons of the top-level `on` handlers' messages: one home, numbered in order."""
    found: list[Button] = []
    for handler in handlers:
        found.extend(buttons_of_actions(handler.actions))
    return by_index(found)

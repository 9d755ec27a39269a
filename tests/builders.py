"""Building compiled scenarios and events for tests of the interpreter."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from pathlib import Path
from typing import Any

from engine.core.effects import EditText, Effect, SendMedia, SendText
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
    User,
)
from engine.core.interpreter import StepResult, step
from engine.core.model import Scenario
from engine.core.ports import OfflineServices
from engine.core.session import Session, new_session
from engine.scenario import validate_file
from engine.scenario.compiler import compile_scenario

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
ROOT = Path(__file__).resolve().parents[1]


def compile_yaml(text: str, folder: Path, name: str = "bot.yaml") -> Scenario:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    report = validate_file(str(path))
    errors = [d.format() for d in report.diagnostics if d.is_error]
    assert not errors, errors
    assert report.scenario is not None
    return compile_scenario(report.scenario)


def demo() -> Scenario:
    report = validate_file(str(ROOT / "scenarios" / "demo.yaml"))
    assert report.scenario is not None
    return compile_scenario(report.scenario)


class Conversation:
    """Drives step() like a user would, remembering the buttons last shown and the clock."""

    def __init__(
        self,
        scenario: Scenario,
        services: OfflineServices | None = None,
        roles: frozenset[str] = frozenset(),
    ) -> None:
        self.scenario = scenario
        self.services = services or OfflineServices()
        self.session: Session = new_session(7, 7, roles)
        self.user, self.chat = User(7, "Ann", language="en"), Chat(7)
        self.now = NOW
        self.seeds = itertools.count(1)
        self.buttons: dict[str, str] = {}
        self.last: StepResult | None = None

    def event(self, event: Event) -> list[Effect]:
        self.last = step(self.scenario, self.session, event, self.now, self.services)
        self.session = self.last.session
        for effect in self.last.effects:
            markup: Any = getattr(effect, "markup", None)
            if markup is not None and markup.inline:
                self.buttons = {b.text: b.data for row in markup.inline for b in row if b.data}
        return list(self.last.effects)

    def _base(self) -> dict[str, Any]:
        return {"user": self.user, "chat": self.chat, "seed": next(self.seeds)}

    def send(self, text: str) -> list[Effect]:
        if text.startswith("/"):
            command, _, args = text[1:].partition(" ")
            return self.event(CommandMessage(**self._base(), command=command, args=args))
        return self.event(TextMessage(**self._base(), text=text))

    def press(self, label: str) -> list[Effect]:
        return self.event(
            ButtonPress(**self._base(), data=self.buttons[label], callback_id="cb", message_id=99)
        )

    def press_data(self, data: str) -> list[Effect]:
        return self.event(ButtonPress(**self._base(), data=data, callback_id="cb", message_id=99))

    def contact(self, phone: str) -> list[Effect]:
        return self.event(ContactShared(**self._base(), phone_number=phone))

    def location(self, latitude: float, longitude: float) -> list[Effect]:
        return self.event(LocationShared(**self._base(), latitude=latitude, longitude=longitude))

    def media(self, kind: str, file_id: str = "FILE") -> list[Effect]:
        return self.event(MediaMessage(**self._base(), kind=kind, file_id=file_id))

    def fire(self, state: str, index: int, epoch: int) -> list[Effect]:
        return self.event(TimerFired(**self._base(), state=state, index=index, epoch=epoch))


def texts(effects: list[Effect]) -> list[str]:
    """The texts the user would read, in order (captions for media)."""
    found: list[str] = []
    for effect in effects:
        if isinstance(effect, SendText | EditText):
            found.append(effect.text)
        elif isinstance(effect, SendMedia):
            found.append(effect.caption)
    return found


_TAG = re.compile(r"<(/?)([a-z-]+)[^<>]*>")
_BARE_AMPERSAND = re.compile(r"&(?!(?:[a-z]+|#\d+);)")


def valid_html(piece: str) -> bool:
    """What Telegram's HTML parser needs: entities whole, tags closed in order."""
    if _BARE_AMPERSAND.search(piece) or re.search(r"<[^>]*$|^[^<]*>", piece):
        return False
    stack: list[str] = []
    for found in _TAG.finditer(piece):
        if not found.group(1):
            stack.append(found.group(2))
        elif not stack or stack.pop() != found.group(2):
            return False
    return not stack

"""One user's conversation in one chat: the only thing the core remembers between events."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from engine.core.quick_init import quick_init


@quick_init
@dataclass(frozen=True)
class Frame:
    """A sub-flow's caller: where `return` goes, and whether it then follows the caller's
    `goto` (a state's own `call`) or enters the caller again (a button's or handler's `call`)."""

    state: str
    follow_goto: bool


@quick_init
@dataclass(frozen=True)
class Session:
    chat_id: int
    user_id: int
    state: str | None = None  # None: a new user
    vars: Mapping[str, Any] = field(default_factory=dict)
    stack: tuple[Frame, ...] = ()
    attempts: int = 0  # invalid answers to the current question
    epoch: int = 0  # counts state entries; buttons and timers of older visits expire
    language: str | None = None
    roles: frozenset[str] = frozenset()
    ended: bool = False
    scenario_version: str = ""

    def evolve(self, **changes: Any) -> Session:
        return replace(self, **changes)


def new_session(chat_id: int, user_id: int, roles: frozenset[str] = frozenset()) -> Session:
    return Session(chat_id=chat_id, user_id=user_id, roles=roles)

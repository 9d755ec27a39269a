"""Calls made outside the step (issue 12, item 7): a live bot must not hold the database's
write transaction while an HTTP action or a plugin waits for an answer. So the step is run
with `DeferredServices`: a call whose answer it already has is answered from it; the first
call it has no answer for stops the step by raising `CallNeeded`. The store then commits
nothing of that update (it stays pending, and so do the chat's later updates), the call is
made outside any transaction, and the update is stepped again, from the start, with one
answer more. The step is deterministic, so it takes the same path up to that call; the
answers are matched by their place in the step and what was asked, so a step that takes
another path asks again instead of using a wrong answer. State changes are applied once,
by the run that finishes; the calls themselves are at least once."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.core.ports import HttpCall, HttpResponse


@dataclass(frozen=True)
class OutsideCall:
    """A call the step needs an answer for: the `index`-th of the step, what it asks
    (`key`), and what to do: an HTTP call, or a plugin with its arguments and the values
    the plugin sees."""

    index: int
    key: str
    http: HttpCall | None = None
    plugin: str | None = None
    arguments: Any = None
    context: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Answer:
    """What an outside call came back with: a value (an HttpResponse for HTTP), or the
    error it raised, raised again where the step makes the call."""

    key: str
    value: Any = None
    error: Exception | None = None


class CallNeeded(BaseException):
    """Raised through the step (past its `except Exception`) when a call has no answer yet.
    A BaseException because nothing inside the step may catch it as a failed call."""

    def __init__(self, call: OutsideCall) -> None:
        super().__init__(call.key)
        self.call = call


def _key(*parts: Any) -> str:
    return json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False)


def http_key(call: HttpCall) -> str:
    return _key("http", call.method, call.url, call.headers, call.json, call.form)


def plugin_key(name: str, arguments: Any) -> str:
    return _key("plugin", name, arguments)


class DeferredServices:
    """The services port of one run of one update's step: answers known so far, in order."""

    def __init__(self, config: Mapping[str, str], answers: tuple[Answer, ...] = ()) -> None:
        self.config = config
        self.answers = answers
        self._next = 0

    def _answered(self, key: str) -> Answer | None:
        index = self._next
        if index < len(self.answers) and self.answers[index].key == key:
            self._next += 1
            return self.answers[index]
        return None

    def http(self, call: HttpCall) -> HttpResponse:
        key = http_key(call)
        answer = self._answered(key)
        if answer is None:
            raise CallNeeded(OutsideCall(self._next, key, http=call))
        if answer.error is not None:
            raise answer.error
        response: HttpResponse = answer.value
        return response

    def plugin(self, name: str, arguments: Any, context: Mapping[str, Any]) -> Any:
        key = plugin_key(name, arguments)
        answer = self._answered(key)
        if answer is None:
            call = OutsideCall(self._next, key, plugin=name, arguments=arguments, context=context)
            raise CallNeeded(call)
        if answer.error is not None:
            raise answer.error
        return answer.value

"""The doors through which the pure core reaches the world during a step: HTTP calls,
plugin actions and operator configuration. Adapters pass real ones, tests pass fakes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class HttpCall:
    method: str
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    json: Any = None
    form: tuple[tuple[str, str], ...] = ()
    timeout: float = 10.0


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: Any = None  # parsed JSON when the answer was JSON, else its text

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class PortError(Exception):
    """A call through a port failed (network error, timeout, unknown plugin)."""


class Services(Protocol):
    config: Mapping[str, str]

    def http(self, call: HttpCall) -> HttpResponse: ...

    def plugin(self, name: str, arguments: Any, context: Mapping[str, Any]) -> Any: ...


PluginFunction = Callable[[Any, Mapping[str, Any]], Any]
_PLUGINS: dict[str, PluginFunction] = {}


def register_plugin(name: str) -> Callable[[PluginFunction], PluginFunction]:
    """Register a Python function as a scenario action: `do: [{call: name, with: {...}}]`."""

    def register(function: PluginFunction) -> PluginFunction:
        _PLUGINS[name] = function
        return function

    return register


def registered_plugins() -> Mapping[str, PluginFunction]:
    return dict(_PLUGINS)


@dataclass
class OfflineServices:
    """No network: HTTP calls fail (or are answered by `responses`), plugins from the registry."""

    config: Mapping[str, str] = field(default_factory=dict)
    responses: Mapping[str, HttpResponse] = field(default_factory=dict)
    plugins: Mapping[str, PluginFunction] | None = None
    calls: list[HttpCall] = field(default_factory=list)

    def http(self, call: HttpCall) -> HttpResponse:
        self.calls.append(call)
        for key in (f"{call.method} {call.url}", call.url):
            if key in self.responses:
                return self.responses[key]
        raise PortError(f"no network here: {call.method} {call.url}")

    def plugin(self, name: str, arguments: Any, context: Mapping[str, Any]) -> Any:
        plugins = self.plugins if self.plugins is not None else _PLUGINS
        if name not in plugins:
            raise PortError(f"no plugin action is registered as '{name}'")
        return plugins[name](arguments, context)

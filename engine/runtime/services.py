"""The services port for a live bot: real HTTP calls (standard library) and plugin actions."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from engine.core.ports import HttpCall, HttpResponse, PortError, registered_plugins

MAX_BODY = 1_000_000  # bytes of an answer kept; more is cut off


class LiveServices:
    def __init__(self, config: Mapping[str, str]) -> None:
        self.config = config

    def http(self, call: HttpCall) -> HttpResponse:
        if not call.url.startswith(("http://", "https://")):
            raise PortError(f"not a web address: {call.url[:80]}")
        headers = dict(call.headers)
        data = None
        if call.json is not None:
            data = json.dumps(call.json).encode()
            headers.setdefault("Content-Type", "application/json")
        elif call.form:
            data = urlencode(call.form).encode()
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        request = urllib.request.Request(call.url, data=data, headers=headers, method=call.method)
        try:
            with urllib.request.urlopen(request, timeout=call.timeout) as answer:
                return HttpResponse(answer.status, _body(answer.read(MAX_BODY), answer.headers))
        except urllib.error.HTTPError as exc:
            return HttpResponse(exc.code, _body(exc.read(MAX_BODY), exc.headers))
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise PortError(f"{call.method} {call.url[:80]} failed: {exc}") from None

    def plugin(self, name: str, arguments: Any, context: Mapping[str, Any]) -> Any:
        plugins = registered_plugins()
        if name not in plugins:
            raise PortError(f"no plugin action is registered as '{name}'")
        return plugins[name](arguments, context)


def _body(raw: bytes, headers: Any) -> Any:
    text = raw.decode("utf-8", errors="replace")
    if "json" in str(headers.get("Content-Type", "")):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text

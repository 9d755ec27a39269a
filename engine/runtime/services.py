"""The services port for a live bot: real HTTP calls (standard library) and plugin actions.
An HTTP call's `timeout` is a deadline for the whole call, not per read: urllib's timeout
bounds each read only, so a server trickling a byte at a time kept a call going for as
long as it liked; a watchdog shuts the call's socket when its time is up."""

from __future__ import annotations

import contextlib
import functools
import http.client
import json
import socket
import threading
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
        deadline = _Deadline(call.timeout)
        opener = urllib.request.build_opener(_Handler(deadline), _TLSHandler(deadline))
        try:
            with deadline, opener.open(request, timeout=call.timeout) as answer:
                raw = answer.read(MAX_BODY)  # cut short (not an error) if the deadline shut it
                deadline.check()
                return HttpResponse(answer.status, _body(raw, answer.headers))
        except urllib.error.HTTPError as exc:
            with deadline:
                raw = exc.read(MAX_BODY)
                deadline.check()
                return HttpResponse(exc.code, _body(raw, exc.headers))
        except (urllib.error.URLError, TimeoutError, OSError, http.client.HTTPException) as exc:
            if deadline.expired:
                raise PortError(
                    f"{call.method} {call.url[:80]} got no whole answer within {call.timeout:g}s"
                ) from None
            # http.client's own errors (InvalidURL, a broken answer) say little without a name
            cause = (
                f"{type(exc).__name__}: {exc}"
                if isinstance(exc, http.client.HTTPException)
                else exc
            )
            raise PortError(f"{call.method} {call.url[:80]} failed: {cause}") from None

    def plugin(self, name: str, arguments: Any, context: Mapping[str, Any]) -> Any:
        plugins = registered_plugins()
        if name not in plugins:
            raise PortError(f"no plugin action is registered as '{name}'")
        return plugins[name](arguments, context)


class _Deadline:
    """Shuts the sockets of one call once `seconds` have passed since it started."""

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            expired = self.expired
        if expired:
            _shut(sock)

    def check(self) -> None:
        if self.expired:
            raise TimeoutError("the deadline passed")

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)

    def __enter__(self) -> _Deadline:
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # closed already
        sock.shutdown(socket.SHUT_RDWR)


class _WatchedHTTP(http.client.HTTPConnection):
    """A connection whose socket the call's deadline can shut."""

    def __init__(self, *args: Any, deadline: _Deadline, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deadline = deadline

    def connect(self) -> None:
        super().connect()
        self.deadline.watch(self.sock)


class _WatchedHTTPS(http.client.HTTPSConnection):
    def __init__(self, *args: Any, deadline: _Deadline, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deadline = deadline

    def connect(self) -> None:
        super().connect()
        self.deadline.watch(self.sock)


class _Handler(urllib.request.HTTPHandler):
    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self.deadline = deadline

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(functools.partial(_WatchedHTTP, deadline=self.deadline), req)


class _TLSHandler(urllib.request.HTTPSHandler):
    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self.deadline = deadline

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        watched = functools.partial(_WatchedHTTPS, deadline=self.deadline)
        return self.do_open(watched, req, context=self._context)  # type: ignore[attr-defined]


def _body(raw: bytes, headers: Any) -> Any:
    text = raw.decode("utf-8", errors="replace")
    if "json" in str(headers.get("Content-Type", "")):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text

"""The services port for a live bot: real HTTP calls (standard library) and plugin actions.
An HTTP call's `timeout` is a deadline for the whole call, not per read: urllib's timeout
bounds each read only, so a server trickling a byte at a time kept a call going for as
long as it liked; a watchdog shuts the call's socket when its time is up, and looking up
the host's name counts against it too.

Calls reach public addresses only (engine/runtime/web_addresses.py: checked after name
resolution, connected to as checked), follow at most MAX_REDIRECTS redirects and only to
the same host, and use no proxy from the environment (a proxy would make the address the
bot checks the proxy's, not the one it asks for)."""

from __future__ import annotations

import contextlib
import functools
import http.client
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import IO, Any
from urllib.parse import urlencode, urlsplit

from engine.core.ports import HttpCall, HttpResponse, PortError, registered_plugins
from engine.runtime.web_addresses import AddressPolicy, AddressRefused, connect_checked

MAX_BODY = 1_000_000  # bytes of an answer read; more is cut off (`save_as` keeps far less)
MAX_REDIRECTS = 3  # same-host redirects followed in one call


class LiveServices:
    def __init__(self, config: Mapping[str, str], policy: AddressPolicy | None = None) -> None:
        self.config = config
        self.policy = policy or AddressPolicy()

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
        opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}),
            _Handler(deadline, self.policy),
            _TLSHandler(deadline, self.policy),
            _SameHostRedirects(),
        )
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
        self._ends = time.monotonic() + seconds
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

    def left(self) -> float:
        return max(0.0, self._ends - time.monotonic())

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
    """A connection to a checked address, whose socket the call's deadline can shut."""

    def __init__(
        self, *args: Any, deadline: _Deadline, policy: AddressPolicy, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.deadline = deadline
        self._create_connection = functools.partial(_checked, deadline, policy)

    def connect(self) -> None:
        super().connect()
        self.deadline.watch(self.sock)


class _WatchedHTTPS(_WatchedHTTP, http.client.HTTPSConnection):
    """As _WatchedHTTP; TLS is set up by http.client on the checked socket with the URL's
    host name (SNI and the certificate's check as without the address check), and the
    deadline watches the TLS socket."""


def _checked(
    deadline: _Deadline,
    policy: AddressPolicy,
    address: tuple[str, int],
    timeout: float | None = None,
    source_address: tuple[str, int] | None = None,
) -> socket.socket:
    host, port = address
    return connect_checked(host, port, policy, deadline.left(), source_address)


class _Handler(urllib.request.HTTPHandler):
    def __init__(self, deadline: _Deadline, policy: AddressPolicy) -> None:
        super().__init__()
        self.watched = functools.partial(_WatchedHTTP, deadline=deadline, policy=policy)

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(self.watched, req)


class _TLSHandler(urllib.request.HTTPSHandler):
    def __init__(self, deadline: _Deadline, policy: AddressPolicy) -> None:
        super().__init__()
        self.watched = functools.partial(_WatchedHTTPS, deadline=deadline, policy=policy)

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(self.watched, req, context=self._context)  # type: ignore[attr-defined]


class _SameHostRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only to the host (and port) the call was made to, http to https
    at most, MAX_REDIRECTS times: a web service cannot send the bot to another machine,
    whose answer a user would then see."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        hops = getattr(req, "redirects", 0) + 1
        target = _origin(newurl)
        if hops > MAX_REDIRECTS or target not in (_origin(req.full_url), _upgraded(req.full_url)):
            fp.close()
        if hops > MAX_REDIRECTS:
            raise AddressRefused(
                f"{req.full_url[:80]} redirected more than {MAX_REDIRECTS} times; not followed"
            )
        if target not in (_origin(req.full_url), _upgraded(req.full_url)):
            raise AddressRefused(
                f"{req.full_url[:80]} redirected ({code}) to another host, {newurl[:80]}; "
                "a call follows redirects on the same host only"
            )
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None:
            new.redirects = hops  # type: ignore[attr-defined]
        return new


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    try:
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:  # a port that is no number: no origin matches it
        port = -1
    return parts.scheme, (parts.hostname or "").rstrip("."), port


def _upgraded(url: str) -> tuple[str, str, int | None]:
    """The origin of http://host (port 80) moved to https (port 443)."""
    scheme, host, port = _origin(url)
    return ("https", host, 443) if (scheme, port) == ("http", 80) else (scheme, host, port)


def _body(raw: bytes, headers: Any) -> Any:
    text = raw.decode("utf-8", errors="replace")
    if "json" in str(headers.get("Content-Type", "")):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text

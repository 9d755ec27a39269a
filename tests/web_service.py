"""A fake web service on 127.0.0.1 for the HTTP actions' tests: it plays both the service a
scenario calls and the internal service an attacker is after."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from engine.runtime.services import LiveServices
from engine.runtime.web_addresses import AddressPolicy

SECRET = "internal: db password hunter2"


class _Web(BaseHTTPRequestHandler):
    """/echo… answers what it was asked for; /go?to=URL redirects there; /secret is the
    internal service; /big and /bigtext answer 70 KiB."""

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path == "/go":
            self.send_response(302)
            self.send_header("Location", parse_qs(parts.query)["to"][0])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if parts.path == "/loop":
            self.send_response(302)
            self.send_header("Location", "/loop")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if parts.path == "/secret":
            self.answer("text/plain", SECRET.encode())
        elif parts.path == "/big":
            self.answer("application/json", json.dumps(["x" * 70] * 1000).encode())
        elif parts.path == "/bigtext":
            self.answer("text/plain", b"y" * 70_000)
        else:
            query = parse_qs(parts.query, keep_blank_values=True)
            body = {"target": self.path, "path": parts.path, "query": query, "host": self.host()}
            self.answer("application/json", json.dumps(body).encode())

    def host(self) -> str:
        return str(self.server.server_address[0])

    def answer(self, kind: str, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def serve(host: str, port: int = 0) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, port), _Web)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


@pytest.fixture
def web() -> Iterator[str]:
    """host:port of a fake web service on 127.0.0.1."""
    server = serve("127.0.0.1")
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def allowing(raw: str) -> LiveServices:
    policy, problems = AddressPolicy.parse(raw)
    assert not problems
    return LiveServices({}, policy)

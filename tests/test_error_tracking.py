"""Issue 14, error tracking: with SENTRY_DSN (and the `.[sentry]` extra) each problem reaches
Sentry, checked against a fake Sentry endpoint on 127.0.0.1 that keeps the envelopes POSTed
to it; the event says what failed and carries no user, chat or message text."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from engine.ops.error_tracking import start_error_tracking
from engine.ops.problems import Problem, ProblemSink


class FakeSentry:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.paths: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                fake.paths.append(self.path)
                lines = body.split(b"\n")
                for header, payload in zip(lines[1::2], lines[2::2], strict=False):
                    if json.loads(header).get("type") == "event":
                        fake.events.append(json.loads(payload))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def dsn(self) -> str:
        return f"http://publickey@127.0.0.1:{self.server.server_address[1]}/42"


@pytest.fixture
def sentry() -> Iterator[FakeSentry]:
    fake = FakeSentry()
    yield fake
    import sentry_sdk

    sentry_sdk.init(dsn=None)  # off again for the other tests
    fake.server.shutdown()
    fake.server.server_close()


def test_a_problem_arrives_at_sentry_without_personal_data(sentry: FakeSentry) -> None:
    sink = ProblemSink()
    tracking = start_error_tracking(sentry.dsn, sink, "Shop@abc123")
    assert tracking is not None
    sink.report(
        Problem("plugin_failed", "plugin action 'price' failed", "menu", "text", 4242, 4242, 7)
    )
    tracking.flush()
    assert sentry.paths == ["/api/42/envelope/"]
    [event] = sentry.events
    assert event["message"] == "plugin_failed: plugin action 'price' failed"
    assert event["level"] == "warning"
    assert event["tags"] == {"kind": "plugin_failed", "state": "menu", "event": "text"}
    assert event["release"] == "Shop@abc123"
    assert "4242" not in json.dumps(event)  # no user or chat id
    assert "user" not in event and "server_name" not in event and "breadcrumbs" not in event


def test_a_fatal_error_is_sent_as_fatal(sentry: FakeSentry) -> None:
    sink = ProblemSink()
    tracking = start_error_tracking(sentry.dsn, sink, "Shop@abc123")
    assert tracking is not None
    sink.report(Problem("fatal", "the poller found the database gone"))
    tracking.flush()
    [event] = sentry.events
    assert (event["level"], event["tags"]["kind"]) == ("fatal", "fatal")

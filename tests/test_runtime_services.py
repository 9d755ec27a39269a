"""The live bot's HTTP calls: `timeout` is a deadline for the whole call (issue 12, item 7:
a server trickling bytes for 20 s beat `timeout: 3s`, because the timeout was per read)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from engine.core.ports import HttpCall, PortError
from engine.runtime.services import LiveServices
from engine.runtime.web_addresses import AddressPolicy

LOCAL = AddressPolicy.parse("127.0.0.1")[0]  # the fake server is on this machine


@pytest.fixture
def trickling() -> Iterator[tuple[str, threading.Event]]:
    """A web server that sends its headers at once, then its body a byte every 0.2 s."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                return
            with connection:
                connection.recv(65536)
                body = b'{"ok": true}' + b" " * 38
                head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                try:
                    connection.sendall(head.encode())
                    for byte in body:
                        if done.wait(0.2 if connection.fileno() >= 0 else 0):
                            return
                        connection.sendall(bytes([byte]))
                except OSError:
                    continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/slow", done
    done.set()
    server.close()
    thread.join(5)


def test_a_server_trickling_its_answer_does_not_outlast_the_timeout(
    trickling: tuple[str, threading.Event],
) -> None:
    url, _ = trickling
    with pytest.raises(PortError, match=r"got no whole answer within 1s"):
        LiveServices({}, LOCAL).http(HttpCall("GET", url, timeout=1.0))


def test_a_whole_answer_within_the_timeout_is_read(
    trickling: tuple[str, threading.Event],
) -> None:
    url, _ = trickling  # 50 bytes, a byte every 0.2 s: about 10 s
    answer = LiveServices({}, LOCAL).http(HttpCall("GET", url, timeout=30.0))
    assert answer.status == 200 and answer.body == {"ok": True}

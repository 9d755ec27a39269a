"""HTTP actions cannot reach the bot's own network (issue 13, HTTP actions): no redirects to
another host, no loopback, private, link-local or metadata addresses (however they are
written) unless the operator allows them in BOT_HTTP_ALLOW, the connection made to the
address that was checked, and a deadline that holds while a name is looked up."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import pytest
from web_service import allowing, serve

from engine.core.ports import HttpCall, PortError
from engine.runtime.config import SettingsError, read_settings
from engine.runtime.services import LiveServices

# -- redirects --------------------------------------------------------------------------


def test_a_redirect_to_another_host_is_a_failed_call(web: str) -> None:
    port = web.split(":")[1]
    services = allowing("127.0.0.1, localhost")  # both reachable: only the redirect is wrong
    call = HttpCall("GET", f"http://{web}/go?to=http://localhost:{port}/secret", timeout=5)
    with pytest.raises(PortError, match="redirected \\(302\\) to another host"):
        services.http(call)


def test_a_same_host_redirect_is_followed(web: str) -> None:
    answer = allowing("127.0.0.1").http(HttpCall("GET", f"http://{web}/go?to=/echo/here"))
    assert answer.status == 200 and answer.body["path"] == "/echo/here"


def test_a_redirect_loop_stops_after_three_hops(web: str) -> None:
    with pytest.raises(PortError, match="redirected more than 3 times"):
        allowing("127.0.0.1").http(HttpCall("GET", f"http://{web}/loop", timeout=5))


# -- addresses --------------------------------------------------------------------------

LOOPBACK_SPELLINGS = [
    "127.0.0.1",
    "0x7f.1",
    "2130706433",
    "017700000001",
    "[::ffff:127.0.0.1]",
    "localhost",
    "127.1",
]


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
def test_the_machine_itself_is_refused_however_it_is_written(web: str, host: str) -> None:
    port = web.split(":")[1]
    with pytest.raises(PortError, match="the bot calls only public addresses") as refused:
        LiveServices({}).http(HttpCall("GET", f"http://{host}:{port}/secret", timeout=3))
    assert "BOT_HTTP_ALLOW=" in str(refused.value)


@pytest.mark.parametrize(
    "host",
    [
        "10.0.0.1",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # the cloud's metadata service
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "[::1]",
        "[fc00::1]",
        "[fe80::1]",
        "[ff02::1]",
        "[::]",
        "[64:ff9b::a9fe:a9fe]",  # NAT64 of 169.254.169.254
        "[2002:7f00:1::]",  # 6to4 of 127.0.0.1
        "[::ffff:a9fe:a9fe]",
    ],
)
def test_private_link_local_and_reserved_addresses_are_refused_before_connecting(
    host: str,
) -> None:
    started = time.monotonic()
    with pytest.raises(PortError, match="the bot calls only public addresses"):
        LiveServices({}).http(HttpCall("GET", f"http://{host}/latest/meta-data/", timeout=3))
    assert time.monotonic() - started < 1  # refused, not a connection tried and timed out


def test_the_operator_allows_an_internal_service_by_address_network_or_name(web: str) -> None:
    port = web.split(":")[1]
    for allowed, host in (("127.0.0.1", "127.0.0.1"), ("127.0.0.0/8", "0x7f.1")):
        answer = allowing(allowed).http(HttpCall("GET", f"http://{host}:{port}/echo"))
        assert answer.status == 200
    answer = allowing("localhost").http(HttpCall("GET", f"http://localhost:{port}/echo"))
    assert answer.status == 200
    with pytest.raises(PortError, match="only public addresses"):  # the name, not its address
        allowing("localhost").http(HttpCall("GET", f"http://127.0.0.1:{port}/echo"))


def test_bot_http_allow_is_read_and_checked_at_start(tmp_path: Path) -> None:
    scenario = tmp_path / "bot.yaml"
    scenario.write_text("bot: {name: T, start: a}\nstates: {a: {say: Hi}}\n")
    env = {"BOT_SCENARIO": str(scenario), "BOT_PLUGINS": ""}
    settings = read_settings({**env, "BOT_HTTP_ALLOW": "10.0.0.0/8, orders.internal"}, False)
    assert settings.http_allow.hosts == {"orders.internal"}
    with pytest.raises(SettingsError, match="BOT_HTTP_ALLOW: 'http://x/' is not an address"):
        read_settings({**env, "BOT_HTTP_ALLOW": "http://x/"}, False)


def test_the_connection_goes_to_the_address_that_was_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DNS rebinding: the name answers an allowed address, then the internal one."""
    inside = serve("127.0.0.1")
    port = inside.server_address[1]
    try:
        allowed = serve("127.0.0.2", port)
    except OSError:
        inside.server_close()
        pytest.skip("127.0.0.2 is not usable here")
    real = socket.getaddrinfo
    answers = iter(["127.0.0.2"])

    def rebinding(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "rebind.test":
            host = next(answers, "127.0.0.1")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    try:
        answer = allowing("127.0.0.2").http(HttpCall("GET", f"http://rebind.test:{port}/echo"))
        assert answer.body["host"] == "127.0.0.2"
    finally:
        for server in (inside, allowed):
            server.shutdown()
            server.server_close()


def test_a_slow_name_lookup_does_not_outlast_the_timeout(
    web: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = socket.getaddrinfo

    def slow(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "slow.test":
            time.sleep(3)
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", slow)
    port = web.split(":")[1]
    started = time.monotonic()
    with pytest.raises(PortError):
        allowing("slow.test").http(HttpCall("GET", f"http://slow.test:{port}/echo", timeout=1))
    assert time.monotonic() - started < 2

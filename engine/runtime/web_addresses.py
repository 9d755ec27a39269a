"""Which addresses a scenario's HTTP actions may reach, checked after name resolution.

A scenario's `http:` URL may carry a user's value or a web service's redirect; without a
check, the bot would call the machine's own services (127.0.0.1, the cloud's metadata
service at 169.254.169.254, the private network) and show their answers to a user. So
every address a call would connect to must be public, unless the operator lists it in
BOT_HTTP_ALLOW. The check runs on the addresses the name resolved to, and the connection
is made to exactly the checked address (a name answering differently a moment later, DNS
rebinding, cannot swap it). Numeric spellings (0x7f.1, 2130706433, [::ffff:127.0.0.1])
resolve to the address they stand for and are checked as that."""

from __future__ import annotations

import ipaddress
import socket
import threading
from dataclasses import dataclass
from typing import Any

from engine.core.ports import PortError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # the well-known prefix: an IPv4 inside


class AddressRefused(PortError):
    """A call would reach an address the bot does not call (or a redirect elsewhere)."""


@dataclass(frozen=True)
class AddressPolicy:
    """What BOT_HTTP_ALLOW lets through besides public addresses: networks (any address
    in them) and host names (whatever they resolve to)."""

    networks: tuple[Network, ...] = ()
    hosts: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, raw: str) -> tuple[AddressPolicy, list[str]]:
        """The policy of a BOT_HTTP_ALLOW value, and a sentence per entry that is neither
        an address, a network nor a host name."""
        networks: list[Network] = []
        hosts: set[str] = set()
        problems: list[str] = []
        for entry in (part.strip() for part in raw.replace(";", ",").split(",")):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
                continue
            except ValueError:
                pass
            name = entry.lower().rstrip(".")
            if name and all(part and _is_label(part) for part in name.split(".")):
                hosts.add(name)
            else:
                problems.append(
                    f"BOT_HTTP_ALLOW: {entry!r} is not an address, a network or a host name; "
                    "write e.g. BOT_HTTP_ALLOW=10.0.0.0/8,127.0.0.1,orders.internal"
                )
        return cls(tuple(networks), frozenset(hosts)), problems

    def refusal(self, host: str, address: Address) -> str | None:
        """Why a call to `host` may not connect to `address`; None when it may."""
        if host.lower().rstrip(".") in self.hosts:
            return None
        inner = embedded_ipv4(address)
        for candidate in (address, inner):
            if candidate is not None and any(candidate in n for n in self.networks):
                return None
        kind = not_public(inner if inner is not None else address)
        if kind is None:
            return None
        named = f"{host} is {address}" if host.strip("[]") != str(address) else str(address)
        return (
            f"{named}, {kind}: the bot calls only public addresses "
            f"(an operator may allow it with BOT_HTTP_ALLOW={address})"
        )


def _is_label(part: str) -> bool:
    return len(part) <= 63 and part.replace("-", "").replace("_", "").isalnum()


def embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (::ffff:a.b.c.d, NAT64, 6to4), if any."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def not_public(address: Address) -> str | None:
    """What kind of non-public address this is, in words; None for a public one."""
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_loopback:
        return "a loopback address (this machine)"
    if address.is_link_local:
        return "a link-local address (the cloud's metadata service lives there)"
    if address.is_multicast:
        return "a multicast address"
    if address.is_private:
        return "a private address"
    if address.is_reserved or not address.is_global:
        return "a reserved or shared address (not on the public internet)"
    return None


def resolve(host: str, port: int, seconds: float) -> list[tuple[Any, ...]]:
    """getaddrinfo with a deadline: a resolver that hangs cannot hold the call past its
    timeout (the lookup goes on in a thread of its own, which ends when the resolver
    gives up)."""
    found: list[list[tuple[Any, ...]]] = []
    failed: list[BaseException] = []

    def look_up() -> None:
        try:
            found.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except BaseException as exc:  # handed to the caller below
            failed.append(exc)

    lookup = threading.Thread(target=look_up, name="resolve", daemon=True)
    lookup.start()
    lookup.join(max(0.0, seconds))
    if failed:
        raise failed[0]
    if not found:
        raise TimeoutError(f"looking up {host} took longer than {seconds:g}s")
    return found[0]


def connect_checked(
    host: str,
    port: int,
    policy: AddressPolicy,
    seconds: float,
    source_address: tuple[str, int] | None = None,
) -> socket.socket:
    """A connection to the first address `host` resolves to that the policy allows;
    AddressRefused when none is."""
    refusals: list[str] = []
    allowed: list[tuple[Any, ...]] = []
    for family, kind, proto, _, sockaddr in resolve(host, port, seconds):
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        reason = policy.refusal(host, address)
        if reason is None:
            allowed.append((family, kind, proto, sockaddr))
        else:
            refusals.append(reason)
    if not allowed:
        raise AddressRefused(refusals[0] if refusals else f"{host} has no address")
    error: OSError | None = None
    for family, kind, proto, sockaddr in allowed:
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(max(seconds, 0.01))  # 0 would make it non-blocking
            if source_address is not None:
                sock.bind(source_address)
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            sock.close()
            error = exc
    assert error is not None
    raise error

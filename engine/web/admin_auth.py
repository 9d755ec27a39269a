"""Who may use the admin panel: the operator's password, kept only as a scrypt hash in the
settings (BOT_ADMIN_PASSWORD_HASH, made by `--hash-password`); a signed session cookie; a CSRF
token per session; a limit on failed logins per address. No state beyond the limiter: every
process serving the panel with the same hash accepts the same cookie."""

from __future__ import annotations

import base64
import getpass
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

PREFIX = "scrypt"
# scrypt's cost: 2**14 x 8 takes ~50 ms and 16 MB here, a guess costs an attacker the same
_N, _R, _P = 2**14, 8, 1
SESSION_SECONDS = 12 * 3600


class PasswordHashError(ValueError):
    """BOT_ADMIN_PASSWORD_HASH is not a hash `--hash-password` makes."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, salt: bytes | None = None) -> str:
    """`scrypt$N$r$p$salt$hash`: what goes into BOT_ADMIN_PASSWORD_HASH."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"{PREFIX}${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


@dataclass(frozen=True)
class PasswordHash:
    n: int
    r: int
    p: int
    salt: bytes
    digest: bytes = field(repr=False)

    @classmethod
    def parse(cls, text: str) -> PasswordHash:
        parts = text.strip().split("$")
        try:
            if len(parts) != 6 or parts[0] != PREFIX:
                raise ValueError(text)
            n, r, p = (int(x) for x in parts[1:4])
            salt, digest = _unb64(parts[4]), _unb64(parts[5])
        except ValueError:
            raise PasswordHashError(
                "BOT_ADMIN_PASSWORD_HASH is not a password hash: make one with "
                "`python3 run.py --hash-password` and copy the line it prints"
            ) from None
        if n < 2 or n & (n - 1) or not (1 <= r <= 64 and 1 <= p <= 16) or len(digest) != 32:
            raise PasswordHashError(
                "BOT_ADMIN_PASSWORD_HASH has impossible scrypt parameters: make it again "
                "with `python3 run.py --hash-password`"
            )
        return cls(n, r, p, salt, digest)

    def matches(self, password: str) -> bool:
        tried = hashlib.scrypt(
            password.encode(),
            salt=self.salt,
            n=self.n,
            r=self.r,
            p=self.p,
            dklen=32,
            maxmem=256 * self.n * self.r + 2**20,
        )
        return hmac.compare_digest(tried, self.digest)

    def signing_key(self) -> bytes:
        """The key session cookies are signed with: from the hash, so changing the password
        logs every session out, and every process with the same setting agrees."""
        return hmac.new(self.digest, b"admin-panel-session", hashlib.sha256).digest()


@dataclass(frozen=True)
class AdminSession:
    nonce: str
    expires: int

    def csrf_token(self, key: bytes) -> str:
        """What every form of this session sends back: a page of another site cannot know
        it, so it cannot make the operator's browser act."""
        return _b64(hmac.new(key, f"csrf:{self.nonce}".encode(), hashlib.sha256).digest())


class SessionCookies:
    """`nonce.expires.signature`: the panel keeps no session table."""

    def __init__(self, key: bytes, clock: Callable[[], float] = time.time) -> None:
        self.key, self.clock = key, clock

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self.key, body.encode(), hashlib.sha256).digest())

    def make(self) -> tuple[str, AdminSession]:
        session = AdminSession(secrets.token_urlsafe(18), int(self.clock()) + SESSION_SECONDS)
        body = f"{session.nonce}.{session.expires}"
        return f"{body}.{self._sign(body)}", session

    def read(self, cookie: str | None) -> AdminSession | None:
        if not cookie or cookie.count(".") != 2:
            return None
        nonce, expires, signature = cookie.split(".")
        if not hmac.compare_digest(signature, self._sign(f"{nonce}.{expires}")):
            return None
        if not expires.isdigit() or int(expires) < self.clock():
            return None
        return AdminSession(nonce, int(expires))

    def csrf_ok(self, session: AdminSession, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(token, session.csrf_token(self.key))


class LoginLimiter:
    """At most `attempts` failed logins per address in `window` seconds; then that address
    is refused until the oldest failure leaves the window (a right password too: a guesser
    must not learn it was right)."""

    def __init__(
        self, attempts: int = 5, window: float = 600.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.attempts, self.window, self.clock = attempts, window, clock
        self._failures: dict[str, list[float]] = {}

    def _recent(self, address: str) -> list[float]:
        now = self.clock()
        recent = [t for t in self._failures.get(address, []) if now - t < self.window]
        if recent:
            self._failures[address] = recent
        else:
            self._failures.pop(address, None)
        return recent

    def wait_seconds(self, address: str) -> float:
        """0 if `address` may try now, else how long until it may."""
        recent = self._recent(address)
        if len(recent) < self.attempts:
            return 0.0
        return max(0.0, recent[0] + self.window - self.clock())

    def failed(self, address: str) -> None:
        self._recent(address)
        self._failures.setdefault(address, []).append(self.clock())
        if len(self._failures) > 10_000:  # addresses that never come back are not kept forever
            self._failures.pop(next(iter(self._failures)))

    def succeeded(self, address: str) -> None:
        self._failures.pop(address, None)


MIN_LENGTH = 10


def run_hash_password(stdin: TextIO, stdout: TextIO, stderr: TextIO) -> int:
    """--hash-password: the password typed twice (not echoed) on a terminal, or one line
    from a pipe; prints the setting line. The password itself is never printed or stored."""
    if stdin.isatty():
        password = getpass.getpass("admin panel password: ", stream=stderr)
        if getpass.getpass("again: ", stream=stderr) != password:
            stderr.write("the two passwords differ; nothing was made\n")
            return 1
    else:
        password = stdin.readline().rstrip("\r\n")
    if len(password) < MIN_LENGTH:
        stderr.write(
            f"the password is too short: use at least {MIN_LENGTH} characters "
            "(a few words in a row are easy to remember and hard to guess)\n"
        )
        return 1
    stdout.write(f"BOT_ADMIN_PASSWORD_HASH='{hash_password(password)}'\n")
    return 0

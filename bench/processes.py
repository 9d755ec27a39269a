"""`python run.py` as child processes that the benches start, kill and restart, against the
fake Bot API server; and a PostgreSQL database of a bench's own, dropped afterwards."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
# Telegram's sending limits and the flood control of incoming updates, raised: the benches
# measure what happens to messages, not the limits
UNLIMITED = {
    name: "1000000"
    for name in (
        "BOT_RATE_GLOBAL",
        "BOT_RATE_PER_CHAT",
        "BOT_RATE_PER_GROUP_MINUTE",
        "BOT_USER_RATE",
        "BOT_USER_BURST",
    )
}
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "")
WEBHOOK_PATH = "/telegram/hook"
WEBHOOK_SECRET = "bench-webhook-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def webhook_env(port: int) -> dict[str, str]:
    return {
        "BOT_MODE": "webhook",
        "WEBHOOK_URL": f"https://bot.example.com{WEBHOOK_PATH}",
        "WEBHOOK_SECRET": WEBHOOK_SECRET,
        "WEBHOOK_HOST": "127.0.0.1",
        "WEBHOOK_PORT": str(port),
    }


def post_update(port: int, body: bytes, timeout: float = 10.0) -> int:
    """POST an update as Telegram does to a webhook; the status, or 0 when no answer came
    (refused, reset by a killed process, timed out)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{WEBHOOK_PATH}", data=body, method="POST"
    )
    request.add_header("Content-Type", "application/json")
    request.add_header("X-Telegram-Bot-Api-Secret-Token", WEBHOOK_SECRET)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            status: int = answer.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, urllib.error.URLError):
        return 0


@contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """A new database on the server of `admin_url` (a user who may create databases), for
    one run, dropped afterwards. Only a server on this machine: the bench creates and drops."""
    import psycopg2

    parsed = urlparse(admin_url)
    if parsed.hostname not in LOCAL_HOSTS and not (parsed.hostname or "").startswith("/"):
        raise SystemExit(f"the PostgreSQL server must be on this machine, not {parsed.hostname}")
    name = f"bench_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(admin_url, connect_timeout=5)
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    try:
        yield parsed._replace(path=f"/{name}").geturl()
    finally:
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


class BotProcess:
    """One slot of `python run.py`: `start()` after `kill()` is a restart; each run writes
    its own log (name-1.log, name-2.log, ...) in `logs`."""

    def __init__(self, name: str, env: dict[str, str], logs: Path) -> None:
        self.name, self.env, self.logs = name, env, logs
        self.runs = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = logs / f"{name}-0.log"

    def start(self) -> BotProcess:
        self.runs += 1
        self.log_path = self.logs / f"{self.name}-{self.runs}.log"
        env = {**os.environ, "LOG_LEVEL": "INFO", **self.env}
        env.pop("PYTHONWARNINGS", None)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(ROOT / "run.py")], env=env, stdout=log, stderr=log, cwd=ROOT
            )
        return self

    @property
    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def holds_lease(self) -> bool:
        """As far as its log tells: connected, and either never waited or took over."""
        log = self.log
        if not self.alive or "connected as" not in log:
            return False
        return "another process of this bot" not in log or "took over" in log

    def kill(self) -> None:
        if self.process is not None and self.alive:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self, timeout: float = 30) -> int | None:
        """SIGTERM, and the exit code; a process that does not stop in time is killed."""
        if self.process is None:
            return None
        if self.alive:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
            return None

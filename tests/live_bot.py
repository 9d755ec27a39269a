"""`python run.py` as a subprocess against the fake Bot API server, and a user talking to it:
what the end-to-end tests share."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from engine.testing.fake_telegram import (
    Call,
    FakeTelegram,
    contact_update,
    press_update,
    text_update,
)

ROOT = Path(__file__).resolve().parent.parent
KEY = Fernet.generate_key().decode()


def post_webhook(url: str, body: bytes, secret: str | None) -> int:
    """POST a body as Telegram delivers a webhook update; the HTTP status it was answered."""
    request = urllib.request.Request(url, data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    if secret is not None:
        request.add_header("X-Telegram-Bot-Api-Secret-Token", secret)
    try:
        with urllib.request.urlopen(request, timeout=20) as answer:
            status: int = answer.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class LiveBot:
    """One `python run.py` process; `start()` again after `kill()` is a restart."""

    fake: FakeTelegram
    database: str
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> LiveBot:
        env = {
            **os.environ,
            "TELEGRAM_BOT_TOKEN": self.fake.token,
            "TELEGRAM_API_URL": self.fake.url,
            "DATABASE_URL": self.database,
            "BOT_SCENARIO": str(ROOT / "scenarios" / "demo.yaml"),
            "BOT_ENCRYPTION_KEYS": KEY,
            "BOT_RATE_PER_CHAT": "200",
            "BOT_RATE_GLOBAL": "1000",
            "BOT_POLL_TIMEOUT": "1",
            "LOG_LEVEL": "INFO",
            **self.env,
        }
        env.pop("PYTHONWARNINGS", None)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "run.py")], env=env, stdout=log, stderr=log, cwd=ROOT
        )
        log.close()
        return self

    def ready(self, timeout: float = 30) -> LiveBot:
        """Wait until the bot receives updates (polls, or has set its webhook)."""
        before = len(self.fake.calls)
        method = "setWebhook" if self.env.get("BOT_MODE") == "webhook" else "getUpdates"
        if not self.fake.wait_for(
            lambda: any(c.method == method for c in self.fake.calls[before:]) or not self.alive,
            timeout,
        ):
            raise AssertionError(f"the bot did not start:\n{self.log}")
        assert self.alive, f"the bot ended:\n{self.log}"
        return self

    @property
    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM: the bot finishes what is in flight and exits."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(f"the bot did not stop on SIGTERM:\n{self.log}") from None

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class Person:
    """A Telegram user talking to the bot through the fake server."""

    fake: FakeTelegram
    user_id: int
    first_name: str = "Ann"
    language: str = "en"
    seen: int = 0  # how many of the bot's messages to this chat were looked at
    # how an update reaches the bot: queued for getUpdates (default), or POSTed by webhook
    deliver: Callable[[dict[str, Any]], int] | None = None

    def _push(self, update: dict[str, Any]) -> int:
        if self.deliver is None:
            return self.fake.push(update)[0]
        update.setdefault("update_id", self.fake.next_update_id())
        return self.deliver(update)

    def _replies(self) -> list[Call]:
        return [
            c
            for c in self.fake.calls_of(
                "sendMessage", "editMessageText", "sendPhoto", "sendDocument", "sendLocation"
            )
            if str(c.params.get("chat_id")) == str(self.user_id)
        ]

    def send(self, text: str) -> int:
        return self._push(text_update(self.user_id, text, self.first_name, self.language))

    def share_contact(self, phone: str) -> int:
        return self._push(contact_update(self.user_id, phone, self.first_name))

    def press(self, button: str) -> int:
        """Press the button with this text on the newest message that has it."""
        for call in reversed(self._replies()):
            markup = json.loads(str(call.params.get("reply_markup") or "{}"))
            for row in markup.get("inline_keyboard", []):
                for key in row:
                    if key["text"] == button:
                        message_id = self._message_id(call)
                        update = press_update(
                            self.user_id, key["callback_data"], message_id, self.first_name
                        )
                        return self._push(update)
        raise AssertionError(f"no message shows the button {button!r}: {self.texts()}")

    def _message_id(self, call: Call) -> int:
        return int(call.answer["message_id"])

    def texts(self) -> list[str]:
        return [str(c.params.get("text", c.params.get("caption", ""))) for c in self._replies()]

    def expect(self, fragment: str, timeout: float = 20) -> list[str]:
        """Wait for a new reply containing `fragment`; returns the new replies up to it."""

        def arrived() -> bool:
            return any(fragment in text for text in self.texts()[self.seen :])

        if not self.fake.wait_for(arrived, timeout):
            raise AssertionError(
                f"no reply containing {fragment!r}; new replies: {self.texts()[self.seen :]}"
            )
        texts = self.texts()
        index = next(i for i in range(self.seen, len(texts)) if fragment in texts[i])
        new = texts[self.seen : index + 1]
        self.seen = index + 1
        return new


def order_up_to_the_address(person: Person) -> None:
    """The demo's order of two large pizzas, up to its question for the address."""
    person.send("/start")
    person.expect("What would you like?")
    person.press("🍕 Order a pizza")
    person.expect("Which size would you like?")
    person.send("large")
    person.expect("How many Large pizzas?")
    person.send("2")
    person.expect("Anything extra on your Large pizza?")
    person.press("➡️ Continue")
    person.expect("Where should we deliver?")


def settle(fake: FakeTelegram, quiet: float = 0.5, timeout: float = 20) -> None:
    """Wait until the bot has called nothing for `quiet` seconds."""
    deadline = time.monotonic() + timeout

    def count() -> int:
        return sum(1 for c in fake.calls if c.method != "getUpdates")

    seen, last = count(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        if count() != seen:
            seen, last = count(), time.monotonic()
        elif time.monotonic() - last >= quiet:
            return

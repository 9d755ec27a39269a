"""A sending process for the sender's crash test: it drains the outbox of the database at
plan["url"] to the Bot API and dies by SIGKILL right after its plan["kill_after"]-th Bot API
call returned, before anything else of the round is done. The Bot API is the server at
plan["api"], or with plan["sent_log"] one answered inside this process (at once, as a local
Bot API server would), which appends the text of each message it takes to that file.

python tests/sender_crash_child.py PLAN.json: {"url", "api", "token", "parallel",
"kill_after", "sent_log"}"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from collections.abc import Mapping
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from telebot import apihelper

from engine.runtime.sender import Limits, Sender
from engine.store.database import open_database
from engine.store.queues import Outbox
from engine.telegram.bot_api import BotApi


class DyingApi(BotApi):
    """The Bot API, and a kill once the named call has returned."""

    def __init__(self, base_url: str, token: str, kill_after: int) -> None:
        super().__init__(base_url, token, read_timeout=5)
        self.kill_after = kill_after
        self.calls = 0
        self.lock = threading.Lock()

    def call(
        self, method: str, params: Mapping[str, Any], files: Mapping[str, Any] | None = None
    ) -> Any:
        result = super().call(method, params, files)
        with self.lock:
            self.calls += 1
            if self.calls == self.kill_after:
                os.kill(os.getpid(), signal.SIGKILL)
        return result


class InProcessAnswer:
    """What requests hands telebot: a sent message, as JSON text."""

    status_code = 200

    def __init__(self, result: object) -> None:
        self.text = json.dumps({"ok": True, "result": result})

    def json(self) -> object:
        return json.loads(self.text)


def answer_in_process(sent_log: str) -> None:
    """Telegram inside this process: each message's text written to `sent_log` as it is
    taken (a write the kernel keeps when the process is killed)."""
    log = os.open(sent_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    numbers = iter(range(1, 10**9))

    def bot_api(http_method: str, url: str, params: Any = None, **_: Any) -> InProcessAnswer:
        os.write(log, f"{params['text']}\n".encode())
        chat = {"id": int(params["chat_id"]), "type": "private"}
        return InProcessAnswer({"message_id": next(numbers), "date": 0, "chat": chat})

    apihelper.CUSTOM_REQUEST_SENDER = bot_api


def unlimited() -> Limits:
    """Telegram's limits out of the way: a round is as large as the sender takes."""
    return Limits(per_second=1e9, chat_interval=0, group_interval=0, chat_burst=1000)


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as handle:
        plan = json.load(handle)
    if plan.get("sent_log"):
        answer_in_process(plan["sent_log"])
    api = DyingApi(plan["api"], plan["token"], plan["kill_after"])
    db = open_database(plan["url"])
    sender = Sender(Outbox(db), api, unlimited(), parallel=plan["parallel"])
    while sender.run_once():
        pass


if __name__ == "__main__":
    main()

"""What arrives at the webhook from someone who is not Telegram, or from a group with other
bots: a secret header that is not UTF-8 is refused 403, update ids Telegram cannot have sent
are set aside (400, never a 500 that stops the bot), commands addressed to another bot are
not ours, and a 65,536-character answer to an email question is refused by its length
first. On a real SQLite file, through the real endpoint."""

from __future__ import annotations

import asyncio
import datetime as dt
import http.client
import json
import threading
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import peewee
import pytest
from live_bot import free_port, post_webhook

from engine.core.answers import check_answer
from engine.core.events import Chat, TextMessage, User
from engine.core.ports import OfflineServices
from engine.runtime.processing import Processor
from engine.runtime.scenario_holder import ScenarioHolder
from engine.runtime.webhook import make_app
from engine.scenario import validate_file
from engine.scenario.compiler import compile_scenario
from engine.store.models import InboxRow, OutboxRow
from engine.store.pipeline import Store
from engine.testing.fake_telegram import text_update

SECRET = "intake-secret"
USERNAME = "shop_bot"
SCENARIO = """\
bot: {name: Shop, start: mail}
vars: {mail: null}
commands:
  start: {description: Start over, goto: mail}
states:
  mail:
    say: Your email?
    ask: {var: mail, type: email, retry: That is not an email address.}
    goto: thanks
  thanks:
    say: "Thanks, {{ mail }}."
    end: true
"""


@pytest.fixture
def endpoint(sqlite_db: peewee.Database, tmp_path: Path) -> Iterator[str]:
    from aiohttp import web

    scenario = tmp_path / "shop.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    store = Store(sqlite_db, "shop")
    processor = Processor(store, ScenarioHolder(str(scenario)), OfflineServices())
    processor.username = USERNAME  # what getMe said
    port = free_port()
    loop = asyncio.new_event_loop()
    loop.set_default_executor(ThreadPoolExecutor(1))
    runner = web.AppRunner(make_app(processor, SECRET, "/hook"))
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(10)
    yield f"http://127.0.0.1:{port}/hook"
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.run_until_complete(loop.shutdown_default_executor())
    loop.close()
    processor.close()


_next_id = iter(range(1000, 10**6))


def post(url: str, update: dict[str, Any], update_id: Any = None, wait: float = 0) -> int:
    """The status the endpoint answered; `wait` > 0: within that many seconds, as a client
    that gives up (the old email check kept this request for 19.5 s)."""
    body = json.dumps({"update_id": next(_next_id) if update_id is None else update_id, **update})
    if not wait:
        return post_webhook(url, body.encode(), SECRET)
    request = urllib.request.Request(url, data=body.encode(), method="POST")
    request.add_header("X-Telegram-Bot-Api-Secret-Token", SECRET)
    with urllib.request.urlopen(request, timeout=wait) as answer:
        return int(answer.status)


def sent_texts(chat_id: int) -> list[str]:
    rows = OutboxRow.select().where(OutboxRow.chat_id == chat_id).order_by(OutboxRow.id)
    return [json.loads(row.payload).get("text", "") for row in rows]


def group_command(user_id: int, group_id: int, text: str) -> dict[str, Any]:
    update = text_update(user_id, text)
    update["message"]["chat"] = {"id": group_id, "type": "group", "title": "Friends"}
    return update


@pytest.mark.parametrize("header", [b"caf\xe9", b"\xff\xfe", "секрет".encode()])
def test_a_secret_header_that_is_not_ascii_is_refused_403(endpoint: str, header: bytes) -> None:
    """A byte outside ASCII in the header made `.encode()` raise: a 500 with a traceback."""
    address = urlparse(endpoint)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=10)
    body = json.dumps({"update_id": 5, **text_update(1, "hi")}).encode()
    connection.putrequest("POST", address.path)
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(len(body)))
    connection.putheader("X-Telegram-Bot-Api-Secret-Token", header)
    connection.endheaders(body)
    answer = connection.getresponse()
    assert answer.status == 403 and b"Traceback" not in answer.read()
    connection.close()
    assert InboxRow.select().count() == 0


@pytest.mark.parametrize("update_id", [2**63, 2**64 + 5, True, -7])
def test_update_ids_telegram_cannot_send_are_set_aside(endpoint: str, update_id: Any) -> None:
    """2^63 overflowed the inbox's BIGINT (a 500, which stopped the bot); `true` and negative
    ids were taken (negative ids are the bot's own timers in the inbox)."""
    assert post(endpoint, text_update(41, "/start"), update_id) == 400
    assert InboxRow.select().count() == 0 and sent_texts(41) == []
    assert post(endpoint, text_update(41, "/start")) == 200  # the endpoint goes on
    assert sent_texts(41) == ["Your email?"]


def test_commands_for_another_bot_in_a_group_are_not_ours(endpoint: str) -> None:
    for text in ("/start@OtherBot", "/forgetme@OtherBot", "/start@OtherBot hello"):
        assert post(endpoint, group_command(42, -100, text)) == 200
    assert sent_texts(-100) == []
    ignored = [row.error for row in InboxRow.select().order_by(InboxRow.id)]
    assert ignored == ["ignored: a command for @OtherBot"] * 3
    assert post(endpoint, group_command(42, -100, f"/start@{USERNAME.upper()}")) == 200
    assert post(endpoint, group_command(42, -100, "/start")) == 200
    assert sent_texts(-100) == ["Your email?", "Your email?"]


def test_a_65536_character_answer_is_refused_by_its_length_first(endpoint: str) -> None:
    """The email check was quadratic and ran before the length cap: 19.5 s for this text."""
    assert post(endpoint, text_update(43, "/start")) == 200
    hostile = "a@" + "a." * 32_766 + " x"  # 65,536 characters: 19.5 s for the old pattern
    assert len(hostile) == 65_536
    assert post(endpoint, text_update(43, hostile), wait=5) == 200
    assert post(endpoint, text_update(43, "ann@example.com")) == 200
    assert sent_texts(43) == [
        "Your email?",
        "That is not an email address.",
        "Thanks, ann@example.com.",
    ]


def _email_answer(tmp_path: Path, text: str) -> object:
    path = tmp_path / "shop.yaml"
    path.write_text(SCENARIO, encoding="utf-8")
    report = validate_file(str(path))
    assert report.scenario is not None
    ask = compile_scenario(report.scenario).states["mail"].ask
    assert ask is not None
    event = TextMessage(user=User(1, "Ann"), chat=Chat(1), seed=1, text=text)
    return check_answer(ask, event, dt.date(2026, 1, 1)).valid


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("ann@example.com", True),
        ("  ann.lee+bot@mail.example.org ", True),
        ("ann@example", False),
        ("ann@@example.com", False),
        ("ann@exa mple.com", False),
        ("@example.com", False),
        ("ann@.com", False),
        ("ann@example.", False),
        ("a" * 250 + "@b.co", False),  # 255 characters: longer than an address may be
        ("a@" + "a." * 32_766 + "a", False),
    ],
)
def test_the_email_check_accepts_what_it_did_and_caps_first(
    tmp_path: Path, text: str, valid: bool
) -> None:
    assert _email_answer(tmp_path, text) is valid

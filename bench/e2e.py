"""Updates per second and p50/p99 latency through the whole pipeline: the engine running
scenarios/hello.yaml against a hand-written pyTelegramBotAPI bot doing the same conversation
(bench/handwritten_bot.py), both in one run.

Run: python bench/e2e.py [--users 100] [--messages 30] [--quick]

Each of --users users talks in a closed loop (the next update only after the bot's reply to
the previous one, as a person waits): /start, press "😄 Yes please", press "👋 Thanks and
goodbye", again, --messages updates in all. Latency is from the moment an update is
available to getUpdates to the moment the bot's reply (sendMessage or editMessageText)
reaches the Bot API; updates/s is all updates over first push to last reply. A warm-up
conversation runs first and is not counted.

- http: `python run.py` and `python bench/handwritten_bot.py`, each a subprocess, poll the
  fake Bot API server (engine/testing/fake_telegram.py, which checks every call against the
  spec) in this process, one after the other. The engine's limits are raised (BOT_RATE_GLOBAL,
  BOT_RATE_PER_CHAT, BOT_RATE_PER_GROUP_MINUTE, BOT_USER_RATE, BOT_USER_BURST = 1000000),
  otherwise default settings: a SQLite file in a temp dir, 4 workers.
  The hand-written bot uses telebot's defaults (threaded, 2 handler threads).
- inproc: both bots in this process, the Bot API answered inside it through
  telebot.apihelper.CUSTOM_REQUEST_SENDER (answers are JSON text parsed again, as requests
  would; no sockets). The engine: Poller.poll_once (getUpdates, parse_update,
  Processor.process committing each batch to SQLite) then the engine's Sender (Bot.sender)
  run_once until the outbox is empty, in a loop with no sleeps; the same settings as http,
  and what Bot.run does before it starts (settle_memory). The hand-written bot:
  TeleBot(threaded=False), get_updates then process_new_updates, what its non-threaded
  polling loop does. The pair runs --rounds times (3), alternately; each bot's best round
  is shown, with every round's updates/s (the machine's speed drifts within seconds).
The engine persists every step in both modes; the run checks the database afterwards.
Both bots make their Bot API calls through pyTelegramBotAPI's request layer; the engine
skips the two DEBUG lines the library builds for every call whatever the log level
(engine/telegram/bot_api.py: library_request), the hand-written bot pays for them as
any bot written from the library's docs does.
Goal (issue 6): the engine at least 1.0x the hand-written bot over HTTP, 0.85x in-process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "bench"))

from telebot import apihelper  # noqa: E402

from engine.testing.fake_telegram import (  # noqa: E402
    BOT_USER,
    TOKEN,
    Call,
    FakeTelegram,
    press_update,
    text_update,
)

SCENARIO = os.path.join(ROOT, "scenarios", "hello.yaml")
SCRIPT = [("send", "/start"), ("press", "😄 Yes please"), ("press", "👋 Thanks and goodbye")]
REPLIES = ("sendMessage", "editMessageText")
WARM_UID = 9_000_000
# Telegram's sending limits and the engine's flood control of incoming updates per user,
# raised: a closed-loop user sends far faster than a person, the hand-written bot has neither
UNLIMITED = (
    "BOT_RATE_GLOBAL",
    "BOT_RATE_PER_CHAT",
    "BOT_RATE_PER_GROUP_MINUTE",
    "BOT_USER_RATE",
    "BOT_USER_BURST",
)


class Conversation:
    """Closed-loop users: `first()` gives every user's first update, `reply()` takes the bot's
    reply to a chat and gives that user's next update (or None when the user is done)."""

    def __init__(self, users: int, messages: int, first_uid: int = 1) -> None:
        self.messages = messages
        self.left = {uid: messages for uid in range(first_uid, first_uid + users)}
        self.total = users * messages
        self.asked: dict[int, float] = {}  # uid -> when its pending update became available
        self.latencies: list[float] = []
        self.transcript: dict[int, list[tuple[str, str]]] = {first_uid: []}
        self.started = self.last = 0.0
        self.done = threading.Event()
        self.failure = ""  # set (and done) when a reply is not what the conversation expects

    def _update(
        self, uid: int, keys: dict[str, str], message_id: int, text: str = ""
    ) -> dict[str, Any] | None:
        kind, value = SCRIPT[(self.messages - self.left[uid]) % len(SCRIPT)]
        if kind == "send":
            return text_update(uid, value)
        if value not in keys:
            self.failure = f"user {uid} expected the button {value!r}; the bot said {text!r}"
            self.done.set()
            return None
        return press_update(uid, keys[value], message_id)

    def check(self, bot: str) -> Conversation:
        if self.failure:
            raise SystemExit(f"{bot}: {self.failure}")
        return self

    def first(self) -> list[tuple[int, dict[str, Any]]]:
        self.started = time.monotonic()
        first = [(uid, self._update(uid, {}, 0)) for uid in self.left]
        return [(uid, update) for uid, update in first if update is not None]

    def reply(
        self, method: str, params: dict[str, Any], message_id: int, now: float
    ) -> dict[str, Any] | None:
        uid = int(params.get("chat_id", 0))
        if uid not in self.asked:
            return None
        self.latencies.append(now - self.asked.pop(uid))
        self.last = now
        if uid in self.transcript:
            self.transcript[uid].append((method, str(params.get("text"))))
        self.left[uid] -= 1
        if not self.left[uid]:
            if len(self.latencies) == self.total:
                self.done.set()
            return None
        markup = params.get("reply_markup") or "{}"
        markup = json.loads(markup) if isinstance(markup, str) else markup
        rows = markup.get("inline_keyboard", [])
        keys = {key["text"]: key["callback_data"] for row in rows for key in row}
        return self._update(uid, keys, message_id, str(params.get("text")))

    def figures(self) -> tuple[float, float, float]:
        """updates/s, p50 ms, p99 ms"""
        ordered = sorted(self.latencies)

        def pick(q: float) -> float:
            return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

        rate = len(ordered) / max(1e-9, self.last - self.started)
        return rate, pick(0.50), pick(0.99)


def engine_env(api_url: str, database: str) -> dict[str, str]:
    """The engine's settings for the bench: defaults, but no limits the bench would hit."""
    unlimited = "1000000"
    return {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": api_url,
        "DATABASE_URL": f"sqlite:///{database}",
        "BOT_SCENARIO": SCENARIO,
        "BOT_POLL_TIMEOUT": "1",
        **{name: unlimited for name in UNLIMITED},
    }


# -- over HTTP ------------------------------------------------------------------------------
class HttpRun:
    """Drives a Conversation through the fake server: a reply's arrival pushes the next update."""

    def __init__(self, fake: FakeTelegram) -> None:
        self.fake = fake
        self.talk: Conversation | None = None
        fake.on_call = self._on_call

    def _on_call(self, call: Call) -> None:
        if call.method in REPLIES and self.talk is not None:
            # on the server's loop: once this call is answered, its message_id is known
            asyncio.get_running_loop().call_soon(self._next, self.talk, call)

    def _next(self, talk: Conversation, call: Call) -> None:
        message_id = int(call.answer.get("message_id", 0))
        update = talk.reply(call.method, call.params, message_id, call.at)
        if update is not None:
            self._push(talk, int(call.params["chat_id"]), update)

    def _push(self, talk: Conversation, uid: int, update: dict[str, Any]) -> None:
        talk.asked[uid] = time.monotonic()
        self.fake.push(update)

    def talk_through(self, talk: Conversation, timeout: float) -> Conversation:
        self.talk = talk
        for uid, update in talk.first():
            self._push(talk, uid, update)
        if not talk.done.wait(timeout):
            raise SystemExit(f"only {len(talk.latencies)} of {talk.total} replies in {timeout}s")
        return talk


def http_pair(args: argparse.Namespace, tmp: str) -> list[tuple[str, Conversation, str]]:
    rows = []
    database = os.path.join(tmp, "http.db")
    commands = {
        "engine": [sys.executable, os.path.join(ROOT, "run.py")],
        "hand-written": [sys.executable, os.path.join(ROOT, "bench", "handwritten_bot.py")],
    }
    for name, command in commands.items():
        with FakeTelegram(poll_cap=1.0) as fake:
            env = {**os.environ, **engine_env(fake.url, database), "LOG_LEVEL": "WARNING"}
            log = open(os.path.join(tmp, f"{name}.log"), "wb")  # noqa: SIM115
            process = subprocess.Popen(command, env=env, stdout=log, stderr=log, cwd=ROOT)
            try:
                if not fake.wait_for(lambda: bool(fake.calls_of("getUpdates")), 30):
                    raise SystemExit(f"{name} did not start; see {log.name}")
                run = HttpRun(fake)
                run.talk_through(Conversation(1, len(SCRIPT), WARM_UID), 30).check(name)
                talk = run.talk_through(Conversation(args.users, args.messages), args.timeout)
                talk.check(name)
            finally:
                process.send_signal(signal.SIGTERM)
                process.wait(30)
                log.close()
            if fake.rejected:
                raise SystemExit(f"{name}: calls Telegram would refuse: {fake.rejected[:3]}")
        note = persisted(database, args.users * args.messages) if name == "engine" else ""
        rows.append((name, talk, note))
    return rows


# -- in-process -----------------------------------------------------------------------------
class Answer:
    """What requests would hand telebot: the body as text, parsed again by .json()."""

    status_code = 200

    def __init__(self, result: Any) -> None:
        self.text = json.dumps({"ok": True, "result": result}, ensure_ascii=False)

    def json(self) -> Any:
        return json.loads(self.text)


class Responder:
    """The Bot API inside the process, for telebot.apihelper.CUSTOM_REQUEST_SENDER."""

    def __init__(self) -> None:
        self.queue: list[dict[str, Any]] = []
        self.next_update_id = 1
        self.next_message_id = 1
        self.talk: Conversation | None = None

    def push(self, talk: Conversation, uid: int, update: dict[str, Any]) -> None:
        update["update_id"] = self.next_update_id
        self.next_update_id += 1
        talk.asked[uid] = time.monotonic()
        self.queue.append(update)

    def start(self, talk: Conversation) -> None:
        self.talk = talk
        for uid, update in talk.first():
            self.push(talk, uid, update)

    def __call__(self, http_method: str, url: str, params: Any = None, **_: Any) -> Answer:
        method = url.rsplit("/", 1)[1]
        params = params or {}
        if method == "getUpdates":
            offset = int(params.get("offset") or 0)
            self.queue = [u for u in self.queue if u["update_id"] >= offset]
            return Answer(self.queue[: int(params.get("limit") or 100)])
        if method == "getMe":
            return Answer(BOT_USER)
        if method not in REPLIES:
            return Answer(True)
        message_id = int(params.get("message_id") or 0)
        if not message_id:
            message_id, self.next_message_id = self.next_message_id, self.next_message_id + 1
        chat = int(params["chat_id"])
        message = {"message_id": message_id, "date": 0, "chat": {"id": chat, "type": "private"}}
        message.update(text=params.get("text"), **{"from": BOT_USER})
        assert self.talk is not None
        update = self.talk.reply(method, params, message_id, time.monotonic())
        if update is not None:
            self.push(self.talk, chat, update)
        return Answer(message)


def engine_inproc(args: argparse.Namespace, database: str) -> tuple[Conversation, str]:
    from engine.runtime.app import Bot
    from engine.runtime.config import read_settings
    from engine.runtime.memory import settle_memory
    from engine.runtime.polling import Poller
    from engine.telegram.updates import allowed_updates

    bot = Bot(read_settings(engine_env("http://in-process", database)))
    settle_memory()  # as Bot.run does once everything is loaded
    api = bot.telegram()
    poller = Poller(api, bot.processor, allowed_updates(bot.holder.current), timeout=0)
    sender = bot.sender(api)
    responder = Responder()
    apihelper.CUSTOM_REQUEST_SENDER = responder

    def loop(talk: Conversation) -> Conversation:
        responder.start(talk)
        deadline = time.monotonic() + args.timeout
        while not talk.done.is_set():
            poller.poll_once()
            while sender.run_once():
                pass
            stalled(talk, deadline)
        return talk

    try:
        loop(Conversation(1, len(SCRIPT), WARM_UID)).check("engine")
        talk = loop(Conversation(args.users, args.messages)).check("engine")
    finally:
        apihelper.CUSTOM_REQUEST_SENDER = None
        bot.processor.close()
        bot.db.close()
    return talk, persisted(database, args.users * args.messages)


def stalled(talk: Conversation, deadline: float) -> None:
    if time.monotonic() > deadline:
        raise SystemExit(f"only {len(talk.latencies)} of {talk.total} replies in time")


def handwritten_inproc(args: argparse.Namespace) -> Conversation:
    from handwritten_bot import make_bot

    bot = make_bot(TOKEN, threaded=False)
    responder = Responder()
    apihelper.CUSTOM_REQUEST_SENDER = responder
    offset = 0

    def loop(talk: Conversation) -> Conversation:
        nonlocal offset
        responder.start(talk)
        deadline = time.monotonic() + args.timeout
        while not talk.done.is_set():
            updates = bot.get_updates(offset=offset, timeout=0, long_polling_timeout=0)
            if updates:
                offset = updates[-1].update_id + 1
                bot.process_new_updates(updates)
            stalled(talk, deadline)
        return talk

    try:
        loop(Conversation(1, len(SCRIPT), WARM_UID)).check("hand-written")
        return loop(Conversation(args.users, args.messages)).check("hand-written")
    finally:
        apihelper.CUSTOM_REQUEST_SENDER = None


def inproc_rounds(args: argparse.Namespace, tmp: str) -> list[tuple[str, str, Conversation, str]]:
    """Both bots in process, --rounds times, alternately (engine, hand-written, engine, ...),
    each engine round on a new database: this machine's speed drifts within seconds, so
    each bot's best round is compared, and every round's figure is printed."""
    best: dict[str, tuple[Conversation, str]] = {}
    rates: dict[str, list[float]] = {"engine": [], "hand-written": []}
    for round_ in range(args.rounds):
        talk, note = engine_inproc(args, os.path.join(tmp, f"inproc-{round_}.db"))
        for name, run in (
            ("engine", (talk, note)),
            ("hand-written", (handwritten_inproc(args), "")),
        ):
            rates[name].append(run[0].figures()[0])
            if name not in best or run[0].figures()[0] > best[name][0].figures()[0]:
                best[name] = run
    for name, figures in rates.items():
        print(f"inproc {name}: updates/s by round: {', '.join(f'{r:.0f}' for r in figures)}")
    return [("inproc", name, talk, note) for name, (talk, note) in best.items()]


def persisted(database: str, expected: int) -> str:
    """What the engine's database holds after the run: every update done, every reply sent."""
    with sqlite3.connect(database) as db:
        inbox = dict(db.execute("SELECT status, count(*) FROM inbox GROUP BY status").fetchall())
        outbox = dict(db.execute("SELECT status, count(*) FROM outbox GROUP BY status").fetchall())
        sessions = db.execute("SELECT count(*) FROM sessions").fetchone()[0]
    done = inbox.get("done", 0) - len(SCRIPT)  # less the warm-up conversation
    if done != expected or set(inbox) != {"done"} or set(outbox) != {"sent"}:
        raise SystemExit(f"the engine did not persist every step: inbox {inbox}, outbox {outbox}")
    return (
        f"persisted: {done} updates done, {outbox['sent']} effects sent from the outbox "
        f"(silent answers to presses go to the sender in memory), {sessions} sessions"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--messages", type=int, default=30, help="updates per user")
    parser.add_argument("--mode", choices=("http", "inproc", "both"), default="both")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per bot and mode")
    parser.add_argument(
        "--rounds", type=int, default=3, help="in-process rounds of each bot, alternately"
    )
    parser.add_argument("--quick", action="store_true", help="10 users x 6 updates: a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.users, args.messages, args.rounds = 10, 6, 1
    load = os.getloadavg()[0]
    print(
        f"{args.users} users x {args.messages} updates = {args.users * args.messages} per bot; "
        f"{os.cpu_count()} cores, load average {load:.2f} at start",
        flush=True,
    )
    results: list[tuple[str, str, Conversation, str]] = []
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as tmp:
        if args.mode in ("http", "both"):
            results += [("http", n, t, note) for n, t, note in http_pair(args, tmp)]
        if args.mode in ("inproc", "both"):
            results += inproc_rounds(args, tmp)
    print(f"\n{'mode':<8}{'bot':<14}{'updates/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'ratio':>8}")
    rates = {(mode, bot): talk.figures()[0] for mode, bot, talk, _ in results}
    for mode, bot, talk, _ in results:
        rate, p50, p99 = talk.figures()
        base = rates.get((mode, "hand-written"))
        ratio = f"{rate / base:.2f}x" if bot == "engine" and base else ""
        print(f"{mode:<8}{bot:<14}{rate:>10.0f}{p50:>9.1f}{p99:>9.1f}{ratio:>8}")
    print("ratio: engine updates/s over the hand-written bot's in the same mode")
    for mode, bot, _, note in results:
        if note:
            print(f"{mode} {bot}: {note}")
    transcripts = {(m, b): t.transcript for m, b, t, _ in results}
    for mode in ("http", "inproc"):
        pair = [transcripts.get((mode, b)) for b in ("engine", "hand-written")]
        if pair[0] is not None and pair[1] is not None:
            print(f"{mode}: same replies from both bots: {'yes' if pair[0] == pair[1] else 'NO'}")
    print(f"load average {os.getloadavg()[0]:.2f} at the end (shared machine: figures vary)")


if __name__ == "__main__":
    main()

"""Other users' reply latency while one user's `do: http` waits for a slow web service, beside
the same without it: does one slow call hold up everybody else?

Run: python bench/slow_http.py [--users 10] [--delay 10] [--seconds 10] [--postgres-url URL]

`python run.py` (polling, a SQLite file in a temp folder; with --postgres-url a new
PostgreSQL database on that server, dropped afterwards) talks to the fake Bot API server in
this process. A web service in this process, on 127.0.0.1, answers `/slow` after --delay
seconds. One user's message "slow" enters a state whose `do: http` calls it with `save_as`
(its answer is needed for the reply); every other user writes in a closed loop (a message,
the reply, --think seconds, the next message), and the latency is from a message's arrival at
getUpdates to its reply's arrival at the Bot API. Measured for --seconds without the slow call,
then over the messages sent while the call runs. The goal (issue 12): p99 while a slow call
runs within 2x of the p99 without."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

from aiohttp import web

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from processes import UNLIMITED, BotProcess, percentile, postgres_database

from engine.testing.fake_telegram import TOKEN, Call, FakeTelegram, text_update

SCENARIO = """\
bot: {name: Slow call, language: en, start: main}
states:
  main:
    say: "pong {{ message.text }}"
    on:
      - {text: slow, goto: slow}
      - {type: text, goto: main}
  slow:
    do:
      - http: {url: "{{ config.SLOW_URL }}", timeout: 60s, save_as: answer}
    say: "slow call answered: {{ answer.ok }}"
    on:
      - {text: slow, goto: slow}
      - {type: text, goto: main}
"""
SLOW_USER = 500
FIRST_USER = 501


class SlowService:
    """A web service on 127.0.0.1 that answers `/slow` after `delay` seconds; `started` and
    `answered` say when the call in progress began and ended."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.port = 0
        self.started = threading.Event()
        self.answered = threading.Event()
        self.window = [0.0, 0.0]
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()

    def start(self) -> SlowService:
        threading.Thread(target=self._serve, name="slow-service", daemon=True).start()
        if not self._ready.wait(10):
            raise SystemExit("the slow web service did not start")
        return self

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        app = web.Application()
        app.router.add_get("/slow", self._slow)
        runner = web.AppRunner(app, access_log=None)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        self.port = runner.addresses[0][1]
        self._ready.set()
        loop.run_forever()

    async def _slow(self, request: web.Request) -> web.Response:
        self.window[0] = time.monotonic()
        self.started.set()
        await asyncio.sleep(self.delay)
        self.window[1] = time.monotonic()
        self.answered.set()
        return web.json_response({"ok": True})


class Talkers:
    """Users in a closed loop: a message, wait for the reply, `think` seconds, again. Each
    sample is (when the message was queued, seconds until its reply reached the Bot API)."""

    def __init__(self, fake: FakeTelegram, users: list[int], think: float) -> None:
        self.fake, self.users, self.think = fake, users, think
        self.samples: list[tuple[float, float]] = []
        self.replied = {user: threading.Event() for user in users}
        self.reply_at: dict[int, float] = {}
        self.stop = threading.Event()
        self.failure = ""
        self.threads = [threading.Thread(target=self._talk, args=(u,), daemon=True) for u in users]

    def on_call(self, call: Call) -> None:
        chat = int(call.params.get("chat_id", 0))
        if call.method == "sendMessage" and chat in self.replied:
            self.reply_at[chat] = call.at
            self.replied[chat].set()

    def start(self) -> Talkers:
        for thread in self.threads:
            thread.start()
        return self

    def _talk(self, user: int) -> None:
        count = 0
        while not self.stop.is_set():
            count += 1
            self.replied[user].clear()
            queued = time.monotonic()
            self.fake.push(text_update(user, f"hello {count}", message_id=count))
            if not self.replied[user].wait(120):
                self.failure = f"user {user} got no reply in 120 s"
                return
            self.samples.append((queued, self.reply_at[user] - queued))
            self.stop.wait(self.think)

    def between(self, start: float, end: float) -> list[float]:
        return [latency for queued, latency in self.samples if start <= queued <= end]


def measure(args: argparse.Namespace, tmp: Path, stack: ExitStack) -> None:
    service = SlowService(args.delay).start()
    fake = stack.enter_context(FakeTelegram(poll_cap=1.0))
    scenario = tmp / "slow.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    url = (
        stack.enter_context(postgres_database(args.postgres_url))
        if args.postgres_url
        else f"sqlite:///{tmp / 'bot.db'}"
    )
    env = {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": fake.url,
        "DATABASE_URL": url,
        "BOT_SCENARIO": str(scenario),
        "BOT_POLL_TIMEOUT": "1",
        "BOT_PLUGINS": "",
        "BOT_CONFIG_VARS": "SLOW_URL",
        "SLOW_URL": f"http://127.0.0.1:{service.port}/slow",
        "BOT_HTTP_ALLOW": "127.0.0.1",  # the slow service is on this machine
        **UNLIMITED,
    }
    bot = BotProcess("bot", env, tmp).start()
    stack.callback(bot.stop)
    if not fake.wait_for(lambda: bool(fake.calls_of("getUpdates")) or not bot.alive, 60):
        raise SystemExit(f"the bot did not start:\n{bot.log[-2000:]}")
    users = list(range(FIRST_USER, FIRST_USER + args.users))
    slow = Talkers(fake, [SLOW_USER], 0)
    talkers = Talkers(fake, users, args.think)

    def on_call(call: Call) -> None:
        talkers.on_call(call)
        slow.on_call(call)

    fake.on_call = on_call
    fake.push(text_update(SLOW_USER, "hi"))  # the slow user's conversation starts
    if not fake.wait_for(lambda: bool(fake.texts_to(SLOW_USER)), 30):
        raise SystemExit(f"no reply to the slow user:\n{bot.log[-2000:]}")
    talkers.start()
    time.sleep(1.0)  # the first messages start the users' conversations: not counted
    calm = (time.monotonic(), time.monotonic() + args.seconds)
    time.sleep(args.seconds)
    fake.push(text_update(SLOW_USER, "slow", message_id=2))
    asked = time.monotonic()
    if not service.started.wait(60) or not service.answered.wait(args.delay + 60):
        raise SystemExit(f"the bot did not call the slow service:\n{bot.log[-2000:]}")
    if not fake.wait_for(lambda: len(fake.texts_to(SLOW_USER)) >= 2, 120):
        raise SystemExit("the slow user got no reply")
    time.sleep(1.0)
    talkers.stop.set()
    if not fake.wait_for(lambda: all(e.is_set() for e in talkers.replied.values()), 120):
        raise SystemExit("not every user got their last reply")
    if talkers.failure:
        raise SystemExit(talkers.failure)
    without = talkers.between(*calm)
    during = talkers.between(*service.window)
    report(args, without, during, slow.reply_at[SLOW_USER] - asked, bool(args.postgres_url))


def report(
    args: argparse.Namespace, without: list[float], during: list[float], slow: float, pg: bool
) -> None:
    def line(samples: list[float]) -> str:
        p50, p99 = percentile(samples, 0.50) * 1000, percentile(samples, 0.99) * 1000
        return f"{len(samples):>5} replies, p50 {p50:>8.1f} ms, p99 {p99:>8.1f} ms"

    print(
        f"{'PostgreSQL' if pg else 'SQLite'}, one polling process; {args.users} users, "
        f"{args.think:g} s between a reply and the next message; the slow call takes "
        f"{args.delay:g} s (its user's reply came after {slow:.1f} s)"
    )
    print(f"  without a slow call:    {line(without)}")
    print(f"  while the call runs:    {line(during)}")
    if without and during:
        ratio = percentile(during, 0.99) / max(1e-9, percentile(without, 0.99))
        ratio50 = percentile(during, 0.50) / max(1e-9, percentile(without, 0.50))
        print(f"  ratio p99 {ratio:.1f}x, p50 {ratio50:.1f}x (goal: p99 within 2x)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--users", type=int, default=10, help="other users, in a closed loop")
    parser.add_argument("--think", type=float, default=0.2, help="seconds before a next message")
    parser.add_argument("--delay", type=float, default=10, help="seconds the slow call takes")
    parser.add_argument("--seconds", type=float, default=10, help="measured without the call")
    parser.add_argument("--postgres-url", default="", help="a PostgreSQL server on this machine")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-slow-") as tmp, ExitStack() as stack:
        measure(args, Path(tmp), stack)


if __name__ == "__main__":
    main()

"""A fault campaign: `python run.py` killed with SIGKILL again and again (and restarted) while
users keep writing, against the fake Bot API server answering 429 and 5xx at random; then
what the users got: lost, doubled, reordered and duplicate replies, per kill.

Run: python bench/faults.py [--config sqlite-1|sqlite-2pollers|postgres-webhooks|all]
     [--users 20] [--messages 40] [--kills 10] [--interval 3] [--rate-429 0.03] ...

The bot is a counter (bench/fault_check.py): each text adds one to a session variable and
the reply repeats the text with the counter, so every fault shows in the replies the fake
server received. Configurations:

- sqlite-1: one polling process on a SQLite file;
- sqlite-2pollers: two polling processes on one SQLite file (one holds the lease, polls and
  sends; the other takes over when it dies);
- postgres-webhooks: --webhooks processes (3) in webhook mode on a new PostgreSQL database
  (--postgres-url, or TEST_POSTGRES_URL; created and dropped by the bench), each update
  POSTed to one of them at random, as a load balancer would, and again (to any of them)
  until one answers 200, as Telegram does.

Each user sends --messages messages in order, spread over the --kills x --interval seconds
of the kill loop; every --interval seconds one process is killed (the lease holder, which
polls and sends, by default) and started again at once. Afterwards the bot gets up to
--drain seconds to answer everything, then --quiet seconds more (a late repeat would show),
and is stopped with SIGTERM. Everything runs on 127.0.0.1. The exit status is 1 when a
message was lost or doubled, or a reply was not what the bot should send."""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fault_check import COUNTER, Figures, Sent, check, message_text
from processes import (
    UNLIMITED,
    BotProcess,
    free_port,
    post_update,
    postgres_database,
    webhook_env,
)

from engine.testing.fake_telegram import TOKEN, FakeTelegram, RandomFaults, text_update

CONFIGS = ("sqlite-1", "sqlite-2pollers", "postgres-webhooks")
SENDS = ("sendMessage", "editMessageText", "sendPhoto", "sendDocument")
FIRST_USER = 1001


@dataclass(frozen=True)
class Config:
    name: str
    processes: int
    webhook: bool
    postgres: bool


@dataclass(frozen=True)
class Report:
    config: str
    processes: int
    updates_sent: int  # messages the users sent (each delivered to the bot)
    undelivered: int  # messages never taken (getUpdates not reached, or no 200 in time)
    webhook_posts: int  # POSTs made, retries included (webhook mode)
    kills: int
    senders: int  # BOT_SENDERS: Bot API calls in flight at once
    injected_429: int
    injected_5xx: int
    refused: int  # calls the fake refused as Telegram would (the spec)
    exits: int  # processes that ended without being killed (each restarted)
    stop_codes: tuple[int | None, ...]  # exit codes on the final SIGTERM
    killed: tuple[int, ...]  # kills of each process
    seconds: float
    figures: Figures


class Users:
    """Each user's messages in order, spread over `span` seconds: queued for getUpdates, or
    POSTed to the webhook ports (a random one each time) until one answers 200."""

    def __init__(
        self, fake: FakeTelegram, users: Sequence[int], messages: int, span: float, ports: list[int]
    ) -> None:
        self.fake, self.users, self.messages, self.ports = fake, users, messages, ports
        self.spacing = span / messages
        self.sent = self.posts = 0
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def start(self) -> Users:
        started = time.monotonic()
        for user in self.users:
            offset = random.uniform(0, self.spacing)
            thread = threading.Thread(target=self._talk, args=(user, started + offset), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    @property
    def done(self) -> bool:
        return not any(t.is_alive() for t in self._threads)

    def _talk(self, user: int, first: float) -> None:
        for index in range(1, self.messages + 1):
            due = first + (index - 1) * self.spacing
            if self.stop.wait(max(0.0, due - time.monotonic())):
                return
            update = text_update(user, message_text(user, index), message_id=index)
            if self.ports:
                update["update_id"] = self.fake.next_update_id()
                if not self._post(json.dumps(update).encode()):
                    return
            else:
                self.fake.push(update)
            with self._lock:
                self.sent += 1

    def _post(self, body: bytes) -> bool:
        while not self.stop.is_set():
            status = post_update(random.choice(self.ports), body)
            with self._lock:
                self.posts += 1
            if status == 200:
                return True
            self.stop.wait(random.uniform(0.05, 0.2))  # refused, reset, 503: again
        return False


class Supervisor:
    """Keeps the processes running: one that ended without being killed is counted and
    started again."""

    def __init__(self, bots: list[BotProcess]) -> None:
        self.bots = bots
        self.exits = 0
        self.restarted: dict[str, int] = {}  # starts after ending by itself, by process

    def run_until(self, moment: float, done: Callable[[], bool] = lambda: False) -> bool:
        while time.monotonic() < moment:
            if done():
                return True
            for bot in self.bots:
                if not bot.alive:
                    self.exits += 1
                    self.restarted[bot.name] = self.restarted.get(bot.name, 0) + 1
                    print(f"  {bot.name} ended by itself; see {bot.log_path}", flush=True)
                    bot.start()
            time.sleep(0.1)
        return done()

    def target(self, kill: int, how: str) -> BotProcess:
        if how == "holder":
            holders = [bot for bot in self.bots if bot.holds_lease]
            if holders:
                return holders[0]
        return self.bots[kill % len(self.bots)]


def replies(fake: FakeTelegram) -> list[Sent]:
    return [
        Sent(int(c.params.get("chat_id", 0)), str(c.params.get("text", "")), c.at)
        for c in fake.calls_of(*SENDS)
    ]


def answered(fake: FakeTelegram, expected: int) -> Callable[[], bool]:
    def check_all() -> bool:
        texts = {str(c.params.get("text", "")).rpartition(" n=")[0] for c in fake.calls_of(*SENDS)}
        return len(texts) >= expected

    return check_all


def quiet_for(fake: FakeTelegram, seconds: float) -> Callable[[], bool]:
    """True once the bot has sent nothing for `seconds`."""
    last = [len(fake.calls_of(*SENDS)), time.monotonic()]

    def quiet() -> bool:
        count = len(fake.calls_of(*SENDS))
        if count != last[0]:
            last[:] = [count, time.monotonic()]
        return time.monotonic() - last[1] >= seconds

    return quiet


def ready(bot: BotProcess, first: bool, webhook: bool, timeout: float = 60) -> None:
    """Wait until `bot` takes updates: it listens (webhook), polls (the first poller), or
    waits for the lease (the other pollers)."""
    sign = "webhook listening" if webhook else "connected as" if first else "another process"
    deadline = time.monotonic() + timeout
    while sign not in bot.log:
        if time.monotonic() > deadline or not bot.alive:
            raise SystemExit(f"{bot.name} did not start; see {bot.log_path}:\n{bot.log[-2000:]}")
        time.sleep(0.1)


def database(config: Config, args: argparse.Namespace, folder: Path, stack: ExitStack) -> str:
    if not config.postgres:
        return f"sqlite:///{folder / 'bot.db'}"
    if not args.postgres_url:
        raise SystemExit(f"{config.name} needs --postgres-url (or TEST_POSTGRES_URL)")
    return stack.enter_context(postgres_database(args.postgres_url))


def run_config(config: Config, args: argparse.Namespace, tmp: Path) -> Report:
    folder = tmp / config.name
    folder.mkdir()
    scenario = folder / "counter.yaml"
    scenario.write_text(COUNTER, encoding="utf-8")
    user_ids = list(range(FIRST_USER, FIRST_USER + args.users))
    with ExitStack() as stack:
        fake = stack.enter_context(FakeTelegram(poll_cap=1.0))
        methods = () if args.fault_methods == "all" else tuple(args.fault_methods.split(","))
        faults = RandomFaults(args.rate_429, args.rate_5xx, args.retry_after, methods)
        fake.fail_at_random(faults, seed=args.seed)
        env = {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": fake.url,
            "DATABASE_URL": database(config, args, folder, stack),
            "BOT_SCENARIO": str(scenario),
            "BOT_POLL_TIMEOUT": "1",
            "BOT_SENDERS": str(args.senders),
            "BOT_PLUGINS": "",
            **UNLIMITED,
        }
        ports = [free_port() for _ in range(config.processes)] if config.webhook else []
        bots = [
            BotProcess(f"bot{k + 1}", {**env, **(webhook_env(ports[k]) if ports else {})}, folder)
            for k in range(config.processes)
        ]
        try:
            for k, bot in enumerate(bots):  # one after the other: the first creates the tables
                ready(bot.start(), k == 0, config.webhook)
            return campaign(config, args, fake, bots, user_ids, ports)
        finally:
            for bot in bots:
                bot.stop()


def campaign(
    config: Config,
    args: argparse.Namespace,
    fake: FakeTelegram,
    bots: list[BotProcess],
    user_ids: list[int],
    ports: list[int],
) -> Report:
    started = time.monotonic()
    span = args.interval * max(1, args.kills)
    users = Users(fake, user_ids, args.messages, span, ports).start()
    supervisor = Supervisor(bots)
    kills: list[float] = []
    for kill in range(args.kills):
        supervisor.run_until(started + (kill + 1) * args.interval)
        target = supervisor.target(kill, args.target)
        kills.append(time.monotonic())
        target.kill()
        target.start()
    deadline = time.monotonic() + args.drain
    supervisor.run_until(deadline, lambda: users.done)
    users.stop.set()
    supervisor.run_until(deadline, answered(fake, len(user_ids) * args.messages))
    supervisor.run_until(time.monotonic() + args.quiet + 1, quiet_for(fake, args.quiet))
    codes = tuple(bot.stop() for bot in bots)
    seconds = time.monotonic() - started
    return Report(
        config=config.name,
        processes=config.processes,
        updates_sent=users.sent,
        undelivered=len(user_ids) * args.messages - users.sent,
        webhook_posts=users.posts,
        kills=len(kills),
        senders=args.senders,
        injected_429=fake.injected.get(429, 0),
        injected_5xx=sum(n for status, n in fake.injected.items() if status >= 500),
        refused=len(fake.rejected),
        exits=supervisor.exits,
        stop_codes=codes,
        killed=tuple(bot.runs - 1 - supervisor.restarted.get(bot.name, 0) for bot in bots),
        seconds=seconds,
        figures=check(replies(fake), user_ids, args.messages, kills),
    )


def print_report(report: Report, args: argparse.Namespace) -> None:
    f = report.figures
    per_kill = f.duplicates / report.kills if report.kills else 0.0
    delivery = f"webhook POSTs {report.webhook_posts}" if report.webhook_posts else "getUpdates"
    rows = [
        ("updates sent", f"{report.updates_sent} ({delivery}; undelivered {report.undelivered})"),
        ("replies expected/seen", f"{f.expected}/{f.answered} ({f.sends} sends)"),
        ("lost", f"{f.lost}"),
        ("doubled", f"{f.doubled}"),
        ("reordered", f"{f.reordered} (in {f.reordered_chats} chats)"),
        (
            "duplicate sends",
            f"{f.duplicates}: {per_kill:.1f} per kill, at most {f.most_duplicates_after_a_kill} "
            f"after one kill, {f.duplicates_before_kills} before the first",
        ),
        (
            "kills",
            f"{report.kills} (by process: {', '.join(map(str, report.killed))}; "
            f"ended by themselves: {report.exits})",
        ),
        ("in flight (BOT_SENDERS)", f"{report.senders}"),
        ("faults injected", f"429: {report.injected_429}, 5xx: {report.injected_5xx}"),
        ("unexpected replies", f"{f.unexpected}; calls refused by the fake: {report.refused}"),
        ("stopped with codes", ", ".join(str(c) for c in report.stop_codes)),
        ("took", f"{report.seconds:.1f} s"),
    ]
    print(
        f"\n{report.config}: {report.processes} process(es), {args.users} users x "
        f"{args.messages} messages, {args.kills} kills every {args.interval:g} s"
    )
    for name, value in rows:
        print(f"  {name:<24}{value}")
    for example in f.examples:
        print(f"    {example}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
    )
    parser.add_argument(
        "--config",
        action="append",
        choices=(*CONFIGS, "all"),
        help="what to run (again for several; default sqlite-1)",
    )
    parser.add_argument("--webhooks", type=int, default=3, help="postgres-webhooks: processes")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("TEST_POSTGRES_URL", ""),
        help="a PostgreSQL server on this machine, as a user who may create "
        "databases (default: TEST_POSTGRES_URL)",
    )
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--messages", type=int, default=40, help="messages per user")
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--interval", type=float, default=3.0, help="seconds between kills")
    parser.add_argument(
        "--target",
        choices=("holder", "any"),
        default="holder",
        help="which process a kill hits: the lease holder, or each in turn",
    )
    parser.add_argument("--rate-429", type=float, default=0.03, help="share of calls answered 429")
    parser.add_argument("--rate-5xx", type=float, default=0.03, help="share answered 500/502/503")
    parser.add_argument("--retry-after", type=int, default=1, help="seconds a 429 asks to wait")
    parser.add_argument(
        "--fault-methods",
        default="sendMessage,getUpdates",
        help="the Bot API methods that get faults, comma-separated, or 'all'",
    )
    parser.add_argument("--senders", type=int, default=8, help="BOT_SENDERS of the bot")
    parser.add_argument("--drain", type=float, default=90, help="seconds to answer the rest")
    parser.add_argument("--quiet", type=float, default=2, help="seconds without sends at the end")
    parser.add_argument("--seed", type=int, default=None, help="of the injected faults")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument(
        "--keep", action="store_true", help="keep the logs (their folder is printed)"
    )
    args = parser.parse_args(argv)
    if args.users < 1 or args.messages < 1 or args.kills < 0 or args.interval <= 0:
        parser.error("--users and --messages must be at least 1, --kills 0 or more")
    chosen = args.config or ["sqlite-1"]
    names = list(CONFIGS) if "all" in chosen else list(dict.fromkeys(chosen))
    configs = {
        "sqlite-1": Config("sqlite-1", 1, False, False),
        "sqlite-2pollers": Config("sqlite-2pollers", 2, False, False),
        "postgres-webhooks": Config("postgres-webhooks", args.webhooks, True, True),
    }
    print(
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; faults on "
        f"{args.fault_methods}: 429 at {args.rate_429:.0%} (retry_after {args.retry_after} s), "
        f"5xx at {args.rate_5xx:.0%}",
        flush=True,
    )
    tmp = Path(tempfile.mkdtemp(prefix="bench-faults-"))
    reports = []
    for name in names:
        reports.append(run_config(configs[name], args, tmp))
        print_report(reports[-1], args)
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in reports], indent=2))
    if args.keep:
        print(f"logs in {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    bad = any(r.figures.lost or r.figures.doubled or r.figures.unexpected for r in reports)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

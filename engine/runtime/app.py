"""`python run.py` with a token: the scenario as a live Telegram bot. Polling or webhook
intake, per-chat workers, the outbox sender, the timer scheduler and hot reload, until
SIGTERM, which finishes what is in flight, commits, and exits."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import signal
import threading
import time
from typing import TYPE_CHECKING, TextIO
from urllib.parse import urlparse

import peewee

from engine.admin.broadcast_texts import MessageTexts
from engine.admin.broadcasts import BroadcastFeeder
from engine.command_name import program
from engine.core.model import Scenario
from engine.core.store_protocol import IncomingUpdate
from engine.i18n import command_menus
from engine.i18n.catalogs import domain_of
from engine.ops.alerts import Alerts
from engine.ops.database_gauges import DatabaseGauges
from engine.ops.error_tracking import ErrorTracking, start_error_tracking
from engine.ops.health import WEBHOOK_LIMIT, Health
from engine.ops.http_routes import Operations, OperationsServer
from engine.ops.logging_setup import LogSettings, configure_logging
from engine.ops.metrics import BotMetrics
from engine.ops.problems import Problem, ProblemSink, RecentProblems
from engine.ops.start_line import log_start
from engine.ops.update_log import UpdateLog
from engine.runtime.config import Settings
from engine.runtime.flood import FloodGuard
from engine.runtime.lease import Lease
from engine.runtime.loops import Fatal, Rounds, start_loop
from engine.runtime.memory import settle_memory
from engine.runtime.plugins import PluginLoadError, load_plugins
from engine.runtime.polling import Poller
from engine.runtime.processing import Processor
from engine.runtime.scenario_holder import ScenarioError, ScenarioHolder
from engine.runtime.scheduler import Scheduler
from engine.runtime.sender import Limits, Sender
from engine.runtime.services import LiveServices
from engine.store.crypto import HOW_TO_MAKE_A_KEY, SensitiveCipher
from engine.store.database import DatabaseURLError, open_database
from engine.store.message_log import asks_sensitive
from engine.store.migrations import SchemaError, create_or_check
from engine.store.models import OutboxRow
from engine.store.pipeline import Store
from engine.store.queues import ImmediateAnswers, Outbox, Timers
from engine.store.serialization import RecentEffects
from engine.store.uploads import UploadedFiles
from engine.telegram.bot_api import ApiError, BotApi
from engine.telegram.updates import allowed_updates, parse_update

if TYPE_CHECKING:
    from engine.web.admin_panel import AdminPanel

log = logging.getLogger("engine")
_PASSING = ("rate_limited", "server", "network", "timeout")  # Telegram's faults that pass


class Bot:
    def __init__(self, settings: Settings, require_keys: bool = True) -> None:
        self.settings = settings
        load_plugins(settings.plugins)
        self.problems = ProblemSink()  # every failure of the running bot goes here
        self.recent_problems = RecentProblems()  # what the admin panel lists
        self.problems.listeners.append(self.recent_problems)
        self.holder = ScenarioHolder(settings.scenario, self.problems, settings.media_dir)
        scenario = self.holder.current
        self.tracking: ErrorTracking | None = None  # Sentry, when SENTRY_DSN is set
        if settings.sentry_dsn:
            release = f"{scenario.name}@{scenario.version}"
            self.tracking = start_error_tracking(settings.sentry_dsn, self.problems, release)
        self.db = open_database(settings.database_url)
        create_or_check(self.db)  # a new database: its tables, one process at a time
        self.alerts: Alerts | None = None  # problems told to the admins, through the outbox
        if settings.alert_targets():
            self.alerts = Alerts(
                self.db,
                settings.alert_targets(),
                settings.alert_interval,
                language=lambda: self.holder.current.language,
                bot_name=lambda: self.holder.current.name,
            )
            self.problems.listeners.append(self.alerts)
        self.cipher = cipher = SensitiveCipher.from_environment()
        if scenario.sensitive and cipher is None and require_keys:
            raise SchemaError(
                f"the scenario marks {', '.join(sorted(scenario.sensitive))} as sensitive: set "
                f"BOT_ENCRYPTION_KEYS to encrypt them; {HOW_TO_MAKE_A_KEY}"
            )
        self.recent = RecentEffects()  # what the store queues, the sender takes as it is
        self.answers = ImmediateAnswers()  # silent answers to presses, store to sender
        self.store = Store(
            self.db,
            domain_of(settings.scenario),
            scenario.sensitive,
            cipher,
            settings.log_text,
            recent=self.recent,
            answers=self.answers,
            problems=self.problems,
            asks_sensitive=lambda state: asks_sensitive(self.holder.current, state),
            updates=UpdateLog(settings.log_updates),
        )
        services = LiveServices(settings.config_values(os.environ), settings.http_allow)
        self.processor = Processor(
            self.store,
            self.holder,
            services,
            settings.admins,
            settings.workers,
            self._parse,
            flood=FloodGuard(settings.user_rate, settings.user_burst),
            call_workers=settings.callers,
        )
        self.stop = threading.Event()
        self.hangup = threading.Event()  # SIGHUP: reload the scenario and plugins
        self._last_look = 0.0  # when the reload loop last compared the files' times
        self.failed = False  # set when the bot had to stop on an error: exit code 1
        self.fatal = Fatal(self.stop, self.problems)  # what stopped it, if anything did
        self.lease = Lease(self.db)
        self.allowed: list[str] = allowed_updates(scenario)
        self.health = Health()
        self.metrics = self._metrics()

    def _metrics(self) -> BotMetrics:
        """The metrics, hooked in where the work is done (engine/ops/metrics.py)."""
        metrics = BotMetrics()
        self.problems.listeners.append(metrics.problem)
        self.holder.listeners.append(lambda scenario: metrics.reloaded())
        self.processor.on_batch = metrics.batch
        metrics.registry.register(DatabaseGauges(self.db))
        metrics.lease_held.set_function(lambda: 1.0 if self.lease.held else 0.0)
        return metrics

    def operations(self, api: BotApi) -> Operations:
        """What /healthz, /readyz and /metrics read."""
        operations = Operations(
            self.health,
            self.metrics,
            self.db,
            lambda: self.holder.current.version,
            lambda: self.lease.held,
            lambda: api.call("getMe", {}),
        )
        if self.settings.admin_password_hash:
            panel = self.admin_panel()
            operations.extra.append((panel.add_routes, panel.close))
        return operations

    def admin_panel(self) -> AdminPanel:
        """The admin panel (BOT_ADMIN_PASSWORD_HASH set), over this bot's store."""
        from engine.web.admin_panel import AdminPanel, PanelContext

        context = PanelContext(
            self.db, lambda: self.holder.current, self._live, self.recent_problems, self.cipher
        )
        return AdminPanel(context, self.settings.admin_password_hash)

    def _live(self) -> dict[str, object]:
        """The overview's figures of this process (no scan: counters, one indexed count)."""
        metrics = self.metrics
        last = metrics.last_reload
        with self.db.connection_context():
            pending = OutboxRow.select().where(OutboxRow.status == "pending").count()
        return {
            "updates_per_minute": round(metrics.per_minute.rate(), 1),
            "outbox_pending": pending,
            "scenario_version": self.holder.current.version,
            "last_reload": None
            if last is None
            else dt.datetime.fromtimestamp(last, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        }

    def _parse(self, update_id: int, body: str) -> IncomingUpdate:
        """An update read again from the inbox, as the webhook or poller read it."""
        return parse_update(body, update_id=update_id, username=self.processor.username)

    def telegram(self) -> BotApi:
        api = BotApi(self.settings.api_url, self.settings.token)
        api.observe = self.metrics.api_call
        return api

    def set_commands(self, api: BotApi) -> None:
        scenario = self.holder.current
        for language, commands in command_menus(scenario).items():
            params: dict[str, object] = {
                "commands": json.dumps(
                    [{"command": c, "description": d} for c, d in commands], ensure_ascii=False
                )
            }
            if language != scenario.language:
                params["language_code"] = language.split("_")[0]
            api.call("setMyCommands", params)

    def sender(self, api: BotApi) -> Sender:
        limits = Limits(
            self.settings.rate_global,
            1 / self.settings.rate_per_chat,
            60 / self.settings.rate_per_group_minute,
            self.settings.chat_burst,
            broadcast_per_second=self.settings.paid_broadcast_rate,
        )
        sender = Sender(
            Outbox(self.db, self.recent),
            api,
            limits,
            self.settings.admins,
            self.holder.current.base_dir,
            file_ids=UploadedFiles(self.db),
            parallel=self.settings.senders,
            services=self.processor.services,
            answers=self.answers,
            problems=self.problems,
            media_dir=self.settings.media_dir,
        )
        sender.on_sent = self.metrics.replied
        sender.paid_broadcast = self.settings.paid_broadcast_rate > 0
        texts = MessageTexts(self.processor.flagged_scenario)  # `--message NAME`
        sender.feeder = BroadcastFeeder(self.db, texts).feed
        return sender

    def start_background(self) -> list[threading.Thread]:
        scheduler = Scheduler(Timers(self.db), self.processor, self.problems)
        health = self.health
        threads = [
            start_loop(
                self.stop, 1.0, scheduler.run_once, "scheduler", self.problems, self.fatal, health
            ),
            start_loop(
                self.stop, 0.5, self._reload_round, "reload", self.problems, self.fatal, health
            ),
            # updates left pending between a call and its continuation by a stopped process
            start_loop(
                self.stop,
                5.0,
                self.processor.resume_orphans,
                "resumer",
                self.problems,
                self.fatal,
                health,
            ),
        ]
        if self.alerts is not None:
            threads.append(
                start_loop(
                    self.stop,
                    1.0,
                    self.alerts.run_once,
                    "alerts",
                    self.problems,
                    self.fatal,
                    health,
                )
            )
        return threads

    def _reload_round(self) -> bool:
        """On SIGHUP the plugins and the scenario are loaded again whether or not a file
        changed; otherwise the scenario when its files changed (every 2 seconds)."""
        if self.hangup.is_set():
            self.hangup.clear()
            log.info("SIGHUP: reloading the plugins and %s", self.settings.scenario)
            try:
                load_plugins(self.settings.plugins, again=True)
            except PluginLoadError as exc:
                cause = f"{exc}; the plugins loaded before keep serving"
                self.problems.report(Problem("reload_failed", cause), exc)
            return self.holder.reload()
        now = time.monotonic()
        if now - self._last_look < 2.0:
            return False
        self._last_look = now
        return self.holder.reload_if_changed()

    def wait_for_lease(self, loop: str | None = None) -> bool:
        """Wait until this process may poll and send (another one may hold the lease);
        `loop` is the loop that waits: /healthz shows it waiting, not stuck."""
        told = False
        while not self.stop.is_set():
            if loop is not None:
                self.health.waiting(loop, "for the lease another process holds")
            if self.lease.try_acquire():
                if loop is not None:  # no longer waiting: from now on its rounds count
                    self.health.beat(loop)
                if told:
                    log.info("took over polling and sending")
                return True
            if not told:
                log.warning(
                    "another process of this bot polls and sends (it holds the lease on the "
                    "same database); this one %s and takes over when that one stops",
                    "takes webhook updates" if self.settings.mode == "webhook" else "waits",
                )
                told = True
            self.stop.wait(2.0)
        return False

    def run(self) -> int:
        api = self.telegram()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda number, frame: self.stop.set())
        if hasattr(signal, "SIGHUP"):  # not on Windows
            signal.signal(signal.SIGHUP, lambda number, frame: self.hangup.set())
        server = self._operations_server(api)
        if server is False:
            return 1
        try:
            return self._run(api)
        finally:
            if isinstance(server, OperationsServer):
                server.stop()

    def _operations_server(self, api: BotApi) -> OperationsServer | bool | None:
        """The operations server if BOT_HTTP_PORT asks for one (in webhook mode, not on
        the webhook's own port: that serves the routes itself); False if it cannot listen."""
        settings = self.settings
        port = settings.http_port
        if port is None:
            return None
        if settings.mode == "webhook" and port == settings.webhook_port:
            return None
        server = OperationsServer(self.operations(api), settings.http_host, port)
        try:
            server.start()
        except OSError as exc:
            log.error(
                "cannot serve /healthz, /readyz and /metrics on %s:%s (%s): choose another "
                "BOT_HTTP_PORT, or leave it unset",
                settings.http_host,
                port,
                exc.strerror or exc,
            )
            return False
        return server

    def _run(self, api: BotApi) -> int:
        if not self._connect(api):
            return 1
        self.allowed = allowed_updates(self.holder.current)
        self.holder.listeners.append(lambda scenario: self._reloaded(api, scenario))
        self.holder.listeners.append(lambda scenario: settle_memory())
        settle_memory()  # everything is loaded: full collections leave it out from now on
        threads = self.start_background()
        sender = self.sender(api)

        outbox_ready = threading.Event()
        self.processor.on_commit = outbox_ready.set  # a commit wakes the sender at once

        def send_with_lease() -> None:
            rounds = Rounds("sender", self.problems, self.fatal, self.health)
            if self.wait_for_lease("sender"):
                while not self.stop.is_set():
                    sent = rounds.run(sender.run_once)
                    if sent is None:  # failed (reported): one failing round does not end it
                        self.stop.wait(1.0)
                    elif sent == 0:
                        outbox_ready.wait(0.25)  # or retries come due
                        outbox_ready.clear()
                sender.close()

        threads.append(threading.Thread(target=send_with_lease, name="sender", daemon=True))
        threads[-1].start()
        if self.settings.mode == "webhook":
            self._webhook(api)
        elif self.wait_for_lease("intake"):
            self._poll(api)
        self.stop.set()
        for thread in threads:
            thread.join(timeout=5)
        self.processor.close()
        self._last_alerts()
        if self.tracking is not None:
            self.tracking.flush()  # the fatal error too, before the process ends
        self.lease.release()
        if self.fatal.reason is not None:
            log.critical("stopped on a fatal error (exit code 1): %s", self.fatal.reason)
            return 1
        log.info("stopped; everything received was committed")
        return 1 if self.failed else 0

    def _last_alerts(self) -> None:
        """What the alerts loop had not queued yet (the fatal error that stops the bot):
        into the outbox, sent by the next process that sends."""
        if self.alerts is None:
            return
        try:
            self.alerts.run_once()
        except Exception as exc:  # the database may be what stopped the bot
            log.warning("could not queue the last alerts: %s", exc)

    def _connect(self, api: BotApi) -> bool:
        """getMe (retried while Telegram is unreachable) and the command menus."""
        failures = 0
        while not self.stop.is_set():
            try:
                me = api.call("getMe", {})
                break
            except ApiError as exc:
                if exc.kind in ("unauthorized", "not_found"):
                    log.error(
                        "Telegram refused the token (%s): check TELEGRAM_BOT_TOKEN", exc.description
                    )
                    return False
                failures += 1
                log.warning("Telegram is unreachable (%s); trying again", exc.description)
                self.stop.wait(min(30.0, 2.0**failures))
        else:
            return False
        username = (me or {}).get("username") if isinstance(me, dict) else None
        self.processor.username = username if isinstance(username, str) else ""
        log.info("connected as @%s", self.processor.username or "?")
        try:
            self.set_commands(api)
        except ApiError as exc:  # the menu is a convenience: the bot works without it
            log.warning("could not set the command menu: %s", exc)
        return True

    def _reloaded(self, api: BotApi, scenario: Scenario) -> None:
        """A new version runs: its command menus, and the update kinds it reacts to."""
        self.allowed = allowed_updates(scenario)
        try:
            self.set_commands(api)
            if self.settings.mode == "webhook":
                api.call("setWebhook", self._webhook_params())
        except ApiError as exc:
            log.warning("could not update the command menu or webhook after reloading: %s", exc)

    def _webhook_params(self) -> dict[str, object]:
        settings = self.settings
        return {
            "url": settings.webhook_url,
            "secret_token": settings.webhook_secret,
            "allowed_updates": json.dumps(self.allowed),
            "max_connections": min(100, settings.workers * 10),
        }

    def _persist(self, api: BotApi, method: str, params: dict[str, object]) -> object:
        """A call the bot cannot start without (deleteWebhook, setWebhook): a 429, a 5xx or
        the network failing is waited out, as getUpdates' are, not a reason to stop."""
        failures = 0
        while True:
            try:
                return api.call(method, params)
            except ApiError as exc:
                if exc.kind not in _PASSING or self.stop.is_set():
                    raise
                failures += 1
                wait = float(exc.retry_after or min(30.0, 2.0**failures))
                log.warning("%s failed (%s); trying again in %gs", method, exc.kind, wait)
                self.stop.wait(wait)

    def _poll(self, api: BotApi) -> None:
        """Polling in its own thread; on SIGTERM the batch in flight is committed, a long
        poll still waiting is abandoned (nothing of it was confirmed)."""
        try:
            self._persist(api, "deleteWebhook", {})
        except ApiError as exc:
            if not self.stop.is_set():
                self.fatal("deleteWebhook", exc)
            return
        poller = Poller(api, self.processor, lambda: self.allowed, self.settings.poll_timeout)
        # a long poll, Telegram's read timeout on top, and the longest back-off (90 s)
        self.health.expect("intake", self.settings.poll_timeout + 30 + 90 + 30)
        poller.on_round = lambda: self.health.beat("intake")

        def poll() -> None:
            try:
                poller.run(self.stop)
            except Exception as exc:  # a bug, or the database gone: Telegram keeps the updates
                self.fatal("the poller", exc)

        thread = threading.Thread(target=poll, name="poller", daemon=True)
        thread.start()
        while not self.stop.wait(0.2):
            if not thread.is_alive():
                break
        with poller.busy:  # waits for the batch in flight
            pass

    def _webhook(self, api: BotApi) -> None:
        from aiohttp import web

        from engine.runtime.webhook import make_app

        settings = self.settings
        path = urlparse(settings.webhook_url).path or "/"

        async def serve() -> None:
            app = make_app(self.processor, settings.webhook_secret, path, self.fatal)
            operations = self.operations(api)
            operations.add_routes(app)  # one port is enough: /healthz, /readyz, /metrics
            self.health.expect("intake", WEBHOOK_LIMIT)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, settings.webhook_host, settings.webhook_port).start()
            log.info(
                "webhook listening on %s:%s%s", settings.webhook_host, settings.webhook_port, path
            )
            # only now that it listens: Telegram starts sending at once
            params = self._webhook_params()
            try:
                await asyncio.get_running_loop().run_in_executor(
                    None, lambda: self._persist(api, "setWebhook", params)
                )
            except ApiError as exc:
                log.error("Telegram refused the webhook %s: %s", settings.webhook_url, exc)
                self.failed = True
                self.stop.set()
            while not self.stop.is_set():
                self.health.beat("intake")  # the server's event loop runs
                await asyncio.sleep(0.2)
            await runner.cleanup()  # finishes requests in flight
            operations.close()

        asyncio.run(serve())


def open_bot(settings: Settings, stderr: TextIO, require_keys: bool = True) -> Bot | None:
    """The bot, or None once what stops it from starting is written to `stderr` in a
    sentence (scenario errors with their positions, the schema, plugins, the database)."""
    try:
        return Bot(settings, require_keys)
    except ScenarioError as exc:
        stderr.write(f"{exc}\n{settings.scenario} has errors; the bot does not start.\n")
    except (SchemaError, PluginLoadError, DatabaseURLError) as exc:  # e.g. no psycopg2
        stderr.write(f"{program()}: {exc}\n")
    except peewee.DatabaseError as exc:
        stderr.write(f"{program()}: cannot use the database of DATABASE_URL: {exc}\n")
    return None


def run_bot(settings: Settings, stderr: TextIO) -> int:
    token_secret = settings.token.partition(":")[2]
    configure_logging(
        LogSettings(settings.log_level, settings.log_format, settings.log_file),
        [settings.token, token_secret, settings.webhook_secret],
    )
    bot = open_bot(settings, stderr)
    if bot is None:
        return 1
    log_start(bot.settings, bot.holder.current)
    return bot.run()

"""Alerts to the operators: a ProblemSink listener that tells the admins (BOT_ALERT_CHAT, or
every BOT_ADMINS id) about problems as Telegram messages queued in the outbox, so they are as
durable and rate-limited as any reply. The first problem of a kind goes out at once; after
that, at most one summary every BOT_ALERT_INTERVAL counts what happened since.

The listener only appends to a bounded list (it runs on the pipeline's and the sender's
threads and must never wait for the database); `run_once`, called by a loop of its own, turns
that list into outbox rows. A problem about sending to an alert chat is never alerted, so a
failing alert cannot make another one."""

from __future__ import annotations

import datetime as dt
import gettext
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence

import peewee

from engine.core import builtin_texts
from engine.core.effects import NotifyChat
from engine.ops.problems import Problem
from engine.store.database import write_transaction
from engine.store.models import OutboxRow
from engine.store.serialization import effect_to_json
from engine.store.unavailable import utc

log = logging.getLogger("engine.alerts")

DEFAULT_INTERVAL = 600.0  # seconds: BOT_ALERT_INTERVAL's default, 10m
_KEPT = 1000  # problems waiting for the alerts loop; more are counted, not kept
_CAUSE = 500  # characters of a problem's description in an alert (Telegram allows 4096)
_ABOUT_SENDING = frozenset({"send_failed", "user_blocked"})


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def interval_text(seconds: float) -> str:
    """10m, 1h30m, 45s: how BOT_ALERT_INTERVAL is written."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{v}{u}" for v, u in ((hours, "h"), (minutes, "m"), (secs, "s")) if v]
    return "".join(parts) or "0s"


def _catalog(language: str) -> gettext.NullTranslations:
    """The engine's own translations (engine/i18n/locales) for `language`."""
    from engine.i18n.catalogs import ENGINE_DOMAIN, ENGINE_LOCALES, load_catalog, po_path

    found = load_catalog(po_path(ENGINE_LOCALES, language, ENGINE_DOMAIN))
    return found if found is not None else gettext.NullTranslations()


class Alerts:
    """Turns reported problems into alert messages for the admins, through the outbox."""

    def __init__(
        self,
        db: peewee.Database,
        targets: Sequence[int],
        interval: float = DEFAULT_INTERVAL,
        language: Callable[[], str] = lambda: "en",
        bot_name: Callable[[], str] = lambda: "bot",
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], dt.datetime] = _utcnow,
    ) -> None:
        self.db = db
        self.targets = tuple(dict.fromkeys(targets))
        self.interval = interval
        self.language, self.bot_name = language, bot_name
        self.clock, self.wall = clock, wall
        self._lock = threading.Lock()
        self._new: deque[Problem] = deque()
        self._overflow = Counter[str]()  # problems not kept (the list was full), by kind
        self._told: set[str] = set()  # kinds alerted since the last quiet interval
        self._since = Counter[str]()  # problems of told kinds, for the next summary
        self._last: dict[str, Problem] = {}  # the latest of each kind in `_since`
        self._window: float | None = None  # when the current interval began
        self._window_wall: dt.datetime | None = None
        self._unsent: list[NotifyChat] = []  # messages the database did not take yet
        self._catalogs: dict[str, gettext.NullTranslations] = {}

    def __call__(self, problem: Problem) -> None:
        """The ProblemSink listener: keeps the problem for the alerts loop; never waits."""
        if problem.kind in _ABOUT_SENDING and problem.chat_id in self.targets:
            return  # a failed alert (or the admin blocked the bot): alerting it would loop
        with self._lock:
            if len(self._new) < _KEPT:
                self._new.append(problem)
            else:
                self._overflow[problem.kind] += 1

    def run_once(self) -> int:
        """One round of the alerts loop: the messages due now, queued in the outbox; how
        many rows were queued. A database error leaves them for the next round."""
        with self._lock:
            new, self._new = list(self._new), deque()
            overflow, self._overflow = self._overflow, Counter()
        now = self.clock()
        texts = [self._first(p) for p in self._sort(new, overflow)]
        if self._window is not None and now - self._window >= self.interval:
            if self._since:
                texts.append(self._summary())
            else:  # a quiet interval: the next problem of any kind is told at once again
                self._told.clear()
            self._since.clear()
            self._last.clear()
            self._window = self._window_wall = None
        if texts and self._window is None:
            self._window, self._window_wall = now, self.wall()
        self._unsent.extend(NotifyChat(chat, text, None) for text in texts for chat in self.targets)
        del self._unsent[:-_KEPT]  # the database is away for long: the newest are kept
        return self._queue()

    def _sort(self, new: list[Problem], overflow: Counter[str]) -> list[Problem]:
        """The problems of kinds not told yet (the first of each); the rest are counted."""
        first: list[Problem] = []
        for problem in new:
            if problem.kind not in self._told:
                self._told.add(problem.kind)
                first.append(problem)
            else:
                self._since[problem.kind] += 1
                self._last[problem.kind] = problem
        self._since.update(overflow)
        return first

    def _translations(self) -> gettext.NullTranslations:
        language = self.language()
        found = self._catalogs.get(language)
        if found is None:
            found = self._catalogs[language] = _catalog(language)
        return found

    def _first(self, problem: Problem) -> str:
        t = self._translations()
        bot = self.bot_name()
        return "\n".join(
            (
                t.gettext(builtin_texts.ALERT_FIRST) % {"bot": bot, "kind": problem.kind},
                problem.describe()[:_CAUSE],
                t.gettext(builtin_texts.ALERT_NEXT) % {"interval": interval_text(self.interval)},
            )
        )

    def _summary(self) -> str:
        t = self._translations()
        since = self._window_wall.strftime("%H:%M") if self._window_wall else "?"
        lines = [t.gettext(builtin_texts.ALERT_SUMMARY) % {"bot": self.bot_name(), "since": since}]
        singular, plural = builtin_texts.ALERT_COUNT
        for kind, count in sorted(self._since.items()):
            lines.append(t.ngettext(singular, plural, count) % {"kind": kind, "count": count})
            last = self._last.get(kind)
            if last is not None:
                problem = last.describe()[:_CAUSE]
                lines.append("  " + t.gettext(builtin_texts.ALERT_LAST) % {"problem": problem})
        return "\n".join(lines)

    def _queue(self) -> int:
        if not self._unsent:
            return 0
        stamp = utc(self.wall())
        rows = [
            {
                "chat_id": message.to,
                "user_id": None,
                "kind": "NotifyChat",
                "payload": effect_to_json(message),
                "not_before": stamp,
                "created": stamp,
            }
            for message in self._unsent[:100]
        ]
        with write_transaction(self.db):  # raises on a database error: the loop reports it
            OutboxRow.insert_many(rows).execute()
        del self._unsent[: len(rows)]
        return len(rows)

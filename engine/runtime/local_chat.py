"""`python run.py` without a token: the bot in the terminal, through the real pipeline.
Every message goes through the store (inbox, session, outbox, timers in SQLite), exactly as
a Telegram update would; replies are read back from the outbox. Started again, it shows the
current state's message and buttons once more (the outbox keeps no sent texts), so the
conversation goes on where it stood."""

from __future__ import annotations

import datetime as dt
from typing import TextIO

from engine.console import HELP, ConsoleChat, converse
from engine.core.events import Event, TextMessage
from engine.core.interpreter import show_again
from engine.core.store_protocol import IncomingUpdate
from engine.ops.start_line import without_password
from engine.runtime.app import Bot, open_bot
from engine.runtime.config import Settings
from engine.runtime.scheduler import Scheduler
from engine.store.models import InboxRow
from engine.store.queues import Outbox, Timers


class StoredChat(ConsoleChat):
    def __init__(self, bot: Bot, stdout: TextIO, name: str | None = None) -> None:
        self.bot = bot
        super().__init__(bot.holder.current, stdout, name=name)
        self.outbox = Outbox(bot.db)
        self.scheduler = Scheduler(Timers(bot.db), bot.processor)
        bot.processor.clock = lambda: self.clock
        if bot.processor.calls is not None:  # a terminal waits for each answer: calls inline
            bot.processor.calls.close()
            bot.processor.calls = None
        last = InboxRow.select(InboxRow.update_id).order_by(InboxRow.update_id.desc()).first()
        self.next_update = (last.update_id + 1) if last is not None and last.update_id > 0 else 1

    def send(self, event: Event) -> None:
        raw = f'{{"update_id": {self.next_update}, "console": true}}'
        self.bot.processor.process([IncomingUpdate(self.next_update, raw, event.chat.id, event)])
        self.next_update += 1
        self.flush()

    def fire_due(self, waited: str) -> None:
        """The timers live in the database here: the scheduler fires them, as the bot's would."""
        fired = self.scheduler.run_once()
        if fired:
            timers = "a timer" if fired == 1 else f"{fired} timers"
            self.out.write(f"(after {waited}: {timers} fired)\n")
        else:
            self.out.write(f"(after {waited}: nothing was due)\n")
        self.flush()

    def show_where_it_stands(self) -> None:
        """After a restart: the current state's message and buttons again, rendered from the
        stored session (nothing is stored or sent), so the numbers press its buttons."""
        effects = show_again(
            self.scenario, self.session, TextMessage(**self.sender(), text=""), self.clock
        )
        if self.session.ended:
            self.out.write(
                f"(the conversation ended in state '{self.session.state}'; your next message "
                "starts it again)\n"
            )
        if not effects:
            return
        self.out.write(f"(continuing in state '{self.session.state}'; its message again:)\n")
        for effect in effects:
            self.show(effect)

    def flush(self) -> None:
        for queued in self.outbox.pending(self.clock + dt.timedelta(days=1), 1000):
            self.show(queued.effect)
            self.outbox.sent(queued.id)
        self.session = self.bot.store.session(self.chat.id, self.user.id) or self.session


def run_local(
    settings: Settings, stdin: TextIO, stdout: TextIO, stderr: TextIO, name: str | None = None
) -> int:
    bot = open_bot(settings, stderr, require_keys=False)
    if bot is None:
        return 1
    chat = StoredChat(bot, stdout, name)
    stdout.write(
        f"No TELEGRAM_BOT_TOKEN set: talking to {bot.holder.current.name} here, through the real "
        f"pipeline (database: {without_password(settings.database_url)}). {HELP}\n"
    )
    chat.flush()
    if bot.store.session(chat.chat.id, chat.user.id) is None:
        chat.handle_line("/start")
    else:
        chat.show_where_it_stands()
    converse(chat, stdin, stdout)
    bot.processor.close()
    return 0

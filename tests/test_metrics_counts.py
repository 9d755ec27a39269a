"""bot_sends_total is counted by the sender's threads without a lock, each in a table of its
own: a scrape must still see every call, from every thread, under its labels."""

from __future__ import annotations

import threading
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from engine.ops.metrics import BotMetrics
from engine.testing.fake_telegram import TOKEN, FakeTelegram, text_update


def test_calls_counted_from_many_threads_add_up_exactly() -> None:
    metrics = BotMetrics()
    start = threading.Barrier(4)

    def send(method: str) -> None:
        start.wait()
        for i in range(10_000):
            metrics.api_call(method, None if i % 10 else "rate_limited")

    threads = [threading.Thread(target=send, args=(m,)) for m in ("sendMessage",) * 3 + ("getMe",)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    samples = {
        (s.labels["method"], s.labels["result"]): s.value
        for family in text_string_to_metric_families(metrics.exposition().decode())
        if family.name == "bot_sends"
        for s in family.samples
        if s.name == "bot_sends_total"
    }
    assert samples == {
        ("sendMessage", "ok"): 27_000,
        ("sendMessage", "429"): 3_000,
        ("getMe", "ok"): 9_000,
        ("getMe", "429"): 1_000,
    }


def test_a_reply_sent_as_soon_as_the_commit_wakes_the_sender_is_measured(
    tmp_path: Path,
) -> None:
    """The commit wakes the sender at once; a sender quicker than the batch's bookkeeping
    sent the reply before its update was known to wait, and bot_reply_seconds missed it
    (seen under load as 2 replies counted of 3)."""
    from engine.runtime.app import Bot
    from engine.runtime.config import read_settings
    from engine.runtime.polling import Poller
    from engine.telegram.updates import allowed_updates

    with FakeTelegram() as fake:
        env = {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": fake.url,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
            "BOT_SCENARIO": "scenarios/hello.yaml",
        }
        bot = Bot(read_settings(env))
        try:
            api = bot.telegram()
            sender = bot.sender(api)
            # the sender's thread, woken by the commit, as quick as it can be
            bot.processor.on_commit = lambda: sender.run_once()
            poller = Poller(api, bot.processor, allowed_updates(bot.holder.current), timeout=0)
            fake.push(text_update(42, "/start"))
            assert poller.poll_once() == 1
            assert [c.method for c in fake.calls if c.method == "sendMessage"] == ["sendMessage"]
            found = {
                s.name: s.value
                for family in text_string_to_metric_families(bot.metrics.exposition().decode())
                for s in family.samples
            }
            assert found["bot_reply_seconds_count"] == 1
        finally:
            sender.close()
            bot.processor.close()
            bot.db.close()

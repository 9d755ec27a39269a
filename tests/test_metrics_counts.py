"""bot_sends_total is counted by the sender's threads without a lock, each in a table of its
own: a scrape must still see every call, from every thread, under its labels."""

from __future__ import annotations

import threading

from prometheus_client.parser import text_string_to_metric_families

from engine.ops.metrics import BotMetrics


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

"""The fault campaign (bench/faults.py): a tiny run of it loses and doubles nothing and its
report adds up; its detector finds a lost, a doubled, a reordered and a repeated reply in a
doctored transcript; the fake server's random 429 and 5xx; bench/slow_http.py runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from live_bot import ROOT

from engine.telegram.bot_api import ApiError, BotApi
from engine.testing.fake_telegram import FakeTelegram, RandomFaults

sys.path.insert(0, str(ROOT / "bench"))

from fault_check import Sent, check

SEND = {"chat_id": 1, "text": "hi"}


def test_a_tiny_campaign_loses_and_doubles_nothing(tmp_path: Path) -> None:
    figures_file = tmp_path / "figures.json"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "faults.py"),
            *("--config", "sqlite-1", "--users", "4", "--messages", "10", "--kills", "3"),
            *("--interval", "2", "--rate-429", "0.1", "--rate-5xx", "0.1", "--drain", "40"),
            *("--json", str(figures_file)),
        ],
        capture_output=True,
        text=True,
        timeout=110,
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    [report] = json.loads(figures_file.read_text())
    figures = report["figures"]
    assert figures["lost"] == 0, done.stdout
    assert figures["doubled"] == 0, done.stdout
    assert figures["unexpected"] == 0 and report["refused"] == 0, done.stdout
    # the report adds up
    assert report["updates_sent"] == figures["expected"] == 40
    assert figures["answered"] + figures["lost"] == figures["expected"]
    assert figures["sends"] == figures["answered"] + figures["duplicates"]
    assert report["kills"] == 3 == sum(report["killed"])
    assert len(figures["duplicates_by_kill"]) == 3
    duplicates = sum(figures["duplicates_by_kill"]) + figures["duplicates_before_kills"]
    assert duplicates == figures["duplicates"]
    assert report["injected_429"] + report["injected_5xx"] > 0  # the faults did happen
    assert report["stop_codes"] == [0]
    assert "lost                    0" in done.stdout
    # issue 12, items 3 and 4: a chat's replies in order across restarts, and a kill
    # repeats at most the messages in flight
    assert figures["reordered"] == 0, done.stdout
    assert max(figures["duplicates_by_kill"]) <= report["senders"], done.stdout


def test_the_detector_finds_lost_doubled_reordered_and_repeated_replies() -> None:
    kill = 10.0
    sent = [
        # user 1: m2's reply lost (its state applied: m3 says n=3); m4 overtakes m3
        Sent(1, "u1 m1 n=1", 1),
        Sent(1, "u1 m4 n=4", 2),
        Sent(1, "u1 m3 n=3", 3),
        Sent(1, "What?", 4),
        # user 2: m1 sent twice before the kill; m2 applied twice, both replies seen;
        # m4 sent twice after the kill
        Sent(2, "u2 m1 n=1", 1),
        Sent(2, "u2 m1 n=1", 5),
        Sent(2, "u2 m2 n=2", 6),
        Sent(2, "u2 m2 n=3", 11),
        Sent(2, "u2 m3 n=4", 12),
        Sent(2, "u2 m4 n=5", 13),
        Sent(2, "u2 m4 n=5", 14),
        # user 3: m2 applied twice, only the second reply seen
        Sent(3, "u3 m1 n=1", 1),
        Sent(3, "u3 m2 n=3", 2),
        Sent(3, "u3 m3 n=4", 3),
        Sent(3, "u3 m4 n=5", 4),
        Sent(99, "u99 m1 n=1", 5),  # nobody of the campaign
    ]
    figures = check(sent, [1, 2, 3], 4, [kill])
    assert (figures.expected, figures.answered, figures.sends) == (12, 11, 16)
    assert figures.lost == 1
    assert figures.doubled == 2
    assert (figures.reordered, figures.reordered_chats) == (1, 1)
    assert figures.duplicates == 2
    assert figures.duplicates_by_kill == (1,)
    assert figures.duplicates_before_kills == 1
    assert figures.unexpected == 2
    assert "chat 1: m2 lost" in figures.examples
    assert "chat 1: 'u1 m3 n=3' after the reply to m4" in figures.examples


def test_the_detector_passes_a_clean_campaign() -> None:
    sent = [Sent(user, f"u{user} m{i} n={i}", i) for i in range(1, 6) for user in (7, 8)]
    figures = check(sent, [7, 8], 5, [2.5])
    assert (figures.answered, figures.lost, figures.doubled, figures.reordered) == (10, 0, 0, 0)
    assert (figures.duplicates, figures.unexpected, figures.examples) == (0, 0, ())


@pytest.mark.parametrize(
    ("faults", "kind"),
    [
        (RandomFaults(rate_429=1.0, retry_after=3), "rate_limited"),
        (RandomFaults(rate_5xx=1.0), "server"),
    ],
)
def test_the_fake_answers_faults_at_random(faults: RandomFaults, kind: str) -> None:
    with FakeTelegram() as fake:
        api = BotApi(fake.url, fake.token)
        fake.fail_at_random(faults, seed=1)
        with pytest.raises(ApiError) as refused:
            api.call("sendMessage", SEND)
        assert refused.value.kind == kind
        if kind == "rate_limited":
            assert refused.value.retry_after == 3
        fake.fail_at_random(RandomFaults(rate_5xx=1.0, methods=("getUpdates",)))
        assert api.call("sendMessage", SEND)["text"] == "hi"  # not one of its methods
        fake.fail_at_random(RandomFaults())
        assert api.call("getMe", {})["is_bot"]
        assert not fake.rejected
        assert sum(fake.injected.values()) == 1  # the call refused; nothing carried out
        assert [c.method for c in fake.calls] == ["sendMessage", "getMe"]


def test_the_slow_http_bench_runs() -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "slow_http.py"),
            *("--users", "2", "--delay", "1", "--seconds", "1"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "while the call runs:" in done.stdout and "ratio p99" in done.stdout, done.stdout

"""Issue 12, item 1: a background loop that fails is reported and goes on; the database
refusing work is waited out; a bug failing round after round, or the database gone for
good, is fatal: the bot stops (exit code 1), and the first fatal error is the one named."""

from __future__ import annotations

import logging
import threading

import peewee
import pytest

from engine.ops.problems import ProblemSink
from engine.runtime.loops import FAILED_ROUNDS, Fatal, Rounds
from engine.store.pipeline import StoreUnavailable


def _rounds() -> tuple[Rounds, Fatal, ProblemSink, threading.Event]:
    stop = threading.Event()
    problems = ProblemSink()
    fatal = Fatal(stop, problems)
    return Rounds("scheduler", problems, fatal), fatal, problems, stop


def _raise(exc: Exception) -> None:
    raise exc


def test_a_round_that_fails_is_reported_and_the_loop_goes_on() -> None:
    rounds, fatal, problems, stop = _rounds()
    for _ in range(FAILED_ROUNDS - 1):
        assert rounds.run(lambda: _raise(KeyError("x"))) is None
    assert rounds.run(lambda: 3) == 3  # a good round starts the count again
    for _ in range(FAILED_ROUNDS - 1):
        rounds.run(lambda: _raise(KeyError("x")))
    assert not stop.is_set() and fatal.reason is None
    assert problems.counts == {"loop_failed": 2 * (FAILED_ROUNDS - 1)}


def test_a_bug_failing_round_after_round_stops_the_bot(caplog: pytest.LogCaptureFixture) -> None:
    rounds, fatal, problems, stop = _rounds()
    with caplog.at_level(logging.INFO, logger="engine.problems"):
        for _ in range(FAILED_ROUNDS):
            rounds.run(lambda: _raise(TypeError("a bug")))
    assert stop.is_set()
    assert fatal.reason == f"the scheduler failed {FAILED_ROUNDS} rounds in a row: TypeError: a bug"
    assert caplog.records[-1].levelno == logging.CRITICAL
    fatal("the poller", RuntimeError("later"))  # the first one is what stopped the bot
    assert fatal.reason.startswith("the scheduler") and problems.counts["fatal"] == 1


def test_a_busy_database_is_waited_out_but_a_gone_one_is_fatal() -> None:
    rounds, fatal, problems, stop = _rounds()
    busy = StoreUnavailable("the database refused the batch 6 times: database is locked")
    for _ in range(3 * FAILED_ROUNDS):
        rounds.run(lambda: _raise(busy))
    rounds.run(lambda: _raise(peewee.OperationalError("could not connect to server")))
    assert not stop.is_set() and problems.counts["store"] == 3 * FAILED_ROUNDS + 1
    gone = peewee.OperationalError("no such table: timers")
    rounds.run(lambda: _raise(gone))
    assert stop.is_set()
    assert (
        fatal.reason
        == "the scheduler found the database gone: OperationalError: no such table: timers"
    )

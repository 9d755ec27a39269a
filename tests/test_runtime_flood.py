"""Flood control of incoming updates: a user over the limit has the excess set aside (as
ignored), other users are not affected, and the limit refills with time."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from engine.core.events import Chat, TextMessage, User
from engine.core.store_protocol import IncomingUpdate
from engine.runtime.flood import FloodGuard

T0 = dt.datetime(2026, 1, 5, 12, 0, tzinfo=dt.UTC)


def update(update_id: int, user: int) -> IncomingUpdate:
    event = TextMessage(user=User(user), chat=Chat(user), text="spam")
    return IncomingUpdate(update_id, "{}", user, event)


def test_a_flooding_user_is_cut_off_and_others_are_not() -> None:
    guard = FloodGuard(rate=5, burst=20)
    batch = [update(n, 1) for n in range(1, 51)] + [update(100, 2)]
    admitted = guard.admit(batch, T0)
    assert sum(u.event is not None for u in admitted[:50]) == 20
    assert all(u.error and "user 1 sent more than 5" in u.error for u in admitted[20:50])
    assert admitted[50].event is not None  # user 2 is unaffected
    later = guard.admit([update(200 + n, 1) for n in range(10)], T0 + dt.timedelta(seconds=1))
    assert sum(u.event is not None for u in later) == 5  # refilled at 5 a second


def test_timers_and_unreadable_updates_always_pass() -> None:
    guard = FloodGuard(rate=1, burst=1)
    timer = update(-5, 1)
    unreadable = IncomingUpdate(7, "{", error="malformed: not JSON")
    admitted = guard.admit([update(1, 1), update(2, 1), timer, unreadable], T0)
    assert admitted[2] is timer and admitted[3] is unreadable
    assert admitted[1].event is None


def test_no_limit_when_the_rate_is_zero() -> None:
    batch = [update(n, 1) for n in range(1, 500)]
    assert FloodGuard(rate=0).admit(batch, T0) == batch


@given(
    st.lists(st.tuples(st.integers(1, 3), st.floats(0, 5)), min_size=1, max_size=200),
    st.floats(0.5, 20),
    st.integers(1, 30),
)
def test_nobody_gets_more_than_the_burst_plus_the_refill(
    arrivals: list[tuple[int, float]], rate: float, burst: int
) -> None:
    guard = FloodGuard(rate=rate, burst=burst)
    now, admitted = T0, {1: 0, 2: 0, 3: 0}
    for number, (user, gap) in enumerate(arrivals, start=1):
        now += dt.timedelta(seconds=gap)
        [result] = guard.admit([update(number, user)], now)
        admitted[user] += result.event is not None
    span = (now - T0).total_seconds()
    for count in admitted.values():
        assert count <= burst + rate * span + 1e-6

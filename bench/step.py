"""Events per second through `step` for the demo, with many users' sessions in memory.

Run: python bench/step.py [--users 10000] [--rounds 2]
Each user orders a pizza from /start to the confirmation (15 events), sessions kept in a
dict as a store would hand them over. Only the time inside step() is counted.
Goal: at least 20,000 events/s on one core.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from engine.core.effects import EditText, SendText  # noqa: E402
from engine.core.events import (  # noqa: E402
    ButtonPress,
    Chat,
    CommandMessage,
    ContactShared,
    Event,
    TextMessage,
    User,
)
from engine.core.interpreter import step  # noqa: E402
from engine.core.ports import HttpResponse, OfflineServices  # noqa: E402
from engine.core.session import Session, new_session  # noqa: E402
from engine.scenario import validate_file  # noqa: E402
from engine.scenario.compiler import compile_scenario  # noqa: E402

# (kind, value): "cmd" a command, "text" a message, "press" the button with that label,
# "contact" a shared phone number.
SCRIPT = [
    ("cmd", "start"),
    ("press", "🍕 Order a pizza"),
    ("text", "Large"),
    ("text", "2"),
    ("press", "➡️ Continue"),
    ("text", "Hauptstraße 5, Berlin"),
    ("text", "Nothing to add"),
    ("contact", "+49301234567"),
    ("text", "No code"),
    ("press", "⚡ As soon as possible"),
    ("text", "no"),
    ("text", "yes"),
    ("press", "📦 Where is my pizza?"),
    ("text", "hello?"),
    ("cmd", "help"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    scenario = compile_scenario(
        validate_file(os.path.join(ROOT, "scenarios", "demo.yaml")).scenario
    )  # type: ignore[arg-type]
    services = OfflineServices(
        config={"ORDERS_URL": "https://orders.example/api"},
        responses={"https://orders.example/api": HttpResponse(200, {"id": 1042})},
        plugins={
            "check_stock": lambda arguments, context: {"available": True, "left": 12, "price": 9.5}
        },
    )
    sessions: dict[int, Session] = {uid: new_session(uid, uid) for uid in range(1, args.users + 1)}
    buttons: dict[int, dict[str, str]] = {}
    now = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
    spent = 0.0
    events = 0
    problems = 0
    wall = time.perf_counter()
    for _ in range(args.rounds):
        for kind, value in SCRIPT:
            for uid in range(1, args.users + 1):
                event = _event(kind, value, uid, buttons.get(uid, {}), events)
                started = time.perf_counter()
                result = step(scenario, sessions[uid], event, now, services)
                spent += time.perf_counter() - started
                events += 1
                sessions[uid] = result.session
                for effect in result.effects:
                    markup: Any = getattr(effect, "markup", None)
                    if isinstance(effect, SendText | EditText) and markup and markup.inline:
                        buttons[uid] = {
                            b.text: b.data for row in markup.inline for b in row if b.data
                        }
                    problems += type(effect).__name__ == "ReportProblem"
    wall = time.perf_counter() - wall
    states = {s.state for s in sessions.values()}
    print(
        f"users: {args.users:,} sessions in memory; events: {events:,}; final states: {sorted(s or '' for s in states)}"
    )
    print(f"step(): {events / spent:,.0f} events/s, {spent / events * 1e6:.1f} µs per event")
    print(
        f"whole loop (with this harness): {events / wall:,.0f} events/s; runtime problems reported: {problems}"
    )
    print(f"goal: at least 20,000 events/s: {'met' if events / spent >= 20_000 else 'NOT met'}")


def _event(kind: str, value: str, uid: int, buttons: dict[str, str], seed: int) -> Event:
    user, chat = User(uid, f"User{uid}", language="en"), Chat(uid)
    if kind == "cmd":
        return CommandMessage(user=user, chat=chat, seed=seed, command=value)
    if kind == "press":
        return ButtonPress(
            user=user,
            chat=chat,
            seed=seed,
            data=buttons.get(value, "b1:gone:0:00"),
            callback_id=str(seed),
            message_id=seed,
        )
    if kind == "contact":
        return ContactShared(user=user, chat=chat, seed=seed, phone_number=value)
    return TextMessage(user=user, chat=chat, seed=seed, text=value)


if __name__ == "__main__":
    main()

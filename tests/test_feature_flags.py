"""Feature flags: declared in the scenario, switched in the database with `--flag`, seen by
every bot process within REFRESH_SECONDS as `flags.NAME` in conditions and templates."""

from __future__ import annotations

import io
import json
from pathlib import Path

import peewee
import pytest
from store_fixtures import text_update

from engine.admin.flags import REFRESH_SECONDS, FlagBoard
from engine.cli import run
from engine.core.events import Chat, CommandMessage, User
from engine.core.ports import OfflineServices
from engine.core.store_protocol import IncomingUpdate
from engine.runtime.processing import Processor
from engine.runtime.scenario_holder import ScenarioHolder
from engine.store.models import AuditRow, OutboxRow, database_proxy
from engine.store.pipeline import Store
from engine.store.serialization import effect_from_json

SHOP = """
bot: {name: T, start: menu}
flags: {new_menu: false, sale: true}
states:
  menu:
    say:
      - text: New menu
        if: flags.new_menu
      - text: Old menu
        if: not flags.new_menu
      - "sale={{ flags.sale }}"
    on: [{text: again, goto: menu}]
"""


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class BotProcess:
    """One bot process's Processor, with its own flag board, on the shared database."""

    def __init__(self, db: peewee.Database, path: Path, clock: Clock) -> None:
        self.processor = Processor(Store(db, "shop"), ScenarioHolder(str(path)), OfflineServices())
        self.processor.flags = FlagBoard(db, clock=clock)
        self.update_ids = iter(range(1, 10**6))

    def says(self, user_id: int, words: str) -> list[str]:
        before = OutboxRow.select(peewee.fn.MAX(OutboxRow.id)).scalar() or 0
        update_id = next(self.update_ids) + user_id * 1000
        self.processor.process([text_update(update_id, user_id, words)])
        rows = OutboxRow.select().where(OutboxRow.id > before).order_by(OutboxRow.id)
        return [str(getattr(effect_from_json(r.payload), "text", "")) for r in rows]


@pytest.fixture
def shop_file(tmp_path: Path) -> Path:
    path = tmp_path / "shop.yaml"
    path.write_text(SHOP, encoding="utf-8")
    return path


def _cli(db: peewee.Database, *argv: str | Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run([str(a) for a in argv], out, err)
    database_proxy.initialize(db)  # the command opened its own connection, as a process would
    return code, out.getvalue(), err.getvalue()


def test_a_switch_by_one_process_changes_another_processes_if_within_the_refresh(
    db: peewee.Database, store_url: str, shop_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", store_url)
    clock = Clock()
    first, second = BotProcess(db, shop_file, clock), BotProcess(db, shop_file, clock)
    assert first.says(1, "hi") == ["Old menu", "sale=True"]
    assert second.says(2, "hi") == ["Old menu", "sale=True"]

    code, out, err = _cli(db, "--flag", "new_menu", "on", shop_file)
    assert code == 0, err
    assert out == "flag new_menu is on (was unset); running bots see it within 5 seconds\n"
    clock.now += REFRESH_SECONDS - 1  # both read the flags less than the delay ago
    assert second.says(2, "again") == ["Old menu", "sale=True"]
    clock.now += 1  # the documented delay has passed
    assert second.says(2, "again") == ["New menu", "sale=True"]
    assert first.says(1, "again") == ["New menu", "sale=True"]

    assert _cli(db, "--flag", "sale", "off", shop_file)[0] == 0
    clock.now += REFRESH_SECONDS
    assert first.says(1, "again") == ["New menu", "sale=False"]
    for bot in (first, second):
        bot.processor.close()


def test_flags_lists_values_and_defaults_and_switches_are_audited(
    db: peewee.Database, store_url: str, shop_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", store_url)
    code, out, _ = _cli(db, "--flags", shop_file)
    assert (code, out) == (0, "new_menu\toff\t(default off)\nsale\ton\t(default on)\n")
    assert _cli(db, "--flag", "new_menu", "on", shop_file)[0] == 0
    code, out, _ = _cli(db, "--flag", "new_menu", "off", shop_file)
    assert out.startswith("flag new_menu is off (was on)")
    code, out, _ = _cli(db, "--flags", shop_file)
    first = out.splitlines()[0]
    assert first.startswith("new_menu\toff\t(default off, switched ") and first.endswith(" by cli)")
    rows = AuditRow.select().where(AuditRow.action == "flag").order_by(AuditRow.id)
    assert [(r.actor, r.subject, json.loads(r.details)) for r in rows] == [
        ("cli", "new_menu", {"enabled": True, "before": None}),
        ("cli", "new_menu", {"enabled": False, "before": True}),
    ]


def test_a_flag_the_scenario_does_not_declare_is_refused(
    db: peewee.Database, store_url: str, shop_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", store_url)
    code, out, err = _cli(db, "--flag", "new_manu", "on", shop_file)
    assert code == 2 and out == ""
    assert "declares no flag 'new_manu'" in err and "Did you mean 'new_menu'?" in err
    code, _, err = _cli(db, "--flag", "new_menu", "yes", shop_file)
    assert code == 2 and "takes on or off, not 'yes'" in err
    assert AuditRow.select().where(AuditRow.action == "flag").count() == 0


ADMIN_ID = 99


def command_update(update_id: int, user_id: int, command: str, args: str) -> IncomingUpdate:
    """`/command args` in the user's private chat, as the Telegram adapter hands it over."""
    text = f"/{command} {args}".strip()
    event = CommandMessage(
        user=User(user_id, "Ada"), chat=Chat(user_id), command=command, args=args
    )
    raw = json.dumps({"update_id": update_id, "message": {"chat": {"id": user_id}, "text": text}})
    return IncomingUpdate(update_id, raw, user_id, event)


def test_an_admin_switches_a_flag_from_telegram_and_others_cannot(
    db: peewee.Database, shop_file: Path
) -> None:
    clock = Clock()
    bot = BotProcess(db, shop_file, clock)
    bot.processor.admins = frozenset({ADMIN_ID})
    assert bot.says(1, "hi") == ["Old menu", "sale=True"]
    assert bot.says(ADMIN_ID, "hi") == ["Old menu", "sale=True"]

    def command(user_id: int, name: str, args: str) -> list[str]:
        before = OutboxRow.select(peewee.fn.MAX(OutboxRow.id)).scalar() or 0
        bot.processor.process([command_update(next(bot.update_ids) + 500_000, user_id, name, args)])
        rows = OutboxRow.select().where(OutboxRow.id > before).order_by(OutboxRow.id)
        return [str(getattr(effect_from_json(r.payload), "text", "")) for r in rows]

    # not an admin: an unknown command to them, answered as any other
    assert command(1, "flag", "new_menu on") == ["Sorry, I did not understand that."]
    assert command(ADMIN_ID, "flag", "new_manu on") == [
        "The scenario declares no flag 'new_manu'. Its flags: new_menu, sale."
    ]
    assert command(ADMIN_ID, "flag", "new_menu on") == [
        "Flag new_menu is on; every bot process sees it within 5 seconds."
    ]
    assert command(ADMIN_ID, "flags", "") == ["new_menu: on\nsale: default"]
    clock.now += REFRESH_SECONDS
    assert bot.says(1, "again") == ["New menu", "sale=True"]
    rows = AuditRow.select().where(AuditRow.action == "flag")
    assert [(r.actor, r.subject, json.loads(r.details)) for r in rows] == [
        (f"admin:{ADMIN_ID}", "new_menu", {"enabled": True, "before": None})
    ]
    bot.processor.close()

"""Roles granted and revoked in the database (`--grant`, `--revoke`, `--roles`), used by
`only:` through the bot's own Processor; BOT_ADMINS stays the one source of `admin`."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import peewee
import pytest
from store_fixtures import text_update

from engine.cli import run
from engine.core.ports import OfflineServices
from engine.runtime.processing import Processor
from engine.runtime.scenario_holder import ScenarioHolder
from engine.store.models import AuditRow, OutboxRow, database_proxy
from engine.store.pipeline import Store
from engine.store.serialization import effect_from_json

SHOP = """
bot: {name: T, start: menu}
roles: [staff]
fallback: {say: Say again?}
states:
  menu:
    say: Menu
    on: [{text: orders, goto: orders}]
  orders:
    only: [staff]
    say: Orders
    on: [{text: next, say: Next order}]
"""
STAFF_ID = 7


class Shop:
    """The bot's Processor on the test's database, and the command line beside it."""

    def __init__(self, db: peewee.Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
        path = tmp_path / "shop.yaml"
        path.write_text(SHOP, encoding="utf-8")
        self.db = db
        self.processor = Processor(Store(db, "shop"), ScenarioHolder(str(path)), OfflineServices())
        self.update_id = 0
        monkeypatch.setenv("DATABASE_URL", self.url)

    url = ""

    def says(self, words: str) -> list[str]:
        """What the bot answers the staff user's message."""
        before = OutboxRow.select(peewee.fn.MAX(OutboxRow.id)).scalar() or 0
        self.update_id += 1
        self.processor.process([text_update(self.update_id, STAFF_ID, words)])
        rows = OutboxRow.select().where(OutboxRow.id > before).order_by(OutboxRow.id)
        return [str(getattr(effect_from_json(r.payload), "text", "")) for r in rows]

    def cli(self, *argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = run(list(argv), out, err)
        database_proxy.initialize(
            self.db
        )  # the command opened its own connection, as a process would
        return code, out.getvalue(), err.getvalue()


@pytest.fixture
def shop(
    db: peewee.Database, store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Shop]:
    Shop.url = store_url
    made = Shop(db, tmp_path, monkeypatch)
    yield made
    made.processor.close()


def test_a_granted_role_opens_the_state_and_a_revoked_one_closes_it_on_the_next_update(
    shop: Shop,
) -> None:
    assert shop.says("hi") == ["Menu"]
    assert shop.says("orders") == ["Say again?"]  # no role yet

    code, out, err = shop.cli("--grant", str(STAFF_ID), "staff")
    assert (code, out) == (0, f"granted staff to user {STAFF_ID}\n"), err
    assert shop.says("orders") == ["Orders"]
    assert shop.says("next") == ["Next order"]

    code, out, _ = shop.cli("--revoke", str(STAFF_ID), "staff")
    assert code == 0 and out.startswith(f"revoked staff from user {STAFF_ID}")
    # the very next message, in the state the user no longer may be in: back to the start
    assert shop.says("next") == ["Menu"]
    assert shop.says("orders") == ["Say again?"]


def test_roles_lists_the_grants_and_every_change_is_audited(shop: Shop) -> None:
    assert shop.cli("--grant", "7", "staff")[0] == 0
    assert shop.cli("--grant", "7", "staff")[1] == "user 7 already had staff; nothing changed\n"
    assert shop.cli("--grant", "8", "courier")[0] == 0
    code, out, _ = shop.cli("--roles")
    lines = out.splitlines()
    assert code == 0 and [line.split("\t")[:2] for line in lines[:-1]] == [
        ["courier", "8"],
        ["staff", "7"],
    ]
    assert lines[-1].startswith("2 roles granted in the database")
    assert shop.cli("--revoke", "8", "courier")[0] == 0
    assert (
        shop.cli("--revoke", "8", "courier")[1] == "user 8 did not have courier; nothing changed\n"
    )
    rows = AuditRow.select().where(AuditRow.action.in_(["grant", "revoke"])).order_by(AuditRow.id)
    assert [(r.actor, r.action, r.subject, json.loads(r.details)) for r in rows] == [
        ("cli", "grant", "7", {"role": "staff", "changed": True}),
        ("cli", "grant", "7", {"role": "staff", "changed": False}),
        ("cli", "grant", "8", {"role": "courier", "changed": True}),
        ("cli", "revoke", "8", {"role": "courier", "changed": True}),
        ("cli", "revoke", "8", {"role": "courier", "changed": False}),
    ]


def test_admin_is_not_granted_in_the_database(shop: Shop) -> None:
    code, out, err = shop.cli("--grant", "7", "admin")
    assert code == 2 and out == "" and "BOT_ADMINS" in err
    code, _, err = shop.cli("--grant", "seven", "staff")
    assert code == 2 and "USER_ID must be a Telegram user id" in err
    code, _, err = shop.cli("--grant", "7", "no such")
    assert code == 2 and "'no such' is no role name" in err
    assert shop.cli("--roles")[1].startswith("0 roles granted")


def test_an_admin_grants_and_revokes_from_telegram_with_an_audit_row(shop: Shop) -> None:
    from test_feature_flags import command_update

    admin = 99
    shop.processor.admins = frozenset({admin})

    def command(name: str, args: str) -> list[str]:
        before = OutboxRow.select(peewee.fn.MAX(OutboxRow.id)).scalar() or 0
        shop.update_id += 1
        shop.processor.process([command_update(shop.update_id, admin, name, args)])
        rows = OutboxRow.select().where(OutboxRow.id > before).order_by(OutboxRow.id)
        return [str(getattr(effect_from_json(r.payload), "text", "")) for r in rows]

    assert command("start", "") == ["Menu"]
    assert command("grant", f"{STAFF_ID} staff") == [f"Granted staff to {STAFF_ID}."]
    assert command("roles", "") == [f"staff: {STAFF_ID}\n1 granted; admin comes from BOT_ADMINS"]
    assert shop.says("orders") == ["Menu", "Orders"]  # a first message: the start first
    assert command("grant", "seven staff") == ["Usage: /grant USER_ID ROLE (USER_ID is a number)"]
    assert command("revoke", f"{STAFF_ID} staff") == [f"Revoked staff from {STAFF_ID}."]
    assert shop.says("next") == ["Menu"]  # the staff user's next update
    rows = AuditRow.select().where(AuditRow.action.in_(["grant", "revoke"])).order_by(AuditRow.id)
    assert [(r.actor, r.action, r.subject) for r in rows] == [
        (f"admin:{admin}", "grant", str(STAFF_ID)),
        (f"admin:{admin}", "revoke", str(STAFF_ID)),
    ]


def test_deleting_a_user_deletes_the_roles_granted_to_them(shop: Shop) -> None:
    assert shop.cli("--grant", "7", "staff")[0] == 0
    assert shop.cli("--grant", "8", "staff")[0] == 0
    code, out, _ = shop.cli("--delete-user", "7")
    assert code == 0 and "1 roles" in out
    assert [line.split("\t")[:2] for line in shop.cli("--roles")[1].splitlines()[:-1]] == [
        ["staff", "8"]
    ]

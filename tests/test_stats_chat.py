"""/stats in an admin's chat with the bot, through the bot's own Processor: the summary of
the database as it is, audited with the admin as actor; for anybody else an unknown command."""

from __future__ import annotations

import datetime as dt
import json

import peewee
from store_fixtures import text_update
from test_feature_flags import command_update
from test_roles_granted import Shop, shop  # noqa: F401 (the fixture, on both databases)

from engine.store.models import AuditRow, OutboxRow, SessionRow, UserRow
from engine.store.serialization import effect_from_json

ADMIN = 99


def _ask(shop: Shop, user_id: int, command: str) -> list[str]:  # noqa: F811
    before = OutboxRow.select(peewee.fn.MAX(OutboxRow.id)).scalar() or 0
    shop.update_id += 1
    shop.processor.process([command_update(shop.update_id, user_id, command, "")])
    rows = OutboxRow.select().where(OutboxRow.id > before).order_by(OutboxRow.id)
    return [str(getattr(effect_from_json(r.payload), "text", "")) for r in rows]


def test_an_admin_gets_the_summary_in_the_chat(shop: Shop) -> None:  # noqa: F811
    shop.processor.admins = frozenset({ADMIN})
    for user in (1, 2, 3):
        shop.update_id += 1
        shop.processor.process([text_update(shop.update_id, user, "hi")])
    assert _ask(shop, ADMIN, "start") == ["Menu"]
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    # user 2 last wrote 3 days ago, user 3 ten days ago and then blocked the bot
    SessionRow.update(updated=now - dt.timedelta(days=3)).where(SessionRow.user_id == 2).execute()
    SessionRow.update(updated=now - dt.timedelta(days=10)).where(SessionRow.user_id == 3).execute()
    UserRow.update(blocked=True).where(UserRow.id == 3).execute()
    # two sessions written by hand: one waiting in `orders`, one ended in `menu`
    SessionRow.insert_many(
        [
            {"chat_id": 5, "user_id": 5, "scenario": "shop", "state": "orders", "updated": now},
            {"chat_id": 6, "user_id": 6, "scenario": "shop", "state": "menu", "ended": True},
        ]
    ).execute()

    answer = _ask(shop, ADMIN, "stats")
    assert len(answer) == 1
    lines = answer[0].splitlines()
    assert lines[:5] == [
        "Users: 4 (1 blocked the bot)",  # 1, 2, 3 and the admin (5 and 6 have no users row)
        # today: 1, the admin (whose /stats is stored after it is answered) and 5 and 6
        "Active today: 4; last 7 days: 5",
        "Most waiting in:",
        "  menu: 4",
        "  orders: 1",
    ]
    assert "--stats" in lines[5]
    rows = AuditRow.select().where(AuditRow.action == "stats")
    assert [(r.actor, json.loads(r.details)) for r in rows] == [(f"admin:{ADMIN}", {"via": "chat"})]


def test_stats_is_no_command_for_anybody_else(shop: Shop) -> None:  # noqa: F811
    shop.processor.admins = frozenset({ADMIN})
    assert shop.says("hi") == ["Menu"]
    assert _ask(shop, 7, "stats") == ["Say again?"]  # as any unknown command
    assert AuditRow.select().where(AuditRow.action == "stats").count() == 0

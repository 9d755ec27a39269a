"""Issue 14, alerts from outside: `python run.py` against the fake Bot API with a plugin
action that raises. The operator sees one log line per failure, the admin chat gets one alert
at once and, after BOT_ALERT_INTERVAL, one summary of what happened since."""

from __future__ import annotations

from pathlib import Path

from live_bot import LiveBot, Person, settle

from engine.testing.fake_telegram import FakeTelegram

SCENARIO = """
bot: {name: Shop, start: menu}
vars: {total: null}
states:
  menu:
    say: Send an order.
    on:
      - do: [{call: price, save_as: total}]
        say: "Noted."
"""
PLUGINS = """
from engine.core.ports import register_plugin


@register_plugin("price")
def price(arguments, context):
    raise RuntimeError("the price list is gone")
"""
ADMIN_CHAT = -100777


def test_a_failing_plugin_is_logged_alerted_at_once_then_summarised(
    fake: FakeTelegram, tmp_path: Path, bots: list[LiveBot]
) -> None:
    (tmp_path / "shop.yaml").write_text(SCENARIO, encoding="utf-8")
    (tmp_path / "shop_plugins.py").write_text(PLUGINS, encoding="utf-8")
    env = {
        "BOT_SCENARIO": str(tmp_path / "shop.yaml"),
        "BOT_ALERT_CHAT": str(ADMIN_CHAT),
        "BOT_ALERT_INTERVAL": "3s",
    }
    bot = LiveBot(fake, f"sqlite:///{tmp_path / 'bot.db'}", tmp_path / "bot.log", env)
    bots.append(bot.start().ready())
    ann = Person(fake, 501, "Ann")
    ann.send("/start")
    ann.expect("Send an order.")
    ann.send("two pizzas")
    ann.expect("Noted.")
    admin = Person(fake, ADMIN_CHAT)
    [first] = admin.expect("a problem (plugin_failed)")
    assert "plugin action 'price' failed: RuntimeError: the price list is gone" in first
    assert "user=501" in first and "two pizzas" not in first
    for words in ("three pizzas", "four pizzas"):
        ann.send(words)
        ann.expect("Noted.")
    [summary] = admin.expect("problems since", timeout=15)
    assert "plugin_failed: 2 times" in summary
    settle(fake)
    assert len(admin.texts()) == 2  # the one alert and the one summary, nothing more
    assert bot.stop() == 0
    lines = [line for line in bot.log.splitlines() if "plugin_failed:" in line]
    assert len(lines) == 3, lines  # one line per failure
    assert all("two pizzas" not in line for line in bot.log.splitlines())

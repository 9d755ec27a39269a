"""The admins' commands in Telegram (/flag, /flags, /grant, /revoke, /roles, /stats,
/broadcast, /broadcasts, /cancel and /cancel_broadcast): the same functions as the command
line's, carried out in the batch's transaction, audited with the
admin as actor (`admin:<id>`), answered in the chat as plain text (in English, like the
log: these are the operator's words, not the users')."""

from __future__ import annotations

import datetime as dt

from engine.admin import broadcasts, flags, roles, stats_summary
from engine.core.effects import AdminCommand
from engine.store.privacy import audit

USAGE = {
    "flag": "/flag NAME on|off",
    "grant": "/grant USER_ID ROLE",
    "revoke": "/revoke USER_ID ROLE",
    "broadcast": "/broadcast TEXT (to every user; for some of them: `where` in the scenario)",
    "cancel": "/cancel ID (a broadcast's number, from /broadcasts)",
    "cancel_broadcast": "/cancel_broadcast ID (a broadcast's number, from /broadcasts)",
}
LISTED = 10  # broadcasts /broadcasts shows, newest first


def carry_out(command: AdminCommand, now: dt.datetime) -> str:
    """Do what the admin asked; the answer says what changed or why nothing did."""
    actor = f"admin:{command.user_id}"
    words = command.args.split()
    try:
        if command.command == "flags":
            return _flags(command.flags)
        if command.command == "stats":
            audit(actor, "stats", None, {"via": "chat"}, now)
            return stats_summary.as_text(stats_summary.summarize(now))
        if command.command == "roles":
            grants = roles.all_grants()
            lines = [f"{g.role}: {g.user_id}" for g in grants]
            return "\n".join([*lines, f"{len(grants)} granted; admin comes from BOT_ADMINS"])
        if command.command in ("broadcast", "broadcasts", "cancel", "cancel_broadcast"):
            return _broadcast_command(command, actor, now)
        if len(words) != 2:
            return f"Usage: {USAGE[command.command]}"
        if command.command == "flag":
            return _flag(words[0], words[1], command.flags, actor, now)
        if not words[0].lstrip("-").isdigit():
            return f"Usage: {USAGE[command.command]} (USER_ID is a number)"
        user_id, role = int(words[0]), words[1]
        if command.command == "grant":
            done = roles.grant(user_id, role, actor, now)
            return f"Granted {role} to {user_id}." if done else f"{user_id} already had {role}."
        done = roles.revoke(user_id, role, actor, now)
        return f"Revoked {role} from {user_id}." if done else f"{user_id} did not have {role}."
    except (flags.FlagError, roles.RoleError, broadcasts.BroadcastError) as exc:
        return str(exc)


def _broadcast_command(command: AdminCommand, actor: str, now: dt.datetime) -> str:
    """/broadcasts lists, /cancel ID stops one (audited), /broadcast TEXT queues one to
    every user, this chat told how it goes (as by the scenario's `broadcast` action)."""
    if command.command == "broadcasts":
        found = broadcasts.latest(LISTED)
        return "\n".join(r.line() for r in found) or "No broadcasts yet."
    text = command.args.strip()
    if command.command == "broadcast":
        if not text:
            return f"Usage: {USAGE['broadcast']}"
        number = broadcasts.queue_broadcast(
            text=text,
            message_key=None,
            where=None,
            actor=actor,
            now=now,
            via="chat",
            progress_chat=command.chat_id,
        )
        return (
            f"Broadcast #{number} queued to every user; I will tell you how it goes "
            f"(/cancel_broadcast {number} stops it)."
        )
    if not text.isdigit():
        return f"Usage: {USAGE[command.command]}"
    return broadcasts.stop_broadcast(int(text), actor, now, "chat").line()


def _flag(name: str, value: str, declared: tuple[str, ...], actor: str, now: dt.datetime) -> str:
    if value not in ("on", "off"):
        return f"Usage: {USAGE['flag']}"
    if name not in declared:
        return (
            f"The scenario declares no flag '{name}'. Its flags: {', '.join(declared) or 'none'}."
        )
    flags.switch(name, value == "on", actor, now)
    return f"Flag {name} is {value}; every bot process sees it within {flags.REFRESH_SECONDS:g} seconds."


def _flags(declared: tuple[str, ...]) -> str:
    stored = {f.name: f.enabled for f in flags.stored_flags()}
    lines = [
        f"{name}: {'on' if stored[name] else 'off'}" if name in stored else f"{name}: default"
        for name in declared
    ]
    return "\n".join(lines) or "The scenario declares no flags."

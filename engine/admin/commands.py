"""The command line's operator commands on roles and flags: each opens the database that
DATABASE_URL names, calls the functions of engine.admin in one write transaction and says
what changed."""

from __future__ import annotations

from typing import TextIO

from engine.admin import flags, roles
from engine.core.model import Scenario
from engine.store.database import write_transaction
from engine.store.migrations import open_checked
from engine.store.models import stored_now

CLI = "cli"  # the audit log's actor for the command line


def run_grant(url: str, user_id: int, role: str, stdout: TextIO) -> int:
    roles.check_role_name(role)  # before opening the database: a typo costs nothing
    db = open_checked(url)
    with write_transaction(db):
        new = roles.grant(user_id, role, CLI, stored_now())
    stdout.write(
        f"granted {role} to user {user_id}\n"
        if new
        else f"user {user_id} already had {role}; nothing changed\n"
    )
    return 0


def run_revoke(url: str, user_id: int, role: str, stdout: TextIO) -> int:
    roles.check_role_name(role)
    db = open_checked(url)
    with write_transaction(db):
        removed = roles.revoke(user_id, role, CLI, stored_now())
    stdout.write(
        f"revoked {role} from user {user_id} (from their next message on)\n"
        if removed
        else f"user {user_id} did not have {role}; nothing changed\n"
    )
    return 0


def run_roles(url: str, stdout: TextIO) -> int:
    open_checked(url)
    grants = roles.all_grants()
    for g in grants:
        stdout.write(
            f"{g.role}\t{g.user_id}\tgranted {g.granted_at:%Y-%m-%d %H:%M} by {g.granted_by}\n"
        )
    stdout.write(
        f"{len(grants)} role{'s' if len(grants) != 1 else ''} granted in the database; "
        "admin comes from BOT_ADMINS\n"
    )
    return 0


def run_flag(url: str, name: str, value: str, scenario: Scenario | None, stdout: TextIO) -> int:
    """`value` is on or off (checked by the caller). A name the scenario does not declare is
    refused: the bot would never read it, and a misspelt switch must not look done."""
    flags.check_flag_name(name)
    if scenario is not None and name not in scenario.flags:
        from engine.scenario.suggestions import did_you_mean

        declared = ", ".join(sorted(scenario.flags)) or "none"
        raise flags.FlagError(
            f"the scenario declares no flag '{name}' (its flags: {declared})."
            f"{did_you_mean(name, scenario.flags)} Declare it under `flags:` first"
        )
    enabled = value == "on"
    db = open_checked(url)
    with write_transaction(db):
        before = flags.switch(name, enabled, CLI, stored_now())
    was = "unset" if before is None else ("on" if before else "off")
    stdout.write(
        f"flag {name} is {value} (was {was}); running bots see it within "
        f"{flags.REFRESH_SECONDS:g} seconds\n"
    )
    return 0


def run_flags(url: str, scenario: Scenario | None, stdout: TextIO) -> int:
    """Every flag: the scenario's with their defaults, and any stored one it does not declare."""
    open_checked(url)
    stored = {f.name: f for f in flags.stored_flags()}
    defaults = dict(scenario.flags) if scenario is not None else {}
    for name in sorted(set(defaults) | set(stored)):
        row = stored.get(name)
        value = row.enabled if row is not None else defaults[name]
        default = (
            f"default {'on' if defaults[name] else 'off'}"
            if name in defaults
            else "not in the scenario"
        )
        switched = (
            f", switched {row.updated_at:%Y-%m-%d %H:%M} by {row.updated_by}"
            if row is not None
            else ""
        )
        stdout.write(f"{name}\t{'on' if value else 'off'}\t({default}{switched})\n")
    if not defaults and not stored:
        stdout.write("no feature flags (declare them in the scenario under `flags:`)\n")
    return 0

"""Reading one setting's value strictly: a value that is almost right ("ture", "2.5" for a
count, "-5" days) is a mistake named in a sentence, never quietly read as something else."""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping

from engine.scenario.suggestions import did_you_mean

# every setting the engine reads; a name with one of the prefixes below that is not here is
# a typo (BOT_WORKES) that would otherwise be ignored without a word
KNOWN_SETTINGS = (
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_API_URL",
    "BOT_MODE",
    "WEBHOOK_URL",
    "WEBHOOK_SECRET",
    "WEBHOOK_HOST",
    "WEBHOOK_PORT",
    "BOT_SCENARIO",
    "BOT_ADMINS",
    "BOT_ADMIN_PASSWORD_HASH",
    "BOT_PLUGINS",
    "BOT_CONFIG_VARS",
    "BOT_HTTP_ALLOW",
    "BOT_MEDIA_DIR",
    "BOT_LOCALES",
    "DATABASE_URL",
    "BOT_ENCRYPTION_KEYS",
    "BOT_LOG_TEXT",
    "BOT_LOG_RETENTION_DAYS",
    "BOT_POLL_TIMEOUT",
    "BOT_WORKERS",
    "BOT_SENDERS",
    "BOT_CALLERS",
    "BOT_RATE_GLOBAL",
    "BOT_PAID_BROADCAST",
    "BOT_PAID_BROADCAST_RATE",
    "BOT_RATE_PER_CHAT",
    "BOT_RATE_PER_GROUP_MINUTE",
    "BOT_CHAT_BURST",
    "BOT_USER_BURST",
    "BOT_USER_RATE",
    "LOG_LEVEL",
    "LOG_FORMAT",
    "LOG_FILE",
    "BOT_LOG_UPDATES",
    "BOT_HTTP_HOST",
    "BOT_HTTP_PORT",
    "BOT_ALERT_CHAT",
    "BOT_ALERT_INTERVAL",
    "SENTRY_DSN",
)
CHECKED_PREFIXES = ("BOT_", "WEBHOOK_", "TELEGRAM_", "LOG_")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_YES, _NO = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def flag(env: Mapping[str, str], name: str, default: bool, problems: list[str]) -> bool:
    """A yes-or-no setting: true/false, yes/no, on/off, 1/0 in any case; anything else
    is a mistake, since reading "ture" as false would switch a feature off unseen."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if raw.lower() in _YES:
        return True
    if raw.lower() in _NO:
        return False
    problems.append(
        f"{name}={raw!r} is neither true nor false; write {name}=true or {name}=false "
        "(yes/no, on/off and 1/0 work too)"
    )
    return default


def whole_number(
    env: Mapping[str, str],
    name: str,
    default: int,
    problems: list[str],
    low: int,
    high: int | None = None,
) -> int:
    """A count: digits only, so 2.5 workers is a mistake rather than 2."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        problems.append(f"{name}={raw!r} is not a whole number; write e.g. {name}={default}")
        return default
    if value < low or (high is not None and value > high):
        limits = f"from {low} to {high}" if high is not None else f"at least {low}"
        problems.append(f"{name} must be {limits}, not {value}")
        return default
    return value


def number(
    env: Mapping[str, str], name: str, default: float, problems: list[str], low: float
) -> float:
    """A rate or size that may have a fraction; not nan or infinity, at least `low`."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        problems.append(f"{name}={raw!r} is not a number; write e.g. {name}={default:g}")
        return default
    if value < low:
        problems.append(f"{name} must be at least {low:g}, not {raw}")
        return default
    return value


def log_level(env: Mapping[str, str], problems: list[str]) -> str:
    raw = env.get("LOG_LEVEL", "").strip().upper()
    if not raw:
        return "INFO"
    if raw == "WARN":
        return "WARNING"
    if raw not in LOG_LEVELS:
        problems.append(
            f"LOG_LEVEL={raw!r} is not a level; write one of {', '.join(LOG_LEVELS)}."
            + did_you_mean(raw, LOG_LEVELS)
        )
        return "INFO"
    return raw


def retention_days(env: Mapping[str, str], problems: list[str]) -> int:
    """BOT_LOG_RETENTION_DAYS: 0 or less would make --prune delete all history."""
    raw = env.get("BOT_LOG_RETENTION_DAYS", "").strip()
    if not raw:
        return 30
    try:
        days = int(raw)
    except ValueError:
        problems.append(
            f"BOT_LOG_RETENTION_DAYS={raw!r} is not a whole number of days; "
            "write e.g. BOT_LOG_RETENTION_DAYS=30"
        )
        return 30
    if days < 1:
        problems.append(
            f"BOT_LOG_RETENTION_DAYS={days} would make --prune delete all history; "
            "write a number of days of at least 1 (default 30)"
        )
        return 30
    return days


def unknown_names(
    env: Mapping[str, str], also_known: Collection[str], origin: Mapping[str, str]
) -> list[str]:
    """A sentence for each BOT_*, WEBHOOK_*, TELEGRAM_* or LOG_* name the engine does not
    read (names listed in BOT_CONFIG_VARS are the operator's own). `origin` says where a
    name was written (".env line 3") when it came from a file."""
    found = []
    for name in sorted(env):
        if not name.startswith(CHECKED_PREFIXES) or name in KNOWN_SETTINGS:
            continue
        if name in also_known:
            continue
        where = f" ({origin[name]})" if name in origin else ""
        found.append(
            f"{name}{where} is not a setting of the bot; remove it, or list it in "
            "BOT_CONFIG_VARS if templates should read it." + did_you_mean(name, KNOWN_SETTINGS)
        )
    return found

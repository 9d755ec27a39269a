"""Settings from the environment (and a .env file in the working directory), checked at
start with a sentence per mistake, all at once. These names are the documented interface;
.env.example lists them, setting_values.KNOWN_SETTINGS knows them."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlparse

from engine.bundled_files import default_scenario
from engine.command_name import command
from engine.core.durations import DurationError, parse_duration
from engine.runtime.plugins import plugin_names
from engine.runtime.setting_values import (
    flag,
    log_level,
    number,
    retention_days,
    unknown_names,
    whole_number,
)
from engine.runtime.web_addresses import AddressPolicy
from engine.store.crypto import key_problems
from engine.store.database import DEFAULT_URL, url_problems

TELEGRAM_API = "https://api.telegram.org"


class SettingsError(Exception):
    """One or more settings are wrong; the message lists each with what to write."""


DOTENV = ".env"  # read from the working directory, where relative paths in it start too


@dataclass(frozen=True)
class DotEnvFile:
    """What a .env file said besides its values: where each name was written (for
    sentences about it) and which lines are not NAME=value."""

    path: str = DOTENV
    lines: Mapping[str, int] = field(default_factory=dict)
    problems: tuple[str, ...] = ()

    def origin(self) -> dict[str, str]:
        return {name: f"{self.path} line {line}" for name, line in self.lines.items()}


def load_dotenv(path: str = DOTENV, environ: dict[str, str] | None = None) -> DotEnvFile:
    """KEY=VALUE lines from `path` fill in what the environment does not already set. A line
    that is not NAME=value is a mistake (its text is not repeated: it may be a secret)."""
    target = os.environ if environ is None else environ
    if not os.path.isfile(path):
        return DotEnvFile(path)
    lines: dict[str, int] = {}
    problems: list[str] = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            key, equals, value = line.partition("=")
            key, value = key.strip().removeprefix("export ").strip(), value.strip()
            if not equals or not key.isidentifier():
                problems.append(
                    f"{path} line {number} is not NAME=value; write e.g. BOT_WORKERS=4, or "
                    "start the line with # to keep it as a comment"
                )
                continue
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            lines[key] = number
            target.setdefault(key, value)
    return DotEnvFile(path, lines, tuple(problems))


@dataclass(frozen=True)
class Settings:
    token: str = field(default="", repr=False)  # a secret: never printed
    api_url: str = TELEGRAM_API
    scenario: str = "scenarios/demo.yaml"
    database_url: str = DEFAULT_URL
    mode: str = "polling"
    webhook_url: str = ""
    webhook_secret: str = field(default="", repr=False)
    webhook_host: str = "0.0.0.0"
    webhook_port: int = 8080
    admins: tuple[int, ...] = ()
    workers: int = 4
    senders: int = 8
    callers: int = 8  # threads making HTTP and plugin actions outside the transaction
    rate_global: float = 30.0
    # BOT_PAID_BROADCAST: broadcast messages carry allow_paid_broadcast (Telegram charges
    # Stars for them) and go at their own rate, BOT_PAID_BROADCAST_RATE; 0: not paid
    paid_broadcast_rate: float = 0.0
    rate_per_chat: float = 1.0
    rate_per_group_minute: float = 20.0
    chat_burst: int = 3
    poll_timeout: int = 25
    user_rate: float = 5.0
    user_burst: float = 20.0
    plugins: tuple[str, ...] = ()
    config_vars: tuple[str, ...] = ()
    log_text: bool = False
    log_level: str = "INFO"
    http_allow: AddressPolicy = field(default_factory=AddressPolicy)  # non-public ones allowed
    media_dir: str | None = None  # local media must be in it; None: the scenario's folder
    http_host: str = "127.0.0.1"  # the operations server: /healthz, /readyz, /metrics
    http_port: int | None = None  # None: no operations server (webhook mode: on its port)
    alert_chat: int | None = None  # BOT_ALERT_CHAT; None: alerts go to every BOT_ADMINS id
    alert_interval: float = 600.0  # BOT_ALERT_INTERVAL: at most one summary this often
    sentry_dsn: str = field(default="", repr=False)  # SENTRY_DSN: holds a key
    # BOT_ADMIN_PASSWORD_HASH: the admin panel at /admin exists only with it (a scrypt hash
    # made by --hash-password, never the password itself)
    admin_password_hash: str = field(default="", repr=False)

    log_format: str = "text"  # LOG_FORMAT: text or json lines
    log_file: str | None = None  # LOG_FILE: None writes to standard error
    log_updates: bool = True  # BOT_LOG_UPDATES: an INFO line per handled update
    log_retention_days: int = 30  # what --prune keeps of the message log

    def alert_targets(self) -> tuple[int, ...]:
        """The chats alerts go to: BOT_ALERT_CHAT, else the admins; () for none."""
        return (self.alert_chat,) if self.alert_chat is not None else self.admins

    def config_values(self, environ: Mapping[str, str]) -> dict[str, str]:
        """What templates see as {{ config.NAME }}: only the variables the operator listed."""
        return {name: environ.get(name, "") for name in self.config_vars}


def read_settings(
    environ: Mapping[str, str] | None = None,
    need_token: bool = True,
    dotenv: DotEnvFile | None = None,
) -> Settings:
    """Every setting checked at once: all mistakes in one SettingsError, a sentence each."""
    env = os.environ if environ is None else environ
    dotenv = dotenv or DotEnvFile()
    problems: list[str] = list(dotenv.problems)
    token = env.get("TELEGRAM_BOT_TOKEN", "").strip()
    if need_token and not token:
        problems.append(
            "TELEGRAM_BOT_TOKEN is not set: get a token from @BotFather and put it in .env "
            f"(without a token, `{command()} --chat` talks to the bot in the terminal)"
        )
    elif token and ":" not in token:
        problems.append(
            "TELEGRAM_BOT_TOKEN does not look like a token (it is digits, a colon, then letters)"
        )
    api_url = env.get("TELEGRAM_API_URL", TELEGRAM_API).strip().rstrip("/") or TELEGRAM_API
    if urlparse(api_url).scheme not in ("http", "https"):
        problems.append(
            f"TELEGRAM_API_URL must start with http:// or https://, like {TELEGRAM_API}"
        )
    mode = env.get("BOT_MODE", "polling").strip().lower() or "polling"
    if mode not in ("polling", "webhook"):
        problems.append(f"BOT_MODE must be polling or webhook, not {mode!r}")
    webhook_url = env.get("WEBHOOK_URL", "").strip()
    secret = env.get("WEBHOOK_SECRET", "").strip()
    if mode == "webhook":
        if not webhook_url.startswith("https://"):
            problems.append(
                "BOT_MODE=webhook needs WEBHOOK_URL, the public https:// address Telegram calls"
            )
        if not 1 <= len(secret) <= 256 or not all(c.isalnum() or c in "_-" for c in secret):
            problems.append(
                "BOT_MODE=webhook needs WEBHOOK_SECRET: 1-256 characters of A-Z, a-z, 0-9, _ and -"
            )
    admins: list[int] = []
    for part in env.get("BOT_ADMINS", "").replace(";", ",").split(","):
        if part.strip():
            try:
                admins.append(int(part))
            except ValueError:
                problems.append(f"BOT_ADMINS: {part.strip()!r} is not a Telegram id (digits)")
    scenario = env.get("BOT_SCENARIO", "").strip() or default_scenario()
    if not os.path.isfile(scenario):
        problems.append(f"BOT_SCENARIO: there is no file {scenario}")
    media_dir = env.get("BOT_MEDIA_DIR", "").strip() or None
    if media_dir is not None and not os.path.isdir(media_dir):
        problems.append(
            f"BOT_MEDIA_DIR: there is no folder {media_dir}; create it, or leave BOT_MEDIA_DIR "
            "unset to send media files from the scenario's folder"
        )
    database_url = env.get("DATABASE_URL", DEFAULT_URL).strip() or DEFAULT_URL
    problems.extend(url_problems(database_url))
    problems.extend(key_problems(env.get("BOT_ENCRYPTION_KEYS", "")))
    http_allow, wrong = AddressPolicy.parse(env.get("BOT_HTTP_ALLOW", ""))
    problems.extend(wrong)
    log_format, log_file = _log_output(env, problems)
    rate_global = number(env, "BOT_RATE_GLOBAL", 30, problems, 0.1)
    settings = Settings(
        token=token,
        api_url=api_url,
        scenario=scenario,
        database_url=database_url,
        mode=mode,
        webhook_url=webhook_url,
        webhook_secret=secret,
        webhook_host=env.get("WEBHOOK_HOST", "0.0.0.0").strip() or "0.0.0.0",
        webhook_port=whole_number(env, "WEBHOOK_PORT", 8080, problems, 1, 65535),
        admins=tuple(admins),
        workers=whole_number(env, "BOT_WORKERS", 4, problems, 1),
        senders=whole_number(env, "BOT_SENDERS", 8, problems, 1),
        callers=whole_number(env, "BOT_CALLERS", 8, problems, 1),
        rate_global=rate_global,
        paid_broadcast_rate=_paid_broadcast_rate(env, rate_global, problems),
        rate_per_chat=number(env, "BOT_RATE_PER_CHAT", 1, problems, 0.01),
        rate_per_group_minute=number(env, "BOT_RATE_PER_GROUP_MINUTE", 20, problems, 0.1),
        chat_burst=whole_number(env, "BOT_CHAT_BURST", 3, problems, 1),
        poll_timeout=whole_number(env, "BOT_POLL_TIMEOUT", 25, problems, 0),
        user_rate=number(env, "BOT_USER_RATE", 5, problems, 0),
        user_burst=number(env, "BOT_USER_BURST", 20, problems, 1),
        plugins=plugin_names(env, scenario),
        config_vars=_config_vars(env, problems),
        log_text=flag(env, "BOT_LOG_TEXT", False, problems),
        log_level=log_level(env, problems),
        http_allow=http_allow,
        media_dir=media_dir,
        http_host=env.get("BOT_HTTP_HOST", "127.0.0.1").strip() or "127.0.0.1",
        http_port=whole_number(env, "BOT_HTTP_PORT", 0, problems, 1, 65535) or None,
        alert_chat=_alert_chat(env, problems),
        alert_interval=_alert_interval(env, problems),
        sentry_dsn=env.get("SENTRY_DSN", "").strip(),
        log_format=log_format,
        log_file=log_file,
        log_updates=flag(env, "BOT_LOG_UPDATES", True, problems),
        log_retention_days=retention_days(env, problems),
        admin_password_hash=_admin_password_hash(env, mode, problems),
    )
    problems.extend(unknown_names(env, settings.config_vars, dotenv.origin()))
    if problems:
        raise SettingsError("the settings need fixing:\n" + "\n".join(f"- {p}" for p in problems))
    return settings


def _admin_password_hash(env: Mapping[str, str], mode: str, problems: list[str]) -> str:
    """The panel's password hash, checked now: a mistyped one must not leave the operator
    locked out without a word; and the panel needs a server to be on."""
    value = env.get("BOT_ADMIN_PASSWORD_HASH", "").strip()
    if not value:
        return ""
    from engine.web.admin_auth import PasswordHash, PasswordHashError

    try:
        PasswordHash.parse(value)
    except PasswordHashError as exc:
        problems.append(str(exc))
    if mode != "webhook" and not env.get("BOT_HTTP_PORT", "").strip():
        problems.append(
            "BOT_ADMIN_PASSWORD_HASH is set, but the admin panel is served by the operations "
            "server: set BOT_HTTP_PORT too (e.g. BOT_HTTP_PORT=9090), then open /admin on it"
        )
    return value


PAID_BROADCAST_LIMIT = 1000  # messages a second Telegram allows a bot with paid broadcasts


def _paid_broadcast_rate(env: Mapping[str, str], rate_global: float, problems: list[str]) -> float:
    """Broadcast messages a second with BOT_PAID_BROADCAST (0 without): by default what the
    1000 a second of paid broadcasts leave beside BOT_RATE_GLOBAL, which replies keep."""
    paid = flag(env, "BOT_PAID_BROADCAST", False, problems)
    room = PAID_BROADCAST_LIMIT - rate_global
    if not paid:
        if env.get("BOT_PAID_BROADCAST_RATE", "").strip():
            problems.append(
                "BOT_PAID_BROADCAST_RATE applies only with BOT_PAID_BROADCAST=true; set that "
                "too (Telegram then charges Stars for broadcast messages), or remove it"
            )
        return 0.0
    rate = number(env, "BOT_PAID_BROADCAST_RATE", room, problems, 1)
    if rate > room:
        problems.append(
            f"BOT_PAID_BROADCAST_RATE={rate:g} and BOT_RATE_GLOBAL={rate_global:g} add up to "
            f"more than the {PAID_BROADCAST_LIMIT} messages a second Telegram allows with paid "
            f"broadcasts; write at most BOT_PAID_BROADCAST_RATE={max(room, 0):g}"
        )
    return rate


def _log_output(env: Mapping[str, str], problems: list[str]) -> tuple[str, str | None]:
    """LOG_FORMAT and LOG_FILE, checked: a file the bot cannot write is named at start, not
    found out when the first line is lost."""
    log_format = env.get("LOG_FORMAT", "text").strip().lower() or "text"
    if log_format not in ("text", "json"):
        problems.append(f"LOG_FORMAT must be text or json, not {log_format!r}")
    log_file = env.get("LOG_FILE", "").strip() or None
    if log_file is not None:
        try:
            with open(log_file, "a", encoding="utf-8"):
                pass
        except OSError as exc:
            problems.append(
                f"LOG_FILE: cannot write to {log_file} ({exc.strerror}); name a file in a "
                "folder the bot may write to, or leave LOG_FILE unset to log to standard error"
            )
    return log_format, log_file


# settings that hold secrets: templates (and through them users) must never read them
SECRET_SETTINGS = (
    "TELEGRAM_BOT_TOKEN",
    "WEBHOOK_SECRET",
    "BOT_ENCRYPTION_KEYS",
    "DATABASE_URL",
    "SENTRY_DSN",
)


def _alert_chat(env: Mapping[str, str], problems: list[str]) -> int | None:
    raw = env.get("BOT_ALERT_CHAT", "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        problems.append(
            f"BOT_ALERT_CHAT={raw!r} is not a chat id; write the id of a chat or group, like "
            "BOT_ALERT_CHAT=-1001234567890, or leave it unset to alert every BOT_ADMINS id"
        )
        return None


def _alert_interval(env: Mapping[str, str], problems: list[str]) -> float:
    raw = env.get("BOT_ALERT_INTERVAL", "").strip()
    if not raw:
        return 600.0
    try:
        return parse_duration(raw)
    except DurationError as exc:
        problems.append(f"BOT_ALERT_INTERVAL: {exc}")
        return 600.0


def _config_vars(env: Mapping[str, str], problems: list[str]) -> tuple[str, ...]:
    """BOT_CONFIG_VARS, refusing a name of one of the bot's secrets or of a variable that
    holds the same value as one (a template could show it to users)."""
    names = tuple(v.strip() for v in env.get("BOT_CONFIG_VARS", "").split(",") if v.strip())
    secrets = {env[name].strip() for name in SECRET_SETTINGS if env.get(name, "").strip()}
    keys = {key.strip() for key in env.get("BOT_ENCRYPTION_KEYS", "").split(",") if key.strip()}
    for name in names:
        value = env.get(name, "").strip()
        if name in SECRET_SETTINGS or (value and value in secrets | keys):
            problems.append(
                f"BOT_CONFIG_VARS names {name}, which holds one of the bot's secrets: a "
                f"template could show it to users. Remove {name} from BOT_CONFIG_VARS."
            )
    return names


@dataclass(frozen=True)
class StoreSettings:
    """What the store commands (--migrate, --prune, --export-user, --delete-user) use."""

    database_url: str
    log_retention_days: int


def read_store_settings(
    environ: Mapping[str, str] | None = None, dotenv: DotEnvFile | None = None
) -> StoreSettings:
    """The store's settings checked as the bot checks them; a command on the store needs
    neither a token nor the scenario."""
    env = os.environ if environ is None else environ
    dotenv = dotenv or DotEnvFile()
    problems = list(dotenv.problems)
    database_url = env.get("DATABASE_URL", DEFAULT_URL).strip() or DEFAULT_URL
    problems.extend(url_problems(database_url))
    problems.extend(key_problems(env.get("BOT_ENCRYPTION_KEYS", "")))
    days = retention_days(env, problems)
    problems.extend(unknown_names(env, _config_vars(env, []), dotenv.origin()))
    if problems:
        raise SettingsError("the settings need fixing:\n" + "\n".join(f"- {p}" for p in problems))
    return StoreSettings(database_url, days)

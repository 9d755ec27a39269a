"""The process's logging, set up once at start from LOG_LEVEL, LOG_FORMAT and LOG_FILE: one
handler (standard error, or a file that logrotate may move away), text or JSON lines, and
filters that keep secrets and message texts out of every line, whoever logged it."""

from __future__ import annotations

import logging
import logging.handlers
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass

from pythonjsonlogger.json import JsonFormatter

from engine.runtime.redaction import RedactSecrets

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
FORMATS = ("text", "json")

# libraries that log what they send at DEBUG: urllib3 and pyTelegramBotAPI the request URL
# (its query holds the message text), peewee each statement with its parameters (session
# variables, outbox payloads). They are held at INFO whatever LOG_LEVEL says.
CHATTY_LIBRARIES = ("urllib3", "requests", "TeleBot", "peewee", "aiohttp.client")

# a Bot API request line: /bot<token>/<method>?<parameters>; the parameters go
_QUERY = re.compile(r"(/bot[^/\s\"']*/[A-Za-z]+)\?[^\s\"']*")


class DropRequestParameters(logging.Filter):
    """Cuts the query string off Bot API URLs in any record (a retry warning of urllib3 or a
    library's error quotes the URL, and pyTelegramBotAPI puts the message text in it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "/bot" in message and "?" in message:
            cleaned = _QUERY.sub(r"\1?[parameters]", message)
            if cleaned != message:
                record.msg, record.args = cleaned, None
        return True


@dataclass(frozen=True)
class LogSettings:
    """What the operator chose: LOG_LEVEL, LOG_FORMAT (text or json) and LOG_FILE."""

    level: str = "INFO"
    format: str = "text"
    file: str | None = None  # None: standard error


def json_formatter() -> logging.Formatter:
    """JSON lines: time (UTC, ISO 8601), level, logger, message, then a record's extra
    fields (an update line's update_id, chat_id, ...) as they are."""
    return JsonFormatter(
        "%(levelname)s %(name)s %(message)s",
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp="time",
        json_ensure_ascii=False,
    )


def make_handler(settings: LogSettings) -> logging.Handler:
    """Standard error, or LOG_FILE through a WatchedFileHandler: when logrotate moves the
    file away, the next line opens a new one (no copytruncate, no signal needed)."""
    handler: logging.Handler
    if settings.file:
        handler = logging.handlers.WatchedFileHandler(settings.file, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        json_formatter() if settings.format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    return handler


def configure_logging(settings: LogSettings, secrets: Iterable[str] = ()) -> logging.Handler:
    """Replace the root logger's handlers with the one `settings` ask for; `secrets` (the
    token, the webhook secret) are blanked out of every line. Returns the handler."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    handler = make_handler(settings)
    handler.addFilter(DropRequestParameters())
    handler.addFilter(RedactSecrets(secrets))
    root.addHandler(handler)
    level = logging.getLevelName(settings.level.upper())
    root.setLevel(level if isinstance(level, int) else logging.INFO)
    for name in CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(max(logging.INFO, root.level))
    return handler

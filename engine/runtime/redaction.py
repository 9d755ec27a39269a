"""Secrets never reach the log: a filter on the log handlers that blanks them out of every
record, whoever logged it (urllib3 logs request lines, which carry the bot token)."""

from __future__ import annotations

import logging
from collections.abc import Iterable


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if len(s) >= 4]

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        cleaned = self._clean(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info:  # a traceback can quote a URL with the token in it
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text, record.exc_info = self._clean(text), None
        return True

    def _clean(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "[secret]")
        return text


def redact_logs(secrets: Iterable[str]) -> None:
    """Blank `secrets` out of everything the root logger's handlers write."""
    redactor = RedactSecrets(secrets)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redactor)

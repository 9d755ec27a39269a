"""Sensitive variables encrypted at rest (Fernet: AES with an HMAC), with key rotation:
the first key of BOT_ENCRYPTION_KEYS encrypts, every key listed decrypts."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

MARK = "$enc"


class EncryptionKeyError(Exception):
    """Keys are missing or malformed; the message says how to make one."""


HOW_TO_MAKE_A_KEY = (
    'make one with: python -c "from cryptography.fernet import Fernet; '
    'print(Fernet.generate_key().decode())"'
)


def key_problems(raw: str) -> list[str]:
    """BOT_ENCRYPTION_KEYS checked at start: which key (by position, never its value) is not
    a Fernet key, so the bot does not fail later at the first sensitive answer."""
    keys = [k.strip() for k in raw.split(",") if k.strip()]
    problems = []
    for position, key in enumerate(keys, 1):
        try:
            Fernet(key.encode())
        except (ValueError, TypeError):
            which = f"key {position} of {len(keys)}" if len(keys) > 1 else "the key"
            problems.append(
                f"BOT_ENCRYPTION_KEYS: {which} is not a Fernet key (44 characters of "
                f"URL-safe base64, keys separated by commas); {HOW_TO_MAKE_A_KEY}"
            )
    return problems


class SensitiveCipher:
    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise EncryptionKeyError(f"BOT_ENCRYPTION_KEYS is empty; {HOW_TO_MAKE_A_KEY}")
        try:
            self._fernet = MultiFernet([Fernet(key.strip().encode()) for key in keys])
        except (ValueError, TypeError):
            raise EncryptionKeyError(
                f"BOT_ENCRYPTION_KEYS holds a key that is not a Fernet key; {HOW_TO_MAKE_A_KEY}"
            ) from None

    @classmethod
    def from_environment(cls) -> SensitiveCipher | None:
        raw = os.environ.get("BOT_ENCRYPTION_KEYS", "")
        keys = [k for k in raw.split(",") if k.strip()]
        return cls(keys) if keys else None

    def seal(self, values: Mapping[str, Any], sensitive: frozenset[str]) -> dict[str, Any]:
        return {
            name: {MARK: self._fernet.encrypt(json.dumps(value).encode()).decode()}
            if name in sensitive and value is not None
            else value
            for name, value in values.items()
        }

    def open(self, values: Mapping[str, Any], sensitive: frozenset[str]) -> dict[str, Any]:
        """The values with the sensitive ones decrypted. Only those: any other variable may
        hold a `{"$enc": ...}` that came from outside (an HTTP answer), which is data."""
        opened: dict[str, Any] = {}
        for name, value in values.items():
            if name in sensitive and isinstance(value, dict) and set(value) == {MARK}:
                try:
                    value = json.loads(self._fernet.decrypt(value[MARK].encode()))
                except InvalidToken:
                    raise EncryptionKeyError(
                        f"cannot decrypt the variable '{name}': its key is not in BOT_ENCRYPTION_KEYS "
                        "(keep old keys listed after the new one while rotating)"
                    ) from None
            opened[name] = value
        return opened

    def open_what_it_can(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """For a user's export (/mydata): every sealed value this cipher can decrypt, any
        name; one it cannot (a key no longer listed, or data that only looks sealed) is
        exported as stored rather than failing the whole export."""
        opened: dict[str, Any] = {}
        for name, value in values.items():
            if isinstance(value, dict) and set(value) == {MARK} and isinstance(value[MARK], str):
                with contextlib.suppress(InvalidToken, ValueError):
                    value = json.loads(self._fernet.decrypt(value[MARK].encode()))
            opened[name] = value
        return opened

    def rotate(self, token: str) -> str:
        return self._fernet.rotate(token.encode()).decode()

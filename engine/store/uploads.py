"""The file_ids Telegram gave the bot's uploaded media files, kept in the settings table so a
local file is uploaded once, also across restarts."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping

import peewee

from engine.store.models import SettingRow, database_proxy

_PREFIX = "upload:"


class UploadedFiles(MutableMapping[str, str]):
    """A local file's key (path, size, mtime) -> its file_id; a changed file gets a new key."""

    def __init__(self, db: peewee.Database) -> None:
        database_proxy.initialize(db)
        self._cache: dict[str, str] = {
            row.key.removeprefix(_PREFIX): row.value
            for row in SettingRow.select().where(SettingRow.key.startswith(_PREFIX))
        }

    def __getitem__(self, key: str) -> str:
        return self._cache[key]

    def __setitem__(self, key: str, value: str) -> None:
        SettingRow.insert(key=_PREFIX + key, value=value).on_conflict(
            conflict_target=[SettingRow.key], update={SettingRow.value: value}
        ).execute()
        self._cache[key] = value

    def __delitem__(self, key: str) -> None:
        SettingRow.delete().where(SettingRow.key == _PREFIX + key).execute()
        del self._cache[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._cache)

    def __len__(self) -> int:
        return len(self._cache)

"""Which local files a message may upload to Telegram. A media value can come from a
template, so from user text: whatever it names must be a media file in the media folder
(the scenario's folder unless BOT_MEDIA_DIR names another), never the plugins, .env, the
database, a translation or the scenario itself, and never a pipe, device or folder."""

from __future__ import annotations

import os
import re

from engine.ops.files import FileTooLarge, NotARegularFile, read_regular_file, regular_file_size

# What Telegram's Bot API accepts as an upload: 10 MB for a photo, 50 MB for other files.
PHOTO_LIMIT = 10 * 1024 * 1024
FILE_LIMIT = 50 * 1024 * 1024

# Files that are media or documents meant for people; everything a bot keeps beside its
# scenario (.py, .yaml, .env, .db, .po, .mo, .json, .txt, .csv, archives) is left out.
MEDIA_EXTENSIONS = frozenset(
    (
        *(".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".heic", ".tif", ".tiff"),
        *(".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi", ".mpeg", ".mpg", ".3gp"),
        *(".mp3", ".m4a", ".ogg", ".oga", ".opus", ".wav", ".flac", ".aac", ".tgs"),
        *(".pdf", ".doc", ".docx", ".xls", ".xlsx", ".ppt", ".pptx", ".odt", ".ods", ".odp"),
        *(".rtf", ".epub"),
    )
)
FILE_ID = re.compile(r"[A-Za-z0-9_-]{20,}")  # what Telegram's file_ids look like


class MediaFileError(ValueError):
    """A media value that names no file the bot may upload."""


class MediaNotFound(MediaFileError):
    """No such file."""


class MediaOutside(MediaFileError):
    """The file is outside the media folder (once symbolic links are followed)."""


class MediaRefused(MediaFileError):
    """Inside the folder, but not a media file: hidden, another kind of file, not a file."""


class MediaTooLarge(MediaFileError):
    """Larger than Telegram takes."""


def size_limit(kind: str) -> int:
    return PHOTO_LIMIT if kind == "photo" else FILE_LIMIT


def is_remote(media: str) -> bool:
    """A web address or a Telegram file id: sent as it is, nothing read from disk."""
    return media.startswith(("http://", "https://")) or FILE_ID.fullmatch(media) is not None


def media_root(scenario_dir: str, media_dir: str | None = None) -> str:
    """The folder local media must be in, links followed."""
    return os.path.realpath(media_dir or scenario_dir)


def local_media(media: str, kind: str, scenario_dir: str, media_dir: str | None = None) -> str:
    """The real path of the local media file `media` (written relative to the scenario's
    folder) if the bot may upload it as a `kind`; a MediaFileError saying why not."""
    if "\x00" in media:
        raise MediaRefused(f"{media!r} holds a null byte; no file name does")
    root = media_root(scenario_dir, media_dir)
    path = os.path.realpath(os.path.join(scenario_dir, media))
    if os.path.commonpath([root, path]) != root:
        raise MediaOutside(f"{media} is outside the media folder")
    inside = os.path.relpath(path, root)
    if any(part.startswith(".") for part in inside.split(os.sep) if part != os.curdir):
        raise MediaRefused(f"{media} is a hidden file ({inside}); hidden files are never sent")
    extension = os.path.splitext(path)[1].lower()
    if extension not in MEDIA_EXTENSIONS:
        what = f"a {extension} file" if extension else "a name without an extension"
        raise MediaRefused(f"{media} is {what}, not a media file (.jpg, .png, .mp4, .pdf …)")
    try:
        size = regular_file_size(path)
    except FileNotFoundError:
        raise MediaNotFound(f"there is no media file {media} in the media folder") from None
    except NotARegularFile as exc:
        raise MediaRefused(f"{media} is {exc.what}, not a file") from None
    if size > size_limit(kind):
        raise MediaTooLarge(_too_large(media, size, kind))
    return path


def read_media(path: str, kind: str) -> bytes:
    """The content of a file `local_media` allowed, read without blocking, within the cap."""
    try:
        return read_regular_file(path, size_limit(kind))
    except FileTooLarge as exc:
        raise MediaTooLarge(_too_large(path, exc.size, kind)) from None
    except NotARegularFile as exc:
        raise MediaRefused(f"{path} is {exc.what}, not a file") from None


def _too_large(media: str, size: int, kind: str) -> str:
    limit = size_limit(kind) // (1024 * 1024)
    what = "a photo" if kind == "photo" else "a file"
    return f"{media} is {size:,} bytes; Telegram takes at most {limit} MB for {what}"

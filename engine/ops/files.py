"""Reading a file the bot was pointed at (a scenario, an include, a media file) without waiting
forever and without reading more than a cap: a named pipe blocks `open()` until somebody
writes to it, and a device such as /dev/zero never ends."""

from __future__ import annotations

import os
import stat


class NotARegularFile(OSError):
    """The path names a folder, a named pipe, a device or a socket: nothing to read."""

    def __init__(self, path: str, what: str) -> None:
        super().__init__(f"{path} is {what}, not a file")
        self.path = path
        self.what = what


class FileTooLarge(OSError):
    """The file is larger than the cap of whatever reads it."""

    def __init__(self, path: str, size: int, limit: int) -> None:
        super().__init__(f"{path} is {size:,} bytes; at most {limit:,} are allowed")
        self.path = path
        self.size = size
        self.limit = limit


def describe_mode(mode: int) -> str:
    """What a non-regular file is, in words an author understands."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


def regular_file_size(path: str) -> int:
    """The size of a regular file (following links); NotARegularFile for anything else.
    Only stat: nothing is opened, so a pipe or a device cannot block or be set off."""
    mode = os.stat(path)
    if not stat.S_ISREG(mode.st_mode):
        raise NotARegularFile(path, describe_mode(mode.st_mode))
    return mode.st_size


def read_regular_file(path: str, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most `max_bytes`. Checked by stat before opening and
    again on the opened descriptor (opened without blocking, in case the name was swapped for
    a pipe in between), and never read past the cap (a file may grow while it is read)."""
    regular_file_size(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))
    try:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode):
            raise NotARegularFile(path, describe_mode(opened.st_mode))
        if opened.st_size > max_bytes:
            raise FileTooLarge(path, opened.st_size, max_bytes)
        chunks: list[bytes] = []
        left = max_bytes + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        content = b"".join(chunks)
        if len(content) > max_bytes:
            raise FileTooLarge(path, max(os.fstat(fd).st_size, len(content)), max_bytes)
        return content
    finally:
        os.close(fd)

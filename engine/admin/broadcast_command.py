"""`run.py --broadcast`, `--cancel ID` and `--broadcasts`: the command line's side of
broadcasts. It only makes, cancels and reads jobs (engine/admin/broadcasts.py); the running
bot's sender sends them, so what the progress bar shows is read from the job's counts."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

import peewee

from engine.admin import broadcasts
from engine.admin.broadcasts import BroadcastError, BroadcastReport
from engine.command_name import command
from engine.store.migrations import open_checked
from engine.store.models import stored_now

EXIT_OK, EXIT_PROBLEMS = 0, 1
POLL_SECONDS = 1.0  # how often the progress bar reads the job's counts


def run_broadcast(
    url: str,
    text: str | None,
    where: str | None,
    dry_run: bool,
    follow: bool,
    stdout: TextIO,
    stderr: TextIO,
    prog: str,
    message_key: str | None = None,
) -> int:
    """Queue a broadcast of `text` or of the scenario's message `message_key` (checked by
    the caller), or count its recipients with `dry_run`; then follow its progress while
    `follow` (a terminal): Ctrl-C stops following, not the broadcast."""
    db = open_checked(url)
    try:
        if dry_run:
            count = broadcasts.count_recipients(db, where, stored_now())
            stdout.write(f"{count} users would get this broadcast (nothing was sent)\n")
            return EXIT_OK
        broadcast_id = broadcasts.create(
            db, text=text, message_key=message_key, where=where, actor="cli", now=stored_now()
        )
        stdout.write(
            f"broadcast #{broadcast_id} queued; the running bot sends it (start it if it is "
            f"not running). Follow it with `{command()} --broadcasts`, stop it with "
            f"`{command()} --cancel {broadcast_id}`.\n"
        )
        if follow:
            try:
                follow_progress(db, broadcast_id, stderr)
            except KeyboardInterrupt:
                stderr.write(f"\nstopped following; broadcast #{broadcast_id} goes on\n")
                return EXIT_OK
            stdout.write(broadcasts.report(db, broadcast_id).line() + "\n")
        return EXIT_OK
    except BroadcastError as exc:
        stderr.write(f"{prog}: {exc}\n")
        return EXIT_PROBLEMS
    finally:
        db.close()


def follow_progress(
    db: peewee.Database,
    broadcast_id: int,
    out: TextIO,
    sleep: Callable[[float], None] = time.sleep,
) -> BroadcastReport:
    """A tqdm bar of a broadcast's handled messages (sent, blocked, failed) against those
    queued so far, until it ends; its final report."""
    from tqdm import tqdm

    with tqdm(total=0, file=out, unit="msg", desc=f"broadcast #{broadcast_id}") as bar:
        while True:
            now = broadcasts.report(db, broadcast_id)
            handled = now.sent + now.blocked + now.failed
            bar.total = max(now.queued, handled)
            bar.n = handled
            bar.set_postfix(sent=now.sent, blocked=now.blocked + now.skipped, failed=now.failed)
            bar.refresh()
            if now.status not in broadcasts.ACTIVE:
                return now
            sleep(POLL_SECONDS)


def run_cancel(url: str, broadcast_id: int, stdout: TextIO, stderr: TextIO, prog: str) -> int:
    db = open_checked(url)
    try:
        ended = broadcasts.cancel(db, broadcast_id, "cli", stored_now())
    except BroadcastError as exc:
        stderr.write(f"{prog}: {exc}\n")
        return EXIT_PROBLEMS
    finally:
        db.close()
    stdout.write(ended.line() + "\n")
    return EXIT_OK


def run_list(url: str, stdout: TextIO) -> int:
    db = open_checked(url)
    try:
        reports = broadcasts.listing(db)
    finally:
        db.close()
    if not reports:
        stdout.write("no broadcasts yet\n")
    for found in reports:
        stdout.write(found.line() + "\n")
    return EXIT_OK

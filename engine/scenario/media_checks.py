"""Local media files named literally in a scenario (`photo: media/menu.jpg`) checked when it
is validated, by the rules the sender applies when it uploads them, so that a file that
would fail every time it is sent is an error at its line instead."""

from __future__ import annotations

import os
from collections.abc import Iterator

from engine.scenario.diagnostics import Diagnostic, error
from engine.scenario.inventory import Inventory
from engine.scenario.template_checks import has_template_syntax
from engine.scenario.yaml_loader import SourceMap
from engine.telegram.media_files import (
    MediaNotFound,
    MediaOutside,
    MediaRefused,
    MediaTooLarge,
    is_remote,
    local_media,
    media_root,
)

_OR_A_URL = "or give a web address (https://…) or a Telegram file id instead"


def check_media(
    inv: Inventory, source: SourceMap, scenario_dir: str, media_dir: str | None = None
) -> Iterator[Diagnostic]:
    """A template (`photo: "{{ photo_id }}"`) is checked when the message is sent."""
    root = media_root(scenario_dir, media_dir)
    relative_to = "that folder" if root == os.path.realpath(scenario_dir) else scenario_dir
    for media in inv.media:
        value = media.text
        if has_template_syntax(value) or is_remote(value):
            continue
        kind = str(media.path[-1])
        where = source.of(media.path)
        try:
            local_media(value, kind, scenario_dir, media_dir)
        except MediaNotFound as exc:
            yield error(
                where,
                "media-not-found",
                f"{exc} {root}; a path is relative to the scenario's folder, like "
                f"'media/menu.jpg'; check the name, {_OR_A_URL}.",
            )
        except MediaOutside as exc:
            yield error(
                where,
                "media-outside",
                f"{exc} {root}; copy the file into it and write its path relative to "
                f"{relative_to}, {_OR_A_URL}.",
            )
        except MediaRefused as exc:
            yield error(
                where,
                "media-refused",
                f"{exc}; only pictures, videos, sounds and documents (.pdf, .docx …) are "
                f"uploaded from disk: save it as one, {_OR_A_URL}.",
            )
        except MediaTooLarge as exc:
            yield error(
                where,
                "media-too-large",
                f"{exc}; make it smaller, or {_OR_A_URL.removeprefix('or ')}.",
            )
        except OSError as exc:
            yield error(where, "media-not-found", f"cannot read {value}: {exc.strerror}.")


def scenario_folder(path: str) -> str:
    """The folder local media paths (and includes) are written relative to."""
    return os.path.dirname(os.path.abspath(path))

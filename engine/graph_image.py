"""The state diagram as a picture a person can open: SVG or PNG, drawn from the DOT text by
Graphviz's `dot` (a well-kept renderer, installed from the system's packages). Without it the
author is told how to install it, never handed an empty file."""

from __future__ import annotations

import os
import shutil
import subprocess

PICTURE_FORMATS = ("svg", "png")
# the endings `--output` understands when `--format` is not given
_ENDINGS = {
    ".svg": "svg",
    ".png": "png",
    ".dot": "dot",
    ".gv": "dot",
    ".mmd": "mermaid",
    ".mermaid": "mermaid",
}
INSTALL_HINT = (
    "install Graphviz: `sudo apt-get install graphviz` (Debian, Ubuntu), "
    "`brew install graphviz` (macOS), `winget install graphviz` (Windows), or "
    "https://graphviz.org/download/; or write text with --format mermaid or --format dot"
)
DOT_TIMEOUT = 60.0  # seconds; a scenario's diagram takes well under one


class GraphvizError(Exception):
    """dot is missing or failed: the message says what to do."""


def format_for(path: str) -> str | None:
    """The format an output file's ending asks for (demo.svg: svg), None when it says none."""
    return _ENDINGS.get(os.path.splitext(path)[1].casefold())


def draw(dot_text: str, fmt: str) -> bytes:
    """The picture of `dot_text` in `fmt` ("svg" or "png"), drawn by Graphviz's dot."""
    if fmt not in PICTURE_FORMATS:
        raise ValueError(f"unknown picture format {fmt!r}: use one of {', '.join(PICTURE_FORMATS)}")
    dot = shutil.which("dot")
    if dot is None:
        raise GraphvizError(
            f"--format {fmt} needs Graphviz's `dot`, which is not installed (not on PATH); "
            + INSTALL_HINT
        )
    try:
        done = subprocess.run(
            [dot, f"-T{fmt}"],
            input=dot_text.encode("utf-8"),
            capture_output=True,
            timeout=DOT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GraphvizError(f"Graphviz's dot ({dot}) could not draw the diagram: {exc}") from exc
    if done.returncode != 0 or not done.stdout:
        said = done.stderr.decode("utf-8", "replace").strip() or f"exit status {done.returncode}"
        raise GraphvizError(f"Graphviz's dot ({dot}) could not draw the diagram: {said}")
    return done.stdout

"""The name the engine was started by, for the commands its messages suggest: `python run.py`
in a checkout, `scenario-bot` once installed (a user of the wheel has no run.py). Set once by
the entry point; messages read it when they are written."""

from __future__ import annotations

_program = "run.py"


def set_program(name: str) -> None:
    """Called by `engine.cli.main` with the name it was started as."""
    global _program
    _program = name


def program() -> str:
    """What an error line starts with: `run.py` or `scenario-bot`."""
    return _program


def command() -> str:
    """How to run it again: `python3 run.py` (right with and without a venv) or `scenario-bot`."""
    return f"python3 {_program}" if _program.endswith(".py") else _program

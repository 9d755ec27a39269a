"""A process that starts on a fresh database at the same moment as others, for the schema
race tests: it does what `python run.py` does when the bot starts (the tables of a new
database are created, then the schema is checked), or it is `python run.py --migrate`.

python tests/schema_race_child.py bot|migrate READY_FD GO_FD: everything is imported and
read first, then it writes a byte to READY_FD and waits for a byte on GO_FD, which the test
sends to all the children at once. The exit code is the command's (0: the bot would run)."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from engine.cli import run
from engine.runtime.app import open_bot
from engine.runtime.config import read_settings


def main() -> int:
    role, ready, go = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    settings = read_settings()
    os.write(ready, b".")
    os.read(go, 1)  # the barrier: every child is released by the same write
    if role == "migrate":
        return run(["--migrate"], sys.stdout, sys.stderr)
    return 0 if open_bot(settings, sys.stderr) is not None else 1


if __name__ == "__main__":
    sys.exit(main())

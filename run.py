"""Entry point: `python run.py --help`. All logic lives in engine.cli."""

import sys

from engine.cli import run

if __name__ == "__main__":
    sys.exit(run(sys.argv[1:], sys.stdout, sys.stderr))

"""Entry point: `python run.py --help`. All logic lives in engine.cli."""

from engine.cli import main

if __name__ == "__main__":
    main(prog="run.py")

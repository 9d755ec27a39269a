"""A playground started as an author starts it (`run.py --playground FILE --port 0`, a real
process on 127.0.0.1), the scenario it plays in a file of the test's own, and small HTTP
helpers to talk to it as the page does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from builders import ROOT

# A small bot with what the page draws: HTML, inline buttons and an edit, a sharing reply
# key, a sensitive variable, a timer.
SCENARIO = """\
bot:
  name: Play Bot
  language: en
  start: menu
vars:
  phone: null
sensitive: [phone]
states:
  menu:
    say: "Hello <b>{{ user.first_name }}</b>! Pick one:"
    buttons:
      - [{text: Joke, goto: joke}, {text: Phone, goto: ask_phone}]
      - {text: Timer, goto: waiting}
  joke:
    say: A <i>short</i> joke.
    buttons:
      - {text: Back, goto: menu}
  ask_phone:
    say: Your phone number?
    keyboard:
      - {text: Share my phone number, request_contact: true}
    ask: {var: phone, type: phone}
    goto: thanks
  thanks:
    say: Thanks, we will call you.
    remove_keyboard: true
    end: true
  waiting:
    say: Waiting ten minutes.
    after:
      delay: 10m
      say: Ten minutes are over.
      goto: menu
"""


def write_scenario(folder: Path, text: str = SCENARIO) -> Path:
    path = folder / "play.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def rewrite(path: Path, text: str) -> None:
    """Save the file as an editor would, its time moved on so that a change within the same
    second of the file system's clock is seen too."""
    before = path.stat().st_mtime
    path.write_text(text, encoding="utf-8")
    os.utime(path, (before + 2, before + 2))


class Playground:
    def __init__(self, url: str, process: subprocess.Popen[str]) -> None:
        self.url = url
        self.process = process

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=20) as answer:
            return json.loads(answer.read())

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        request = urllib.request.Request(
            self.url + path,
            data=json.dumps(body or {}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=20) as answer:
            return json.loads(answer.read())

    def view(self) -> dict[str, Any]:
        result: dict[str, Any] = self.get("api/view")
        return result

    def press(self, label: str) -> dict[str, Any]:
        """Press the button labelled `label` of the latest message that has it."""
        for message in reversed(self.view()["messages"]):
            for r, row in enumerate(message.get("buttons") or []):
                for c, button in enumerate(row):
                    if button["text"] == label:
                        body = {"message": message["id"], "row": r, "column": c}
                        result: dict[str, Any] = self.post("api/press", body)
                        return result
        raise AssertionError(f"no button {label!r} on the page")

    def until(
        self, holds: Callable[[dict[str, Any]], bool], seconds: float = 10.0
    ) -> dict[str, Any]:
        """The view once `holds` is true of it (the files are looked at every 0.5 s)."""
        deadline = time.monotonic() + seconds
        view = self.view()
        while not holds(view):
            if time.monotonic() > deadline:
                raise AssertionError(f"the page never showed it; it shows {view}")
            time.sleep(0.1)
            view = self.view()
        return view


def bot_texts(view: dict[str, Any]) -> list[str]:
    return [m["html"] for m in view["messages"] if m["from"] == "bot"]


@contextmanager
def playground(
    scenario: Path, *options: str, env: dict[str, str] | None = None
) -> Iterator[Playground]:
    """`run.py --playground scenario --port 0` running until the block ends, then stopped
    as a supervisor stops it (SIGTERM); it must exit 0."""
    process = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "run.py"),
            "--playground",
            str(scenario),
            "--port",
            "0",
            *options,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=scenario.parent,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )
    stopped = False
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert " is at http://127.0.0.1:" in line, line + process.stdout.read()
        url = line.split(" is at ")[1].split()[0]
        yield Playground(url, process)
        process.terminate()
        assert process.wait(timeout=20) == 0, process.stdout.read()
        stopped = True
    finally:
        if not stopped:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()

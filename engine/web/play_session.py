"""One author's playground session: the scenario file watched and reloaded as the live bot
reloads it (the previous version keeps answering while a saved file has errors), the bot
opened on a SQLite file of its own, and the conversation with it (engine/web/play_chat.py).
Every change (an answer, a reload, errors) moves `revision` on, so the page asks for the
view only when there is something new to draw."""

from __future__ import annotations

import datetime as dt
import io
import os
import shutil
import tempfile
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

import yaml

from engine.ops.problems import Problem
from engine.runtime.app import Bot, open_bot
from engine.runtime.config import Settings
from engine.runtime.plugins import plugin_names
from engine.runtime.scenario_holder import file_stamps
from engine.web.play_chat import PlayChat
from engine.web.scenario_view import ScenarioView, read_scenario
from engine.web.telegram_html import as_html


class PlaySession:
    def __init__(
        self,
        path: str,
        name: str | None = None,
        language: str | None = None,
        media_dir: str | None = None,
    ) -> None:
        self.path = path
        self.name = name
        self.language = language
        self.media_dir = media_dir
        self.folder = tempfile.mkdtemp(prefix="playground-")  # the store, gone at close
        self.lock = threading.RLock()
        self.revision = 0
        self.diagram_revision = 0
        self.restarts = 0
        self.bot: Bot | None = None
        self.chat: PlayChat | None = None
        self.startup_problem = ""  # what stopped the bot from opening (not a scenario error)
        self.problems: deque[Problem] = deque()  # reported by the bot, not yet in the chat
        self.scenario = read_scenario(path, media_dir)
        self.stamps = self._stamps()
        if self.scenario.loads:
            self._open()

    # the scenario's files

    def _stamps(self) -> dict[str, float]:
        return file_stamps(self.path, self.scenario.files or (self.path,))

    def reload_if_changed(self) -> bool:
        """Read the files again when one changed: a good version runs from the next message
        on (sessions migrated as the live bot does), a broken one shows its errors and the
        previous version keeps answering. True when something the page shows changed."""
        with self.lock:
            stamps = self._stamps()
            if stamps == self.stamps:
                return False
            self.stamps = stamps
            self.scenario = read_scenario(self.path, self.media_dir)
            self.stamps = self._stamps()  # an include added or removed is watched from now
            self.diagram_revision += 1
            self.revision += 1
            if not self.scenario.loads:
                return True
            if self.bot is None:
                self._open()
            elif self.bot.holder.reload() and self.chat is not None:
                self.chat.scenario = self.bot.holder.current
                self.chat.out.write(
                    f"(the scenario was saved: version {self.chat.scenario.version} runs now)\n"
                )
            return True

    # the bot and the conversation

    def _open(self) -> None:
        """A new bot on a new database, and the conversation started with /start."""
        self.restarts += 1
        database = os.path.join(self.folder, f"playground-{self.restarts}.db")
        settings = Settings(
            scenario=self.path,
            database_url=f"sqlite:///{database}",
            plugins=plugin_names(os.environ, self.path),
            media_dir=self.media_dir,
            log_updates=False,
        )
        problems = io.StringIO()
        self.bot = open_bot(settings, problems, require_keys=False)
        if self.bot is None:
            self.startup_problem = problems.getvalue().strip()
            return
        self.startup_problem = ""
        self.chat = PlayChat(self.bot, self.name, self.language)
        self.bot.problems.listeners.append(self.problems.append)  # from the bot's threads
        self.act(lambda chat: chat.type_text("/start"))

    def restart(self) -> None:
        """Start over as a new user would: an empty database, the file's current version."""
        with self.lock:
            self._close_bot()
            self.scenario = read_scenario(self.path, self.media_dir)
            self.diagram_revision += 1
            if self.scenario.loads:
                self._open()
            self.revision += 1

    def switch_language(self, language: str) -> None:
        """Start over as a user whose Telegram speaks `language`: a conversation keeps the
        language it started in (the bot's choice is stored with the session), so only a new
        one shows the bot in another language. ValueError for one the scenario lacks."""
        with self.lock:
            scenario = self.bot.holder.current if self.bot is not None else None
            if scenario is None or language not in _languages(
                scenario.language, scenario.languages
            ):
                raise ValueError(f"the scenario does not speak {language!r}")
            self.language = language
            self.restart()
            if self.chat is not None:
                self.chat.out.write(f"(started over in the language {language})\n")

    def act(self, action: Callable[[PlayChat], None]) -> None:
        """Do what the user did on the page; the step remembers the state it left them in."""
        with self.lock:
            if self.chat is None:
                return
            action(self.chat)
            while self.problems:  # what failed on the way, where it happened: in the chat
                problem = self.problems.popleft()
                where = f" in state {problem.state}" if problem.state else ""
                self.chat.add(
                    {
                        "from": "problem",
                        "html": as_html(f"problem{where} ({problem.kind}): {problem.cause}", None),
                    }
                )
            if self.chat.steps:
                self.chat.steps[-1]["expect_state"] = self.chat.session.state
            self.revision += 1

    def view(self) -> dict[str, Any]:
        """Everything the page draws, as JSON."""
        with self.lock:
            chat = self.chat
            scenario = self.bot.holder.current if self.bot is not None else None
            return {
                "revision": self.revision,
                "diagram_revision": self.diagram_revision,
                "file": self.path,
                "errors": list(self.scenario.errors),
                "startup_problem": self.startup_problem,
                "running": chat is not None,
                "name": scenario.name if scenario else "",
                "version": scenario.version if scenario else "",
                "languages": list(_languages(scenario.language, scenario.languages))
                if scenario
                else [],
                "language": chat.user.language if chat else "",
                "messages": chat.view if chat else [],
                "keyboard": chat.keyboard if chat else [],
                "placeholder": chat.placeholder if chat else "",
                "state": chat.session.state if chat else "",
                "ended": chat.session.ended if chat else False,
                "variables": chat.variables() if chat else {},
                "stack": [f.state for f in chat.session.stack] if chat else [],
                "clock": chat.clock.isoformat() if chat else "",
                "next_timer": chat.next_timer() if chat else None,
            }

    def diagram(self) -> dict[str, Any]:
        with self.lock:
            view: ScenarioView = self.scenario
            return {
                "revision": self.diagram_revision,
                "mermaid": view.mermaid,
                "ids": view.node_ids,
            }

    def preview(self, name: str) -> str | None:
        """The file a message of this conversation showed as `name`; None for any other."""
        with self.lock:
            return self.chat.previews.get(name) if self.chat is not None else None

    def state_source(self, state: str) -> dict[str, Any] | None:
        with self.lock:
            return self.scenario.state_source(state)

    # "save as test"

    def save_as_test(self, name: str) -> str:
        """Append the conversation so far to NAME.tests.yaml beside the scenario as one test
        case (`--test` runs it); the file's path. ValueError when there is nothing to save."""
        with self.lock:
            if self.chat is None or not self.chat.steps:
                raise ValueError("there is no conversation to save yet")
            case = as_test_case(self.chat, name)
            target = os.path.splitext(self.path)[0] + ".tests.yaml"
            text = yaml.safe_dump([case], allow_unicode=True, sort_keys=False, width=100)
            existing = ""
            if os.path.exists(target):
                with open(target, encoding="utf-8") as file:
                    existing = file.read()
            if not existing:
                text = (
                    f"# Conversation tests of {os.path.basename(self.path)}: run them with "
                    f"`python3 run.py --test {target}`.\n# Saved from the playground; edit "
                    "them as you like.\n\n" + text
                )
            elif not existing.endswith("\n"):
                text = "\n\n" + text
            else:
                text = "\n" + text
            with open(target, "a", encoding="utf-8") as file:
                file.write(text)
            self.chat.out.write(f"(saved as the test case {name!r} in {target})\n")
            self.revision += 1
            return target

    def _close_bot(self) -> None:
        if self.bot is not None:
            self.bot.processor.close()
            self.bot.db.close()
        self.bot, self.chat = None, None

    def close(self) -> None:
        with self.lock:
            self._close_bot()
            shutil.rmtree(self.folder, ignore_errors=True)


def _languages(default: str, others: tuple[str, ...]) -> tuple[str, ...]:
    return (default, *(language for language in others if language != default))


def as_test_case(chat: PlayChat, name: str) -> dict[str, Any]:
    """The conversation as a `.tests.yaml` case: the user, the clock it started at, and per
    step what the user did, what the bot answered and the state it led to."""
    user = {"first_name": chat.user.first_name}
    case: dict[str, Any] = {"name": name, "user": user}
    if chat.first_language != chat.scenario.language:
        case["language"] = chat.first_language
    case["now"] = chat.started.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S+00:00")
    steps = []
    for step in chat.steps:
        written = {k: v for k, v in step.items() if k not in ("expect", "expect_state")}
        expect = step["expect"]
        if not expect:
            written["no_reply"] = True
        else:
            written["expect"] = expect[0] if len(expect) == 1 else list(expect)
        if "expect_state" in step:
            written["expect_state"] = step["expect_state"]
        steps.append(written)
    case["steps"] = steps
    return case

"""The running scenario, swapped atomically when its files change and the change is valid.
An invalid change is reported with positions while the bot keeps the previous version."""

from __future__ import annotations

import glob
import logging
import os
import threading
from collections.abc import Callable

from engine.core.model import Scenario
from engine.i18n.catalogs import domain_of, ignored_translations, locales_dir
from engine.ops.problems import Problem, ProblemSink
from engine.scenario import Diagnostic, validate_file
from engine.scenario.compiler import compile_scenario

log = logging.getLogger("engine.reload")


class ScenarioError(Exception):
    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        super().__init__("\n".join(d.format() for d in diagnostics))
        self.diagnostics = diagnostics


def load(path: str, media_dir: str | None = None) -> tuple[Scenario, tuple[str, ...]]:
    """The scenario compiled with its catalogs, or ScenarioError with every error in the
    scenario's files (what `--validate` would report). A broken translation does not stop
    it: as in `--chat` and `--test`, it is left out (users see the original) and logged."""
    report = validate_file(path, media_dir=media_dir)
    problems = [d for d in report.diagnostics if d.is_error]
    if problems or report.scenario is None:
        raise ScenarioError(problems)
    scenario = compile_scenario(report.scenario)
    for ignored in ignored_translations(scenario.translator):
        log.warning(ignored.format())
    return scenario, report.files


def file_stamps(path: str, files: tuple[str, ...]) -> dict[str, float]:
    """When each file of the scenario at `path` last changed: its YAML files (`files`, its
    includes among them) and its catalogs; -1 for one that is gone. A reload is due when
    these differ (the live bot's and the playground's watch)."""
    catalogs = glob.glob(
        os.path.join(locales_dir(path), "*", "LC_MESSAGES", f"{domain_of(path)}.po")
    )
    stamps = {}
    for name in (*files, *catalogs):
        try:
            stamps[name] = os.stat(name).st_mtime
        except OSError:
            stamps[name] = -1.0
    return stamps


class ScenarioHolder:
    def __init__(
        self, path: str, problems: ProblemSink | None = None, media_dir: str | None = None
    ) -> None:
        self.path = path
        self.problems = problems or ProblemSink()  # a refused reload is reported here
        self.media_dir = media_dir  # BOT_MEDIA_DIR: where literal media paths must lead
        self.current, files = load(path, media_dir)
        self._lock = threading.Lock()
        self._stamps = self._read_stamps(files)
        self.files = files
        self.listeners: list[Callable[[Scenario], None]] = []  # told of each new version

    def _read_stamps(self, files: tuple[str, ...]) -> dict[str, float]:
        return file_stamps(self.path, files)

    def reload_if_changed(self) -> bool:
        """Swap in the changed scenario if it is valid; True when a new version runs now."""
        if self._read_stamps(self.files) == self._stamps:
            return False
        return self.reload()

    def reload(self) -> bool:
        """Load the scenario again, changed or not (SIGHUP); True when the new version runs
        now, False when it was refused (reported) and the previous one keeps serving."""
        try:
            scenario, files = load(self.path, self.media_dir)
        except ScenarioError as exc:
            self._stamps = self._read_stamps(self.files)
            cause = f"the changed scenario has errors; still running the previous version:\n{exc}"
            self.problems.report(Problem("reload_failed", cause))
            return False
        except Exception as exc:  # a file vanished half-way through an editor's save
            cause = f"could not reload {self.path} ({exc}); still running the previous version"
            self.problems.report(Problem("reload_failed", cause), exc)
            return False
        with self._lock:
            self.current, self.files = scenario, files
            self._stamps = self._read_stamps(files)
        log.info("reloaded %s (version %s)", self.path, scenario.version)
        for listener in self.listeners:
            try:
                listener(scenario)
            except Exception as exc:  # the new version runs anyway; the failure is reported
                cause = f"after reloading {self.path}: {type(exc).__name__}: {exc}"
                self.problems.report(Problem("reload_failed", cause), exc)
        return True

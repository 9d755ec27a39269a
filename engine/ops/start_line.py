"""The first line of a running bot: what runs, on what, how. An operator reading a log (or
a support request quoting one) knows at once the version, the scenario and its version hash,
the database (without its password), the mode and the workers."""

from __future__ import annotations

import importlib.metadata
import logging
import re

from engine.core.model import Scenario
from engine.runtime.config import Settings

log = logging.getLogger("engine")
_PASSWORD = re.compile(r"^([a-zA-Z][\w+.-]*://[^:/@]*):[^@]*@")


def engine_version() -> str:
    try:
        return importlib.metadata.version("scenario-bot-engine")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout, not installed
        return "unknown"


def without_password(url: str) -> str:
    """DATABASE_URL as it may be shown: the password replaced by ***, the rest kept (also
    for a URL whose other parts are wrong: the start line must not fail on it)."""
    return _PASSWORD.sub(r"\1:***@", url, count=1)


def log_start(settings: Settings, scenario: Scenario) -> None:
    fields = {
        "version": engine_version(),
        "scenario": scenario.name,
        "scenario_file": settings.scenario,
        "scenario_version": scenario.version,
        "database": without_password(settings.database_url),
        "mode": settings.mode,
        "workers": settings.workers,
    }
    log.info(
        "starting scenario-bot-engine %s: scenario %s (%s, version %s), database %s, "
        "%s mode, %s workers",
        fields["version"],
        fields["scenario"],
        fields["scenario_file"],
        fields["scenario_version"],
        fields["database"],
        fields["mode"],
        fields["workers"],
        extra=fields,
    )

"""Loading the operator's plugin modules (BOT_PLUGINS): Python files or importable modules
that register scenario actions with `engine.core.ports.register_plugin`. Scenarios name
actions, never code; which code provides them is the operator's choice."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Mapping, Sequence


def plugin_names(environ: Mapping[str, str], scenario_path: str) -> tuple[str, ...]:
    """BOT_PLUGINS as listed; when it is not set at all, NAME_plugins.py beside NAME.yaml
    (like pytest's conftest.py), so a bundled bot runs with its actions out of the box."""
    if "BOT_PLUGINS" in environ:
        return tuple(p.strip() for p in environ["BOT_PLUGINS"].split(",") if p.strip())
    beside = os.path.splitext(scenario_path)[0] + "_plugins.py"
    return (beside,) if os.path.isfile(beside) else ()


class PluginLoadError(Exception):
    """A plugin module could not be loaded; the message names it and the cause."""


def load_plugins(names: Sequence[str], again: bool = False) -> None:
    """Import the plugins; `again` (SIGHUP): files are run anew and modules imported before
    are reloaded, so that edited actions replace the registered ones."""
    for name in names:
        try:
            if name.endswith(".py") or os.sep in name:
                if not os.path.isfile(name):
                    raise PluginLoadError(f"BOT_PLUGINS: there is no file {name}")
                module_name = "bot_plugin_" + os.path.splitext(os.path.basename(name))[0]
                spec = importlib.util.spec_from_file_location(module_name, name)
                if spec is None or spec.loader is None:
                    raise PluginLoadError(f"BOT_PLUGINS: {name} is not a Python file")
                module = importlib.util.module_from_spec(spec)
                sys.modules[module_name] = module
                spec.loader.exec_module(module)
            elif again and name in sys.modules:
                importlib.reload(sys.modules[name])
            else:
                importlib.import_module(name)
        except PluginLoadError:
            raise
        except Exception as exc:
            raise PluginLoadError(
                f"BOT_PLUGINS: loading {name} failed: {type(exc).__name__}: {exc}"
            ) from exc

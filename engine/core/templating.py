"""The one sandboxed Jinja2 environment that scenarios are validated and rendered with."""

from __future__ import annotations

from functools import lru_cache

from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from engine.core.formatting import FILTERS

# Names every template may use besides the scenario's own variables.
CONTEXT_NAMES = frozenset({"user", "chat", "message", "match", "now", "config"})


@lru_cache(maxsize=1)
def environment() -> ImmutableSandboxedEnvironment:
    """Shared by the validator and the renderer, so what validates is what runs."""
    env = ImmutableSandboxedEnvironment(
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        autoescape=False,
        keep_trailing_newline=False,
    )
    env.globals.pop("lipsum", None)  # can produce large output for no author's benefit
    env.filters.update(FILTERS)
    env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
    return env


def known_names() -> frozenset[str]:
    """Names defined for every template: the context and the environment's globals."""
    return CONTEXT_NAMES | frozenset(environment().globals)

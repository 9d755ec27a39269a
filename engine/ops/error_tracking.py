"""Error tracking (SENTRY_DSN, with the `.[sentry]` extra): every problem the sink hears of,
and the fatal error that stops the bot, sent to Sentry as an event. Only what the log line
holds goes out (kind, cause, state, event kind): no user or chat id, no message text, no
request data, no local variables, no breadcrumbs."""

from __future__ import annotations

import logging
from typing import Any

from engine.ops.problems import KINDS, Problem, ProblemSink

log = logging.getLogger("engine.ops")

_LEVELS = {
    logging.WARNING: "warning",
    logging.ERROR: "error",
    logging.CRITICAL: "fatal",
}
_KEPT = frozenset(
    [
        "event_id",
        "timestamp",
        "platform",
        "level",
        "logger",
        "message",
        "logentry",
        "tags",
        "release",
        "environment",
        "sdk",
        "exception",
        "fingerprint",
        "contexts",
    ]
)


def scrub(event: Any, hint: Any = None) -> Any:
    """Sentry's before_send: the event without personal data (users, requests, server name,
    local variables, breadcrumbs, extra context)."""
    cleaned = {key: value for key, value in event.items() if key in _KEPT}
    cleaned["contexts"] = {
        k: v for k, v in (event.get("contexts") or {}).items() if k in ("runtime", "os")
    }
    for exception in (cleaned.get("exception") or {}).get("values", []):
        for frame in (exception.get("stacktrace") or {}).get("frames", []):
            frame.pop("vars", None)
    return cleaned


class ErrorTracking:
    """Sends each reported problem to Sentry; sentry-sdk queues and sends in its own thread."""

    def __init__(self, sentry: Any) -> None:
        self.sentry = sentry

    def __call__(self, problem: Problem) -> None:
        level = _LEVELS.get(KINDS.get(problem.kind, logging.ERROR), "error")
        with self.sentry.new_scope() as scope:
            scope.set_tag("kind", problem.kind)
            if problem.state is not None:
                scope.set_tag("state", problem.state)
            if problem.event is not None:
                scope.set_tag("event", problem.event)
            scope.fingerprint = [problem.kind, problem.state or "", problem.cause[:80]]
            self.sentry.capture_message(f"{problem.kind}: {problem.cause}", level=level)

    def flush(self, timeout: float = 5.0) -> None:
        self.sentry.flush(timeout=timeout)


def start_error_tracking(dsn: str, problems: ProblemSink, release: str) -> ErrorTracking | None:
    """Sentry on, listening to the problem sink; None (with a warning) without sentry-sdk."""
    try:
        import sentry_sdk
        from sentry_sdk.integrations.excepthook import ExcepthookIntegration
        from sentry_sdk.integrations.threading import ThreadingIntegration
    except ImportError:
        log.warning(
            "SENTRY_DSN is set but sentry-sdk is not installed: pip install '.[sentry]' "
            "(problems are only logged)"
        )
        return None
    sentry_sdk.init(
        dsn=dsn,
        release=release,
        include_local_variables=False,
        max_breadcrumbs=0,
        traces_sample_rate=0.0,
        # not the logging integration: the problem sink sends each problem once, itself
        default_integrations=False,
        integrations=[ExcepthookIntegration(), ThreadingIntegration()],
        before_send=scrub,
    )
    tracking = ErrorTracking(sentry_sdk)
    problems.listeners.append(tracking)
    log.info("problems are sent to Sentry")
    return tracking

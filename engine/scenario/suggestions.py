"""'Did you mean …?' hints for misspelt names."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate most like `name`, if one is close enough to be a likely typo."""
    pool = [c for c in candidates if c != name]
    lowered = {c.lower(): c for c in pool}
    if name.lower() in lowered:
        return lowered[name.lower()]
    match = difflib.get_close_matches(name, pool, n=1, cutoff=0.6)
    return match[0] if match else None


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """A sentence ending to append to a message: ' Did you mean 'x'?' or ''."""
    found = closest(name, candidates)
    return f" Did you mean '{found}'?" if found is not None else ""

"""Keeping the garbage collector's full passes short in a long-running bot.

What the bot loads at start (the scenario and its compiled templates, the schema's
validator, the libraries) lives as long as the process, yet every full collection walked
all of it again: a pause of about 25 ms every few thousand updates, which was the whole p99
of `bench/e2e.py` in process. Frozen (gc.freeze), those objects are left out of the passes;
what a conversation creates is collected as before."""

from __future__ import annotations

import gc


def settle_memory() -> None:
    """Collect what is garbage now, then freeze what is left. Called at start and after a
    reload: unfreezing first lets the replaced version be collected, not kept for ever."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()

"""Keeping Python's cyclic garbage collector out of bulk work.

Loading, validating and planning a 10,000-node workflow makes hundreds of
thousands of objects, none of them in reference cycles; the cyclic GC would
walk the growing heap again and again meanwhile (up to half the time).

* ``paused_gc()``: for a bounded burst of building (load, validate, plan):
  the collector is off for its duration and put back as it was.
* ``quiet_gc()``: for a long run (the scheduler loop): what exists is frozen
  into the permanent generation and young collections are made rarer; both
  are put back afterwards, and what the run made goes to the oldest
  generation. Collection still happens, so a long run that makes garbage
  cycles does not grow without bound.
"""
from __future__ import annotations

import contextlib
import gc


@contextlib.contextmanager
def paused_gc():
    """The collector off while building; what was built goes straight to the oldest generation.

    Re-enabling alone would make the next allocation walk everything built
    meanwhile (a young generation of 100,000s of objects, ~25 ms at 10,000
    nodes) only to promote it; ``freeze()`` + ``unfreeze()`` does that promotion
    in O(1) and leaves those objects to the rare full collections."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            if not gc.get_freeze_count():  # inside quiet_gc() the frozen set is its own: leave it alone
                gc.freeze()
                gc.unfreeze()
            gc.enable()


@contextlib.contextmanager
def quiet_gc(young_threshold: int = 20_000):
    """For a run: young collections only every ``young_threshold`` surviving new objects (the
    scheduler scales it with the plan, so a run's own records — a dozen small objects per node —
    do not set one off), and what the run made is promoted to the oldest generation at the end
    in O(1) (``freeze()`` + ``unfreeze()``) instead of being walked by the next young collection."""
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(threshold[0], young_threshold), max(threshold[1], 50), max(threshold[2], 100))
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.freeze()
        gc.unfreeze()

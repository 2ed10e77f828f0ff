"""Pausing Python's cyclic garbage collector around the allocation-heavy passes (parse, elaborate, costs)."""
from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def collector_paused() -> Iterator[None]:
    """These passes allocate many small objects that reference counting frees (they make no
    cycles); the cyclic collector would rescan every live one again and again as they pile
    up (two thirds of the time on a 10,000-layer spec), so it is paused meanwhile."""
    if not gc.isenabled():  # already paused by an enclosing pass, or by the caller
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()

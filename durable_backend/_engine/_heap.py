"""The cyclic garbage collector while an invocation reads a long operation log.

Decoding a history allocates many long-lived objects (the operations) and no garbage cycles,
yet CPython's collector scans survivors again and again as the heap grows: with it on, each
of 100k operations costs more to read than each of 1k. So the log is read with automatic
collection paused, and a large one is then frozen (``gc.freeze``) until the invocation ends,
so the collections replay triggers skip it. Ending the invocation unfreezes what was frozen,
so nothing (garbage included) stays out of the collector's reach for longer.
"""

from __future__ import annotations

import gc

FREEZE_AT = 1000
"""Operations in a log worth freezing: below this, collections pass over it quickly."""


class LogReading:
    """Pauses automatic collection from construction until ``read``; ``close`` undoes all."""

    __slots__ = ("_froze", "_paused")

    def __init__(self) -> None:
        self._paused = gc.isenabled()
        self._froze = False
        if self._paused:
            gc.disable()

    def read(self, operations: int) -> None:
        """The log is in memory: freeze it if large (unless the program froze objects
        itself) and collect automatically again."""
        if operations >= FREEZE_AT and not gc.get_freeze_count():
            gc.freeze()
            self._froze = True
        self._resume()

    def close(self) -> None:
        self._resume()
        if self._froze:
            self._froze = False
            gc.unfreeze()

    def _resume(self) -> None:
        if self._paused:
            self._paused = False
            gc.enable()

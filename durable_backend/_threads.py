"""The sync twin's thread helpers: one timer thread (slow-body flushes, invocation
deadlines) and the thread a step body with a timeout runs on.

Kept apart from the drivers because it is all about threads and wake-ups, not about effects.
"""

from __future__ import annotations

import contextvars
import heapq
import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

from durable_backend._engine import BodyTimedOut


class _Timers:
    """One daemon thread, started on first use, that calls ``fire()`` when an entry is due
    unless ``wanted()`` turned False first: the sync twin's slow-body flushes and invocation
    deadlines, without a thread per step.

    Unwanted entries are dropped whenever they reach the top of the heap, so a stream of fast
    steps (each settles its flush entry before it is due) wakes this thread about once per
    ``SLOW_BODY_SECONDS``, not once per step. ``wanted`` is called under this object's lock
    only; a ``fire`` racing its cancellation still runs, so it must check under the caller's
    own lock. Lock order: a runtime's lock, then this one; never the other way round.

    Every step body arms an entry, so arming takes plain locks only: the heap's, and the one
    the thread sleeps on, released to wake it when a new entry comes due first. (A
    ``threading.Condition`` there cost a tenth of a cold one-step invocation.)
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._heap: list[tuple[float, int, Callable[[], bool], Callable[[], None]]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None
        self._wakeup = threading.Lock()
        self._wakeup.acquire()  # held while the thread may sleep; released to wake it
        self._woken = False  # released and not yet taken back: one release wakes it

    def at(self, due: float, wanted: Callable[[], bool], fire: Callable[[], None]) -> None:
        """Call ``fire()`` at monotonic time ``due`` if ``wanted()`` still says so."""
        order = next(self._order)
        with self._lock:
            heapq.heappush(self._heap, (due, order, wanted, fire))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="durable-backend-timers", daemon=True
                )
                self._thread.start()
            elif self._heap[0][1] == order and not self._woken:
                self._woken = True
                self._wakeup.release()

    def _run(self) -> None:
        heap = self._heap
        while True:
            fire = None
            with self._lock:
                while heap and not heap[0][2]():
                    heapq.heappop(heap)
                delay = heap[0][0] - time.monotonic() if heap else -1.0  # -1: until woken
                if heap and delay <= 0:
                    fire = heapq.heappop(heap)[3]
            if fire is None:
                if self._wakeup.acquire(timeout=delay):
                    with self._lock:
                        self._woken = False
                continue
            try:
                fire()
            except BaseException:
                continue


timers = _Timers()


def call_with_timeout(fn: Callable[..., Any], args: tuple[Any, ...], seconds: float) -> Any:
    """``fn(*args)`` on a thread of its own, waited for at most ``seconds``. Past them the
    thread is abandoned (Python cannot stop it) and ``BodyTimedOut`` raised."""
    if seconds <= 0:
        raise BodyTimedOut(seconds)
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append((True, fn(*args)))
        except BaseException as error:
            outcome.append((False, error))

    context = contextvars.copy_context()
    thread = threading.Thread(
        target=context.run, args=(run,), name="durable-backend-timed-body", daemon=True
    )
    thread.start()
    thread.join(seconds)
    if not outcome:
        raise BodyTimedOut(seconds)
    ok, value = outcome[0]
    if not ok:
        raise value
    return value

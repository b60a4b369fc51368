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
    ``SLOW_BODY_SECONDS``, not once per step. ``wanted`` is called under this condition only;
    a ``fire`` racing its cancellation still runs, so it must check under the caller's own
    lock. Lock order: a runtime's lock, then this condition; never the other way round.
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._heap: list[tuple[float, int, Callable[[], bool], Callable[[], None]]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def at(self, due: float, wanted: Callable[[], bool], fire: Callable[[], None]) -> None:
        """Call ``fire()`` at monotonic time ``due`` if ``wanted()`` still says so."""
        order = next(self._order)
        with self._condition:
            heapq.heappush(self._heap, (due, order, wanted, fire))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="durable-backend-timers", daemon=True
                )
                self._thread.start()
            elif self._heap[0][1] == order:
                self._condition.notify()

    def _run(self) -> None:
        heap = self._heap
        while True:
            with self._condition:
                while heap and not heap[0][2]():
                    heapq.heappop(heap)
                if not heap:
                    self._condition.wait()
                    continue
                delay = heap[0][0] - time.monotonic()
                if delay > 0:
                    self._condition.wait(delay)
                    continue
                fire = heapq.heappop(heap)[3]
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

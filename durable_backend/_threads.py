"""The sync twin's thread helpers: handing off to the next branch, the deadline flusher, the
invocation-deadline watchdog, and the thread a step body with a timeout runs on.

Kept apart from the drivers because it is all about threads and wake-ups, not about effects.
"""

from __future__ import annotations

import contextvars
import heapq
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Any

from durable_backend._engine import SLOW_BODY_SECONDS, BodyTimedOut, Commit, Flow


def after_first_effect(flow: Flow, then: Callable[[], None]) -> Flow:
    """``flow``, calling ``then()`` once the flow's first effect is performed (or as it ends).

    A fresh branch's first effect queues its START, so the next branch is claimed only after
    that: branches start in index order, as they would on one thread.
    """
    pending: Callable[[], None] | None = then
    answer: Any = None
    error: BaseException | None = None
    try:
        while True:
            try:
                effect = flow.send(answer) if error is None else flow.throw(error)
            except StopIteration as stop:
                return stop.value
            if pending is not None and type(effect) is not Commit:
                call, pending = pending, None
                call()
            answer = error = None
            try:
                answer = yield effect
            except BaseException as exc:
                error = exc
            if pending is not None:
                call, pending = pending, None
                call()
    finally:
        if pending is not None:
            pending()


class _Sleeper:
    """A daemon thread, started on first use, that sleeps on a condition until its next entry
    is due (``_run``)."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None

    def _kick(self, *, earliest: bool) -> None:
        """Under the condition, after adding an entry: start the thread, or wake it when the
        new entry is the earliest."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()
        elif earliest:
            self._condition.notify()

    def _head(self) -> tuple[float, Callable[[], None]] | None:
        """Under the condition: the earliest entry still wanted (dropping the others before
        it), as (monotonic due time, what to call); None when there is none."""
        raise NotImplementedError

    def _pop(self) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        while True:
            with self._condition:
                head = self._head()
                if head is None:
                    self._condition.wait()
                    continue
                delay = head[0] - time.monotonic()
                if delay > 0:
                    self._condition.wait(delay)
                    continue
                self._pop()
            try:
                head[1]()
            except BaseException:
                continue


class _Flusher(_Sleeper):
    """One daemon thread for deadlines: a slow step's pending START, a stalled branch pool.

    Every deadline is "now + ``SLOW_BODY_SECONDS``", so entries arrive in deadline order and a
    deque does what a heap would. Scheduling is an append; each wake-up first drops settled
    entries (a fast step's SUCCEED commits its START first), so a stream of fast steps wakes
    this thread about once per ``SLOW_BODY_SECONDS``, not once per step. Nothing waits for it.
    ``settled(token)`` is called without any lock; ``overdue(token)`` when it stayed False.
    Lock order: a runtime's lock, then this condition; never the other way round.
    """

    def __init__(self) -> None:
        super().__init__("durable-backend-flusher")
        self._entries: deque[
            tuple[float, Callable[[int], bool], Callable[[int], None], int]
        ] = deque()

    def schedule(
        self, settled: Callable[[int], bool], overdue: Callable[[int], None], token: int
    ) -> None:
        deadline = time.monotonic() + SLOW_BODY_SECONDS
        with self._condition:
            self._entries.append((deadline, settled, overdue, token))
            self._kick(earliest=len(self._entries) == 1)

    def _head(self) -> tuple[float, Callable[[], None]] | None:
        entries = self._entries
        while entries and entries[0][1](entries[0][3]):
            entries.popleft()
        if not entries:
            return None
        deadline, _, overdue, token = entries[0]
        return deadline, partial(overdue, token)

    def _pop(self) -> None:
        self._entries.popleft()


flusher = _Flusher()


class _Watchdog(_Sleeper):
    """One daemon thread that calls ``fire()`` at a monotonic time unless cancelled first: the
    sync twin's invocation deadline, watched without a thread per step.

    ``watch`` returns a one-item list; setting it to False cancels the entry (dropped when it
    reaches the top of the heap). A ``fire`` racing its cancellation still runs: it must check
    under the caller's own lock, the one the cancelling side holds.
    """

    def __init__(self) -> None:
        super().__init__("durable-backend-deadline")
        self._heap: list[tuple[float, int, list[bool], Callable[[], None]]] = []
        self._order = itertools.count()

    def watch(self, at: float, fire: Callable[[], None]) -> list[bool]:
        live = [True]
        with self._condition:
            heapq.heappush(self._heap, (at, next(self._order), live, fire))
            self._kick(earliest=self._heap[0][2] is live)
        return live

    def _head(self) -> tuple[float, Callable[[], None]] | None:
        heap = self._heap
        while heap and not heap[0][2][0]:
            heapq.heappop(heap)
        return (heap[0][0], heap[0][3]) if heap else None

    def _pop(self) -> None:
        heapq.heappop(self._heap)


watchdog = _Watchdog()


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

"""The sync twin's threads: the pool a map or parallel runs on, the deadline flusher, the
invocation-deadline watchdog, and the thread a step body with a timeout runs on.

Kept apart from the drivers because it is all about the GIL and wake-ups, not about effects.
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

from durable_backend._engine import SLOW_BODY_SECONDS, BatchRun, BodyTimedOut, Commit, Flow


class BranchPool:
    """The threads of one sync map/parallel: started on demand, parked while not needed.

    Under the GIL, threads help only while branches block (I/O, sleeps, a checkpoint call);
    threads that merely compute take turns at the GIL, and each turn is a costly hand-off on
    a busy machine. So a worker whose branch was quick and mostly on the CPU parks while
    another is awake; a worker whose branch was slow wakes a parked one; and a worker that
    claims a branch while none is parked starts one more thread, up to ``size``. Quick
    branches thus run on one thread (plus a parked spare), branches that block start every
    thread within a few claims. If the awake workers finish nothing for
    ``SLOW_BODY_SECONDS``, the flusher wakes the parked ones. Guarded by the runtime lock.
    """

    __slots__ = (
        "awake",
        "completed",
        "parked",
        "permits",
        "run",
        "size",
        "threads",
        "wakeup",
        "work",
    )

    def __init__(
        self, run: BatchRun, size: int, lock: threading.Lock, work: Callable[[], None]
    ) -> None:
        self.run = run
        self.size = size
        self.work = work
        self.wakeup = threading.Condition(lock)
        self.threads: list[threading.Thread] = []
        self.awake = 0
        self.parked = 0
        self.completed = 0
        self.permits = 0

    def spawn(self) -> threading.Thread:
        """A new worker thread; it counts itself awake once it runs."""
        thread = threading.Thread(target=self.work, name="durable-backend-branch", daemon=True)
        self.threads.append(thread)
        return thread

    def claimed(self) -> threading.Thread | None:
        """A branch was just claimed: watch the parked workers, or return a spare to start."""
        if self.parked:
            flusher.schedule(self.settled, self.overdue, self.completed)
            return None
        if len(self.threads) < self.size and self._unclaimed():
            return self.spawn()
        return None

    def finished(self, quick: bool) -> None:
        """Count a finished branch. A quick one parks the caller while another is awake; a
        slow one wakes a parked worker (blocking branches gain from more threads)."""
        self.completed += 1
        if not quick:
            self.wake(1)
            return
        if self.awake < 2 or not self._unclaimed():
            return
        self.awake -= 1
        self.parked += 1
        flusher.schedule(self.settled, self.overdue, self.completed)
        while not self.permits:
            self.wakeup.wait()
        self.permits -= 1

    def wake(self, count: int) -> None:
        count = min(count, self.parked)
        if count:
            self.parked -= count
            self.awake += count
            self.permits += count
            self.wakeup.notify(count)

    def settled(self, token: int, /) -> bool:
        return self.completed > token or not self.parked or not self._unclaimed()

    def overdue(self, token: int, /) -> None:
        with self.wakeup:
            if not self.settled(token):
                self.wake(self.parked)

    def _unclaimed(self) -> bool:
        run = self.run
        return run.reason is None and run.next_index < run.count


def start_spare(flow: Flow, spare: threading.Thread) -> Flow:
    """``flow``, starting ``spare`` once the flow's first effect is performed (or as it ends).

    A fresh branch's first effect queues its START, so the spare thread claims the next
    branch only after that: children start in index order, as they would on one thread.
    """
    pending: threading.Thread | None = spare
    answer: Any = None
    error: BaseException | None = None
    try:
        while True:
            try:
                effect = flow.send(answer) if error is None else flow.throw(error)
            except StopIteration as stop:
                return stop.value
            if pending is not None and type(effect) is not Commit:
                _start(pending)
                pending = None
            answer = error = None
            try:
                answer = yield effect
            except BaseException as exc:
                error = exc
            if pending is not None:
                _start(pending)
                pending = None
    finally:
        if pending is not None:
            _start(pending)


def _start(thread: threading.Thread) -> None:
    try:
        thread.start()
    except RuntimeError:  # the OS refused a thread: the pool goes on with those it has
        return


def ran_quick(started: float, cpu: float) -> bool:
    """Whether a branch took under ``SLOW_BODY_SECONDS``, at least half of it on the CPU."""
    elapsed = time.monotonic() - started
    return elapsed < SLOW_BODY_SECONDS and elapsed < 2 * (time.thread_time() - cpu)


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

"""The async twin's watch over running step bodies: one loop timer for all of them.

A body that runs ``SLOW_BODY_SECONDS`` must get its queued START sent, and the invocation's
deadline must cut it off. Most bodies end long before either, so two loop timers and an
``asyncio.timeout`` per body are what a step would mostly pay for. Instead each body that
waits joins a queue in start order, and one timer, armed for the oldest body while any runs,
looks at them when it is due: those still running get ``on_slow`` called and their deadline
armed then.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from durable_backend._engine import SLOW_BODY_SECONDS


class RunningBody:
    """One body being awaited in the task that started it: what to do if it runs long, and
    the loop time of its deadline, which cancels that task as ``asyncio.timeout`` would."""

    __slots__ = (
        "_cancelling", "_handle", "_task", "deadline", "due", "ended", "expired", "on_slow",
    )

    def __init__(
        self, due: float, on_slow: Callable[[], None] | None, deadline: float | None
    ) -> None:
        self.due = due
        self.on_slow = on_slow
        self.deadline = deadline
        self.ended = self.expired = False
        self._handle: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[object] | None = None
        self._cancelling = 0
        if deadline is not None:
            self._task = asyncio.current_task()
            if self._task is not None:
                self._cancelling = self._task.cancelling()

    def arm(self, loop: asyncio.AbstractEventLoop) -> None:
        """Cancel the body's task at its deadline if it still runs then."""
        if self.deadline is not None and self._task is not None and self._handle is None:
            self._handle = loop.call_at(self.deadline, self._expire)

    def _expire(self) -> None:
        self._handle = None
        if not self.ended and self._task is not None:
            self.expired = True
            self._task.cancel()

    def ended_with(self, error: BaseException | None) -> bool:
        """The body returned (``error`` None) or raised: whether the deadline cut it off. Its
        cancellation is withdrawn; one from elsewhere still propagates."""
        self.ended = True
        self.on_slow = None
        task, self._task = self._task, None
        if self._handle is not None:
            self._handle.cancel()
        if not self.expired or task is None:
            return False
        elsewhere = task.uncancel() > self._cancelling
        if error is None or isinstance(error, Exception):
            return True
        return isinstance(error, asyncio.CancelledError) and not elsewhere


class BodyWatch:
    """The running bodies of one runtime in start order, and the timer for the oldest."""

    __slots__ = ("_bodies", "_timer", "running")

    def __init__(self) -> None:
        self._bodies: deque[RunningBody] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self.running = 0

    def start(
        self,
        loop: asyncio.AbstractEventLoop,
        started: float,
        on_slow: Callable[[], None] | None,
        seconds: float | None,
    ) -> RunningBody:
        """Watch a body of the current task, started at loop time ``started``, with ``seconds``
        from then until its deadline."""
        body = RunningBody(
            started + SLOW_BODY_SECONDS, on_slow, None if seconds is None else started + seconds
        )
        if seconds is not None and seconds <= SLOW_BODY_SECONDS:
            body.arm(loop)
        self._bodies.append(body)
        self.running += 1
        if self._timer is None:
            self._timer = loop.call_at(body.due, self._look, loop)
        return body

    def end(self, body: RunningBody, error: BaseException | None) -> bool:
        """``body`` ended (``RunningBody.ended_with``). Once none runs, the timer goes: left
        armed, it would wake the loop for nothing, in the middle of a call's wait."""
        self.running -= 1
        if not self.running and self._timer is not None:
            self._timer.cancel()
            self._timer = None
            self._bodies.clear()
        return body.ended_with(error)

    def _look(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        bodies, now = self._bodies, loop.time()
        while bodies:
            body = bodies[0]
            if not body.ended and body.due > now:
                self._timer = loop.call_at(body.due, self._look, loop)
                return
            bodies.popleft()
            if not body.ended:
                body.arm(loop)
                if body.on_slow is not None:
                    body.on_slow()

"""The effects a flow yields; the drivers perform them and send back answers.

A flow is a generator written once for both twins (the shape of httpx's ``auth_flow``). It
never performs I/O itself. Operation flows ask for ``Commit``, ``RunUserCode``,
``RunInContext``, ``RunBranches`` and ``Suspend``. The checkpoint protocol under ``Commit``
(``Execution.commit``) and the invocation's initial paging ask for the I/O itself:
``CallCheckpoint`` and ``FetchState``, plus ``AwaitLanding`` / ``Landed`` / ``LetOthersJoin``
to share one call between concurrent callers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from attrs import define

from durable_backend._models import OperationUpdate

if TYPE_CHECKING:
    from durable_backend._engine._batch_flows import BatchRun
    from durable_backend._engine._execution import Execution
    from durable_backend._engine._flows import FailedAttempt, Scope


@define
class Commit:
    """Queue ``updates`` of ``execution``; when ``durable``, return only once they are
    checkpointed. The driver runs ``execution.commit(...)`` under its lock."""

    execution: Execution
    updates: tuple[OperationUpdate, ...]
    durable: bool = True


@define
class RunUserCode:
    """Call a step body ``fn(*args)`` (awaiting it in the async twin); answer its value or
    throw its error. The body is ``execution``'s running work: the driver counts it, and
    flushes ``execution.queue.slow_body_ticket()`` if the body still runs after
    ``SLOW_BODY_SECONDS``, so a crash leaves ``StepStarted``.
    """

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    execution: Execution
    timeout: float | None = None
    """Seconds the attempt may run; past them the driver stops waiting for it (cancelling an
    ``async def`` body, abandoning a plain one on its thread) and throws ``BodyTimedOut``."""
    deadline: float | None = None
    """Seconds until the invocation must end. The async twin treats it as a timeout. The sync
    twin runs the body where it is (no thread per step) and, if the body still runs then,
    checkpoints ``on_deadline.cut_off(deadline)`` while it does; once the body returns and
    ``on_deadline.body_ended()`` says it was cut off, it throws ``BodyTimedOut(recorded=True)``.
    """
    on_deadline: FailedAttempt | None = None


class BodyTimedOut(Exception):
    """Thrown into a flow by a driver: the body outran its time. ``recorded``: the driver
    already checkpointed ``on_deadline.cut_off``'s updates."""

    def __init__(self, seconds: float, *, recorded: bool = False) -> None:
        super().__init__(f"the body ran longer than {seconds:.3g} s")
        self.seconds = seconds
        self.recorded = recorded


@define
class RunInContext:
    """Call ``fn(child_context)`` with a context shell of the driver's own kind over ``scope``."""

    fn: Callable[..., Any]
    scope: Scope


@define
class RunBranches:
    """Run ``make_flow(i)`` for the indexes ``run.claim()`` hands out, at most ``width`` at a
    time, reporting each outcome to ``run``; answer when none runs. A width of 1: one after
    the other, where the driver is.
    """

    make_flow: Callable[[int], Any]
    run: BatchRun
    max_concurrency: int | None

    @property
    def width(self) -> int:
        return min(self.run.count, self.max_concurrency or self.run.count)


@define
class Suspend:
    """End this invocation as PENDING once no other work is running."""

    reason: str


@define
class CallCheckpoint:
    """CheckpointDurableExecution with this batch; answer the service's output."""

    arn: str
    token: str
    updates: tuple[OperationUpdate, ...]


@define
class FetchState:
    """GetDurableExecutionState at ``marker``; answer the page."""

    arn: str
    token: str
    marker: str


@define
class AwaitLanding:
    """Another caller's call is in flight: wait in ``execution.queue.landings`` until a
    landing wakes this caller (answer nothing)."""

    execution: Execution
    ticket: int


@define
class Landed:
    """A call of ``execution`` landed (or failed): wake whom ``execution.queue.landings``
    says."""

    execution: Execution


@define
class SendApart:
    """A full batch waits and no caller will send it now: run ``apart_flow(execution)`` apart
    from the caller (a task, or the sync twin's timer thread) and answer at once."""

    execution: Execution


@define
class LetOthersJoin:
    """Concurrent branches may be about to queue updates: let them run first, so the next call
    carries theirs too. The sync twin waits up to ``seconds`` (its threads run meanwhile); the
    async twin yields one loop turn, which runs every branch that is ready."""

    seconds: float = 0.001


LET_OTHERS_JOIN = LetOthersJoin()

Effect = Commit | RunUserCode | RunInContext | RunBranches | Suspend | FetchState
CallEffect = CallCheckpoint | FetchState | AwaitLanding | Landed | LetOthersJoin | SendApart

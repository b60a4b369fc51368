"""The checkpoint protocol as flows: group commit, the token chain, paging, applying deltas.

Drivers only perform the I/O these flows ask for (``CallCheckpoint``, ``FetchState``), the
waiting (``AwaitLanding``, ``Landed``, ``LetOthersJoin``), and run ``apart_flow`` apart from
the callers when asked (``SendApart``). The sync driver steps them under its
lock and releases it for the calls, so concurrent branches share one call in flight; the async
driver steps them on its loop.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from durable_backend._engine._checkpoints import CheckpointFailed
from durable_backend._engine._effects import (
    LET_OTHERS_JOIN,
    AwaitLanding,
    CallCheckpoint,
    CallEffect,
    FetchState,
    Landed,
    SendApart,
)
from durable_backend._engine._execution import Execution
from durable_backend._models import (
    CheckpointDurableExecutionOutput,
    GetDurableExecutionStateOutput,
    Operation,
    OperationUpdate,
)

CallFlow = Generator[CallEffect, Any, Any]

QUIET_WINDOWS = 3
"""Join windows in a row with nothing new after which a call's leader stops gathering."""


def commit_flow(
    execution: Execution,
    updates: tuple[OperationUpdate, ...],
    durable: bool = True,
    ticket: int | None = None,
) -> CallFlow:
    """Queue ``updates``; when ``durable``, return once they (or ``ticket``) are committed.

    Whoever needs durability and finds no call in flight leads the next one; everyone else
    waits for it to land. While other branches run, the leader first gathers (``_gather``),
    so one call carries as many of their updates as the batch limits allow. What is due and
    left waiting (``send_due``) goes apart from the callers (``SendApart``). A failed call ends
    the invocation for every caller (``CheckpointFailed``); a revoked token suspends them
    (``InvocationRevoked``).
    """
    queue = execution.queue
    added = queue.add(updates)
    target = added if ticket is None else ticket
    while durable and not queue.is_committed(target):
        if queue.in_flight:
            yield AwaitLanding(execution, target)
            continue
        if execution.branches > 1:
            yield from _gather(execution)
        yield from _send(execution)
    if queue.claim_apart():
        yield SendApart(execution)


def apart_flow(execution: Execution) -> CallFlow:
    """Send what nobody waits for while a call is due (``send_due``, ``SendApart``): a full
    batch, or a long-running body's START, gathering others' updates first as a leader does.
    A failure is the queue's to report: whoever needs durability sees it."""
    queue = execution.queue
    queue.apart = False
    try:
        while queue.send_due():
            if execution.branches > 1 and not queue.full():
                yield from _gather(execution)
            yield from _send(execution)
    except CheckpointFailed:
        return


def _gather(execution: Execution) -> CallFlow:
    """Hold the next call while other branches keep queueing updates (group commit): until
    the queue holds a full batch, every other branch waits for this call, or a few join
    windows pass with nothing new. Callers arriving meanwhile wait for this call, as for one in
    flight. (The official SDK's batcher waits the same way, 1 ms at a time.)"""
    queue = execution.queue
    queue.in_flight = True
    quiet = 0
    try:
        while quiet < QUIET_WINDOWS and not queue.full() and (
            queue.landings.waiting < execution.branches - 1
        ):
            seen = queue.queued
            yield LET_OTHERS_JOIN
            quiet = quiet + 1 if queue.queued == seen else 0
    except GeneratorExit:
        queue.in_flight = False
        raise
    except BaseException:
        queue.in_flight = False
        yield Landed(execution)  # a waiter leads instead
        raise


def _send(execution: Execution) -> CallFlow:
    queue = execution.queue
    batch = queue.take()
    try:
        output: CheckpointDurableExecutionOutput = yield CallCheckpoint(
            execution.arn, batch.token, batch.updates
        )
        state = output.new_execution_state
        operations: tuple[Operation, ...] = state.operations if state is not None else ()
        marker = (state.next_marker if state is not None else None) or ""
        if marker:
            operations += yield from pages_flow(
                execution.arn, output.checkpoint_token or batch.token, marker
            )
    except GeneratorExit:  # abandoned mid-call: nothing can be woken from here
        queue.fail(RuntimeError("a checkpoint call was abandoned before it landed"))
        raise
    except BaseException as error:
        queue.fail(error)
        yield Landed(execution)
        if isinstance(error, Exception):
            raise CheckpointFailed(error) from error
        raise
    queue.finish(batch, output)
    execution.apply(operations)
    yield Landed(execution)


def pages_flow(
    arn: str, token: str, marker: str
) -> Generator[FetchState, Any, tuple[Operation, ...]]:
    """The operations on the page at ``marker`` and every page after it (``NextMarker``)."""
    operations: list[Operation] = []
    while marker:
        page: GetDurableExecutionStateOutput = yield FetchState(arn, token, marker)
        operations.extend(page.operations)
        marker = page.next_marker or ""
    return tuple(operations)

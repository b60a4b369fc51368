"""The Replayer: does the handler's current code still replay its recorded histories?

A deploy that renames, reorders, inserts or removes durable operations breaks executions that
are in flight: their next invocation replays the new code against the old history. The
Replayer runs that replay ahead of time, in CI: each history is replayed by the current code
without running a step body (results are read back; the first call past the recorded history
ends that path, as a suspension would), with the strict determinism guard armed. It reports
"compatible", or the first divergence: the position and what the history recorded there
against what the code now calls.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from attrs import frozen

from durable_backend._backend import AsyncDurableBackend, DurableBackend, InlineAsyncBackend
from durable_backend._codec import event_converter, to_wire
from durable_backend._determinism import DeterminismGuard
from durable_backend._engine import OperationShape, ReplayExecution, operation_id
from durable_backend._errors import _WIRE_PREFIXES
from durable_backend._handler import AsyncDurableHandler, DurableHandler, durable_execution
from durable_backend._models import (
    CheckpointDurableExecutionOutput,
    GetDurableExecutionStateOutput,
    Operation,
    OperationUpdate,
)
from durable_backend.local._runner import HandlerLike
from durable_backend.testing._histories import History, histories_from_directory
from durable_backend.testing._kit import guarded


@frozen
class Divergence:
    """Where the code stops matching its history.

    ``position`` counts durable calls from 1, dotted inside child contexts (``"2.3"`` is the
    third call inside the context at position 2). ``new`` is None when the code never calls
    the recorded operation.
    """

    position: str
    operation_id: str
    recorded: OperationShape
    new: OperationShape | None

    def __str__(self) -> str:
        if self.new is None:
            return (
                f"at position {self.position} the history has {self.recorded}, "
                "which the code no longer calls"
            )
        return (
            f"at position {self.position} the history has {self.recorded}, "
            f"the code now calls {self.new}"
        )


@frozen
class ReplayResult:
    """The verdict for one history: compatible, or the divergence or error that breaks it."""

    history: History
    replayed: int
    recorded: int
    divergence: Divergence | None = None
    error: str | None = None

    @property
    def compatible(self) -> bool:
        return self.divergence is None and self.error is None

    def __str__(self) -> str:
        if self.compatible:
            return (
                f"{self.history}: compatible ({self.replayed} of {self.recorded} recorded "
                "operations replayed)"
            )
        return f"{self.history}: incompatible: {self.divergence or self.error}"


class ReplayIncompatibleError(AssertionError):
    """The code does not replay one or more recorded histories."""

    def __init__(self, results: Sequence[ReplayResult]) -> None:
        self.results = list(results)
        lines = "\n".join(f"  {result}" for result in self.results)
        super().__init__(
            f"{len(self.results)} recorded histor{'y' if len(self.results) == 1 else 'ies'} "
            f"no longer replay{'s' if len(self.results) == 1 else ''}:\n{lines}\nExecutions in "
            "flight with these histories would fail after a deploy: keep the old order, names "
            "and types of durable operations, or drain those executions first."
        )


class _Sink:
    """The Replayer's backend: accepts what a replay queues (a context finishing its
    replayed children, say) and stores nothing. New work never reaches it."""

    def __init__(self) -> None:
        self.calls = 0

    def checkpoint(
        self,
        arn: str,
        checkpoint_token: str,
        updates: Sequence[OperationUpdate],
        client_token: str | None = None,
    ) -> CheckpointDurableExecutionOutput:
        self.calls += 1
        return CheckpointDurableExecutionOutput(checkpoint_token=f"replay-{self.calls}")

    batch_checkpoint = checkpoint

    def get_execution_state(
        self, arn: str, checkpoint_token: str, next_marker: str, max_items: int = 1000
    ) -> GetDurableExecutionStateOutput:
        return GetDurableExecutionStateOutput(operations=(), next_marker="")


class Replayer:
    """Replays recorded histories with ``handler``'s current code.

    ``handler`` is a ``@durable_execution`` handler or a plain ``def``/``async def`` handler
    function. ``strict`` (default) also arms the determinism guard: a clock or random call in
    orchestration code is reported as incompatible.
    """

    def __init__(self, handler: HandlerLike, *, strict: bool = True) -> None:
        self.handler = handler
        self.strict = strict

    def replay(self, history: History) -> ReplayResult:
        """Replay one history."""
        guard = DeterminismGuard()
        handler = self._handler(guard if self.strict else None)
        made: list[ReplayExecution] = []

        def make_execution(
            arn: str, token: str, operations: tuple[Operation, ...]
        ) -> ReplayExecution:
            made.append(ReplayExecution(arn, token, operations))
            return made[-1]

        event = _event(history)
        if isinstance(handler, AsyncDurableHandler):
            output = _run_coroutine(handler._run(event, None, make_execution))
        else:
            output = handler._run(event, None, make_execution)
        [execution] = made
        missing = execution.never_looked_up()
        counts = (len(execution.looked_up), len(execution.looked_up) + len(missing))
        if guard.violation is not None:
            return ReplayResult(history, *counts, error=str(guard.violation))
        by_id = execution.operations
        mismatch = execution.mismatch
        if mismatch is not None:
            return ReplayResult(
                history, *counts, _divergence(mismatch.recorded, by_id, mismatch.new)
            )
        error = output.get("Error") or {}
        if (
            output.get("Status") == "FAILED"
            and history.status != "FAILED"
            and not str(error.get("ErrorType", "")).startswith(_WIRE_PREFIXES)
        ):
            return ReplayResult(
                history,
                *counts,
                error=f"the code raises {error.get('ErrorType')} on replay: "
                f"{error.get('ErrorMessage')}",
            )
        if missing and output.get("Status") in ("SUCCEEDED", "FAILED"):
            return ReplayResult(history, *counts, _divergence(missing[0], by_id, None))
        return ReplayResult(history, *counts)

    def replay_all(self, histories: Iterable[History]) -> list[ReplayResult]:
        return [self.replay(history) for history in histories]

    def assert_compatible(self, histories: History | Iterable[History]) -> list[ReplayResult]:
        """Replay each history; raise ``ReplayIncompatibleError`` naming every one that
        diverges. Returns the results (all compatible)."""
        if isinstance(histories, History):
            histories = [histories]
        results = self.replay_all(histories)
        failed = [result for result in results if not result.compatible]
        if failed:
            raise ReplayIncompatibleError(failed)
        return results

    def _handler(
        self, guard: DeterminismGuard | None
    ) -> DurableHandler[Any, Any] | AsyncDurableHandler[Any, Any]:
        handler = self.handler
        if guard is not None:
            handler = guarded(handler, guard)
        if not isinstance(handler, DurableHandler | AsyncDurableHandler):
            handler = durable_execution(handler)
        if isinstance(handler, AsyncDurableHandler):
            backend: AsyncDurableBackend = InlineAsyncBackend(_Sink())
            return handler.with_backend(backend)
        sink: DurableBackend = _Sink()
        return handler.with_backend(sink)


def assert_replays(
    handler: HandlerLike, directory: str | Path, *, strict: bool = True
) -> list[ReplayResult]:
    """The pytest gate: every history exported to ``directory`` (``*.json``) must replay
    with ``handler``'s current code. Fails on an empty directory, so a misplaced path
    cannot pass silently."""
    histories = histories_from_directory(directory)
    if not histories:
        raise AssertionError(
            f"no histories (*.json) in {str(directory)!r}: export some with "
            "`aws lambda get-durable-execution-history --include-execution-data` first"
        )
    return Replayer(handler, strict=strict).assert_compatible(histories)


def _event(history: History) -> dict[str, Any]:
    """The invocation event a replay of ``history`` receives: all of it on the first page."""
    operations = [to_wire(op, event_converter) for op in history.operations]
    return {
        "DurableExecutionArn": history.arn,
        "CheckpointToken": "replay",
        "InitialExecutionState": {"Operations": operations, "NextMarker": ""},
    }


def _run_coroutine(coroutine: Any) -> Any:
    """Run on a fresh loop; on a thread of its own when the caller's loop is running."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _divergence(
    recorded: Operation, by_id: dict[str, Operation], new: OperationShape | None
) -> Divergence:
    return Divergence(
        position=_position(recorded, by_id),
        operation_id=recorded.id,
        recorded=OperationShape(recorded.type, recorded.sub_type, recorded.name),
        new=new,
    )


def _position(op: Operation, by_id: dict[str, Operation]) -> str:
    """The dotted call position of a recorded operation, from the id scheme."""
    parent = by_id.get(op.parent_id) if op.parent_id else None
    for n in range(1, len(by_id) + 64):  # ids may skip calls whose START never landed
        if operation_id(op.parent_id, n) == op.id:
            return f"{_position(parent, by_id)}.{n}" if parent is not None else str(n)
    return op.id

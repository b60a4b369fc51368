"""The replay state of one invocation: the operation index, identity checks, the frontier."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from durable_backend._engine._checkpoints import CheckpointQueue
from durable_backend._errors import NonDeterministicExecutionError
from durable_backend._models import Operation, OperationStatus, OperationType
from durable_backend._protocol import DEADLINE_MARGIN_SECONDS, execution_id

if TYPE_CHECKING:
    from durable_backend._engine._instrumentation import Hooks


class Execution:
    """Everything the flows of one invocation share; the drivers guard it with their lock."""

    __slots__ = (
        "_unvisited",
        "active_bodies",
        "arn",
        "branches",
        "fatal",
        "hooks",
        "operations",
        "queue",
        "remaining_ms",
        "replaying",
        "unawaited",
    )

    def __init__(self, arn: str, token: str, operations: Iterable[Operation]) -> None:
        self.arn = arn
        self.operations: dict[str, Operation] = {op.id: op for op in operations}
        self.queue = CheckpointQueue(token)
        self.replaying = any(
            op.type is not OperationType.EXECUTION for op in self.operations.values()
        )
        self._unvisited = _replayed_ids(self.operations) if self.replaying else set()
        self.fatal: BaseException | None = None
        self.active_bodies = 0
        self.branches = 0  # map/parallel branches running now: callers worth batching with
        self.unawaited: dict[str, tuple[str, str | None]] = {}
        self.remaining_ms: Callable[[], int] | None = None
        """Milliseconds before Lambda ends this invocation (None: no deadline known)."""
        self.hooks: Hooks | None = None
        """The invocation's instrumentation plugins (None: no plugin registered)."""

    def is_replaying(self) -> bool:
        """Whether the code re-runs operations the history holds: loggers are quiet then."""
        return self.replaying

    @property
    def input_payload(self) -> str | None:
        op = self.execution_operation
        if op is None or op.execution_details is None:
            return None
        return op.execution_details.input_payload

    @property
    def execution_operation(self) -> Operation | None:
        """The EXECUTION operation: the one the ARN names, else the one there is."""
        op = self.operations.get(execution_id(self.arn))
        if op is None or op.type is not OperationType.EXECUTION:
            op = next(
                (o for o in self.operations.values() if o.type is OperationType.EXECUTION), None
            )
        return op

    def seconds_left(self) -> float | None:
        """Seconds step bodies may still run: the time left, less a margin to checkpoint."""
        remaining = self.remaining_ms
        if remaining is None:
            return None
        return max(0.0, remaining() / 1000 - DEADLINE_MARGIN_SECONDS)

    def apply(self, operations: Iterable[Operation]) -> None:
        """Upsert a delta by Id: deltas may repeat, so applying twice changes nothing."""
        index = self.operations
        if self.hooks is not None:
            operations = tuple(operations)
            self.hooks.changing(index, operations)
        for op in operations:
            index[op.id] = op

    def called(self, op_id: str, what: str, name: str | None) -> None:
        """``ctx.<what>`` took ``op_id``; its flow has not started yet (``lookup`` starts it)."""
        self.unawaited[op_id] = (what, name)

    def never_awaited(self) -> str | None:
        """What was called but never started, for the error that fails the invocation."""
        if not self.unawaited:
            return None
        calls = [
            f"ctx.{what}({'name=' + repr(name) if name else ''}) (operation {op_id})"
            for op_id, (what, name) in self.unawaited.items()
        ]
        return (
            f"{', '.join(calls[:3])}{' and more' if len(calls) > 3 else ''} "
            f"{'was' if len(calls) == 1 else 'were'} called but never awaited, so "
            f"{'it' if len(calls) == 1 else 'they'} never ran. Await each operation "
            "(directly, or through asyncio.gather or a TaskGroup)."
        )

    def lookup(
        self, op_id: str, op_type: OperationType, sub_type: str | None, name: str | None
    ) -> Operation | None:
        """The stored operation at this position, after checking it is the same call."""
        self.unawaited.pop(op_id, None)
        op = self.operations.get(op_id)
        if op is None:
            self.replaying = False
            return None
        if op.type is not op_type or (op.sub_type or None) != sub_type or (
            op.name or None
        ) != (name or None):
            raise self.diverged(op, op_type, sub_type, name)
        if self.hooks is not None:
            self.hooks.looked_up(op)
        if op.status.is_terminal:
            unvisited = self._unvisited
            unvisited.discard(op_id)
            if not unvisited:
                # The last recorded result has been read back: what follows is new work,
                # even before the next operation is called (the official SDK's boundary).
                self.replaying = False
        elif op.status is not OperationStatus.PENDING:
            self.replaying = False
        return op

    def diverged(
        self, op: Operation, op_type: OperationType, sub_type: str | None, name: str | None
    ) -> NonDeterministicExecutionError:
        """The error for a call that is not the recorded one; it also fails the execution."""
        error = NonDeterministicExecutionError(
            f"Non-deterministic execution: at this point the history has "
            f"{describe(op.type, op.sub_type, op.name)} but the code now calls "
            f"{describe(op_type, sub_type, name)}. Code that decides which durable "
            "operations run must behave the same on every replay."
        )
        self.fatal = error
        return error

    def reject_recorded(self, op_id: str, what: str) -> None:
        """A virtual context writes nothing: an operation recorded at its id means the code
        changed between invocations (from a checkpointed context to a virtual one)."""
        self.unawaited.pop(op_id, None)
        op = self.operations.get(op_id)
        if op is not None:
            error = NonDeterministicExecutionError(
                f"Non-deterministic execution at operation {op_id}: the history has "
                f"{describe(op.type, op.sub_type, op.name)} but the code now runs {what} as a "
                "virtual context, which records nothing. Changing nesting_type or is_virtual "
                "breaks executions in flight."
            )
            self.fatal = error
            raise error


def _replayed_ids(operations: dict[str, Operation]) -> set[str]:
    """The finished operations this invocation will read back on replay."""
    return {op.id for op in read_back(operations) if op.status.is_terminal}


def read_back(operations: dict[str, Operation]) -> list[Operation]:
    """The recorded operations a replay looks up, in recorded order.

    Children of a finished context are left out unless it replays its children: replay reads
    the context's result instead (the service hides them; AWS's emulator does not).
    """

    def visible(op: Operation) -> bool:
        parent = operations.get(op.parent_id) if op.parent_id else None
        while parent is not None:
            details = parent.context_details
            if parent.status.is_terminal and not (details and details.replay_children):
                return False
            parent = operations.get(parent.parent_id) if parent.parent_id else None
        return True

    return [
        op
        for op in operations.values()
        if op.type is not OperationType.EXECUTION and visible(op)
    ]


def describe(op_type: OperationType, sub_type: str | None, name: str | None) -> str:
    """``STEP/Step named 'charge'``: how errors and the Replayer name an operation."""
    label = f"{op_type.value}/{sub_type or '-'}"
    return f"{label} named {name!r}" if name else f"{label} (unnamed)"

"""The replay state of one invocation: the operation index, identity checks, the frontier."""

from __future__ import annotations

from collections.abc import Iterable

from durable_backend._engine._checkpoints import CheckpointQueue
from durable_backend._errors import NonDeterministicExecutionError
from durable_backend._models import Operation, OperationStatus, OperationType


class Execution:
    """Everything the flows of one invocation share; the drivers guard it with their lock."""

    __slots__ = ("active_bodies", "arn", "fatal", "operations", "queue", "replaying")

    def __init__(self, arn: str, token: str, operations: Iterable[Operation]) -> None:
        self.arn = arn
        self.operations: dict[str, Operation] = {op.id: op for op in operations}
        self.queue = CheckpointQueue(token)
        self.replaying = any(
            op.type is not OperationType.EXECUTION for op in self.operations.values()
        )
        self.fatal: BaseException | None = None
        self.active_bodies = 0

    @property
    def input_payload(self) -> str | None:
        execution_id = self.arn.rsplit("/", 1)[-1]
        op = self.operations.get(execution_id)
        if op is None or op.type is not OperationType.EXECUTION:
            op = next(
                (o for o in self.operations.values() if o.type is OperationType.EXECUTION), None
            )
        if op is None or op.execution_details is None:
            return None
        return op.execution_details.input_payload

    def apply(self, operations: Iterable[Operation]) -> None:
        """Upsert a delta by Id: deltas may repeat, so applying twice changes nothing."""
        index = self.operations
        for op in operations:
            index[op.id] = op

    def lookup(
        self, op_id: str, op_type: OperationType, sub_type: str | None, name: str | None
    ) -> Operation | None:
        """The stored operation at this position, after checking it is the same call."""
        op = self.operations.get(op_id)
        if op is None:
            self.replaying = False
            return None
        if op.type is not op_type or (op.sub_type or None) != sub_type or (
            op.name or None
        ) != (name or None):
            error = NonDeterministicExecutionError(
                f"Non-deterministic execution at operation {op_id}: the history has "
                f"{_describe(op.type, op.sub_type, op.name)} but the code now calls "
                f"{_describe(op_type, sub_type, name)}. Code that decides which durable "
                "operations run must behave the same on every replay."
            )
            self.fatal = error
            raise error
        if not op.status.is_terminal and op.status is not OperationStatus.PENDING:
            self.replaying = False
        return op


def _describe(op_type: OperationType, sub_type: str | None, name: str | None) -> str:
    label = f"{op_type.value}/{sub_type or '-'}"
    return f"{label} named {name!r}" if name else f"{label} (unnamed)"

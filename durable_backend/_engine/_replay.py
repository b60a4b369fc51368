"""Replay-only executions: the Replayer's view of a recorded history.

A replay-only execution reads results back like any replay, but never runs new work: the first
call past the recorded history (or into a step the history left running) stops that path of
the code, as a suspension would. What it records instead is the first divergence and which
recorded operations the code looked up, so a caller can tell "compatible" from the position
where the code stopped matching its history.
"""

from __future__ import annotations

from collections.abc import Iterable

from attrs import frozen

from durable_backend._engine._checkpoints import SuspendExecution
from durable_backend._engine._execution import Execution, describe, read_back
from durable_backend._errors import NonDeterministicExecutionError
from durable_backend._models import Operation, OperationStatus, OperationType

_RUNS_A_BODY = frozenset({OperationStatus.STARTED, OperationStatus.READY})


class ReplayFrontier(SuspendExecution):
    """The code reached work the history has not recorded: replay stops on this path."""


@frozen
class OperationShape:
    """What identifies an operation at a position: its type, subtype and name."""

    type: OperationType
    sub_type: str | None
    name: str | None

    def __str__(self) -> str:
        return describe(self.type, self.sub_type, self.name)


@frozen
class Mismatch:
    """The code called ``new`` where the history recorded ``recorded``."""

    recorded: Operation
    new: OperationShape


class ReplayExecution(Execution):
    """An ``Execution`` that replays a history and stops at its frontier."""

    __slots__ = ("looked_up", "mismatch")

    def __init__(self, arn: str, token: str, operations: Iterable[Operation]) -> None:
        super().__init__(arn, token, operations)
        self.looked_up: set[str] = set()
        self.mismatch: Mismatch | None = None

    def lookup(
        self, op_id: str, op_type: OperationType, sub_type: str | None, name: str | None
    ) -> Operation | None:
        op = super().lookup(op_id, op_type, sub_type, name)
        if op is None:
            raise ReplayFrontier(f"the history ends before operation {op_id}")
        self.looked_up.add(op_id)
        if op.type is OperationType.STEP and op.status in _RUNS_A_BODY:
            raise ReplayFrontier(f"the history leaves step {op_id} to run again")
        return op

    def diverged(
        self, op: Operation, op_type: OperationType, sub_type: str | None, name: str | None
    ) -> NonDeterministicExecutionError:
        if self.mismatch is None:
            self.mismatch = Mismatch(op, OperationShape(op_type, sub_type, name))
        return super().diverged(op, op_type, sub_type, name)

    def never_looked_up(self) -> list[Operation]:
        """Recorded operations a replay reads back that the code has not called, in order."""
        return [op for op in read_back(self.operations) if op.id not in self.looked_up]

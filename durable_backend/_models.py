"""Wire models for the durable execution data plane (protocol.md §2).

Python names are snake_case; the converters in ``_codec`` map them to the service's
PascalCase names, so the models never know their JSON spelling. Everything is frozen and
slotted: an ``Operation`` is shared between the replay index, deltas and the user's view.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from attrs import frozen


class OperationType(StrEnum):
    EXECUTION = "EXECUTION"
    CONTEXT = "CONTEXT"
    STEP = "STEP"
    WAIT = "WAIT"
    CALLBACK = "CALLBACK"
    CHAINED_INVOKE = "CHAINED_INVOKE"


class OperationAction(StrEnum):
    START = "START"
    SUCCEED = "SUCCEED"
    FAIL = "FAIL"
    RETRY = "RETRY"
    CANCEL = "CANCEL"


class OperationStatus(StrEnum):
    STARTED = "STARTED"
    PENDING = "PENDING"
    READY = "READY"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    TIMED_OUT = "TIMED_OUT"
    STOPPED = "STOPPED"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL_STATUSES


_TERMINAL_STATUSES = frozenset(
    {
        OperationStatus.SUCCEEDED,
        OperationStatus.FAILED,
        OperationStatus.CANCELLED,
        OperationStatus.TIMED_OUT,
        OperationStatus.STOPPED,
    }
)


class ExecutionStatus(StrEnum):
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    STOPPED = "STOPPED"
    PAUSING = "PAUSING"
    PAUSED = "PAUSED"
    DELETING = "DELETING"


class OperationSubType(StrEnum):
    """The SubType labels the official SDKs write; histories and tools key on them."""

    STEP = "Step"
    WAIT = "Wait"
    CALLBACK = "Callback"
    WAIT_FOR_CALLBACK = "WaitForCallback"
    WAIT_FOR_CONDITION = "WaitForCondition"
    RUN_IN_CHILD_CONTEXT = "RunInChildContext"
    MAP = "Map"
    MAP_ITERATION = "MapIteration"
    PARALLEL = "Parallel"
    PARALLEL_BRANCH = "ParallelBranch"
    CHAINED_INVOKE = "ChainedInvoke"


@frozen
class ErrorObject:
    """An error on the wire. ``message``, ``type``, ``data`` and ``from_exception`` are the
    official SDK's spellings, so tests that read them port unchanged."""

    error_message: str | None = None
    error_type: str | None = None
    error_data: str | None = None
    stack_trace: tuple[str, ...] | None = None

    @property
    def message(self) -> str | None:
        return self.error_message

    @property
    def type(self) -> str | None:
        return self.error_type

    @property
    def data(self) -> str | None:
        return self.error_data

    @classmethod
    def from_exception(cls, exception: BaseException) -> ErrorObject:
        """The error as a step's failure records it."""
        from durable_backend._engine._flows import error_object

        return error_object(exception)


@frozen
class ExecutionDetails:
    input_payload: str | None = None


@frozen
class ContextDetails:
    replay_children: bool | None = None
    result: str | None = None
    error: ErrorObject | None = None


@frozen
class StepDetails:
    attempt: int | None = None
    next_attempt_timestamp: datetime | None = None
    result: str | None = None
    error: ErrorObject | None = None


@frozen
class WaitDetails:
    scheduled_end_timestamp: datetime | None = None


@frozen
class CallbackDetails:
    callback_id: str | None = None
    result: str | None = None
    error: ErrorObject | None = None


@frozen
class ChainedInvokeDetails:
    result: str | None = None
    error: ErrorObject | None = None


@frozen
class Operation:
    id: str
    type: OperationType
    status: OperationStatus
    parent_id: str | None = None
    name: str | None = None
    sub_type: str | None = None
    start_timestamp: datetime | None = None
    end_timestamp: datetime | None = None
    execution_details: ExecutionDetails | None = None
    context_details: ContextDetails | None = None
    step_details: StepDetails | None = None
    wait_details: WaitDetails | None = None
    callback_details: CallbackDetails | None = None
    chained_invoke_details: ChainedInvokeDetails | None = None


@frozen
class ContextOptions:
    replay_children: bool | None = None


@frozen
class StepOptions:
    next_attempt_delay_seconds: int | None = None


@frozen
class WaitOptions:
    wait_seconds: int | None = None


@frozen
class CallbackOptions:
    timeout_seconds: int | None = None
    heartbeat_timeout_seconds: int | None = None


@frozen
class ChainedInvokeOptions:
    function_name: str | None = None
    tenant_id: str | None = None
    x_amzn_trace_id: str | None = None


@frozen
class OperationUpdate:
    id: str
    type: OperationType
    action: OperationAction
    parent_id: str | None = None
    name: str | None = None
    sub_type: str | None = None
    payload: str | None = None
    error: ErrorObject | None = None
    context_options: ContextOptions | None = None
    step_options: StepOptions | None = None
    wait_options: WaitOptions | None = None
    callback_options: CallbackOptions | None = None
    chained_invoke_options: ChainedInvokeOptions | None = None


@frozen
class CheckpointToken:
    """One link of the token chain: each accepted checkpoint consumes it and yields the next."""

    value: str


@frozen
class CheckpointUpdatedExecutionState:
    operations: tuple[Operation, ...] = ()
    next_marker: str | None = None


@frozen
class CheckpointDurableExecutionOutput:
    checkpoint_token: str | None = None
    new_execution_state: CheckpointUpdatedExecutionState | None = None


@frozen
class GetDurableExecutionStateOutput:
    operations: tuple[Operation, ...] = ()
    next_marker: str | None = None


@frozen
class InitialExecutionState:
    operations: tuple[Operation, ...] = ()
    next_marker: str | None = None


@frozen
class DurableInvocationInput:
    """The event the service passes to a durable function's handler (protocol.md §1)."""

    durable_execution_arn: str
    checkpoint_token: str
    initial_execution_state: InitialExecutionState = InitialExecutionState()
    updated_operation_ids: tuple[str, ...] = ()


@frozen
class DurableInvocationOutput:
    status: str
    result: str | None = None
    error: ErrorObject | None = None

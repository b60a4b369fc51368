"""The service's wire models (official ``lambda_service``): operations, updates and their parts.

Frozen attrs classes with snake_case fields; one converter per wire format reads and writes
them, so they never know their JSON names.
"""

from enum import Enum
from typing import TypeAlias

from durable_backend._models import (
    CallbackDetails,
    CallbackOptions,
    ChainedInvokeDetails,
    ChainedInvokeOptions,
    CheckpointDurableExecutionOutput,
    CheckpointUpdatedExecutionState,
    ContextDetails,
    ContextOptions,
    ErrorObject,
    ExecutionDetails,
    GetDurableExecutionStateOutput,
    Operation,
    OperationAction,
    OperationStatus,
    OperationSubType,
    OperationType,
    OperationUpdate,
    StepDetails,
    StepOptions,
    WaitDetails,
    WaitOptions,
)

ReplayChildren: TypeAlias = bool
OperationPayload: TypeAlias = str
TimeoutSeconds: TypeAlias = int


class CallbackTimeoutType(Enum):
    """The error types a callback that timed out is failed with."""

    TIMEOUT = "Callback.Timeout"
    HEARTBEAT = "Callback.Heartbeat"


class InvocationStatus(Enum):
    """The ``Status`` a handler returns (``RETRY``: the invocation failed and is retried)."""

    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    PENDING = "PENDING"
    RETRY = "RETRY"


CheckpointOutput = CheckpointDurableExecutionOutput
"""The official name of a checkpoint call's answer."""

StateOutput = GetDurableExecutionStateOutput
"""The official name of a state page."""

__all__ = [
    "CallbackDetails",
    "CallbackTimeoutType",
    "CallbackOptions",
    "ChainedInvokeDetails",
    "ChainedInvokeOptions",
    "CheckpointDurableExecutionOutput",
    "CheckpointOutput",
    "CheckpointUpdatedExecutionState",
    "ContextDetails",
    "ContextOptions",
    "ErrorObject",
    "ExecutionDetails",
    "GetDurableExecutionStateOutput",
    "InvocationStatus",
    "Operation",
    "OperationPayload",
    "OperationAction",
    "OperationStatus",
    "OperationSubType",
    "OperationType",
    "OperationUpdate",
    "ReplayChildren",
    "StateOutput",
    "StepDetails",
    "StepOptions",
    "TimeoutSeconds",
    "WaitDetails",
    "WaitOptions",
]

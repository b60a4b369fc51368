"""The service's wire models (official ``lambda_service``): operations, updates and their parts.

Frozen attrs classes with snake_case fields; one converter per wire format reads and writes
them, so they never know their JSON names.
"""

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

CheckpointOutput = CheckpointDurableExecutionOutput
"""The official name of a checkpoint call's answer."""

StateOutput = GetDurableExecutionStateOutput
"""The official name of a state page."""

__all__ = [
    "CallbackDetails",
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
    "Operation",
    "OperationAction",
    "OperationStatus",
    "OperationSubType",
    "OperationType",
    "OperationUpdate",
    "StateOutput",
    "StepDetails",
    "StepOptions",
    "WaitDetails",
    "WaitOptions",
]

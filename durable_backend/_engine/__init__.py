"""The replay engine: no I/O, no asyncio, no threads; the drivers perform its effects."""

from durable_backend._engine._batch_flows import BatchRun, batch_flow, wait_for_condition_flow
from durable_backend._engine._checkpoints import (
    CheckpointQueue,
    InvocationRevoked,
    SuspendExecution,
)
from durable_backend._engine._effects import (
    Commit,
    Effect,
    RunBranches,
    RunInContext,
    RunUserCode,
    Suspend,
)
from durable_backend._engine._execution import Execution
from durable_backend._engine._flows import (
    Flow,
    Scope,
    callback_result_flow,
    child_flow,
    create_callback_flow,
    error_object,
    invoke_flow,
    step_flow,
    wait_flow,
    wait_for_callback_flow,
)
from durable_backend._engine._ids import IdSequence, operation_id
from durable_backend._engine._invocation import DecodedEvent, decode_event, invocation_flow

__all__ = [
    "BatchRun",
    "RunBranches",
    "batch_flow",
    "wait_for_condition_flow",
    "CheckpointQueue",
    "Commit",
    "DecodedEvent",
    "Effect",
    "Execution",
    "Flow",
    "IdSequence",
    "InvocationRevoked",
    "RunInContext",
    "RunUserCode",
    "Scope",
    "Suspend",
    "SuspendExecution",
    "callback_result_flow",
    "child_flow",
    "create_callback_flow",
    "decode_event",
    "error_object",
    "invocation_flow",
    "invoke_flow",
    "operation_id",
    "step_flow",
    "wait_flow",
    "wait_for_callback_flow",
]

"""The replay engine: no I/O, no asyncio, no threads; the drivers perform its effects."""

from durable_backend._engine._batch_flows import (
    Batch,
    BatchRun,
    batch_flow,
    wait_for_condition_flow,
)
from durable_backend._engine._checkpoints import (
    SLOW_BODY_SECONDS,
    CheckpointFailed,
    CheckpointQueue,
    InvocationRevoked,
    SuspendExecution,
)
from durable_backend._engine._commits import commit_flow, flush_flow, pages_flow
from durable_backend._engine._effects import (
    AwaitLanding,
    BodyTimedOut,
    CallCheckpoint,
    CallEffect,
    Commit,
    Effect,
    FetchState,
    Landed,
    LetOthersJoin,
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
from durable_backend._engine._invocation import MakeExecution, invocation_flow
from durable_backend._engine._replay import (
    Mismatch,
    OperationShape,
    ReplayExecution,
    ReplayFrontier,
)
from durable_backend._engine._values import draw_float, draw_uuid, now_flow

__all__ = [
    "SLOW_BODY_SECONDS",
    "AwaitLanding",
    "Batch",
    "BatchRun",
    "BodyTimedOut",
    "CallCheckpoint",
    "CallEffect",
    "CheckpointFailed",
    "CheckpointQueue",
    "Commit",
    "Effect",
    "Execution",
    "FetchState",
    "Flow",
    "IdSequence",
    "InvocationRevoked",
    "Landed",
    "LetOthersJoin",
    "MakeExecution",
    "Mismatch",
    "OperationShape",
    "ReplayExecution",
    "ReplayFrontier",
    "RunBranches",
    "RunInContext",
    "RunUserCode",
    "Scope",
    "Suspend",
    "SuspendExecution",
    "batch_flow",
    "callback_result_flow",
    "child_flow",
    "commit_flow",
    "create_callback_flow",
    "draw_float",
    "draw_uuid",
    "error_object",
    "flush_flow",
    "invocation_flow",
    "invoke_flow",
    "now_flow",
    "operation_id",
    "pages_flow",
    "step_flow",
    "wait_flow",
    "wait_for_callback_flow",
    "wait_for_condition_flow",
]

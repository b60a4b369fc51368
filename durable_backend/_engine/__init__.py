"""The replay engine: no I/O, no asyncio, no threads; the drivers perform its effects."""

from durable_backend._engine._batch_flows import BatchRun
from durable_backend._engine._checkpoints import (
    SLOW_BODY_SECONDS,
    CheckpointFailed,
    CheckpointQueue,
    InvocationRevoked,
    SuspendExecution,
)
from durable_backend._engine._commits import (
    QUIET_WINDOWS,
    apart_flow,
    commit_flow,
    pages_flow,
)
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
    SendApart,
    Suspend,
)
from durable_backend._engine._execution import Execution
from durable_backend._engine._flows import (
    Flow,
    Scope,
    StartedCallback,
    callback_result_flow,
    error_object,
)
from durable_backend._engine._ids import IdSequence, operation_id
from durable_backend._engine._invocation import MakeExecution, invocation_flow
from durable_backend._engine._operations import begin
from durable_backend._engine._replay import (
    Mismatch,
    OperationShape,
    ReplayExecution,
    ReplayFrontier,
)
from durable_backend._engine._requests import (
    CallbackRequest,
    ChildRequest,
    InvokeRequest,
    MapRequest,
    NowRequest,
    ParallelRequest,
    Request,
    StepRequest,
    WaitForCallbackRequest,
    WaitForConditionRequest,
    WaitRequest,
)
from durable_backend._engine._values import draw_float, draw_uuid

__all__ = [
    "SLOW_BODY_SECONDS",
    "AwaitLanding",
    "BatchRun",
    "BodyTimedOut",
    "CallCheckpoint",
    "CallEffect",
    "CallbackRequest",
    "CheckpointFailed",
    "CheckpointQueue",
    "ChildRequest",
    "Commit",
    "Effect",
    "Execution",
    "FetchState",
    "Flow",
    "IdSequence",
    "InvocationRevoked",
    "InvokeRequest",
    "Landed",
    "LetOthersJoin",
    "MakeExecution",
    "MapRequest",
    "Mismatch",
    "NowRequest",
    "OperationShape",
    "ParallelRequest",
    "QUIET_WINDOWS",
    "ReplayExecution",
    "ReplayFrontier",
    "Request",
    "RunBranches",
    "RunInContext",
    "RunUserCode",
    "Scope",
    "SendApart",
    "StartedCallback",
    "StepRequest",
    "Suspend",
    "SuspendExecution",
    "WaitForCallbackRequest",
    "WaitForConditionRequest",
    "WaitRequest",
    "apart_flow",
    "begin",
    "callback_result_flow",
    "commit_flow",
    "draw_float",
    "draw_uuid",
    "error_object",
    "invocation_flow",
    "operation_id",
    "pages_flow",
]

"""``durable_execution``: a ``def`` or ``async def`` becomes a Lambda durable handler
(official ``execution``)."""

from durable_backend._handler import AsyncDurableHandler, DurableHandler, durable_execution
from durable_backend._models import InitialExecutionState
from durable_backend._protocol import MAX_RESPONSE_BYTES
from durable_backend.lambda_service import InvocationStatus

LAMBDA_RESPONSE_SIZE_LIMIT = MAX_RESPONSE_BYTES
"""The largest result returned inline; a larger one is checkpointed on the EXECUTION."""

__all__ = [
    "LAMBDA_RESPONSE_SIZE_LIMIT",
    "AsyncDurableHandler",
    "DurableHandler",
    "InitialExecutionState",
    "InvocationStatus",
    "durable_execution",
]

"""``durable_execution``: a ``def`` or ``async def`` becomes a Lambda durable handler
(official ``execution``)."""

from durable_backend._handler import AsyncDurableHandler, DurableHandler, durable_execution
from durable_backend._models import InitialExecutionState

__all__ = ["AsyncDurableHandler", "DurableHandler", "InitialExecutionState", "durable_execution"]

"""The embedded local backend: SQLite, behaving like the durable execution service."""

from durable_backend.local._backend import (
    AsyncLocalBackend,
    ChainedInvokeRequest,
    DurableExecutionAlreadyStartedError,
    LocalBackend,
)
from durable_backend.local._clock import ManualClock, system_clock

__all__ = [
    "AsyncLocalBackend",
    "ChainedInvokeRequest",
    "DurableExecutionAlreadyStartedError",
    "LocalBackend",
    "ManualClock",
    "system_clock",
]

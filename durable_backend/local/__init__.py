"""The embedded local backend: SQLite, behaving like the durable execution service."""

from durable_backend.local._backend import (
    AsyncLocalBackend,
    ChainedInvokeRequest,
    DurableExecutionAlreadyStartedError,
    LocalBackend,
)
from durable_backend.local._clock import ManualClock, system_clock
from durable_backend.local._recording import CheckpointCall, StateCall
from durable_backend.local._runner import LocalRunner, PendingCallback, Reply, RunResult

__all__ = [
    "AsyncLocalBackend",
    "ChainedInvokeRequest",
    "CheckpointCall",
    "DurableExecutionAlreadyStartedError",
    "LocalBackend",
    "LocalRunner",
    "ManualClock",
    "PendingCallback",
    "Reply",
    "RunResult",
    "StateCall",
    "system_clock",
]

"""The embedded local backend: SQLite, behaving like the durable execution service."""

from durable_backend.local._backend import (
    AsyncLocalBackend,
    ChainedInvokeRequest,
    DurableExecutionAlreadyStartedError,
    LocalBackend,
)
from durable_backend.local._clock import ManualClock, system_clock
from durable_backend.local._errors import (
    DatabaseBusyError,
    DatabaseCorruptError,
    DatabaseReadOnlyError,
    DatabaseUnavailableError,
    ForeignDatabaseError,
    LocalStoreError,
    SchemaVersionError,
    StorageFullError,
)
from durable_backend.local._recording import CheckpointCall, StateCall
from durable_backend.local._runner import LocalRunner, PendingCallback, Reply, RunResult

__all__ = [
    "AsyncLocalBackend",
    "ChainedInvokeRequest",
    "CheckpointCall",
    "DatabaseBusyError",
    "DatabaseCorruptError",
    "DatabaseReadOnlyError",
    "DatabaseUnavailableError",
    "DurableExecutionAlreadyStartedError",
    "ForeignDatabaseError",
    "LocalBackend",
    "LocalRunner",
    "LocalStoreError",
    "ManualClock",
    "PendingCallback",
    "Reply",
    "RunResult",
    "SchemaVersionError",
    "StateCall",
    "StorageFullError",
    "system_clock",
]

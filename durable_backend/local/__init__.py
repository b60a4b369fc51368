"""The embedded local service: the durable execution service, over SQLite or memory."""

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
from durable_backend.local._sqlite import SqliteStore
from durable_backend.local._store import MemoryStore, Store

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
    "MemoryStore",
    "PendingCallback",
    "Reply",
    "RunResult",
    "SchemaVersionError",
    "SqliteStore",
    "StateCall",
    "StorageFullError",
    "Store",
    "system_clock",
]

"""Type cases for the local service over its stores, its scheduling calls and its errors."""

from __future__ import annotations

from datetime import datetime
from typing import Any, assert_type

from durable_backend._backend import AsyncDurableBackend, DurableBackend
from durable_backend._errors import DurableError
from durable_backend.local import (
    LocalBackend,
    LocalStoreError,
    ManualClock,
    MemoryStore,
    SqliteStore,
    StorageFullError,
    Store,
)
from durable_backend.local._backend import InvocationClaim


def test_both_stores_are_stores_and_the_service_is_a_backend() -> None:
    stores: list[Store] = [MemoryStore(), SqliteStore(":memory:")]
    for store in stores:
        backend = LocalBackend(store=store, clock=ManualClock())
        sync: DurableBackend = backend
        async_view: AsyncDurableBackend = backend.async_
        assert sync and async_view
        arn = backend.start_execution("fn", "1")
        claim = backend.claim_invocation(arn, "host:1:owner")
        assert_type(claim, InvocationClaim)
        assert_type(claim.event, dict[str, Any] | None)
        assert_type(claim.holder, str | None)
        assert_type(claim.next_wake, datetime | None)
        assert_type(backend.needs_invocation(arn), bool)
        backend.release_invocation(arn, "host:1:owner")
        backend.close()
    not_a_store: Store = object()  # type: ignore[assignment]
    assert not_a_store


def test_store_errors_are_durable_errors() -> None:
    error: DurableError = StorageFullError("x.db", "cannot write")
    assert_type(StorageFullError("x.db", "cannot write").path, str)
    assert isinstance(error, LocalStoreError)

"""Handlers: a backend of the wrong twin is refused up front, however it is attached."""

from __future__ import annotations

from typing import Any

import pytest

import durable_backend as db
from tests.support.service import MemoryBackend


def sync_flow(event: Any, ctx: db.DurableContext) -> int:
    return 1


async def async_flow(event: Any, ctx: db.AsyncDurableContext) -> int:
    return 1


def test_decorating_with_the_other_twins_backend_is_a_type_error() -> None:
    backend = MemoryBackend()
    with pytest.raises(TypeError, match="'sync_flow' is a sync handler but AsyncMemoryBackend"):
        db.durable_execution(backend=backend.async_)(sync_flow)
    with pytest.raises(TypeError, match="'async_flow' is an async handler but MemoryBackend"):
        db.durable_execution(backend=backend)(async_flow)


def test_with_backend_refuses_the_other_twin_and_leaves_the_original_alone() -> None:
    first, second = MemoryBackend(), MemoryBackend()
    handler = db.durable_execution(backend=first)(sync_flow)
    with pytest.raises(TypeError, match="is a sync handler"):
        handler.with_backend(second.async_)  # type: ignore[arg-type]
    moved = handler.with_backend(second)
    assert moved.backend is second and handler.backend is first
    assert moved.fn is handler.fn

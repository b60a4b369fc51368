"""The one I/O boundary: what the engine needs from the durable execution service.

The Protocols are deliberately not ``@runtime_checkable``: conformance is checked statically
(each implementation assigns itself to the Protocol at module level), so a user's fake is
checked by their type checker instead of by ``isinstance`` at run time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from durable_backend._models import (
    CheckpointDurableExecutionOutput,
    GetDurableExecutionStateOutput,
    Operation,
    OperationUpdate,
)
from durable_backend._protocol import MAX_STATE_PAGE

DEFAULT_MAX_ITEMS = MAX_STATE_PAGE


class DurableBackend(Protocol):
    """Checkpoint and read state for one durable execution, synchronously."""

    def checkpoint(
        self,
        arn: str,
        checkpoint_token: str,
        updates: Sequence[OperationUpdate],
        client_token: str | None = None,
    ) -> CheckpointDurableExecutionOutput: ...

    def get_execution_state(
        self,
        arn: str,
        checkpoint_token: str,
        next_marker: str,
        max_items: int = DEFAULT_MAX_ITEMS,
    ) -> GetDurableExecutionStateOutput: ...

    def batch_checkpoint(
        self,
        arn: str,
        checkpoint_token: str,
        updates: Sequence[OperationUpdate],
        client_token: str | None = None,
    ) -> CheckpointDurableExecutionOutput:
        """Send many updates in one call; by default the same as ``checkpoint``."""
        return self.checkpoint(arn, checkpoint_token, updates, client_token)


class AsyncDurableBackend(Protocol):
    """The async twin of ``DurableBackend``: the same three names, awaitable."""

    async def checkpoint(
        self,
        arn: str,
        checkpoint_token: str,
        updates: Sequence[OperationUpdate],
        client_token: str | None = None,
    ) -> CheckpointDurableExecutionOutput: ...

    async def get_execution_state(
        self,
        arn: str,
        checkpoint_token: str,
        next_marker: str,
        max_items: int = DEFAULT_MAX_ITEMS,
    ) -> GetDurableExecutionStateOutput: ...

    async def batch_checkpoint(
        self,
        arn: str,
        checkpoint_token: str,
        updates: Sequence[OperationUpdate],
        client_token: str | None = None,
    ) -> CheckpointDurableExecutionOutput:
        """Send many updates in one call; by default the same as ``checkpoint``."""
        return await self.checkpoint(arn, checkpoint_token, updates, client_token)


def fetch_all_operations(
    backend: DurableBackend,
    arn: str,
    checkpoint_token: str,
    next_marker: str,
    max_items: int = DEFAULT_MAX_ITEMS,
) -> list[Operation]:
    """Read the page at ``next_marker`` (``""`` is the first) and follow ``NextMarker``."""
    operations: list[Operation] = []
    marker = next_marker
    while True:
        page = backend.get_execution_state(arn, checkpoint_token, marker, max_items)
        operations.extend(page.operations)
        marker = page.next_marker or ""
        if not marker:
            return operations


async def async_fetch_all_operations(
    backend: AsyncDurableBackend,
    arn: str,
    checkpoint_token: str,
    next_marker: str,
    max_items: int = DEFAULT_MAX_ITEMS,
) -> list[Operation]:
    """The async twin of ``fetch_all_operations``."""
    operations: list[Operation] = []
    marker = next_marker
    while True:
        page = await backend.get_execution_state(arn, checkpoint_token, marker, max_items)
        operations.extend(page.operations)
        marker = page.next_marker or ""
        if not marker:
            return operations


class InlineAsyncBackend:
    """An ``AsyncDurableBackend`` over a sync backend whose calls are quick and local.

    The calls run inline on the event loop, not in an executor: for an in-process store (SQLite,
    a test fake) that is cheaper than a thread hop and a call cannot be half-cancelled. Use
    ``AsyncRealBackend`` for anything that goes over the network.
    """

    def __init__(self, backend: DurableBackend) -> None:
        self.backend = backend

    async def checkpoint(
        self,
        arn: str,
        checkpoint_token: str,
        updates: Sequence[OperationUpdate],
        client_token: str | None = None,
    ) -> CheckpointDurableExecutionOutput:
        return self.backend.checkpoint(arn, checkpoint_token, updates, client_token)

    async def batch_checkpoint(
        self,
        arn: str,
        checkpoint_token: str,
        updates: Sequence[OperationUpdate],
        client_token: str | None = None,
    ) -> CheckpointDurableExecutionOutput:
        return self.backend.batch_checkpoint(arn, checkpoint_token, updates, client_token)

    async def get_execution_state(
        self,
        arn: str,
        checkpoint_token: str,
        next_marker: str,
        max_items: int = DEFAULT_MAX_ITEMS,
    ) -> GetDurableExecutionStateOutput:
        return self.backend.get_execution_state(arn, checkpoint_token, next_marker, max_items)


_async_check: type[AsyncDurableBackend] = InlineAsyncBackend

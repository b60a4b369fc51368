"""Static checks of the backend boundary: run by mypy --strict and pyright, and by pytest.

A user's fake that subclasses a Protocol explicitly implements just ``checkpoint`` and
``get_execution_state`` and inherits ``batch_checkpoint``; a fake without the base class is
checked structurally and so needs all three. A wrong fake is rejected: each ``ignore`` below is
needed, and mypy (``warn_unused_ignores`` under ``--strict``) and pyright
(``reportUnnecessaryTypeIgnoreComment``, which also governs ``# type: ignore``) would fail
if the error it silences went away.
"""

# pyright: reportUnnecessaryTypeIgnoreComment=true

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import assert_type

from durable_backend._backend import AsyncDurableBackend, DurableBackend, fetch_all_operations
from durable_backend.exceptions import AccessDeniedError
from durable_backend._models import (
    CheckpointDurableExecutionOutput,
    GetDurableExecutionStateOutput,
    Operation,
    OperationUpdate,
)
from durable_backend._real import AsyncRealBackend, SyncRealBackend


class UserFake(DurableBackend):
    def __init__(self) -> None:
        self.sent: list[OperationUpdate] = []

    def checkpoint(
        self,
        arn: str,
        checkpoint_token: str,
        updates: Sequence[OperationUpdate],
        client_token: str | None = None,
    ) -> CheckpointDurableExecutionOutput:
        self.sent.extend(updates)
        return CheckpointDurableExecutionOutput(checkpoint_token=checkpoint_token + "+")

    def get_execution_state(
        self, arn: str, checkpoint_token: str, next_marker: str, max_items: int = 1000
    ) -> GetDurableExecutionStateOutput:
        return GetDurableExecutionStateOutput()


class AsyncUserFake(AsyncDurableBackend):
    async def checkpoint(
        self,
        arn: str,
        checkpoint_token: str,
        updates: Sequence[OperationUpdate],
        client_token: str | None = None,
    ) -> CheckpointDurableExecutionOutput:
        return CheckpointDurableExecutionOutput(checkpoint_token=checkpoint_token + "+")

    async def get_execution_state(
        self, arn: str, checkpoint_token: str, next_marker: str, max_items: int = 1000
    ) -> GetDurableExecutionStateOutput:
        return GetDurableExecutionStateOutput()


class WrongFake:
    """Returns a dict where the boundary promises a typed output."""

    def checkpoint(
        self,
        arn: str,
        checkpoint_token: str,
        updates: Sequence[OperationUpdate],
        client_token: str | None = None,
    ) -> dict[str, str]:
        return {"CheckpointToken": checkpoint_token}

    def get_execution_state(
        self, arn: str, checkpoint_token: str, next_marker: str, max_items: int = 1000
    ) -> GetDurableExecutionStateOutput:
        return GetDurableExecutionStateOutput()

    def batch_checkpoint(
        self,
        arn: str,
        checkpoint_token: str,
        updates: Sequence[OperationUpdate],
        client_token: str | None = None,
    ) -> dict[str, str]:
        return self.checkpoint(arn, checkpoint_token, updates, client_token)


def test_user_fake_is_a_durable_backend() -> None:
    backend: DurableBackend = UserFake()
    out = backend.batch_checkpoint("arn", "t1", [])
    assert_type(out, CheckpointDurableExecutionOutput)
    assert out.checkpoint_token == "t1+"
    assert_type(fetch_all_operations(backend, "arn", "t1", ""), list[Operation])


def test_async_user_fake_is_an_async_durable_backend() -> None:
    backend: AsyncDurableBackend = AsyncUserFake()
    out = asyncio.run(backend.batch_checkpoint("arn", "t1", []))
    assert_type(out, CheckpointDurableExecutionOutput)
    assert out.checkpoint_token == "t1+"


def test_wrong_fakes_are_rejected() -> None:
    wrong: DurableBackend = WrongFake()  # type: ignore[assignment]
    sync_for_async: AsyncDurableBackend = UserFake()  # type: ignore[assignment]
    async_for_sync: DurableBackend = AsyncUserFake()  # type: ignore[assignment]
    assert wrong and sync_for_async and async_for_sync


def test_real_backends_conform() -> None:
    sync_backend: type[DurableBackend] = SyncRealBackend
    async_backend: type[AsyncDurableBackend] = AsyncRealBackend
    wrong_twin: type[DurableBackend] = AsyncRealBackend  # type: ignore[assignment]
    assert sync_backend and async_backend and wrong_twin


def test_access_denied_names_the_permission() -> None:
    denied = AccessDeniedError("not authorized", call="CheckpointDurableExecution")
    assert_type(denied.permission, str | None)
    assert denied.permission == "lambda:CheckpointDurableExecution"

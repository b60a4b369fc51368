"""Both real backends against AWS's emulator, with a stock boto3 client."""

from __future__ import annotations

from typing import Any

import pytest

from durable_backend._backend import async_fetch_all_operations, fetch_all_operations
from durable_backend._errors import StaleCheckpointTokenError
from durable_backend._models import (
    CheckpointDurableExecutionOutput,
    GetDurableExecutionStateOutput,
    Operation,
    OperationAction,
    OperationStatus,
    OperationType,
    OperationUpdate,
)
from durable_backend._real import AsyncRealBackend, RetryPolicy, SyncRealBackend
from tests.support.emulator import Emulator

pytestmark = pytest.mark.emulator

FAST = RetryPolicy(initial_delay_seconds=0.01, max_delay_seconds=0.05, max_total_seconds=5)


class Twin:
    """One awaitable surface over the sync or async backend."""

    def __init__(self, kind: str, client: Any) -> None:
        self.sync = SyncRealBackend(client, retry=FAST) if kind == "sync" else None
        self.async_ = AsyncRealBackend(client, retry=FAST) if kind == "async" else None

    async def checkpoint(
        self, arn: str, token: str, updates: list[OperationUpdate], client_token: str | None = None
    ) -> CheckpointDurableExecutionOutput:
        if self.sync is not None:
            return self.sync.checkpoint(arn, token, updates, client_token)
        assert self.async_ is not None
        return await self.async_.checkpoint(arn, token, updates, client_token)

    async def get_state(
        self, arn: str, token: str, max_items: int
    ) -> GetDurableExecutionStateOutput:
        if self.sync is not None:
            return self.sync.get_execution_state(arn, token, "", max_items)
        assert self.async_ is not None
        return await self.async_.get_execution_state(arn, token, "", max_items)

    async def fetch_all(self, arn: str, token: str, max_items: int) -> list[Operation]:
        if self.sync is not None:
            return fetch_all_operations(self.sync, arn, token, "", max_items)
        assert self.async_ is not None
        return await async_fetch_all_operations(self.async_, arn, token, "", max_items)


@pytest.fixture(params=["sync", "async"])
def twin(request: pytest.FixtureRequest, emulator: Emulator) -> Twin:
    return Twin(request.param, emulator.client())


def step(op_id: str, action: OperationAction, payload: str | None = None) -> OperationUpdate:
    return OperationUpdate(
        id=op_id, type=OperationType.STEP, action=action, sub_type="Step", name=op_id,
        payload=payload,
    )


async def test_token_rotates_and_consumed_token_is_stale(emulator: Emulator, twin: Twin) -> None:
    with emulator.hold_execution('{"order": 7}') as held:
        first = await twin.checkpoint(
            held.arn, held.checkpoint_token,
            [step("a", OperationAction.START), step("a", OperationAction.SUCCEED, '"done"')],
        )
        assert first.checkpoint_token and first.checkpoint_token != held.checkpoint_token
        assert first.new_execution_state is not None
        (a,) = [op for op in first.new_execution_state.operations if op.id == "a"]
        assert a.status is OperationStatus.SUCCEEDED
        assert a.step_details is not None and a.step_details.result == '"done"'

        second = await twin.checkpoint(held.arn, first.checkpoint_token, [])
        assert second.checkpoint_token not in (None, first.checkpoint_token)

        with pytest.raises(StaleCheckpointTokenError) as caught:
            await twin.checkpoint(held.arn, first.checkpoint_token, [])
        assert caught.value.code == "InvalidParameterValueException"
        assert caught.value.http_status == 400
        assert caught.value.call == "CheckpointDurableExecution"

        assert second.checkpoint_token is not None
        with pytest.raises(StaleCheckpointTokenError) as stale_read:
            await twin.get_state(held.arn, held.checkpoint_token, 10)
        assert stale_read.value.call == "GetDurableExecutionState"


async def test_state_pages_with_small_max_items(emulator: Emulator, twin: Twin) -> None:
    with emulator.hold_execution('{"n": 5}') as held:
        (execution,) = held.event["InitialExecutionState"]["Operations"]
        assert execution["ExecutionDetails"]["InputPayload"] == '{"n": 5}'
        updates = [
            update
            for i in range(5)
            for update in (step(f"s{i}", OperationAction.START),
                           step(f"s{i}", OperationAction.SUCCEED, str(i)))
        ]
        done = await twin.checkpoint(held.arn, held.checkpoint_token, updates)
        assert done.checkpoint_token is not None

        page = await twin.get_state(held.arn, done.checkpoint_token, 2)
        assert len(page.operations) == 2 and page.next_marker

        operations = await twin.fetch_all(held.arn, done.checkpoint_token, 2)
        assert [op.id for op in operations] == [execution["Id"], "s0", "s1", "s2", "s3", "s4"]
        assert operations[0].type is OperationType.EXECUTION
        assert [op.step_details.result for op in operations[1:] if op.step_details] == [
            "0", "1", "2", "3", "4"]

        # Reading state does not rotate the token.
        after = await twin.checkpoint(held.arn, done.checkpoint_token, [])
        assert after.checkpoint_token is not None


async def test_repeated_client_token_gets_the_same_answer(emulator: Emulator, twin: Twin) -> None:
    """What a retry after a lost response relies on: the service de-duplicates by ClientToken."""
    with emulator.hold_execution() as held:
        updates = [step("a", OperationAction.START)]
        first = await twin.checkpoint(held.arn, held.checkpoint_token, updates, "client-1")
        again = await twin.checkpoint(held.arn, held.checkpoint_token, updates, "client-1")
        assert again.checkpoint_token == first.checkpoint_token is not None
        with pytest.raises(StaleCheckpointTokenError):
            await twin.checkpoint(held.arn, held.checkpoint_token, updates, "client-2")

"""End to end through AWS's emulator: a durable handler on each real backend twin, a stock
boto3 client, the emulator invoking the handler over Lambda Invoke, and the test answering
the callback with boto3, as an external system would."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

import pytest

import durable_backend as db
from durable_backend.backend import AsyncRealBackend, RetryPolicy, SyncRealBackend
from tests.e2e._differences import emulator_skip_time_ends_waits_before_invocation_completed
from tests.e2e._runs import Handler, callback_answer, emulator_history, event_keys, run_on_emulator
from tests.support.emulator import Emulator

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

pytestmark = pytest.mark.emulator

FAST = RetryPolicy(initial_delay_seconds=0.01, max_delay_seconds=0.05, max_total_seconds=5)


def sync_handler(client: LambdaClient, submitted: list[str]) -> Handler:
    @db.durable_execution(backend=SyncRealBackend(client, retry=FAST))
    def handler(event: dict[str, Any], ctx: db.DurableContext) -> dict[str, Any]:
        total = ctx.step(lambda _: event["amount"] * 2, name="double")
        ctx.wait(1, name="cool-off")
        answer = ctx.wait_for_callback(
            lambda callback_id, _: submitted.append(callback_id), name="approval"
        )
        return ctx.step(lambda _: {"total": total, "approval": json.loads(answer)}, name="finish")

    return handler


def async_handler(client: LambdaClient, submitted: list[str]) -> Handler:
    @db.durable_execution(backend=AsyncRealBackend(client, retry=FAST))
    async def handler(event: dict[str, Any], ctx: db.AsyncDurableContext) -> dict[str, Any]:
        total = await ctx.step(lambda _: event["amount"] * 2, name="double")
        await ctx.wait(1, name="cool-off")
        answer = await ctx.wait_for_callback(
            lambda callback_id, _: submitted.append(callback_id), name="approval"
        )
        return await ctx.step(
            lambda _: {"total": total, "approval": json.loads(answer)}, name="finish"
        )

    # The endpoint calls it synchronously on its own request thread: the handler runs its loop.
    return handler


@pytest.mark.parametrize("make_handler", [sync_handler, async_handler], ids=["sync", "async"])
def test_step_wait_callback_step_succeeds(emulator: Emulator, make_handler: Any) -> None:
    client = emulator.client()
    submitted: list[str] = []
    name = f"e2e-{uuid.uuid4().hex[:8]}"

    run = run_on_emulator(
        emulator, client, make_handler(client, submitted), '{"amount": 21}', execution_name=name
    )

    answer = callback_answer("approval create callback id")
    expected_result = {"total": 42, "approval": json.loads(answer)}
    assert (run.status, run.result, run.error) == ("SUCCEEDED", expected_result, None)
    execution: Any = client.get_durable_execution(DurableExecutionArn=run.arn)
    assert execution["Status"] == "SUCCEEDED"
    assert json.loads(execution["Result"]) == expected_result

    events = emulator_history(client, run.arn)
    assert event_keys(emulator_skip_time_ends_waits_before_invocation_completed(events)) == [
        ("ExecutionStarted", None, name),
        ("StepStarted", "Step", "double"),
        ("StepSucceeded", "Step", "double"),
        ("WaitStarted", "Wait", "cool-off"),
        ("InvocationCompleted", None, None),
        ("WaitSucceeded", "Wait", "cool-off"),
        ("ContextStarted", "WaitForCallback", "approval"),
        ("CallbackStarted", "Callback", "approval create callback id"),
        ("StepStarted", "Step", "approval submitter"),
        ("StepSucceeded", "Step", "approval submitter"),
        ("InvocationCompleted", None, None),
        ("CallbackSucceeded", "Callback", "approval create callback id"),
        ("ContextSucceeded", "WaitForCallback", "approval"),
        ("StepStarted", "Step", "finish"),
        ("StepSucceeded", "Step", "finish"),
        ("InvocationCompleted", None, None),
        ("ExecutionSucceeded", None, name),
    ]
    (started,) = [e for e in events if e["EventType"] == "CallbackStarted"]
    # The submitter step ran exactly once and saw the id the test answered.
    assert submitted == [started["CallbackStartedDetails"]["CallbackId"]]
    (succeeded,) = [e for e in events if e["EventType"] == "CallbackSucceeded"]
    assert succeeded["CallbackSucceededDetails"]["Result"]["Payload"] == answer

"""A handler written the official SDK's way (official module paths, ``@durable_step``,
positional names, ``durable_execution(boto3_client=...)``) on AWS's emulator, on both twins:
the client handed to ``boto3_client`` is the one the real backend calls."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import pytest

from durable_backend.config import Duration
from durable_backend.context import AsyncDurableContext, DurableContext, durable_step
from durable_backend.execution import durable_execution
from durable_backend.types import StepContext
from tests.e2e._runs import Handler, event_keys, run_on_emulator
from tests.support.emulator import Emulator

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

pytestmark = pytest.mark.emulator


@durable_step
def validate_order(step_ctx: StepContext, order_id: str) -> dict[str, Any]:
    step_ctx.logger.info("Validating order", extra={"order_id": order_id})
    return {"order_id": order_id, "valid": True}


def counting(client: LambdaClient) -> list[str]:
    """Every operation the client sends, recorded by a botocore event hook."""
    calls: list[str] = []
    client.meta.events.register(
        "before-call.lambda", lambda model, **_: calls.append(model.name)
    )
    return calls


def sync_handler(client: LambdaClient) -> Handler:
    @durable_execution(boto3_client=client)
    def handler(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
        validation = context.step(validate_order(event["order_id"]), "validate_order")
        context.wait(Duration.from_seconds(1), "await_confirmation")
        return {"status": "approved" if validation["valid"] else "rejected"}

    return handler


def async_handler(client: LambdaClient) -> Handler:
    @durable_execution(boto3_client=client)
    async def handler(event: dict[str, Any], context: AsyncDurableContext) -> dict[str, Any]:
        validation = await context.step(validate_order(event["order_id"]), "validate_order")
        await context.wait(Duration.from_seconds(1), "await_confirmation")
        return {"status": "approved" if validation["valid"] else "rejected"}

    return handler


@pytest.mark.parametrize("make_handler", [sync_handler, async_handler], ids=["sync", "async"])
def test_official_style_handler_runs_over_the_given_boto3_client(
    emulator: Emulator, make_handler: Any
) -> None:
    client = emulator.client()
    handler_client = emulator.client()
    calls = counting(handler_client)
    name = f"official-{uuid.uuid4().hex[:8]}"

    run = run_on_emulator(
        emulator, client, make_handler(handler_client), '{"order_id": "o-1"}', execution_name=name
    )

    assert (run.status, run.result, run.error) == ("SUCCEEDED", {"status": "approved"}, None)
    assert "CheckpointDurableExecution" in calls
    assert [key for key in event_keys(run.events) if key[0].startswith(("Step", "Wait"))] == [
        ("StepStarted", "Step", "validate_order"),
        ("StepSucceeded", "Step", "validate_order"),
        ("WaitStarted", "Wait", "await_confirmation"),
        ("WaitSucceeded", "Wait", "await_confirmation"),
    ]

"""The per-execution view through AWS's emulator: real invocation events, on both real backends."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from opentelemetry.trace import StatusCode

import durable_backend as db
from durable_backend.backend import AsyncRealBackend, RetryPolicy, SyncRealBackend
from durable_backend.otel import (
    ExecutionOtelPluginFactory,
    derive_workflow_span_id,
    operation_id_to_span_id,
)
from tests.e2e._runs import run_on_emulator
from tests.otel.conftest import Spans, parent_of
from tests.support.emulator import Emulator

pytestmark = pytest.mark.emulator

FAST = RetryPolicy(initial_delay_seconds=0.01, max_delay_seconds=0.05, max_total_seconds=5)


def _handler(kind: str, client: Any, plugins: list[Any]) -> Any:
    if kind == "async":

        @db.durable_execution(backend=AsyncRealBackend(client, retry=FAST), plugins=plugins)
        async def async_handler(event: dict[str, Any], ctx: db.AsyncDurableContext) -> Any:
            total = await ctx.step(lambda _: event["amount"] * 2, name="double")
            await ctx.wait(1, name="cool-off")
            answer = await ctx.wait_for_callback(lambda callback_id, _: None, name="approval")
            return {"total": total, "approval": json.loads(answer)}

        return async_handler

    @db.durable_execution(backend=SyncRealBackend(client, retry=FAST), plugins=plugins)
    def sync_handler(event: dict[str, Any], ctx: db.DurableContext) -> Any:
        total = ctx.step(lambda _: event["amount"] * 2, name="double")
        ctx.wait(1, name="cool-off")
        answer = ctx.wait_for_callback(lambda callback_id, _: None, name="approval")
        return {"total": total, "approval": json.loads(answer)}

    return sync_handler


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_the_execution_is_one_tree_on_the_emulator(
    emulator: Emulator, spans: Spans, kind: str
) -> None:
    client = emulator.client()
    handler = _handler(kind, client, [ExecutionOtelPluginFactory(spans.config)])
    run = run_on_emulator(
        emulator, client, handler, '{"amount": 21}', execution_name=f"otel-{uuid.uuid4().hex[:8]}"
    )
    assert run.status == "SUCCEEDED", run
    invocations = spans.named("Invocation")
    assert len(invocations) >= 2, spans.render()  # the wait and the callback each suspend
    assert {span.context.trace_id for span in spans.all} == {invocations[0].context.trace_id}

    workflow = spans.one("Workflow")
    assert workflow.context.span_id == derive_workflow_span_id(run.arn)
    assert workflow.status.status_code is StatusCode.OK
    started = {
        e["Name"]: e["Id"] for e in run.events if e["EventType"].endswith("Started") and "Name" in e
    }
    for name in ("double", "cool-off", "approval"):
        span = spans.one(name)
        assert span.context.span_id == operation_id_to_span_id(run.arn, started[name]), name
        assert parent_of(span) == workflow.context.span_id, name
        assert span.status.status_code is StatusCode.OK, name
    assert parent_of(spans.one("double attempt 1")) == spans.one("double").context.span_id

"""The emulator as a user's AWS tools see it: boto3's standard environment pointing at it, a
durable function waiting for an approval, and polls on the service's own answers."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

import durable_backend as db
from durable_backend._aws_executions import AwsExecutions
from durable_backend.backend import SyncRealBackend
from tests.support.emulator import REGION, Emulator

WAIT_SECONDS = 15.0


def use_emulator(monkeypatch: pytest.MonkeyPatch, emulator: Emulator) -> None:
    """Standard boto3 configuration, as a user sets it: endpoint, credentials, Lambda's region."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", emulator.endpoint_url)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")


@pytest.fixture
def approval_function(emulator: Emulator) -> Iterator[str]:
    """A durable function that waits for an ``approval`` callback and returns its answer."""
    name = f"approve-{uuid.uuid4().hex[:10]}"

    @db.durable_execution(backend=SyncRealBackend(emulator.client()))
    def handler(event: dict[str, Any], ctx: db.DurableContext) -> dict[str, Any]:
        answer = ctx.wait_for_callback(lambda _id, _ctx: None, name="approval")
        return {"order": event["order"], "answer": json.loads(answer)}

    emulator.lambda_endpoint.register(name, handler)
    try:
        yield name
    finally:
        emulator.lambda_endpoint.unregister(name)


def waiting_callback(source: AwsExecutions, arn: str) -> str:
    """The id of the callback ``arn`` opens, once the invocation that opened it has ended."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        events = source.history_events(arn)
        started = [e["CallbackStartedDetails"]["CallbackId"] for e in events
                   if e["EventType"] == "CallbackStarted"]
        if started and events[-1]["EventType"] == "InvocationCompleted":
            return started[0]
        time.sleep(0.02)
    raise AssertionError(f"{arn} opened no callback within {WAIT_SECONDS}s")


def ended(source: AwsExecutions, arn: str) -> dict[str, Any]:
    """``GetDurableExecution`` once ``arn`` is no longer RUNNING."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        execution = source.get_execution(arn)
        if execution["Status"] != "RUNNING":
            return execution
        time.sleep(0.02)
    raise AssertionError(f"{arn} still RUNNING after {WAIT_SECONDS}s")

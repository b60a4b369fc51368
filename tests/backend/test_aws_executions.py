"""``AwsExecutions`` (the CLI's ``--aws`` data source) against AWS's emulator, configured only
through boto3's standard environment, and its typed errors."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.stub import Stubber

import durable_backend as db
from durable_backend._aws_executions import AwsExecutions
from durable_backend._errors import AccessDeniedError, InvalidRequestError, NotFoundError
from tests.support.emulator import REGION, Emulator

pytestmark = pytest.mark.emulator

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

    @db.durable_execution(backend=db.SyncRealBackend(emulator.client()))
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
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        execution = source.get_execution(arn)
        if execution["Status"] != "RUNNING":
            return execution
        time.sleep(0.02)
    raise AssertionError(f"{arn} still RUNNING after {WAIT_SECONDS}s")


def test_list_history_and_callbacks_through_the_environment(
    emulator: Emulator, approval_function: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_emulator(monkeypatch, emulator)
    arns = [emulator.start_execution(approval_function, json.dumps({"order": n}))
            for n in ("o-1", "o-2")]
    with AwsExecutions() as source:
        assert source.client.meta.region_name == REGION
        listed = source.list_executions(approval_function)
        assert sorted(row["DurableExecutionArn"] for row in listed["DurableExecutions"]) == sorted(
            arns
        )
        assert {row["Status"] for row in listed["DurableExecutions"]} == {"RUNNING"}
        assert listed["NextMarker"] == ""

        first, second = (waiting_callback(source, arn) for arn in arns)
        source.send_callback_heartbeat(first)
        source.send_callback_success(first, '{"approved": true}')
        done = ended(source, arns[0])
        assert done["Status"] == "SUCCEEDED"
        assert json.loads(done["Result"]) == {"order": "o-1", "answer": {"approved": True}}
        assert "ResponseMetadata" not in done

        source.send_callback_failure(
            second, db.ErrorObject(error_message="no budget", error_type="Rejected")
        )
        failed = ended(source, arns[1])
        assert failed["Status"] == "FAILED"
        assert failed["Error"]["ErrorMessage"] == "no budget"

        types = [e["EventType"] for e in source.history_events(arns[0])]
        assert types[0] == "ExecutionStarted" and types[-1] == "ExecutionSucceeded"
        assert "CallbackSucceeded" in types


def test_stop_a_running_execution(
    emulator: Emulator, approval_function: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_emulator(monkeypatch, emulator)
    arn = emulator.start_execution(approval_function, json.dumps({"order": "o-3"}))
    with AwsExecutions() as source:
        waiting_callback(source, arn)
        source.stop_execution(arn, db.ErrorObject(error_message="cancelled by ops"))
        assert source.get_execution(arn)["Status"] == "STOPPED"
        with pytest.raises(NotFoundError, match="GetDurableExecution"):
            source.get_execution(arn.rsplit("/", 1)[0] + "/no-such-id")


def test_listing_needs_a_function_name(emulator: Emulator) -> None:
    with pytest.raises(InvalidRequestError, match="--function NAME"):
        AwsExecutions(emulator.client()).list_executions()


def test_access_denied_names_the_missing_permission(emulator: Emulator) -> None:
    source = AwsExecutions(emulator.client())
    with Stubber(source.client) as stub:
        stub.add_client_error(
            "list_durable_executions_by_function", "AccessDeniedException",
            "User is not authorized to perform: lambda:ListDurableExecutionsByFunction",
            http_status_code=403,
        )
        with pytest.raises(AccessDeniedError) as caught:
            source.list_executions("orders:live")
    assert caught.value.permission == "lambda:ListDurableExecutionsByFunction"
    assert "allow lambda:ListDurableExecutionsByFunction" in str(caught.value)

"""``AwsExecutions`` (the CLI's ``--aws`` data source) against AWS's emulator, configured only
through boto3's standard environment, and its typed errors."""

from __future__ import annotations

import json

import pytest
from botocore.stub import Stubber

from durable_backend._aws_executions import AwsExecutions
from durable_backend._errors import AccessDeniedError, InvalidRequestError, NotFoundError
from durable_backend.backend import ErrorObject
from tests.support.emulator import REGION, Emulator
from tests.support.service_env import ended, use_emulator, waiting_callback

pytestmark = pytest.mark.emulator


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
            second, ErrorObject(error_message="no budget", error_type="Rejected")
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
        source.stop_execution(arn, ErrorObject(error_message="cancelled by ops"))
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

"""Both codec flavours round-trip every model member; the wire shapes are the service's."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import attrs
import pytest
from cattrs import Converter

from durable_backend import _models as m
from durable_backend._codec import boto_converter, event_converter, from_wire, to_wire

T0 = datetime(2025, 12, 1, 12, 0, 0, 125000, tzinfo=UTC)
T1 = datetime(2025, 12, 1, 12, 0, 5, 250000, tzinfo=UTC)
T0_MS = 1764590400125
ERROR = m.ErrorObject(
    error_message="boom", error_type="ValueError", error_data='{"k": 1}',
    stack_trace=("line 1", "line 2"),
)

FULL_OPERATION = m.Operation(
    id="op-1",
    type=m.OperationType.STEP,
    status=m.OperationStatus.PENDING,
    parent_id="parent-1",
    name="charge",
    sub_type="Step",
    start_timestamp=T0,
    end_timestamp=T1,
    execution_details=m.ExecutionDetails(input_payload='{"order": 1}'),
    context_details=m.ContextDetails(replay_children=True, result='"ctx"', error=ERROR),
    step_details=m.StepDetails(attempt=2, next_attempt_timestamp=T1, result="1", error=ERROR),
    wait_details=m.WaitDetails(scheduled_end_timestamp=T1),
    callback_details=m.CallbackDetails(callback_id="cb-1", result='"ok"', error=ERROR),
    chained_invoke_details=m.ChainedInvokeDetails(result='"child"', error=ERROR),
)

FULL_UPDATE = m.OperationUpdate(
    id="op-1",
    type=m.OperationType.CHAINED_INVOKE,
    action=m.OperationAction.START,
    parent_id="parent-1",
    name="pay",
    sub_type="ChainedInvoke",
    payload='{"amount": 3}',
    error=ERROR,
    context_options=m.ContextOptions(replay_children=False),
    step_options=m.StepOptions(next_attempt_delay_seconds=5),
    wait_options=m.WaitOptions(wait_seconds=60),
    callback_options=m.CallbackOptions(timeout_seconds=300, heartbeat_timeout_seconds=30),
    chained_invoke_options=m.ChainedInvokeOptions(
        function_name="payments:live", tenant_id="t-1", x_amzn_trace_id="Root=1-abc"
    ),
)

FULL_VALUES: list[Any] = [
    FULL_OPERATION,
    FULL_UPDATE,
    m.CheckpointDurableExecutionOutput(
        checkpoint_token="tok-2",
        new_execution_state=m.CheckpointUpdatedExecutionState(
            operations=(FULL_OPERATION,), next_marker="m-1"
        ),
    ),
    m.GetDurableExecutionStateOutput(operations=(FULL_OPERATION,), next_marker="m-2"),
    m.DurableInvocationInput(
        durable_execution_arn="arn:aws:lambda:us-east-1:1:function:f:1/durable-execution/n/id",
        checkpoint_token="tok-1",
        initial_execution_state=m.InitialExecutionState(
            operations=(FULL_OPERATION,), next_marker="m-3"
        ),
        updated_operation_ids=("op-1",),
    ),
    m.DurableInvocationOutput(status="FAILED", result="null", error=ERROR),
]

CONVERTERS = pytest.mark.parametrize(
    "converter", [boto_converter, event_converter], ids=["boto", "event"]
)


def _assert_fully_populated(value: Any, path: str) -> None:
    """Guard the fixtures: a round trip proves nothing about a member left at None."""
    for field in attrs.fields(type(value)):
        member = getattr(value, field.name)
        assert member is not None and member != (), f"{path}.{field.name} is empty"
        if attrs.has(type(member)):
            _assert_fully_populated(member, f"{path}.{field.name}")
        if isinstance(member, tuple) and attrs.has(type(member[0])):
            _assert_fully_populated(member[0], f"{path}.{field.name}[0]")


@pytest.mark.parametrize("value", FULL_VALUES, ids=lambda v: type(v).__name__)
@CONVERTERS
def test_round_trip(value: Any, converter: Converter) -> None:
    _assert_fully_populated(value, type(value).__name__)
    assert from_wire(to_wire(value, converter), type(value), converter) == value


def test_boto_flavour_keeps_datetimes() -> None:
    wire = to_wire(FULL_OPERATION, boto_converter)
    assert wire["StartTimestamp"] is T0
    assert wire["StepDetails"]["NextAttemptTimestamp"] is T1
    assert wire["WaitDetails"] == {"ScheduledEndTimestamp": T1}
    assert wire["Type"] == "STEP" and json.loads(json.dumps(wire["Type"])) == "STEP"
    assert wire["StepDetails"]["Error"]["StackTrace"] == ["line 1", "line 2"]


def test_event_flavour_uses_epoch_milliseconds() -> None:
    wire = to_wire(FULL_OPERATION, event_converter)
    assert wire["StartTimestamp"] == T0_MS and isinstance(wire["StartTimestamp"], int)
    assert wire["WaitDetails"]["ScheduledEndTimestamp"] == T0_MS + 5125
    decoded = from_wire({"Id": "x", "Type": "WAIT", "Status": "STARTED",
                         "StartTimestamp": T0_MS}, m.Operation, event_converter)
    assert decoded.start_timestamp == T0 and decoded.start_timestamp.tzinfo is not None


def test_wire_names_are_the_services() -> None:
    wire = to_wire(FULL_UPDATE)
    assert set(wire) == {
        "Id", "Type", "Action", "ParentId", "Name", "SubType", "Payload", "Error",
        "ContextOptions", "StepOptions", "WaitOptions", "CallbackOptions", "ChainedInvokeOptions",
    }
    assert wire["ChainedInvokeOptions"] == {
        "FunctionName": "payments:live", "TenantId": "t-1", "XAmznTraceId": "Root=1-abc"}
    assert wire["CallbackOptions"] == {"TimeoutSeconds": 300, "HeartbeatTimeoutSeconds": 30}
    assert wire["StepOptions"] == {"NextAttemptDelaySeconds": 5}


@CONVERTERS
def test_absent_optionals_are_omitted(converter: Converter) -> None:
    op = m.Operation(id="a", type=m.OperationType.WAIT, status=m.OperationStatus.STARTED)
    assert to_wire(op, converter) == {"Id": "a", "Type": "WAIT", "Status": "STARTED"}
    update = m.OperationUpdate(
        id="a", type=m.OperationType.WAIT, action=m.OperationAction.START,
        wait_options=m.WaitOptions(wait_seconds=1),
    )
    assert to_wire(update, converter) == {
        "Id": "a", "Type": "WAIT", "Action": "START", "WaitOptions": {"WaitSeconds": 1}}
    assert to_wire(m.ErrorObject(error_message="x"), converter) == {"ErrorMessage": "x"}


@CONVERTERS
def test_unknown_keys_are_tolerated(converter: Converter) -> None:
    wire = {
        "CheckpointToken": "t",
        "NewExecutionState": {
            "Operations": [{
                "Id": "a", "Type": "STEP", "Status": "SUCCEEDED", "FutureMember": {"x": 1},
                "StepDetails": {"Attempt": 1, "Result": "2", "FutureDetail": True},
            }],
            "NextMarker": "",
            "FutureState": [],
        },
        "ResponseMetadata": {"HTTPStatusCode": 200},
    }
    output = from_wire(wire, m.CheckpointDurableExecutionOutput, converter)
    assert output.checkpoint_token == "t"
    assert output.new_execution_state is not None
    (op,) = output.new_execution_state.operations
    assert op.step_details == m.StepDetails(attempt=1, result="2")


def test_invocation_event_from_the_emulator_shape() -> None:
    event = {
        "DurableExecutionArn": "u1/u2",
        "CheckpointToken": "tok",
        "InitialExecutionState": {
            "Operations": [{"Id": "u2", "Type": "EXECUTION", "Status": "STARTED",
                            "Name": "exec", "StartTimestamp": T0_MS,
                            "ExecutionDetails": {"InputPayload": "{}"}}],
            "NextMarker": "",
        },
        "UpdatedOperationIds": [],
    }
    decoded = from_wire(event, m.DurableInvocationInput, event_converter)
    (execution,) = decoded.initial_execution_state.operations
    assert execution.type is m.OperationType.EXECUTION
    assert execution.start_timestamp == T0
    assert decoded.updated_operation_ids == ()

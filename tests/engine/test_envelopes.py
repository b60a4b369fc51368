"""Malformed invocation envelopes are refused with a typed error naming what is wrong, before any
user code runs, on both twins (issue 13, item 12)."""

from __future__ import annotations

from typing import Any

import pytest

from durable_backend._protocol import operation_id
from durable_backend.exceptions import InvalidEventError
from tests.engine.conftest import Twin
from tests.support.service import MemoryBackend

ARN = "arn:aws:lambda:us-east-1:123456789012:function:fn:$LATEST/durable-execution/n/exec-1"
EXECUTION = {"Id": "exec-1", "Type": "EXECUTION", "Status": "STARTED", "StartTimestamp": 1,
             "ExecutionDetails": {"InputPayload": '{"n": 1}'}}
STEP_ID = operation_id(None, 1)
STEP = {"Id": STEP_ID, "Type": "STEP", "SubType": "Step", "Status": "SUCCEEDED",
        "StartTimestamp": 1, "StepDetails": {"Attempt": 1, "Result": "41"}}


def event(*operations: Any, state: Any = None) -> dict[str, Any]:
    return {
        "DurableExecutionArn": ARN,
        "CheckpointToken": "token-1",
        "InitialExecutionState": state if state is not None else {
            "Operations": list(operations), "NextMarker": ""
        },
    }


MALFORMED = {
    "step-details-as-a-list": (
        event(EXECUTION, {**STEP, "StepDetails": [1, "41"]}),
        f"Operations[1] (Id {STEP_ID!r}) is malformed: StepDetails must be an object, got list",
    ),
    "execution-details-as-a-string": (
        event({**EXECUTION, "ExecutionDetails": '{"n": 1}'}),
        "Operations[0] (Id 'exec-1') is malformed: ExecutionDetails must be an object, got str",
    ),
    "error-as-a-string": (
        event(EXECUTION, {**STEP, "Status": "FAILED", "StepDetails": {"Error": "boom"}}),
        f"Operations[1] (Id {STEP_ID!r}) is malformed: ErrorObject must be an object, got str",
    ),
    "operation-as-a-list": (
        event(EXECUTION, [STEP_ID, "STEP"]),
        "Operations[1] is malformed: Operation must be an object, got list",
    ),
    "operation-without-a-type": (
        event(EXECUTION, {k: v for k, v in STEP.items() if k != "Type"}),
        f"Operations[1] (Id {STEP_ID!r}) is malformed: it has no Type",
    ),
    "operations-as-an-object": (
        event(state={"Operations": {STEP_ID: STEP}}),
        "InitialExecutionState.Operations must be a list, got dict",
    ),
    "no-execution-operation": (
        event(STEP),
        "have no EXECUTION operation",
    ),
}


@pytest.mark.parametrize(("envelope", "named"), MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_envelope_is_refused_before_user_code_runs(
    twin: Twin, envelope: dict[str, Any], named: str
) -> None:
    ran: list[Any] = []

    def scenario(event: Any, ctx: Any) -> Any:
        ran.append(event)
        return (yield ctx.step(lambda _: 1))

    backend = MemoryBackend()
    with pytest.raises(InvalidEventError) as info:
        twin.handler(scenario, backend)(envelope, None)
    assert named in str(info.value)
    assert "never sends this" in str(info.value)
    assert ran == []
    assert backend.checkpoint_calls() == []


def test_the_well_formed_envelope_runs(twin: Twin) -> None:
    """The same envelope, unbroken, replays the step and finishes: the refusals above are the
    malformations, not the shape of the test's event."""

    def scenario(event: Any, ctx: Any) -> Any:
        value = yield ctx.step(lambda _: 0)
        return [event, value]

    output = twin.handler(scenario, MemoryBackend())(event(EXECUTION, STEP), None)
    assert output == {"Status": "SUCCEEDED", "Result": '[{"n":1},41]'}

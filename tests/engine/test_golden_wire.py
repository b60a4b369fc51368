"""The exact checkpoint traffic of step -> wait -> step, through both twins.

What the protocol requires (protocol.md §2-§4) and what the design promises (design.md §2):
a fast step is ONE call carrying START+SUCCEED; the WAIT START is not sent on its own but rides
with the flush that ends the invocation; a replay re-sends nothing; tokens chain call to call;
no GetDurableExecutionState is needed when the event holds the whole state.
"""

from __future__ import annotations

from typing import Any

from durable_backend._engine import operation_id
from durable_backend._models import OperationAction as A
from durable_backend._models import OperationType as T
from durable_backend._models import OperationUpdate, WaitOptions
from tests.engine.conftest import Twin
from tests.support.service import CheckpointCall, MemoryBackend, StateCall

FIRST, WAIT, SECOND = (operation_id(None, n) for n in (1, 2, 3))


def scenario(event: Any, ctx: Any) -> Any:
    a = yield ctx.step(lambda _: {"n": 1}, name="first")
    yield ctx.wait(5, name="pause")
    b = yield ctx.step(lambda _: [a["n"], 2], name="second")
    return b


def test_step_wait_step_wire(twin: Twin) -> None:
    backend = MemoryBackend()
    arn, event = backend.start_execution('{"order": 1}')
    handler = twin.handler(scenario, backend)

    first = handler(event, None)
    backend.complete_invocation(arn, first)
    assert first == {"Status": "PENDING"}
    assert all(isinstance(c, CheckpointCall) for c in backend.calls)
    calls = backend.checkpoint_calls()
    assert [c.updates for c in calls] == [
        (
            OperationUpdate(FIRST, T.STEP, A.START, name="first", sub_type="Step"),
            OperationUpdate(
                FIRST, T.STEP, A.SUCCEED, name="first", sub_type="Step", payload='{"n":1}'
            ),
        ),
        (
            OperationUpdate(
                WAIT,
                T.WAIT,
                A.START,
                name="pause",
                sub_type="Wait",
                wait_options=WaitOptions(wait_seconds=5),
            ),
        ),
    ]
    assert calls[0].checkpoint_token == event["CheckpointToken"]
    assert calls[1].checkpoint_token != calls[0].checkpoint_token

    # Before the timer fires: a pure replay sends nothing at all.
    backend.calls.clear()
    early = handler(backend.invocation_event(arn), None)
    backend.complete_invocation(arn, early)
    assert early == {"Status": "PENDING"}
    assert backend.calls == []

    backend.advance(5)
    replay_event = backend.invocation_event(arn)
    replay = handler(replay_event, None)
    backend.complete_invocation(arn, replay)
    assert replay == {"Status": "SUCCEEDED", "Result": "[1,2]"}
    assert not any(isinstance(c, StateCall) for c in backend.calls)
    (call,) = backend.checkpoint_calls()
    assert call.checkpoint_token == replay_event["CheckpointToken"]
    assert call.updates == (
        OperationUpdate(SECOND, T.STEP, A.START, name="second", sub_type="Step"),
        OperationUpdate(SECOND, T.STEP, A.SUCCEED, name="second", sub_type="Step", payload="[1,2]"),
    )
    assert backend.history_types(arn) == [
        "ExecutionStarted",
        "StepStarted",
        "StepSucceeded",
        "WaitStarted",
        "InvocationCompleted",
        "InvocationCompleted",
        "WaitSucceeded",
        "StepStarted",
        "StepSucceeded",
        "InvocationCompleted",
        "ExecutionSucceeded",
    ]


def test_paged_event_is_completed_with_get_state_before_replaying(twin: Twin) -> None:
    """An event holding a first page only is paged on with the invocation's token."""
    backend = MemoryBackend()
    arn, event = backend.start_execution()
    handler = twin.handler(scenario, backend)
    backend.complete_invocation(arn, handler(event, None))
    backend.advance(5)
    backend.calls.clear()
    paged = backend.invocation_event(arn, max_page=1)
    assert paged["InitialExecutionState"]["NextMarker"]
    output = handler(paged, None)
    assert output == {"Status": "SUCCEEDED", "Result": "[1,2]"}
    state_calls = [c for c in backend.calls if isinstance(c, StateCall)]
    assert state_calls and all(c.checkpoint_token == paged["CheckpointToken"] for c in state_calls)
    # The replayed step did not re-run: only the second step was checkpointed.
    assert {u.id for c in backend.checkpoint_calls() for u in c.updates} == {SECOND}

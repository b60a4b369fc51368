"""LocalBackend behaves like the service: tokens, transactions, dedup, history, timers, callbacks.

Data-plane calls go through ``plane``, parametrized over the sync backend and its async view,
so both twins run the same scenarios.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from durable_backend._codec import event_converter, from_wire
from durable_backend._errors import (
    CallbackNotOpenError,
    InvalidRequestError,
    NotFoundError,
    StaleCheckpointTokenError,
)
from durable_backend._models import (
    CallbackOptions,
    ChainedInvokeOptions,
    CheckpointDurableExecutionOutput,
    ContextOptions,
    DurableInvocationInput,
    ErrorObject,
    ExecutionStatus,
    GetDurableExecutionStateOutput,
    OperationAction,
    OperationStatus,
    OperationType,
    OperationUpdate,
    StepOptions,
    WaitOptions,
)
from durable_backend.local import (
    DurableExecutionAlreadyStartedError,
    LocalBackend,
    ManualClock,
    MemoryStore,
)

A = OperationAction
T = OperationType
S = OperationStatus


class Plane:
    """The data plane of one backend, awaitable whichever twin is underneath."""

    def __init__(self, backend: LocalBackend, use_async: bool) -> None:
        self.backend = backend
        self.use_async = use_async

    async def checkpoint(
        self, arn: str, token: str, updates: Sequence[OperationUpdate],
        client_token: str | None = None,
    ) -> CheckpointDurableExecutionOutput:
        if self.use_async:
            return await self.backend.async_.batch_checkpoint(arn, token, updates, client_token)
        return self.backend.checkpoint(arn, token, updates, client_token)

    async def state(
        self, arn: str, token: str, marker: str = "", max_items: int = 1000
    ) -> GetDurableExecutionStateOutput:
        if self.use_async:
            return await self.backend.async_.get_execution_state(arn, token, marker, max_items)
        return self.backend.get_execution_state(arn, token, marker, max_items)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(params=["sqlite", "memory"])
def backend(request: pytest.FixtureRequest, clock: ManualClock) -> Iterator[LocalBackend]:
    """The service over each store: SQLite (in memory) and the plain-dict ``MemoryStore``."""
    if request.param == "memory":
        with LocalBackend(store=MemoryStore(), clock=clock) as b:
            yield b
    else:
        with LocalBackend(clock=clock) as b:
            yield b


@pytest.fixture(params=["sync", "async"])
def plane(request: pytest.FixtureRequest, backend: LocalBackend) -> Plane:
    return Plane(backend, request.param == "async")


def up(op_id: str, type_: OperationType, action: OperationAction, **kw: Any) -> OperationUpdate:
    return OperationUpdate(op_id, type_, action, **kw)


def invoke(backend: LocalBackend, arn: str, max_items: int = 1000) -> DurableInvocationInput:
    return from_wire(
        backend.next_invocation_event(arn, max_items), DurableInvocationInput, event_converter
    )


def history(backend: LocalBackend, arn: str) -> list[str]:
    return [e["EventType"] for e in backend.history_events(arn)]


def step(op_id: str, payload: str = "1", **kw: Any) -> list[OperationUpdate]:
    return [up(op_id, T.STEP, A.START, **kw), up(op_id, T.STEP, A.SUCCEED, payload=payload, **kw)]


# ----------------------------------------------------------------------------- tokens


async def test_token_rotation_and_consumed_token(plane: Plane, backend: LocalBackend) -> None:
    arn = backend.start_execution("fn", '"in"')
    event = invoke(backend, arn)
    first = await plane.checkpoint(arn, event.checkpoint_token, [])
    assert first.checkpoint_token and first.checkpoint_token != event.checkpoint_token
    with pytest.raises(StaleCheckpointTokenError) as info:
        await plane.checkpoint(arn, event.checkpoint_token, step("s"))
    assert info.value.message.startswith("Invalid checkpoint token")
    assert backend.operations(arn)[-1].type is T.EXECUTION  # nothing was applied

    state = await plane.state(arn, first.checkpoint_token)
    assert [op.type for op in state.operations] == [T.EXECUTION]
    second = await plane.checkpoint(arn, first.checkpoint_token, step("s"))  # not rotated by get
    assert [op.id for op in second.new_execution_state.operations] == ["s"]  # type: ignore[union-attr]
    with pytest.raises(StaleCheckpointTokenError):
        await plane.state(arn, first.checkpoint_token)


async def test_a_new_invocation_revokes_the_old_token(plane: Plane, backend: LocalBackend) -> None:
    arn = backend.start_execution("fn")
    old = invoke(backend, arn)
    new = invoke(backend, arn)
    with pytest.raises(StaleCheckpointTokenError, match="earlier invocation"):
        await plane.checkpoint(arn, old.checkpoint_token, [])
    await plane.checkpoint(arn, new.checkpoint_token, [])


async def test_terminal_batch_returns_no_token(plane: Plane, backend: LocalBackend) -> None:
    arn = backend.start_execution("fn")
    event = invoke(backend, arn)
    out = await plane.checkpoint(
        arn, event.checkpoint_token, [up("execution-result-1", T.EXECUTION, A.SUCCEED,
                                         payload='"big"')])
    assert out.checkpoint_token is None
    assert backend.get_execution(arn)["Status"] == "SUCCEEDED"
    assert backend.get_execution(arn)["Result"] == '"big"'
    backend.record_invocation_completed(arn, {"Status": "SUCCEEDED", "Result": ""})
    assert backend.get_execution(arn)["Result"] == '"big"'
    assert history(backend, arn)[-2:] == ["ExecutionSucceeded", "InvocationCompleted"]
    with pytest.raises(StaleCheckpointTokenError, match="has ended"):
        await plane.checkpoint(arn, event.checkpoint_token, [])


async def test_unknown_execution(plane: Plane) -> None:
    with pytest.raises(NotFoundError):
        await plane.checkpoint("arn:nope/x", "t", [])


# ----------------------------------------------------------------------------- transactions


async def test_a_rejected_batch_leaves_no_trace(plane: Plane, backend: LocalBackend) -> None:
    arn = backend.start_execution("fn")
    event = invoke(backend, arn)
    before = backend.history_events(arn)
    with pytest.raises(InvalidRequestError, match=r"update 2 \(Id 'w', WAIT START\)"):
        await plane.checkpoint(
            arn, event.checkpoint_token, [*step("s"), up("w", T.WAIT, A.START)])
    assert [op.id for op in backend.operations(arn)] == [arn.rsplit("/", 1)[-1]]
    assert backend.history_events(arn) == before
    out = await plane.checkpoint(arn, event.checkpoint_token, step("s"))  # token not consumed
    assert out.checkpoint_token


async def test_size_limits_use_the_service_error(plane: Plane, backend: LocalBackend) -> None:
    arn = backend.start_execution("fn")
    event = invoke(backend, arn)
    with pytest.raises(InvalidRequestError) as info:
        await plane.checkpoint(arn, event.checkpoint_token, step("s", "x" * (256 * 1024 + 1)))
    assert info.value.code == "InvalidParameterValueException"
    assert "the limit is 262144 bytes" in info.value.message


# ----------------------------------------------------------------------------- client tokens


async def test_client_token_gets_the_same_answer(plane: Plane, backend: LocalBackend) -> None:
    arn = backend.start_execution("fn")
    event = invoke(backend, arn)
    first = await plane.checkpoint(arn, event.checkpoint_token, step("s"), "ct-1")
    again = await plane.checkpoint(arn, event.checkpoint_token, step("s"), "ct-1")
    assert again == first
    assert history(backend, arn).count("StepSucceeded") == 1
    with pytest.raises(InvalidRequestError, match="different checkpoint request"):
        await plane.checkpoint(arn, event.checkpoint_token, step("t"), "ct-1")
    with pytest.raises(StaleCheckpointTokenError):
        await plane.checkpoint(arn, event.checkpoint_token, step("s"), "ct-2")


async def test_client_token_expires(
    plane: Plane, backend: LocalBackend, clock: ManualClock
) -> None:
    arn = backend.start_execution("fn")
    event = invoke(backend, arn)
    await plane.checkpoint(arn, event.checkpoint_token, [], "ct")
    clock.advance(15 * 60)
    with pytest.raises(StaleCheckpointTokenError):
        await plane.checkpoint(arn, event.checkpoint_token, [], "ct")


# ----------------------------------------------------------------------------- history


async def test_step_wait_step_history(
    plane: Plane, backend: LocalBackend, clock: ManualClock
) -> None:
    arn = backend.start_execution("fn", '"in"')
    assert backend.needs_invocation(arn)
    event = invoke(backend, arn)
    out = await plane.checkpoint(arn, event.checkpoint_token, step("a", name="first"))
    assert out.checkpoint_token
    out = await plane.checkpoint(arn, out.checkpoint_token,
                                 [up("w", T.WAIT, A.START, wait_options=WaitOptions(30))])
    backend.record_invocation_completed(arn, {"Status": "PENDING"})
    assert not backend.needs_invocation(arn)
    assert backend.next_wake(arn) == clock() + timedelta(seconds=30)

    clock.advance(31)
    assert backend.needs_invocation(arn)
    event = invoke(backend, arn)
    assert event.updated_operation_ids == ("w",)
    ops = {op.id: op for op in event.initial_execution_state.operations}
    assert ops["w"].status is S.SUCCEEDED
    assert ops["a"].step_details and ops["a"].step_details.result == "1"
    await plane.checkpoint(arn, event.checkpoint_token, step("b", '"2"'))
    backend.record_invocation_completed(arn, {"Status": "SUCCEEDED", "Result": '"done"'})

    assert history(backend, arn) == [
        "ExecutionStarted", "StepStarted", "StepSucceeded", "WaitStarted", "InvocationCompleted",
        "WaitSucceeded", "StepStarted", "StepSucceeded", "InvocationCompleted",
        "ExecutionSucceeded",
    ]
    events = backend.history_events(arn)
    assert [e["EventId"] for e in events] == list(range(1, 11))
    assert events[0]["ExecutionStartedDetails"]["Input"] == {"Payload": '"in"', "Truncated": False}
    assert events[2]["Name"] == "first"
    assert events[5]["EventTimestamp"] == events[3]["WaitStartedDetails"]["ScheduledEndTimestamp"]
    assert events[4]["InvocationCompletedDetails"]["RequestId"]
    execution = backend.get_execution(arn)
    assert execution["Status"] == "SUCCEEDED" and execution["Result"] == '"done"'
    assert not backend.needs_invocation(arn)


def test_history_paging_and_reverse(backend: LocalBackend) -> None:
    arn = backend.start_execution("fn")
    event = invoke(backend, arn)
    backend.checkpoint(arn, event.checkpoint_token, [u for i in range(5) for u in step(f"s{i}")])
    page = backend.get_history(arn, max_items=4)
    assert [e["EventId"] for e in page["Events"]] == [1, 2, 3, 4]
    page = backend.get_history(arn, max_items=4, marker=page["NextMarker"])
    page = backend.get_history(arn, max_items=4, marker=page["NextMarker"])
    assert [e["EventId"] for e in page["Events"]] == [9, 10, 11] and page["NextMarker"] == ""
    newest = backend.get_history(arn, max_items=2, reverse_order=True)
    assert [e["EventId"] for e in newest["Events"]] == [11, 10]
    lean = backend.get_history(arn, include_execution_data=False)["Events"]
    assert "Payload" not in lean[2]["StepSucceededDetails"]["Result"]


# ----------------------------------------------------------------------------- service-side


async def test_retry_becomes_ready_when_due(
    plane: Plane, backend: LocalBackend, clock: ManualClock
) -> None:
    arn = backend.start_execution("fn")
    event = invoke(backend, arn)
    out = await plane.checkpoint(arn, event.checkpoint_token, [
        up("s", T.STEP, A.START),
        up("s", T.STEP, A.RETRY, error=ErrorObject("x"), step_options=StepOptions(10))])
    assert out.new_execution_state and out.new_execution_state.operations[0].status is S.PENDING
    clock.advance(9)
    assert out.checkpoint_token
    out = await plane.checkpoint(arn, out.checkpoint_token, [])
    assert out.new_execution_state and out.new_execution_state.operations == ()
    clock.advance(1)
    out = await plane.checkpoint(arn, out.checkpoint_token, [])  # polling sees the change
    assert out.new_execution_state
    assert [(o.id, o.status) for o in out.new_execution_state.operations] == [("s", S.READY)]
    assert out.checkpoint_token
    out = await plane.checkpoint(arn, out.checkpoint_token, step("s"))
    op = out.new_execution_state.operations[0]  # type: ignore[union-attr]
    assert op.status is S.SUCCEEDED and op.step_details and op.step_details.attempt == 2
    assert history(backend, arn)[1:] == ["StepStarted", "StepFailed", "StepStarted",
                                         "StepSucceeded"]


async def test_callback_success_failure_and_closed(
    plane: Plane, backend: LocalBackend
) -> None:
    arn = backend.start_execution("fn")
    event = invoke(backend, arn)
    out = await plane.checkpoint(arn, event.checkpoint_token, [
        up("c1", T.CALLBACK, A.START), up("c2", T.CALLBACK, A.START)])
    ops = {o.id: o for o in out.new_execution_state.operations}  # type: ignore[union-attr]
    ids = [ops[k].callback_details.callback_id for k in ("c1", "c2")]  # type: ignore[union-attr]
    assert all(ids) and ids[0] != ids[1]
    backend.send_callback_success(ids[0], b'{"ok": true}')  # type: ignore[arg-type]
    backend.send_callback_failure(ids[1], ErrorObject("nope", "Rejected"))  # type: ignore[arg-type]
    with pytest.raises(CallbackNotOpenError, match="SUCCEEDED"):
        backend.send_callback_success(ids[0], "again")  # type: ignore[arg-type]
    with pytest.raises(CallbackNotOpenError):
        backend.send_callback_heartbeat(ids[1])  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError, match="not a callback id"):
        backend.send_callback_success("bm9wZQ==")
    assert out.checkpoint_token
    delta = await plane.checkpoint(arn, out.checkpoint_token, [])
    done = {o.id: o for o in delta.new_execution_state.operations}  # type: ignore[union-attr]
    assert done["c1"].callback_details and done["c1"].callback_details.result == '{"ok": true}'
    assert done["c2"].status is S.FAILED
    assert history(backend, arn)[-2:] == ["CallbackSucceeded", "CallbackFailed"]


async def test_callback_timeout_and_heartbeat(
    plane: Plane, backend: LocalBackend, clock: ManualClock
) -> None:
    arn = backend.start_execution("fn")
    event = invoke(backend, arn)
    out = await plane.checkpoint(arn, event.checkpoint_token, [
        up("t", T.CALLBACK, A.START, callback_options=CallbackOptions(timeout_seconds=100)),
        up("h", T.CALLBACK, A.START,
           callback_options=CallbackOptions(heartbeat_timeout_seconds=10))])
    ops = {o.id: o for o in out.new_execution_state.operations}  # type: ignore[union-attr]
    beat_id = ops["h"].callback_details.callback_id  # type: ignore[union-attr]
    assert beat_id
    for _ in range(3):
        clock.advance(8)
        backend.send_callback_heartbeat(beat_id)
    clock.advance(8)
    assert {o.id: o.status for o in backend.operations(arn)}["h"] is S.STARTED
    clock.advance(3)
    # A read fires nothing; the service looks when asked whether to invoke.
    assert {o.id: o.status for o in backend.operations(arn)}["h"] is S.STARTED
    assert backend.needs_invocation(arn)  # the service looks: the heartbeat deadline has passed
    hb = {o.id: o for o in backend.operations(arn)}["h"]
    assert hb.status is S.TIMED_OUT
    assert hb.callback_details and hb.callback_details.error
    assert hb.callback_details.error.error_type == "Callback.Heartbeat"
    clock.advance(100)
    backend.needs_invocation(arn)
    timed = {o.id: o for o in backend.operations(arn)}["t"]
    assert timed.callback_details and timed.callback_details.error
    assert timed.callback_details.error.error_type == "Callback.Timeout"
    assert history(backend, arn).count("CallbackTimedOut") == 2
    with pytest.raises(CallbackNotOpenError, match="TIMED_OUT"):
        backend.send_callback_success(beat_id, "late")
    event = invoke(backend, arn)
    assert set(event.updated_operation_ids) == {"h", "t"}


async def test_children_of_completed_contexts_are_omitted(
    plane: Plane, backend: LocalBackend
) -> None:
    arn = backend.start_execution("fn")
    event = invoke(backend, arn)
    out = await plane.checkpoint(arn, event.checkpoint_token, [
        up("c", T.CONTEXT, A.START), *step("k", parent_id="c"),
        up("c", T.CONTEXT, A.SUCCEED, payload="1"),
        up("r", T.CONTEXT, A.START), *step("r1", parent_id="r"),
        up("r", T.CONTEXT, A.SUCCEED, context_options=ContextOptions(replay_children=True))])
    assert [o.id for o in out.new_execution_state.operations] == ["c", "r", "r1"]  # type: ignore[union-attr]
    assert out.checkpoint_token
    state = await plane.state(arn, out.checkpoint_token)
    assert [o.id for o in state.operations][1:] == ["c", "r", "r1"]
    assert "k" in {o.id for o in backend.operations(arn)}


async def test_state_and_invocation_paging(plane: Plane, backend: LocalBackend) -> None:
    arn = backend.start_execution("fn")
    event = invoke(backend, arn)
    out = await plane.checkpoint(arn, event.checkpoint_token,
                                 [u for i in range(7) for u in step(f"s{i}")])
    event = invoke(backend, arn, max_items=3)
    seen = list(event.initial_execution_state.operations)
    marker = event.initial_execution_state.next_marker
    assert len(seen) == 3 and marker
    while marker:
        page = await plane.state(arn, event.checkpoint_token, marker, 3)
        seen.extend(page.operations)
        marker = page.next_marker or ""
    assert [o.id for o in seen][1:] == [f"s{i}" for i in range(7)]
    del out


async def test_chained_invoke(plane: Plane, backend: LocalBackend) -> None:
    arn = backend.start_execution("parent")
    event = invoke(backend, arn)
    out = await plane.checkpoint(arn, event.checkpoint_token, [up(
        "i", T.CHAINED_INVOKE, A.START, payload='{"x":1}', name="call",
        chained_invoke_options=ChainedInvokeOptions(function_name="child"))])
    (request,) = backend.pending_chained_invokes(arn)
    assert (request.op_id, request.function_name, request.input_payload) == (
        "i", "child", '{"x":1}')
    child = backend.start_execution("child", request.input_payload, arn=request.target_arn,
                                    name="i-child")
    assert child == request.target_arn
    backend.complete_chained_invoke(arn, "i", '"r"')
    assert backend.pending_chained_invokes(arn) == []
    assert out.checkpoint_token
    delta = await plane.checkpoint(arn, out.checkpoint_token, [])
    (op,) = delta.new_execution_state.operations  # type: ignore[union-attr]
    assert op.status is S.SUCCEEDED and op.chained_invoke_details
    assert op.chained_invoke_details.result == '"r"'
    assert history(backend, arn)[-2:] == ["ChainedInvokeStarted", "ChainedInvokeSucceeded"]
    started = backend.history_events(arn)[-2]["ChainedInvokeStartedDetails"]
    assert started["DurableExecutionArn"] == request.target_arn


# ----------------------------------------------------------------------------- executions


def test_start_is_idempotent_by_name_and_input(backend: LocalBackend) -> None:
    arn = backend.start_execution("fn", '"a"', name="order-1")
    assert backend.start_execution("fn", '"a"', name="order-1") == arn
    with pytest.raises(DurableExecutionAlreadyStartedError) as info:
        backend.start_execution("fn", '"b"', name="order-1")
    assert info.value.code == "DurableExecutionAlreadyStartedException"
    assert backend.start_execution("other", '"b"', name="order-1") != arn
    with pytest.raises(InvalidRequestError, match="execution name"):
        backend.start_execution("fn", name="bad name")


def test_stop(backend: LocalBackend) -> None:
    arn = backend.start_execution("fn")
    event = invoke(backend, arn)
    backend.stop_execution(arn, ErrorObject("halt"))
    execution = backend.get_execution(arn)
    assert execution["Status"] == "STOPPED" and execution["Error"]["ErrorMessage"] == "halt"
    assert history(backend, arn)[-1] == "ExecutionStopped"
    with pytest.raises(StaleCheckpointTokenError):
        backend.checkpoint(arn, event.checkpoint_token, [])
    with pytest.raises(InvalidRequestError, match="not RUNNING"):
        backend.stop_execution(arn)


def test_execution_timeout(backend: LocalBackend, clock: ManualClock) -> None:
    arn = backend.start_execution("fn", timeout_seconds=60)
    invoke(backend, arn)
    clock.advance(61)
    assert backend.get_execution(arn)["Status"] == "RUNNING"  # reading it fires nothing
    assert not backend.needs_invocation(arn)
    assert backend.get_execution(arn)["Status"] == "TIMED_OUT"
    assert history(backend, arn)[-1] == "ExecutionTimedOut"


def test_failed_output_and_function_error(backend: LocalBackend) -> None:
    arn = backend.start_execution("fn")
    invoke(backend, arn)
    backend.record_invocation_completed(arn, None, function_error=ErrorObject("crash"))
    assert backend.get_execution(arn)["Status"] == "RUNNING"
    invoke(backend, arn)
    backend.record_invocation_completed(
        arn, {"Status": "FAILED", "Error": {"ErrorMessage": "bad", "ErrorType": "E"}})
    execution = backend.get_execution(arn)
    assert execution["Status"] == "FAILED" and execution["Error"]["ErrorType"] == "E"
    events = backend.history_events(arn)
    assert events[1]["InvocationCompletedDetails"]["Error"]["Payload"]["ErrorMessage"] == "crash"
    with pytest.raises(InvalidRequestError, match="has ended"):
        invoke(backend, arn)


def test_list_executions(backend: LocalBackend, clock: ManualClock) -> None:
    arns = []
    for i in range(5):
        arns.append(backend.start_execution("fn" if i % 2 == 0 else "other"))
        clock.advance(1)
    backend.stop_execution(arns[0])
    page = backend.list_executions("fn", max_items=2)
    assert [e["DurableExecutionArn"] for e in page["DurableExecutions"]] == [arns[4], arns[2]]
    page = backend.list_executions("fn", max_items=2, marker=page["NextMarker"])
    assert [e["DurableExecutionArn"] for e in page["DurableExecutions"]] == [arns[0]]
    assert page["NextMarker"] == ""
    stopped = backend.list_executions(status=ExecutionStatus.STOPPED)["DurableExecutions"]
    assert [e["Status"] for e in stopped] == ["STOPPED"]
    assert len(backend.list_executions()["DurableExecutions"]) == 5


def test_persistence_across_reopen(tmp_path: Path, clock: ManualClock) -> None:
    path = tmp_path / "durable.db"
    with LocalBackend(path, clock=clock) as first:
        arn = first.start_execution("fn", '"in"')
        event = invoke(first, arn)
        out = first.checkpoint(arn, event.checkpoint_token, [
            *step("s"), up("w", T.WAIT, A.START, wait_options=WaitOptions(5))])
    clock.advance(5)
    with LocalBackend(path, clock=clock) as second:
        assert out.checkpoint_token
        second.checkpoint(arn, out.checkpoint_token, [])  # the token chain survived
        ops = {o.id: o for o in second.operations(arn)}
        assert ops["s"].status is S.SUCCEEDED and ops["w"].status is S.SUCCEEDED
        assert history(second, arn)[-1] == "WaitSucceeded"
        assert second.list_executions()["DurableExecutions"][0]["DurableExecutionArn"] == arn


def test_threads_share_one_backend(backend: LocalBackend) -> None:
    arn = backend.start_execution("fn")
    token = invoke(backend, arn).checkpoint_token
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        nonlocal token
        try:
            for i in range(20):
                with lock:
                    out = backend.checkpoint(arn, token, step(f"t{n}-{i}"))
                    assert out.checkpoint_token
                    token = out.checkpoint_token
                backend.get_history(arn, max_items=5)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(backend.operations(arn)) == 81



# ----------------------------------------------------------------------------- the test fake


def _scenario_updates() -> list[list[OperationUpdate]]:
    return [
        [up("c", T.CONTEXT, A.START, sub_type="Map"), *step("k", parent_id="c"),
         up("s", T.STEP, A.START), up("s", T.STEP, A.RETRY, payload="p",
                                      step_options=StepOptions(3))],
        [up("c", T.CONTEXT, A.SUCCEED, payload="[1]"),
         up("w", T.WAIT, A.START, wait_options=WaitOptions(2))],
        [],
        [*step("s", "2")],
    ]


def test_memory_fake_and_local_backend_agree(backend: LocalBackend, clock: ManualClock) -> None:
    from tests.support.service import MemoryBackend

    fake = MemoryBackend(start=clock())
    local_arn = backend.start_execution("fn", '"in"', name="same")
    fake_arn, _ = fake.start_execution('"in"', local_arn, name="same")
    local_token = invoke(backend, local_arn).checkpoint_token
    fake_token = from_wire(fake.invocation_event(fake_arn), DurableInvocationInput,
                           event_converter).checkpoint_token
    for batch in _scenario_updates():
        local_out = backend.checkpoint(local_arn, local_token, batch)
        fake_out = fake.checkpoint(fake_arn, fake_token, batch)
        assert local_out.new_execution_state == fake_out.new_execution_state
        assert local_out.checkpoint_token and fake_out.checkpoint_token
        local_token, fake_token = local_out.checkpoint_token, fake_out.checkpoint_token
        clock.advance(2)
        fake.advance(2)
    assert fake.operations(fake_arn) == backend.operations(local_arn)
    assert fake.history(fake_arn) == backend.history_events(local_arn)
    bad = [up("w", T.WAIT, A.CANCEL)]
    with pytest.raises(InvalidRequestError) as local_error:
        backend.checkpoint(local_arn, local_token, bad)
    with pytest.raises(InvalidRequestError) as fake_error:
        fake.checkpoint(fake_arn, fake_token, bad)
    assert local_error.value.message == fake_error.value.message


def test_memory_fake_lost_response_is_answered_by_client_token() -> None:
    from durable_backend._errors import ServiceUnavailableError
    from tests.support.service import CheckpointCall, MemoryBackend

    fake = MemoryBackend()
    arn, event = fake.start_execution()
    token = event["CheckpointToken"]
    fake.fail_next_checkpoint(ServiceUnavailableError("lost"), after_apply=True)
    with pytest.raises(ServiceUnavailableError):
        fake.checkpoint(arn, token, step("s"), "ct")
    again = fake.checkpoint(arn, token, step("s"), "ct")
    assert again.checkpoint_token
    assert fake.history_types(arn) == ["ExecutionStarted", "StepStarted", "StepSucceeded"]
    assert fake.checkpoint_calls(arn) == [CheckpointCall(arn, token, tuple(step("s")), "ct")] * 2

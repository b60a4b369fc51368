"""The engine stepped by hand, with no driver and no backend: the checkpoint protocol (paging,
token chain, deltas, group commit, failures, revocation) is pure state in the flows."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import pytest

import durable_backend as db
from durable_backend._codec import event_converter, to_wire
from durable_backend._engine import (
    QUIET_WINDOWS,
    AwaitLanding,
    CallCheckpoint,
    CheckpointFailed,
    CheckpointQueue,
    Commit,
    Execution,
    FetchState,
    IdSequence,
    Landed,
    LetOthersJoin,
    RunInContext,
    RunUserCode,
    Scope,
    SendApart,
    StepRequest,
    Suspend,
    SuspendExecution,
    apart_flow,
    begin,
    commit_flow,
    invocation_flow,
)
from durable_backend._engine._flows import Child, child_flow
from durable_backend._engine._invocation import _finished
from durable_backend._models import (
    CheckpointDurableExecutionOutput,
    CheckpointUpdatedExecutionState,
    DurableInvocationOutput,
    ErrorObject,
    ExecutionDetails,
    GetDurableExecutionStateOutput,
    Operation,
    OperationAction,
    OperationStatus,
    OperationType,
    OperationUpdate,
    StepDetails,
)
from durable_backend._protocol import MAX_BATCH_UPDATES, operation_id
from durable_backend._serdes import JSON_SERDES
from durable_backend.backend import (
    DurableError,
    InvalidRequestError,
    KMSError,
    NotFoundError,
    ServiceUnavailableError,
    StaleCheckpointTokenError,
)

ARN = "arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST/durable-execution/run/exec-1"
EXECUTION_OP = Operation(
    id="exec-1",
    type=OperationType.EXECUTION,
    status=OperationStatus.STARTED,
    execution_details=ExecutionDetails(input_payload='{"x": 1}'),
)
Service = Callable[[CallCheckpoint | FetchState], Any]


def event(marker: str = "") -> dict[str, Any]:
    return {
        "DurableExecutionArn": ARN,
        "CheckpointToken": "t1",
        "InitialExecutionState": {
            "Operations": [
                {
                    "Id": "exec-1",
                    "Type": "EXECUTION",
                    "Status": "STARTED",
                    "ExecutionDetails": {"InputPayload": '{"x": 1}'},
                }
            ],
            "NextMarker": marker,
        },
    }


def step(flow: Generator[Any, Any, Any], service: Service) -> Any:
    """Run ``flow`` to its end on this thread; ``service`` answers the calls it asks for."""
    answer: Any = None
    error: BaseException | None = None
    while True:
        try:
            effect = flow.send(answer) if error is None else flow.throw(error)
        except StopIteration as stop:
            return stop.value
        answer = error = None
        try:
            if isinstance(effect, Commit):
                answer = step(
                    commit_flow(effect.execution, effect.updates, effect.durable), service
                )
            elif isinstance(effect, RunUserCode):
                answer = effect.fn(*effect.args)
            elif isinstance(effect, RunInContext):
                answer = effect.fn(effect.scope)
            elif isinstance(effect, Suspend):
                raise SuspendExecution(effect.reason)
            elif isinstance(effect, CallCheckpoint | FetchState):
                answer = service(effect)
            else:
                assert isinstance(effect, Landed | LetOthersJoin), effect
        except BaseException as exc:
            error = exc


def accepted(token: str | None, *operations: Operation, marker: str = "") -> Any:
    state = CheckpointUpdatedExecutionState(operations=operations, next_marker=marker)
    return CheckpointDurableExecutionOutput(checkpoint_token=token, new_execution_state=state)


def update(op_id: str, action: OperationAction = OperationAction.START) -> OperationUpdate:
    return OperationUpdate(id=op_id, type=OperationType.STEP, action=action, sub_type="Step")


def stored(op_id: str, result: str = "1") -> Operation:
    return Operation(
        id=op_id,
        type=OperationType.STEP,
        status=OperationStatus.SUCCEEDED,
        sub_type="Step",
        step_details=StepDetails(attempt=1, result=result),
    )


# --- the invocation's initial paging ------------------------------------------------------


def test_the_invocation_flow_pages_the_initial_state_itself() -> None:
    flow = invocation_flow(event("m1"), lambda x, ctx: x, JSON_SERDES, JSON_SERDES)
    assert next(flow) == FetchState(ARN, "t1", "m1")
    page = GetDurableExecutionStateOutput(operations=(stored("a"),), next_marker="m2")
    assert flow.send(page) == FetchState(ARN, "t1", "m2")
    run = flow.send(GetDurableExecutionStateOutput(operations=(stored("b"),)))
    assert isinstance(run, RunInContext)
    assert set(run.scope.execution.operations) == {"exec-1", "a", "b"}
    assert run.fn("the context") == {"x": 1}
    with pytest.raises(StopIteration) as done:  # nothing queued: no final flush to ask for
        flow.send({"x": 1})
    assert done.value.value == {"Status": "SUCCEEDED", "Result": '{"x":1}'}


@pytest.mark.parametrize(
    "output",
    [
        DurableInvocationOutput(status="SUCCEEDED", result='{"x":1}'),
        DurableInvocationOutput(status="SUCCEEDED", result=""),
        DurableInvocationOutput(status="PENDING"),
        DurableInvocationOutput(
            status="FAILED",
            error=ErrorObject(error_message="boom", error_type="ValueError", stack_trace=("a",)),
        ),
    ],
    ids=["result", "result-checkpointed", "pending", "failed"],
)
def test_the_written_out_handler_output_is_the_models_wire_form(
    output: DurableInvocationOutput,
) -> None:
    written = _finished(output.status, output.result, output.error)
    assert written == to_wire(output, event_converter)
    assert list(written) == list(to_wire(output, event_converter))


@pytest.mark.parametrize(
    "error",
    [
        InvalidRequestError("Marker is not valid", http_status=400),
        NotFoundError("no such execution", http_status=404),
        KMSError("key disabled", code="KMSDisabledException", http_status=502),
    ],
    ids=["400", "404", "KMS"],
)
def test_a_terminal_error_on_the_initial_page_fetch_fails_the_invocation(
    error: DurableError,
) -> None:
    flow = invocation_flow(event("m1"), lambda x, ctx: x, JSON_SERDES, JSON_SERDES)
    assert isinstance(next(flow), FetchState)
    with pytest.raises(StopIteration) as done:
        flow.throw(error)
    output = done.value.value
    assert output["Status"] == "FAILED"
    assert output["Error"]["ErrorType"] == f"durable_backend.exceptions.{type(error).__name__}"


@pytest.mark.parametrize(
    "error",
    [
        StaleCheckpointTokenError("Invalid checkpoint token", http_status=400),
        ServiceUnavailableError("try again", http_status=503),
    ],
    ids=["stale", "5xx"],
)
def test_a_retryable_error_on_the_initial_page_fetch_is_raised_for_lambda(
    error: DurableError,
) -> None:
    flow = invocation_flow(event("m1"), lambda x, ctx: x, JSON_SERDES, JSON_SERDES)
    next(flow)
    with pytest.raises(type(error)):
        flow.throw(error)


# --- group commit and the token chain ---------------------------------------------------


def test_a_commit_sends_one_batch_rotates_the_token_and_applies_the_paged_delta() -> None:
    execution = Execution(ARN, "t1", [EXECUTION_OP])
    updates = (update("a"), update("a", OperationAction.SUCCEED))
    flow = commit_flow(execution, updates)
    assert next(flow) == CallCheckpoint(ARN, "t1", updates)
    assert flow.send(accepted("t2", stored("a"), marker="p1")) == FetchState(ARN, "t2", "p1")
    assert flow.send(GetDurableExecutionStateOutput(operations=(stored("b"),))) == Landed(execution)
    with pytest.raises(StopIteration):
        flow.send(None)
    assert execution.queue.token == "t2" and execution.queue.committed == 2
    assert {"a", "b"} <= set(execution.operations)


def test_a_caller_finding_a_call_in_flight_waits_then_leads_the_next_with_the_new_token() -> None:
    execution = Execution(ARN, "t1", [EXECUTION_OP])
    first = commit_flow(execution, (update("a"),))
    assert next(first) == CallCheckpoint(ARN, "t1", (update("a"),))
    second = commit_flow(execution, (update("b"),))
    assert next(second) == AwaitLanding(execution, 2)
    assert isinstance(first.send(accepted("t2")), Landed)
    with pytest.raises(StopIteration):
        first.send(None)
    assert second.send(None) == CallCheckpoint(ARN, "t2", (update("b"),))


def test_a_queued_update_waits_for_a_durable_one_and_rides_along() -> None:
    execution = Execution(ARN, "t1", [EXECUTION_OP])
    lazy = commit_flow(execution, (update("a"),), durable=False)
    with pytest.raises(StopIteration):
        next(lazy)
    flow = commit_flow(execution, (update("a", OperationAction.SUCCEED),))
    call = next(flow)
    assert isinstance(call, CallCheckpoint)
    assert [u.action for u in call.updates] == [OperationAction.START, OperationAction.SUCCEED]


def test_concurrent_branches_let_others_join_before_leading_a_call() -> None:
    execution = Execution(ARN, "t1", [EXECUTION_OP])
    execution.branches = 2
    flow = commit_flow(execution, (update("a"),))
    for _ in range(QUIET_WINDOWS):  # nobody joins: a few quiet windows, then the call
        assert isinstance(next(flow), LetOthersJoin)
    assert next(flow) == CallCheckpoint(ARN, "t1", (update("a"),))


def test_the_leader_gathers_while_updates_arrive_until_a_batch_is_full() -> None:
    execution = Execution(ARN, "t1", [EXECUTION_OP])
    execution.branches = 3
    leader = commit_flow(execution, (update("a"),))
    assert isinstance(next(leader), LetOthersJoin)
    for window in range(MAX_BATCH_UPDATES - 1):  # another branch queues one update a window
        lazy = commit_flow(execution, (update(f"b{window}"),), durable=False)
        with pytest.raises(StopIteration):
            next(lazy)
        effect = leader.send(None)
        if isinstance(effect, CallCheckpoint):
            break
    assert isinstance(effect, CallCheckpoint) and len(effect.updates) == MAX_BATCH_UPDATES


def test_a_caller_arriving_while_the_leader_gathers_waits_for_that_call() -> None:
    execution = Execution(ARN, "t1", [EXECUTION_OP])
    execution.branches = 2
    leader = commit_flow(execution, (update("a"),))
    assert isinstance(next(leader), LetOthersJoin)
    follower = commit_flow(execution, (update("b"),))
    assert next(follower) == AwaitLanding(execution, 2)
    landings = execution.queue.landings
    landings.wait(2, follower)  # as a driver does
    # every other branch now waits for this call: nothing more can come, so it goes
    assert leader.send(None) == CallCheckpoint(ARN, "t1", (update("a"), update("b")))
    assert isinstance(leader.send(accepted("t2")), Landed)
    woken: list[object] = []

    def wake(waiter: object) -> bool:
        woken.append(waiter)
        return True

    landings.landed(execution.queue, wake)
    assert woken == [follower] and landings.waiting == 0
    with pytest.raises(StopIteration):
        leader.send(None)
    with pytest.raises(StopIteration):
        follower.send(None)


def test_a_leader_interrupted_while_gathering_hands_the_call_to_a_waiter() -> None:
    execution = Execution(ARN, "t1", [EXECUTION_OP])
    execution.branches = 3
    leader = commit_flow(execution, (update("a"),))
    next(leader)
    follower = commit_flow(execution, (update("b"),))
    assert next(follower) == AwaitLanding(execution, 2)
    assert leader.throw(KeyboardInterrupt()) == Landed(execution)  # wake the waiter
    with pytest.raises(KeyboardInterrupt):
        leader.send(None)
    assert isinstance(follower.send(None), LetOthersJoin)  # it leads now


def test_a_failed_call_ends_the_invocation_for_its_caller_and_every_waiter() -> None:
    execution = Execution(ARN, "t1", [EXECUTION_OP])
    first = commit_flow(execution, (update("a"),))
    next(first)
    second = commit_flow(execution, (update("b"),))
    next(second)
    rejected = InvalidRequestError("update 0 is rejected", http_status=400)
    assert isinstance(first.throw(rejected), Landed)
    with pytest.raises(CheckpointFailed) as caught:
        first.send(None)
    assert caught.value.error is rejected
    with pytest.raises(CheckpointFailed):
        second.send(None)
    assert not isinstance(caught.value, Exception)  # user code's `except Exception` can't eat it


def child(op_id: str, action: OperationAction = OperationAction.START) -> OperationUpdate:
    return OperationUpdate(
        id=op_id, type=OperationType.CONTEXT, action=action, sub_type="RunInChildContext"
    )


def test_a_steps_finish_joins_its_start_past_other_branches_updates() -> None:
    queue = CheckpointQueue("t1")
    succeed = OperationAction.SUCCEED
    queue.add((update("a"), child("c"), update("b"), update("a", succeed), update("b", succeed)))
    batch = queue.take()
    assert [(u.id, u.action) for u in batch.updates] == [
        ("a", OperationAction.START), ("a", succeed), ("c", OperationAction.START),
        ("b", OperationAction.START), ("b", succeed),
    ]
    assert batch.end == 5 and not queue.pending


def test_a_contexts_finish_ends_the_batch_unless_it_follows_its_start() -> None:
    queue = CheckpointQueue("t1")
    done = child("c", OperationAction.SUCCEED)
    queue.add((child("c"), update("x"), done, child("d"), child("d", OperationAction.SUCCEED)))
    assert queue.take().updates == (child("c"), update("x"))
    assert queue.pending == [done, child("d"), child("d", OperationAction.SUCCEED)]


def test_a_full_batch_nobody_needs_durable_yet_is_sent_apart() -> None:
    execution = Execution(ARN, "t1", [EXECUTION_OP])
    starts = tuple(update(f"s{i}") for i in range(MAX_BATCH_UPDATES - 1))
    assert list(commit_flow(execution, starts, durable=False)) == []  # not a full batch yet
    filled = commit_flow(execution, (update("last"),), durable=False)
    assert next(filled) == SendApart(execution)
    with pytest.raises(StopIteration):
        filled.send(None)
    assert list(commit_flow(execution, (update("more"),), durable=False)) == []  # one is due
    apart = apart_flow(execution)
    call = next(apart)
    assert isinstance(call, CallCheckpoint) and len(call.updates) == MAX_BATCH_UPDATES
    assert isinstance(apart.send(accepted("t2")), Landed)
    with pytest.raises(StopIteration):  # what is left is not a full batch: it waits
        apart.send(None)
    assert execution.queue.committed == MAX_BATCH_UPDATES
    assert execution.queue.pending == [update("more")]


def test_a_landing_wakes_the_next_leader_before_the_callers_it_made_durable() -> None:
    queue = CheckpointQueue("t1")
    queue.add(tuple(update(f"u{i}") for i in range(4)))
    landings = queue.landings
    for ticket, waiter in ((1, "a"), (4, "last"), (3, "gone"), (2, "b")):
        landings.wait(ticket, waiter)
    queue.committed = 2
    woken: list[str] = []

    def wake(waiter: str) -> bool:
        if waiter == "gone":  # cancelled meanwhile: the next one leads instead
            return False
        woken.append(waiter)
        return True

    landings.landed(queue, wake)
    assert woken == ["last", "a", "b"] and landings.waiting == 0


def test_a_slow_bodys_start_goes_apart_now_or_after_the_call_in_flight_lands() -> None:
    execution = Execution(ARN, "t1", [EXECUTION_OP])
    queue = execution.queue
    ticket = queue.add((update("a"),))
    queue.in_flight = True
    assert not queue.flush_apart(ticket)  # the call in flight goes first
    queue.in_flight = False  # it landed; its caller's flow ends by sending what is due
    landed = commit_flow(execution, (), durable=False)
    assert next(landed) == SendApart(execution)
    apart = apart_flow(execution)
    assert next(apart) == CallCheckpoint(ARN, "t1", (update("a"),))
    assert isinstance(apart.send(accepted("t2")), Landed)
    with pytest.raises(StopIteration):
        apart.send(None)
    assert queue.committed == ticket and not queue.flush_apart(ticket)


# --- whole invocations, scripted ---------------------------------------------------------


class Script:
    """Answers checkpoint calls with rotating tokens; ``revoke`` drops the token from call n."""

    def __init__(self, revoke: int | None = None, fail: BaseException | None = None) -> None:
        self.revoke = revoke
        self.fail = fail
        self.calls: list[tuple[OperationUpdate, ...]] = []

    def __call__(self, effect: CallCheckpoint | FetchState) -> Any:
        assert isinstance(effect, CallCheckpoint)
        self.calls.append(effect.updates)
        if self.fail is not None:
            raise self.fail
        number = len(self.calls)
        return accepted(None if number == self.revoke else f"t{number + 1}")


def handler_with_step_and_child(user_input: Any, scope: Scope) -> Any:
    value = step(
        begin(scope, StepRequest(lambda _: 1, "s", db.StepConfig(), lambda *_: None)), SCRIPT[0]
    )

    def body(ids: IdSequence) -> Generator[Any, Any, int]:
        return value + 1
        yield  # a generator: an internal child body

    return step(
        child_flow(
            scope,
            scope.ids.next(),
            Child("c", "RunInChildContext", body, JSON_SERDES, internal=True),
        ),
        SCRIPT[0],
    )


SCRIPT: list[Script] = []


def run_invocation(script: Script) -> dict[str, Any]:
    SCRIPT[:] = [script]
    output: dict[str, Any] = step(
        invocation_flow(event(), handler_with_step_and_child, JSON_SERDES, JSON_SERDES), script
    )
    return output


def test_a_scripted_invocation_succeeds_in_two_calls() -> None:
    script = Script()
    assert run_invocation(script) == {"Status": "SUCCEEDED", "Result": "2"}
    root_child = operation_id(None, 2)
    assert [[(u.id, u.action) for u in call] for call in script.calls] == [
        [
            (operation_id(None, 1), OperationAction.START),
            (operation_id(None, 1), OperationAction.SUCCEED),
        ],
        [(root_child, OperationAction.START), (root_child, OperationAction.SUCCEED)],
    ]


def test_a_revoked_token_on_the_last_batch_ends_pending() -> None:
    """protocol.md §4: no token on a non-terminal batch means revoked, even the last one."""
    script = Script(revoke=2)
    assert run_invocation(script) == {"Status": "PENDING"}
    assert len(script.calls) == 2


def test_a_terminal_checkpoint_error_fails_the_invocation_with_it() -> None:
    script = Script(fail=InvalidRequestError("update 0 is rejected", http_status=400))
    output = run_invocation(script)
    assert output["Status"] == "FAILED"
    assert output["Error"]["ErrorType"] == "durable_backend.exceptions.InvalidRequestError"
    assert len(script.calls) == 1  # nothing more is sent once a call failed for good

"""The pure service rules: every legal and illegal transition, batch rule and limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from durable_backend._errors import (
    CallbackNotOpenError,
    InvalidRequestError,
    StaleCheckpointTokenError,
)
from durable_backend._models import (
    CallbackOptions,
    ChainedInvokeOptions,
    ContextDetails,
    ContextOptions,
    ErrorObject,
    ExecutionStatus,
    Operation,
    OperationAction,
    OperationStatus,
    OperationType,
    OperationUpdate,
    StepDetails,
    StepOptions,
    WaitOptions,
)
from durable_backend._protocol import (
    MAX_DURATION_SECONDS,
    MAX_ERROR_BYTES,
    MAX_EXECUTION_RESULT_BYTES,
    MAX_PAYLOAD_BYTES,
)
from durable_backend.local import _rules as rules

A = OperationAction
T = OperationType
S = OperationStatus
NOW = datetime(2025, 1, 1, tzinfo=UTC)
ARN = "arn:aws:lambda:us-east-1:123456789012:function:fn:$LATEST/durable-execution/n/exec1"
EXEC_OP, _ = rules.start_execution(ARN, "n", '"in"', NOW, 60)


def upd(op_id: str, type_: OperationType, action: OperationAction, **kw: object) -> OperationUpdate:
    return OperationUpdate(op_id, type_, action, **kw)  # type: ignore[arg-type]


def op(op_id: str, type_: OperationType, status: OperationStatus, **kw: object) -> Operation:
    return Operation(op_id, type_, status, start_timestamp=NOW, **kw)  # type: ignore[arg-type]


def apply(updates: list[OperationUpdate], *ops: Operation) -> rules.BatchOutcome:
    existing = {EXEC_OP.id: EXEC_OP, **{o.id: o for o in ops}}
    return rules.apply_batch(ARN, existing, updates, NOW)


def rejected(match: str, updates: list[OperationUpdate], *ops: Operation) -> InvalidRequestError:
    with pytest.raises(InvalidRequestError, match=match) as info:
        apply(updates, *ops)
    assert info.value.code == "InvalidParameterValueException"
    assert info.value.http_status == 400
    return info.value


# ----------------------------------------------------------------------------- STEP


def test_step_start_then_succeed_in_one_batch() -> None:
    out = apply([upd("s", T.STEP, A.START, name="n", sub_type="Step"),
                 upd("s", T.STEP, A.SUCCEED, payload='"r"')])
    (step,) = out.operations
    assert step.status is S.SUCCEEDED
    assert step.step_details == StepDetails(attempt=1, result='"r"')
    assert step.name == "n" and step.sub_type == "Step"
    assert step.start_timestamp == NOW and step.end_timestamp == NOW
    assert [e.event_type for e in out.events] == ["StepStarted", "StepSucceeded"]
    assert out.events[1].details["Result"] == {"Payload": '"r"', "Truncated": False}
    assert out.events[1].details["RetryDetails"] == {"CurrentAttempt": 1}


def test_step_start_alone_is_started() -> None:
    (step,) = apply([upd("s", T.STEP, A.START)]).operations
    assert step.status is S.STARTED
    assert step.step_details == StepDetails(attempt=0)


@pytest.mark.parametrize("status", [S.STARTED, S.PENDING, S.SUCCEEDED, S.FAILED])
def test_step_start_rejected_unless_absent_or_ready(status: OperationStatus) -> None:
    rejected(f"is {status.value}; a STEP can be started only when absent or READY",
             [upd("s", T.STEP, A.START)], op("s", T.STEP, status))


def test_step_start_from_ready_keeps_attempt() -> None:
    ready = op("s", T.STEP, S.READY, step_details=StepDetails(attempt=2))
    (step,) = apply([upd("s", T.STEP, A.START)], ready).operations
    assert step.status is S.STARTED and step.step_details and step.step_details.attempt == 2


@pytest.mark.parametrize("action", [A.SUCCEED, A.FAIL])
@pytest.mark.parametrize("status", [None, S.STARTED, S.READY])
def test_step_finish_allowed(action: OperationAction, status: OperationStatus | None) -> None:
    existing = [] if status is None else [op("s", T.STEP, status,
                                             step_details=StepDetails(attempt=1))]
    kw: dict[str, object] = (
        {"payload": "1"} if action is A.SUCCEED else {"error": ErrorObject("boom", "E")}
    )
    (step,) = apply([upd("s", T.STEP, action, **kw)], *existing).operations
    assert step.status is (S.SUCCEEDED if action is A.SUCCEED else S.FAILED)
    assert step.step_details and step.step_details.attempt == (1 if status is None else 2)


@pytest.mark.parametrize("status", [S.PENDING, S.SUCCEEDED, S.FAILED])
@pytest.mark.parametrize("action", [A.SUCCEED, A.FAIL, A.RETRY])
def test_step_finish_rejected_from_closed(status: OperationStatus, action: OperationAction) -> None:
    rejected("is " + status.value,
             [upd("s", T.STEP, action, step_options=StepOptions(5))], op("s", T.STEP, status))


def test_succeed_with_error_and_fail_with_payload_rejected() -> None:
    rejected("SUCCEED cannot carry an Error", [upd("s", T.STEP, A.SUCCEED, error=ErrorObject())])
    rejected("FAIL cannot carry a Payload", [upd("s", T.STEP, A.FAIL, payload="x")])
    rejected("SUCCEED cannot carry an Error", [upd("c", T.CONTEXT, A.SUCCEED, error=ErrorObject())])


def test_step_retry_with_error() -> None:
    started = op("s", T.STEP, S.STARTED, step_details=StepDetails(attempt=0))
    out = apply([upd("s", T.STEP, A.RETRY, error=ErrorObject("x", "E"),
                     step_options=StepOptions(30))], started)
    (step,) = out.operations
    assert step.status is S.PENDING
    assert step.step_details == StepDetails(
        attempt=1, next_attempt_timestamp=NOW + timedelta(seconds=30), error=ErrorObject("x", "E")
    )
    (event,) = out.events
    assert event.event_type == "StepFailed"
    assert event.details["RetryDetails"] == {"CurrentAttempt": 1, "NextAttemptDelaySeconds": 30}
    assert event.details["Error"]["Payload"] == {"ErrorMessage": "x", "ErrorType": "E"}


def test_step_retry_without_error_is_a_succeeded_poll() -> None:
    out = apply([upd("s", T.STEP, A.START), upd("s", T.STEP, A.RETRY, payload='{"n":1}',
                                                 step_options=StepOptions(1))])
    assert out.operations[0].status is S.PENDING
    assert out.operations[0].step_details and out.operations[0].step_details.result == '{"n":1}'
    assert [e.event_type for e in out.events] == ["StepStarted", "StepSucceeded"]


def test_step_retry_rules() -> None:
    rejected("RETRY needs StepOptions", [upd("s", T.STEP, A.RETRY)])
    both = upd("s", T.STEP, A.RETRY, payload="1", error=ErrorObject(), step_options=StepOptions(1))
    rejected("either a Payload or an Error", [both])
    for bad in (0, MAX_DURATION_SECONDS + 1, None):
        rejected("NextAttemptDelaySeconds must be 1-31622400",
                 [upd("s", T.STEP, A.RETRY, step_options=StepOptions(bad))])
    apply([upd("s", T.STEP, A.RETRY, step_options=StepOptions(MAX_DURATION_SECONDS))])


# ----------------------------------------------------------------------------- CONTEXT


def test_context_start_and_finish() -> None:
    out = apply([upd("c", T.CONTEXT, A.START, sub_type="RunInChildContext"),
                 upd("k", T.STEP, A.START, parent_id="c"),
                 upd("k", T.STEP, A.SUCCEED, parent_id="c"),
                 upd("c", T.CONTEXT, A.SUCCEED, payload="7",
                     context_options=ContextOptions(replay_children=True))])
    ctx = out.operations[0]
    assert ctx.status is S.SUCCEEDED
    assert ctx.context_details == ContextDetails(replay_children=True, result="7")
    assert [e.event_type for e in out.events] == [
        "ContextStarted", "StepStarted", "StepSucceeded", "ContextSucceeded"]


def test_context_fail_from_absent_and_started() -> None:
    (ctx,) = apply([upd("c", T.CONTEXT, A.FAIL, error=ErrorObject("e"))]).operations
    assert ctx.status is S.FAILED and ctx.context_details
    assert ctx.context_details.error == ErrorObject("e")
    (ctx,) = apply([upd("c", T.CONTEXT, A.FAIL)], op("c", T.CONTEXT, S.STARTED)).operations
    assert ctx.status is S.FAILED


def test_context_rules() -> None:
    rejected("a CONTEXT can be started only when absent",
             [upd("c", T.CONTEXT, A.START)], op("c", T.CONTEXT, S.STARTED))
    rejected("a CONTEXT can finish only when absent or STARTED",
             [upd("c", T.CONTEXT, A.SUCCEED)], op("c", T.CONTEXT, S.SUCCEEDED))
    rejected("CONTEXT accepts only FAIL, START, SUCCEED", [upd("c", T.CONTEXT, A.RETRY)])


# ----------------------------------------------------------------------------- WAIT


def test_wait_start_and_cancel() -> None:
    out = apply([upd("w", T.WAIT, A.START, wait_options=WaitOptions(60))])
    (wait,) = out.operations
    assert wait.status is S.STARTED
    assert wait.wait_details and wait.wait_details.scheduled_end_timestamp == NOW + timedelta(
        seconds=60)
    assert out.events[0].details == {"Duration": 60,
                                     "ScheduledEndTimestamp": NOW + timedelta(seconds=60)}
    out = apply([upd("w", T.WAIT, A.CANCEL)], wait)
    assert out.operations[0].status is S.CANCELLED
    assert out.events[0].event_type == "WaitCancelled"


def test_wait_rules() -> None:
    for seconds in (None, 0, MAX_DURATION_SECONDS + 1):
        options = None if seconds is None else WaitOptions(seconds)
        rejected("WaitSeconds must be 1-31622400",
                 [upd("w", T.WAIT, A.START, wait_options=options)])
    rejected("a WAIT can be started only when absent",
             [upd("w", T.WAIT, A.START, wait_options=WaitOptions(1))], op("w", T.WAIT, S.STARTED))
    rejected("absent; a WAIT can be cancelled only while STARTED", [upd("w", T.WAIT, A.CANCEL)])
    rejected("SUCCEEDED; a WAIT can be cancelled only while STARTED",
             [upd("w", T.WAIT, A.CANCEL)], op("w", T.WAIT, S.SUCCEEDED))
    rejected("WAIT accepts only CANCEL, START", [upd("w", T.WAIT, A.SUCCEED)])


# ----------------------------------------------------------------------------- CALLBACK


def test_callback_start_mints_an_id_and_timer() -> None:
    out = apply([upd("cb", T.CALLBACK, A.START,
                     callback_options=CallbackOptions(timeout_seconds=100,
                                                      heartbeat_timeout_seconds=10))])
    (cb,) = out.operations
    assert cb.status is S.STARTED and cb.callback_details and cb.callback_details.callback_id
    callback_id = cb.callback_details.callback_id
    assert rules.parse_callback_id(callback_id, "X") == (ARN, "cb")
    assert out.events[0].details == {"CallbackId": callback_id, "Timeout": 100,
                                     "HeartbeatTimeout": 10}
    assert out.callback_timers["cb"] == rules.CallbackTimer(
        timeout_at=NOW + timedelta(seconds=100), heartbeat_seconds=10,
        heartbeat_at=NOW + timedelta(seconds=10))


def test_callback_rules() -> None:
    for action in (A.SUCCEED, A.FAIL, A.CANCEL):
        rejected("CALLBACK accepts only START", [upd("cb", T.CALLBACK, action)])
    rejected("a CALLBACK can be started only when absent",
             [upd("cb", T.CALLBACK, A.START)], op("cb", T.CALLBACK, S.STARTED))
    rejected("TimeoutSeconds must be 0-31622400", [upd(
        "cb", T.CALLBACK, A.START, callback_options=CallbackOptions(timeout_seconds=-1))])


def test_complete_callback() -> None:
    (cb,) = apply([upd("cb", T.CALLBACK, A.START)]).operations
    done, event = rules.complete_callback(cb, NOW, result="ok", call="C")
    assert done.status is S.SUCCEEDED and done.callback_details
    assert done.callback_details.result == "ok"
    assert event.event_type == "CallbackSucceeded"
    failed, event = rules.complete_callback(cb, NOW, error=ErrorObject("no"), failed=True, call="C")
    assert failed.status is S.FAILED and event.event_type == "CallbackFailed"
    with pytest.raises(CallbackNotOpenError, match="is not open"):
        rules.complete_callback(done, NOW, result="again", call="C")


# ----------------------------------------------------------------------------- CHAINED_INVOKE


def test_chained_invoke() -> None:
    rejected("START needs ChainedInvokeOptions.FunctionName",
             [upd("i", T.CHAINED_INVOKE, A.START)])
    out = apply([upd("i", T.CHAINED_INVOKE, A.START, payload="{}",
                     chained_invoke_options=ChainedInvokeOptions(function_name="other"))])
    (inv,) = out.operations
    assert inv.status is S.STARTED
    details = out.events[0].details
    assert details["FunctionName"] == "other"
    assert details["DurableExecutionArn"] == rules.chained_invoke_target_arn(ARN, "i", "other")
    assert ":function:other:" in details["DurableExecutionArn"]
    rejected("a CHAINED_INVOKE can be started only when absent", [upd(
        "i", T.CHAINED_INVOKE, A.START,
        chained_invoke_options=ChainedInvokeOptions(function_name="other"))], inv)
    done, event = rules.complete_chained_invoke(inv, S.TIMED_OUT, NOW, error=ErrorObject("t"))
    assert done.status is S.TIMED_OUT and event.event_type == "ChainedInvokeTimedOut"
    with pytest.raises(ValueError, match="cannot end as READY"):
        rules.complete_chained_invoke(inv, S.READY, NOW)


# ----------------------------------------------------------------------------- EXECUTION


@pytest.mark.parametrize("action", [A.SUCCEED, A.FAIL])
def test_execution_update_ends_the_execution(action: OperationAction) -> None:
    kw: dict[str, object] = {"payload": "big"} if action is A.SUCCEED else {"error": ErrorObject()}
    out = apply([upd("s", T.STEP, A.START),
                 upd("execution-result-1", T.EXECUTION, action, **kw)])
    assert out.execution_end is not None
    assert out.execution_end.status is (
        ExecutionStatus.SUCCEEDED if action is A.SUCCEED else ExecutionStatus.FAILED)
    assert out.operations[-1].id == EXEC_OP.id
    assert out.events[-1].event_type == (
        "ExecutionSucceeded" if action is A.SUCCEED else "ExecutionFailed")


def test_execution_update_rules() -> None:
    rejected("at most one", [upd("e1", T.EXECUTION, A.SUCCEED), upd("e2", T.EXECUTION, A.SUCCEED)])
    rejected("must be the last", [upd("e1", T.EXECUTION, A.SUCCEED), upd("s", T.STEP, A.START)])
    rejected("EXECUTION accepts only FAIL, SUCCEED", [upd("e1", T.EXECUTION, A.START)])


# ----------------------------------------------------------------------------- batch rules


@pytest.mark.parametrize(
    "batch",
    [
        [upd("s", T.STEP, A.START), upd("s", T.STEP, A.START)],
        [upd("s", T.STEP, A.SUCCEED), upd("s", T.STEP, A.SUCCEED)],
        [upd("s", T.STEP, A.START), upd("x", T.STEP, A.START), upd("s", T.STEP, A.START)],
        [upd("s", T.STEP, A.START), upd("s", T.STEP, A.RETRY, step_options=StepOptions(1)),
         upd("s", T.STEP, A.START)],
        [upd("w", T.WAIT, A.START, wait_options=WaitOptions(1)), upd("w", T.WAIT, A.CANCEL)],
    ],
)
def test_repeated_ids_rejected(batch: list[OperationUpdate]) -> None:
    error = rejected("already names this Id", batch)
    assert error.message.startswith(f"update {len(batch) - 1} (Id '{batch[-1].id}'")


def test_start_and_finish_may_be_apart() -> None:
    out = apply([upd("a", T.STEP, A.START), upd("b", T.STEP, A.START),
                 upd("b", T.STEP, A.SUCCEED), upd("a", T.STEP, A.FAIL)])
    assert [(o.id, o.status) for o in out.operations] == [("a", S.FAILED), ("b", S.SUCCEEDED)]


def test_parent_rules() -> None:
    rejected("ParentId 'nope' names no operation", [upd("s", T.STEP, A.START, parent_id="nope")])
    rejected("ParentId 'p' is a STEP", [upd("s", T.STEP, A.START, parent_id="p")],
             op("p", T.STEP, S.STARTED))
    rejected("names no operation", [upd("s", T.STEP, A.START, parent_id="c"),
                                    upd("c", T.CONTEXT, A.START)])
    apply([upd("s", T.STEP, A.START, parent_id="c")], op("c", T.CONTEXT, S.STARTED))


def test_identity_must_match_the_stored_operation() -> None:
    stored = op("s", T.STEP, S.READY, name="a", sub_type="Step", parent_id="c")
    ctx = op("c", T.CONTEXT, S.STARTED)
    rejected("Name 'b' differs from the stored 'a'", [upd("s", T.STEP, A.START, name="b")], stored)
    rejected("SubType 'X' differs", [upd("s", T.STEP, A.START, sub_type="X")], stored)
    rejected("ParentId 'c2' differs", [upd("s", T.STEP, A.START, parent_id="c2")], stored, ctx,
             op("c2", T.CONTEXT, S.STARTED))
    rejected("Type 'WAIT' differs", [upd("s", T.WAIT, A.START, wait_options=WaitOptions(1))],
             stored)
    apply([upd("s", T.STEP, A.START, name="a", sub_type="Step", parent_id="c")], stored, ctx)
    apply([upd("s", T.STEP, A.START)], stored)


def test_rejection_message_names_index_id_and_rule() -> None:
    error = rejected("update 1", [upd("ok", T.STEP, A.START), upd("w", T.WAIT, A.START)])
    assert error.message.startswith("update 1 (Id 'w', WAIT START) is rejected: ")
    assert "WaitSeconds" in error.message


@pytest.mark.parametrize(
    ("update", "match"),
    [
        (upd("", T.STEP, A.START), "Id '' must be 1-64"),
        (upd("x" * 65, T.STEP, A.START), "must be 1-64"),
        (upd("a b", T.STEP, A.START), "must be 1-64 characters of"),
        (upd("s", T.STEP, A.START, parent_id="p!"), "ParentId 'p!'"),
        (upd("s", T.STEP, A.START, name="x" * 257), "Name must be 1-256"),
        (upd("s", T.STEP, A.START, name="caf\u00e9"), "printable ASCII"),
        (upd("s", T.STEP, A.START, name=""), "Name must be"),
        (upd("s", T.STEP, A.START, sub_type="x" * 33), "SubType"),
    ],
)
def test_field_formats(update: OperationUpdate, match: str) -> None:
    rejected(match, [update])


def test_field_limits_at_the_boundary_pass() -> None:
    apply([upd("x" * 64, T.STEP, A.START, name="n" * 256, sub_type="s" * 32)])


def test_payload_and_error_limits() -> None:
    at_limit = "x" * MAX_PAYLOAD_BYTES
    apply([upd("s", T.STEP, A.SUCCEED, payload=at_limit)])
    rejected("Payload is 262145 bytes; the limit is 262144",
             [upd("s", T.STEP, A.SUCCEED, payload=at_limit + "x")])
    rejected("Payload is", [upd("s", T.STEP, A.SUCCEED, payload="\u00e9" * (2 ** 17 + 1))])
    rejected("Payload is", [upd("c", T.CONTEXT, A.SUCCEED, payload=at_limit + "x")])
    apply([upd("e", T.EXECUTION, A.SUCCEED, payload=at_limit * 20)])
    rejected("the limit is 6291456", [
        upd("e", T.EXECUTION, A.SUCCEED, payload="x" * (MAX_EXECUTION_RESULT_BYTES + 1))])
    rejected("Error serializes to", [
        upd("s", T.STEP, A.FAIL, error=ErrorObject(error_message="x" * MAX_ERROR_BYTES))])
    apply([upd("s", T.STEP, A.FAIL, error=ErrorObject(error_message="x" * 32_000))])


def test_a_rejected_batch_changes_nothing() -> None:
    existing = {EXEC_OP.id: EXEC_OP}
    with pytest.raises(InvalidRequestError):
        rules.apply_batch(ARN, existing, [upd("s", T.STEP, A.START), upd("w", T.WAIT, A.START)],
                          NOW)
    assert existing == {EXEC_OP.id: EXEC_OP}


def test_referenced_ids() -> None:
    ids = rules.referenced_ids(ARN, [upd("s", T.STEP, A.START, parent_id="c")])
    assert ids == {"exec1", "s", "c"}


# ----------------------------------------------------------------------------- time


def test_advance_time() -> None:
    pending = op("s", T.STEP, S.PENDING,
                 step_details=StepDetails(attempt=1, next_attempt_timestamp=NOW + timedelta(10)))
    (wait,) = apply([upd("w", T.WAIT, A.START, wait_options=WaitOptions(5))]).operations
    cb_out = apply([upd("cb", T.CALLBACK, A.START,
                        callback_options=CallbackOptions(timeout_seconds=20))])
    beat_out = apply([upd("hb", T.CALLBACK, A.START,
                          callback_options=CallbackOptions(heartbeat_timeout_seconds=3))])
    ops = [pending, wait, *cb_out.operations, *beat_out.operations]
    timers = {**cb_out.callback_timers, **beat_out.callback_timers}

    assert rules.advance_time(ops, NOW + timedelta(seconds=2), timers).operations == ()
    out = rules.advance_time(ops, NOW + timedelta(seconds=6), timers)
    assert [(o.id, o.status) for o in out.operations] == [("hb", S.TIMED_OUT), ("w", S.SUCCEEDED)]
    assert [e.event_type for e in out.events] == ["CallbackTimedOut", "WaitSucceeded"]
    assert out.events[0].details["Error"]["Payload"]["ErrorType"] == "Callback.Heartbeat"
    assert out.events[0].timestamp == NOW + timedelta(seconds=3)
    assert out.events[1].details == {"Duration": 5}
    assert out.operations[1].end_timestamp == NOW + timedelta(seconds=5)

    out = rules.advance_time(ops, NOW + timedelta(days=11), timers)
    statuses = {o.id: o for o in out.operations}
    assert statuses["s"].status is S.READY
    assert statuses["cb"].callback_details and statuses["cb"].callback_details.error
    assert statuses["cb"].callback_details.error.error_type == "Callback.Timeout"
    assert "StepSucceeded" not in [e.event_type for e in out.events]  # no event for READY


def test_heartbeat_pushes_the_deadline() -> None:
    timer = rules.CallbackTimer(heartbeat_seconds=10, heartbeat_at=NOW + timedelta(seconds=10))
    later = rules.heartbeat(timer, NOW + timedelta(seconds=8))
    assert later.heartbeat_at == NOW + timedelta(seconds=18)
    assert rules.heartbeat(rules.CallbackTimer(), NOW) == rules.CallbackTimer()


# ----------------------------------------------------------------------------- tokens, dedup


def test_token_chain() -> None:
    first, second = rules.mint_token(ARN, 1), rules.mint_token(ARN, 2)
    assert first != second
    rules.check_token(ARN, 2, second)
    with pytest.raises(StaleCheckpointTokenError) as info:
        rules.check_token(ARN, 2, first)
    assert info.value.message.startswith("Invalid checkpoint token")
    assert info.value.code == "InvalidParameterValueException"
    for bad in ("garbage!", rules.mint_token(ARN + "x", 2)):
        with pytest.raises(StaleCheckpointTokenError, match="Invalid checkpoint token"):
            rules.check_token(ARN, 2, bad)
    with pytest.raises(StaleCheckpointTokenError, match="has ended"):
        rules.check_token(ARN, None, second)


def test_client_token_dedup() -> None:
    updates = [upd("s", T.STEP, A.START)]
    fp = rules.request_fingerprint("tok", updates)
    entry = rules.client_token_entry(fp, NOW)
    assert rules.is_repeat(None, "c", fp, NOW) is False
    assert rules.is_repeat(entry, "c", fp, NOW + timedelta(minutes=14)) is True
    assert rules.is_repeat(entry, "c", fp, NOW + timedelta(minutes=15)) is False
    other = rules.request_fingerprint("tok", [upd("s", T.STEP, A.SUCCEED)])
    with pytest.raises(InvalidRequestError, match="different checkpoint request"):
        rules.is_repeat(entry, "c", other, NOW)
    with pytest.raises(InvalidRequestError, match="ClientToken must be 1-64"):
        rules.check_client_token("x" * 65)


# ----------------------------------------------------------------------------- visibility, paging


def test_children_of_completed_contexts_are_hidden_unless_replay_children() -> None:
    done = op("c", T.CONTEXT, S.SUCCEEDED)
    replay = op("r", T.CONTEXT, S.SUCCEEDED, context_details=ContextDetails(replay_children=True))
    running = op("g", T.CONTEXT, S.STARTED)
    ops = [done, replay, running, op("c1", T.STEP, S.SUCCEEDED, parent_id="c"),
           op("c2", T.CONTEXT, S.STARTED, parent_id="c"),
           op("c3", T.STEP, S.STARTED, parent_id="c2"),
           op("r1", T.STEP, S.SUCCEEDED, parent_id="r"),
           op("g1", T.STEP, S.SUCCEEDED, parent_id="g")]
    by_id = {o.id: o for o in ops}
    assert [o.id for o in rules.visible_operations(ops, by_id.get)] == ["c", "r", "g", "r1", "g1"]


def test_state_page() -> None:
    ops = [op(f"s{i}", T.STEP, S.STARTED) for i in range(5)]
    page, marker = rules.state_page(ops, "", 2)
    assert [o.id for o in page] == ["s0", "s1"] and marker == "2"
    page, marker = rules.state_page(ops, marker, 2)
    page, marker = rules.state_page(ops, marker, 2)
    assert [o.id for o in page] == ["s4"] and marker == ""
    with pytest.raises(InvalidRequestError, match="MaxItems must be 1-1000"):
        rules.state_page(ops, "", 1001)
    with pytest.raises(InvalidRequestError, match="Marker 'x'"):
        rules.state_page(ops, "x", 10)


def test_history_event_wire_shape() -> None:
    out = apply([upd("s", T.STEP, A.SUCCEED, name="n", sub_type="Step", payload="1")])
    wire = out.events[0].to_wire(7)
    assert wire == {
        "EventType": "StepSucceeded", "EventId": 7, "EventTimestamp": NOW, "Id": "s", "Name": "n",
        "SubType": "Step",
        "StepSucceededDetails": {"Result": {"Payload": "1", "Truncated": False},
                                 "RetryDetails": {"CurrentAttempt": 1}},
    }
    lean = out.events[0].to_wire(7, include_execution_data=False)
    assert lean["StepSucceededDetails"]["Result"] == {"Truncated": False}


def test_finish_execution_events() -> None:
    for status, event_type in [(ExecutionStatus.STOPPED, "ExecutionStopped"),
                               (ExecutionStatus.TIMED_OUT, "ExecutionTimedOut")]:
        closed, event = rules.finish_execution(EXEC_OP, rules.ExecutionEnd(status), NOW)
        assert event.event_type == event_type
        assert closed.status.value == status.value and closed.end_timestamp == NOW

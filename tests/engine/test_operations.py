"""Every durable operation, run through both twins on the in-memory fake service."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import re
from collections import Counter
from datetime import timedelta
from typing import Any

import attrs
import pytest

import durable_backend as db
from durable_backend._engine import operation_id
from durable_backend._models import OperationAction as A
from durable_backend._models import OperationType as T
from durable_backend.backend import (
    ErrorObject,
    ExecutionStatus,
    InvalidRequestError,
    OperationStatus,
    StaleCheckpointTokenError,
)
from durable_backend.exceptions import InvalidEventError
from tests.engine.conftest import Twin
from tests.support.service import CheckpointCall, MemoryBackend

ROOT_1 = operation_id(None, 1)
ROOT_2 = operation_id(None, 2)
ROOT_3 = operation_id(None, 3)


def no_retry() -> db.StepConfig:
    return db.StepConfig(retry_strategy=db.RetryPresets.none())


def retry_every(seconds: int, attempts: int) -> db.StepConfig:
    def strategy(error: Exception, attempts_made: int) -> db.RetryDecision:
        if attempts_made >= attempts:
            return db.RetryDecision.no_retry()
        return db.RetryDecision.retry(db.Duration.from_seconds(seconds))

    return db.StepConfig(retry_strategy=strategy)


def shape(call: CheckpointCall) -> list[tuple[str, str, str]]:
    return [(u.type.value, u.action.value, u.id) for u in call.updates]


def all_updates(backend: MemoryBackend) -> list[Any]:
    return [u for call in backend.checkpoint_calls() for u in call.updates]


# --- steps ------------------------------------------------------------------------------------


def test_step_result_replays_without_rerunning_or_checkpointing(twin: Twin) -> None:
    runs: Counter[str] = Counter()

    def body(step_ctx: db.StepContext) -> dict[str, int]:
        runs["a"] += 1
        return {"n": 41}

    seen: list[Any] = []

    def scenario(event: Any, ctx: Any) -> Any:
        value = yield ctx.step(body, name="a")
        seen.append(value)
        yield ctx.wait(10)
        return value["n"] + 1

    backend = MemoryBackend()
    arn, _ = backend.start_execution()
    assert twin.invoke(scenario, backend, arn)["Status"] == "PENDING"
    # The timer has not fired: the next invocation is a pure replay.
    backend.calls.clear()
    assert twin.invoke(scenario, backend, arn)["Status"] == "PENDING"
    assert backend.checkpoint_calls() == []
    assert runs["a"] == 1
    backend.advance(10)
    output = twin.invoke(scenario, backend, arn)
    assert output == {"Status": "SUCCEEDED", "Result": "42"}
    assert runs["a"] == 1
    assert seen == [{"n": 41}] * 3


def test_step_retries_then_succeeds_on_a_later_invocation(twin: Twin) -> None:
    attempts: list[int] = []

    def flaky(step_ctx: db.StepContext) -> str:
        attempts.append(step_ctx.attempt)
        if step_ctx.attempt < 3:
            raise ValueError(f"attempt {step_ctx.attempt} failed")
        return "ok"

    def scenario(event: Any, ctx: Any) -> Any:
        return (yield ctx.step(flaky, name="flaky", config=retry_every(7, 5)))

    outcome = twin.run(scenario)
    assert [o["Status"] for o in outcome.outputs] == ["PENDING", "PENDING", "SUCCEEDED"]
    assert outcome.result == "ok"
    assert attempts == [1, 2, 3]
    retries = [u for u in all_updates(outcome.backend) if u.action is A.RETRY]
    assert len(retries) == 2
    assert all(u.step_options.next_attempt_delay_seconds == 7 for u in retries)
    assert retries[0].error.error_type == "ValueError"
    assert retries[0].error.error_message == "attempt 1 failed"
    assert outcome.backend.history_types(outcome.arn).count("StepFailed") == 2


def test_step_found_pending_suspends_until_the_retry_is_due(twin: Twin) -> None:
    runs: list[int] = []

    def flaky(step_ctx: db.StepContext) -> int:
        runs.append(step_ctx.attempt)
        if step_ctx.attempt == 1:
            raise RuntimeError("first")
        return 1

    def scenario(event: Any, ctx: Any) -> Any:
        return (yield ctx.step(flaky, config=retry_every(30, 3)))

    backend = MemoryBackend()
    arn, _ = backend.start_execution()
    assert twin.invoke(scenario, backend, arn)["Status"] == "PENDING"
    backend.calls.clear()
    assert twin.invoke(scenario, backend, arn)["Status"] == "PENDING"  # not yet due
    assert backend.checkpoint_calls() == [] and runs == [1]
    backend.advance(30)
    assert twin.invoke(scenario, backend, arn) == {"Status": "SUCCEEDED", "Result": "1"}
    assert runs == [1, 2]


def test_retries_exhausted_raise_step_error_to_user_code(twin: Twin) -> None:
    def always_fails(step_ctx: db.StepContext) -> None:
        raise KeyError("missing thing")

    def scenario(event: Any, ctx: Any) -> Any:
        try:
            yield ctx.step(always_fails, name="s", config=retry_every(2, 2))
        except db.StepError as error:
            return {"type": error.error_type, "message": error.message}
        return "not reached"

    outcome = twin.run(scenario)
    assert outcome.status == "SUCCEEDED"
    assert outcome.result == {"type": "KeyError", "message": "'missing thing'"}
    actions = [u.action for u in all_updates(outcome.backend) if u.id == ROOT_1]
    assert actions == [A.START, A.RETRY, A.START, A.FAIL]  # each attempt STARTs anew


def test_uncaught_step_error_fails_the_execution_and_replays_as_the_same_error(
    twin: Twin,
) -> None:
    errors: list[tuple[str, str | None]] = []

    def scenario(event: Any, ctx: Any) -> Any:
        def fail(step_ctx: db.StepContext) -> None:
            raise ValueError("bad input")

        try:
            yield ctx.step(fail, name="s", config=no_retry())
        except db.StepError as error:
            errors.append((type(error).__name__, error.message))
        yield ctx.wait(1)
        yield ctx.step(fail, name="s2", config=no_retry())

    outcome = twin.run(scenario)
    assert outcome.status == "FAILED"
    assert outcome.error["ErrorMessage"] == "bad input"
    assert "StepError" in outcome.error["ErrorType"]
    # First run and replay raise the same class with the same message.
    assert errors == [("StepError", "bad input")] * 2


def test_at_most_once_start_is_durable_before_the_body_runs(twin: Twin) -> None:
    backend = MemoryBackend()
    seen_calls: list[list[tuple[str, str, str]]] = []

    def body(step_ctx: db.StepContext) -> int:
        seen_calls.extend(shape(c) for c in backend.checkpoint_calls())
        return 5

    config = db.StepConfig(step_semantics=db.StepSemantics.AT_MOST_ONCE_PER_RETRY)

    def scenario(event: Any, ctx: Any) -> Any:
        return (yield ctx.step(body, name="once", config=config))

    outcome = twin.run(scenario, backend=backend)
    assert outcome.result == 5
    assert seen_calls == [[("STEP", "START", ROOT_1)]]
    assert [shape(c) for c in backend.checkpoint_calls()] == [
        [("STEP", "START", ROOT_1)],
        [("STEP", "SUCCEED", ROOT_1)],
    ]


class Crash(BaseException):
    """Stands for the invocation dying mid-step (timeout, OOM): nothing catches it."""


def test_at_least_once_step_found_started_reruns_without_a_new_start(twin: Twin) -> None:
    runs: list[int] = []

    def body(step_ctx: db.StepContext) -> str:
        runs.append(step_ctx.attempt)
        if len(runs) == 1:
            raise Crash
        return "done"

    def scenario(event: Any, ctx: Any) -> Any:
        return (yield ctx.step(twin.slow(body, 0.15), name="slow"))

    backend = MemoryBackend()
    arn, _ = backend.start_execution()
    with pytest.raises(Crash):
        twin.invoke(scenario, backend, arn)
    assert backend.operation(arn, ROOT_1).status is OperationStatus.STARTED
    backend.calls.clear()
    assert twin.invoke(scenario, backend, arn) == {"Status": "SUCCEEDED", "Result": '"done"'}
    assert runs == [1, 1]
    assert [shape(c) for c in backend.checkpoint_calls()] == [[("STEP", "SUCCEED", ROOT_1)]]


def test_at_most_once_step_found_started_goes_to_the_retry_strategy(twin: Twin) -> None:
    runs: list[int] = []
    asked: list[tuple[str, int]] = []

    def body(step_ctx: db.StepContext) -> str:
        runs.append(step_ctx.attempt)
        if len(runs) == 1:
            raise Crash
        return "done"

    def strategy(error: Exception, attempts_made: int) -> db.RetryDecision:
        asked.append((type(error).__name__, attempts_made))
        return db.RetryDecision.retry(5)

    config = db.StepConfig(
        retry_strategy=strategy, step_semantics=db.StepSemantics.AT_MOST_ONCE_PER_RETRY
    )

    def scenario(event: Any, ctx: Any) -> Any:
        return (yield ctx.step(body, name="once", config=config))

    backend = MemoryBackend()
    arn, _ = backend.start_execution()
    with pytest.raises(Crash):
        twin.invoke(scenario, backend, arn)
    assert twin.invoke(scenario, backend, arn)["Status"] == "PENDING"
    assert runs == [1]  # the interrupted attempt was not re-run
    assert asked == [("StepInterruptedError", 1)]
    backend.advance(5)
    assert twin.invoke(scenario, backend, arn)["Status"] == "SUCCEEDED"
    assert runs == [1, 2]


@attrs.frozen
class Point:
    x: int
    y: int


@dataclasses.dataclass(frozen=True)
class Box:
    label: str
    size: tuple[int, int]


def test_annotated_step_results_round_trip_on_first_run_and_replay(twin: Twin) -> None:
    seen: list[tuple[Any, Any]] = []

    def make_point(step_ctx: db.StepContext) -> Point:
        return Point(1, 2)

    def make_box(step_ctx: db.StepContext) -> Box:
        return Box("b", (3, 4))

    def scenario(event: Any, ctx: Any) -> Any:
        point = yield ctx.step(make_point)
        box = yield ctx.step(make_box)
        seen.append((point, box))
        yield ctx.wait(1)
        return "ok"

    outcome = twin.run(scenario)
    assert outcome.result == "ok"
    assert seen == [(Point(1, 2), Box("b", (3, 4)))] * 2
    assert all(type(p) is Point and type(b) is Box for p, b in seen)
    stored = outcome.backend.operation(outcome.arn, ROOT_1).step_details
    assert json.loads(stored.result) == {"x": 1, "y": 2}


def test_unserializable_step_result_fails_the_step_without_retry(twin: Twin) -> None:
    runs = Counter[str]()

    def body(step_ctx: db.StepContext) -> Any:
        runs["body"] += 1
        return object()

    def scenario(event: Any, ctx: Any) -> Any:
        try:
            yield ctx.step(body, name="bad", config=retry_every(1, 5))
        except db.StepError as error:
            return error.error_type
        return "not reached"

    outcome = twin.run(scenario)
    assert outcome.result == "durable_backend.exceptions.SerDesError"
    assert runs["body"] == 1
    updates = all_updates(outcome.backend)
    assert [u.action for u in updates] == [A.START, A.FAIL]
    assert updates[1].error.error_type == "durable_backend.exceptions.SerDesError"
    assert "object" in updates[1].error.error_message


# --- waits ------------------------------------------------------------------------------------


def test_wait_accepts_seconds_timedelta_and_duration(twin: Twin) -> None:
    def scenario(event: Any, ctx: Any) -> Any:
        yield ctx.wait(5)
        yield ctx.wait(timedelta(minutes=1, seconds=30), name="ninety")
        yield ctx.wait(db.Duration.from_minutes(2))
        return "woke"

    outcome = twin.run(scenario)
    assert outcome.result == "woke"
    assert [o["Status"] for o in outcome.outputs] == ["PENDING"] * 3 + ["SUCCEEDED"]
    waits = [u for u in all_updates(outcome.backend) if u.type is T.WAIT]
    assert [(u.wait_options.wait_seconds, u.name, u.sub_type) for u in waits] == [
        (5, None, "Wait"),
        (90, "ninety", "Wait"),
        (120, None, "Wait"),
    ]


@pytest.mark.parametrize("duration", [0, -1, timedelta(0), timedelta(seconds=-5)])
def test_wait_under_one_second_is_rejected_before_any_checkpoint(twin: Twin, duration: Any) -> None:
    def scenario(event: Any, ctx: Any) -> Any:
        try:
            yield ctx.wait(duration)
        except db.ValidationError as error:
            return str(error)
        return "not reached"

    outcome = twin.run(scenario)
    assert outcome.status == "SUCCEEDED"
    assert "wait duration" in outcome.result
    assert outcome.backend.checkpoint_calls() == []


# --- callbacks --------------------------------------------------------------------------------


def test_create_callback_returns_the_raw_answer(twin: Twin) -> None:
    ids: list[str] = []

    def scenario(event: Any, ctx: Any) -> Any:
        callback = yield ctx.create_callback(name="approval")
        ids.append(callback.callback_id)
        return (yield callback.result())

    outcome = twin.run(scenario)
    assert outcome.status == "PENDING"
    updates = all_updates(outcome.backend)
    assert [(u.type, u.action, u.name, u.sub_type) for u in updates] == [
        (T.CALLBACK, A.START, "approval", "Callback")
    ]
    outcome.backend.complete_callback(ids[0], '{"approved": true}')
    twin.resume(outcome)
    assert outcome.status == "SUCCEEDED"
    assert outcome.result == '{"approved": true}'
    assert len(set(ids)) == 1  # the replay handed out the same id


def test_callback_timeout_raises_callback_timeout_error(twin: Twin) -> None:
    def scenario(event: Any, ctx: Any) -> Any:
        callback = yield ctx.create_callback(config=db.CallbackConfig(timeout=10))
        try:
            yield callback.result()
        except db.CallbackTimeoutError as error:
            return [type(error).__name__, error.error_type]
        return "not reached"

    outcome = twin.run(scenario)
    assert outcome.status == "PENDING"
    start = all_updates(outcome.backend)[0]
    assert start.callback_options.timeout_seconds == 10
    outcome.backend.advance(11)
    twin.resume(outcome)
    assert outcome.result == ["CallbackTimeoutError", "Callback.Timeout"]


def test_callback_failure_raises_callback_external_error(twin: Twin) -> None:
    ids: list[str] = []

    def scenario(event: Any, ctx: Any) -> Any:
        callback = yield ctx.create_callback()
        ids.append(callback.callback_id)
        try:
            yield callback.result()
        except db.CallbackExternalError as error:
            return [error.error_type, error.message]
        return "not reached"

    outcome = twin.run(scenario)
    outcome.backend.complete_callback(
        ids[0], error=ErrorObject(error_message="rejected by a human", error_type="Rejected")
    )
    twin.resume(outcome)
    assert outcome.result == ["Rejected", "rejected by a human"]


def test_wait_for_callback_hands_the_id_to_the_submitter(twin: Twin) -> None:
    submitted: list[tuple[str, type]] = []

    def submit(callback_id: str, submit_ctx: db.WaitForCallbackContext) -> None:
        submitted.append((callback_id, type(submit_ctx)))

    def scenario(event: Any, ctx: Any) -> Any:
        return (yield ctx.wait_for_callback(submit, name="ask"))

    outcome = twin.run(scenario)
    assert outcome.status == "PENDING"
    assert len(submitted) == 1
    assert submitted[0][1] is db.WaitForCallbackContext
    outcome.backend.complete_callback(submitted[0][0], '"yes"')
    twin.resume(outcome)
    assert outcome.result == '"yes"'  # the raw answer, as the official SDK returns it
    assert len(submitted) == 1  # the submitter step replays, it does not run again
    ops = outcome.backend.operations(outcome.arn)
    labels = [(op.type, op.sub_type, op.name, op.parent_id) for op in ops[1:]]
    assert labels == [
        (T.CONTEXT, "WaitForCallback", "ask", None),
        (T.CALLBACK, "Callback", "ask create callback id", ROOT_1),
        (T.STEP, "Step", "ask submitter", ROOT_1),
    ]


def test_wait_for_callback_submitter_failure(twin: Twin) -> None:
    def submit(callback_id: str, step_ctx: db.StepContext) -> None:
        raise ConnectionError("queue unreachable")

    config = db.WaitForCallbackConfig(retry_strategy=db.RetryPresets.none())

    def scenario(event: Any, ctx: Any) -> Any:
        try:
            yield ctx.wait_for_callback(submit, config=config)
        except db.CallbackSubmitterError as error:
            return [type(error).__name__, error.message]
        return "not reached"

    outcome = twin.run(scenario)
    assert outcome.result == ["CallbackSubmitterError", "queue unreachable"]


# --- chained invokes --------------------------------------------------------------------------


def test_invoke_starts_once_and_returns_the_target_result(twin: Twin) -> None:
    def scenario(event: Any, ctx: Any) -> Any:
        return (yield ctx.invoke("billing", {"order": 7}, name="charge"))

    outcome = twin.run(scenario)
    assert outcome.status == "PENDING"
    (pending,) = outcome.backend.pending_chained_invokes(outcome.arn)
    (start,) = all_updates(outcome.backend)
    assert start.type is T.CHAINED_INVOKE and start.sub_type == "ChainedInvoke"
    assert start.chained_invoke_options.function_name == "billing"
    assert json.loads(start.payload) == {"order": 7}
    outcome.backend.complete_chained_invoke(outcome.arn, pending.id, '{"charged": 7}')
    twin.resume(outcome)
    assert outcome.result == {"charged": 7}
    assert len(all_updates(outcome.backend)) == 1


def test_invoke_failure_raises_invoke_error(twin: Twin) -> None:
    def scenario(event: Any, ctx: Any) -> Any:
        try:
            yield ctx.invoke("billing", None)
        except db.InvokeError as error:
            return [error.error_type, error.message]
        return "not reached"

    outcome = twin.run(scenario)
    outcome.backend.complete_chained_invoke(
        outcome.arn, ROOT_1, error=ErrorObject(error_message="card declined", error_type="Pay")
    )
    twin.resume(outcome)
    assert outcome.result == ["Pay", "card declined"]


# --- child contexts ---------------------------------------------------------------------------


def test_child_context_nests_ids_under_its_own(twin: Twin) -> None:
    runs: Counter[str] = Counter()

    def child(ctx: Any) -> Any:
        a = yield ctx.step(lambda _: runs.update(["a"]) or 1, name="a")
        b = yield ctx.step(lambda _: runs.update(["b"]) or 2, name="b")
        return a + b

    def scenario(event: Any, ctx: Any) -> Any:
        total = yield ctx.run_in_child_context(twin.body(child), name="kid")
        yield ctx.wait(1)
        return total

    outcome = twin.run(scenario)
    assert outcome.result == 3
    assert runs == {"a": 1, "b": 1}
    ops = {op.id: op for op in outcome.backend.operations(outcome.arn)}
    assert ops[ROOT_1].type is T.CONTEXT and ops[ROOT_1].sub_type == "RunInChildContext"
    first, second = operation_id(ROOT_1, 1), operation_id(ROOT_1, 2)
    assert (ops[first].name, ops[first].parent_id) == ("a", ROOT_1)
    assert (ops[second].name, ops[second].parent_id) == ("b", ROOT_1)
    assert ops[ROOT_2].type is T.WAIT


def test_child_context_failure_raises_child_context_error_with_cause(twin: Twin) -> None:
    def child(ctx: Any) -> Any:
        yield ctx.step(lambda _: 1)
        raise LookupError("inner")

    def scenario(event: Any, ctx: Any) -> Any:
        try:
            yield ctx.run_in_child_context(twin.body(child))
        except db.ChildContextError as error:
            return [error.error_type, error.message]
        return "not reached"

    outcome = twin.run(scenario)
    assert outcome.result == ["LookupError", "inner"]


def test_large_child_result_replays_children(twin: Twin) -> None:
    runs: Counter[str] = Counter()
    half = "x" * (150 * 1024)  # each step stays under the 256 KiB operation limit
    big = half * 2

    def child(ctx: Any) -> Any:
        runs["child"] += 1
        first = yield ctx.step(lambda _: runs.update(["step"]) or half)
        second = yield ctx.step(lambda _: runs.update(["step"]) or half)
        return first + second

    config = db.ChildConfig(summary_generator=lambda value: f"{len(value)} chars")

    def scenario(event: Any, ctx: Any) -> Any:
        value = yield ctx.run_in_child_context(twin.body(child), config=config)
        yield ctx.wait(1)
        return len(value)

    outcome = twin.run(scenario)
    assert outcome.result == len(big)
    assert runs == {"child": 2, "step": 2}  # the body re-ran; its steps replayed
    context = outcome.backend.operation(outcome.arn, ROOT_1)
    assert context.context_details.replay_children is True
    assert context.context_details.result == f"{len(big)} chars"


# --- determinism, failures, the event ---------------------------------------------------------


def test_changed_code_fails_naming_both_sides(twin: Twin) -> None:
    def before(event: Any, ctx: Any) -> Any:
        yield ctx.step(lambda _: 1, name="charge card")
        yield ctx.wait(1)

    def after(event: Any, ctx: Any) -> Any:
        with contextlib.suppress(Exception):  # user code swallowing it must not hide it
            yield ctx.step(lambda _: 1, name="send email")
        return "swallowed"

    backend = MemoryBackend()
    arn, _ = backend.start_execution()
    assert twin.invoke(before, backend, arn)["Status"] == "PENDING"
    backend.advance(1)
    output = twin.invoke(after, backend, arn)
    assert output["Status"] == "FAILED"
    assert output["Error"]["ErrorType"] == (
        "durable_backend.exceptions.NonDeterministicExecutionError"
    )
    message = output["Error"]["ErrorMessage"]
    assert "'charge card'" in message and "'send email'" in message
    assert not re.search(r"[0-9a-f]{16}", message)  # names, not 64-hex operation ids


def test_changed_operation_type_is_non_deterministic(twin: Twin) -> None:
    def before(event: Any, ctx: Any) -> Any:
        yield ctx.wait(1)

    def after(event: Any, ctx: Any) -> Any:
        return (yield ctx.step(lambda _: 1))

    backend = MemoryBackend()
    arn, _ = backend.start_execution()
    twin.invoke(before, backend, arn)
    backend.advance(1)
    output = twin.invoke(after, backend, arn)
    assert output["Status"] == "FAILED"
    assert "WAIT/Wait" in output["Error"]["ErrorMessage"]
    assert "STEP/Step" in output["Error"]["ErrorMessage"]


def test_user_exception_fails_with_an_error_object(twin: Twin) -> None:
    def scenario(event: Any, ctx: Any) -> Any:
        yield ctx.step(lambda _: 1)
        raise ValueError(f"bad order {event['id']}")

    outcome = twin.run(scenario, '{"id": 9}')
    assert outcome.status == "FAILED"
    assert outcome.error["ErrorType"] == "ValueError"
    assert outcome.error["ErrorMessage"] == "bad order 9"
    assert outcome.error["StackTrace"]
    assert "Result" not in outcome.outputs[-1]


def test_input_payload_reaches_the_handler(twin: Twin) -> None:
    def scenario(event: Any, ctx: Any) -> Any:
        yield ctx.step(lambda _: None)
        return {"echo": event, "arn": ctx.execution_arn}

    outcome = twin.run(scenario, '{"a": [1, 2]}')
    assert outcome.result == {"echo": {"a": [1, 2]}, "arn": outcome.arn}


@pytest.mark.parametrize(
    ("event", "named"),
    [
        ({}, "DurableExecutionArn and CheckpointToken"),
        ({"DurableExecutionArn": "arn:x/durable-execution/n/1"}, "CheckpointToken"),
        ({"DurableExecutionArn": "", "CheckpointToken": "t"}, "DurableExecutionArn"),
        ("just a string", "got str"),
        ([1, 2], "got list"),
        (
            {"DurableExecutionArn": "a", "CheckpointToken": "t", "InitialExecutionState": 3},
            "InitialExecutionState must be an object",
        ),
    ],
)
def test_malformed_event_raises_invalid_event_error(twin: Twin, event: Any, named: str) -> None:
    def scenario(event: Any, ctx: Any) -> Any:
        return (yield ctx.step(lambda _: 1))

    handler = twin.handler(scenario, MemoryBackend())
    with pytest.raises(InvalidEventError) as info:
        handler(event, None)
    assert named in str(info.value)


def test_result_over_the_response_limit_goes_through_an_execution_checkpoint(
    twin: Twin,
) -> None:
    big = "y" * (6 * 1024 * 1024 - 40)  # over 6 MiB - 50 once JSON-quoted, under 6 MiB

    def scenario(event: Any, ctx: Any) -> Any:
        yield ctx.step(lambda _: 1)
        return big

    outcome = twin.run(scenario)
    assert outcome.outputs[-1] == {"Status": "SUCCEEDED", "Result": ""}
    last = outcome.backend.checkpoint_calls()[-1].updates[-1]
    assert last.type is T.EXECUTION and last.action is A.SUCCEED
    assert last.id.startswith("execution-result-")
    assert json.loads(last.payload) == big
    end = outcome.backend.execution_end(outcome.arn)
    assert end is not None and end.status is ExecutionStatus.SUCCEEDED
    assert json.loads(end.result) == big


class RevokingBackend(MemoryBackend):
    """Answers one checkpoint without a token, as the service does for a revoked invocation."""

    revoke_next = False

    def checkpoint(self, *args: Any, **kwargs: Any) -> Any:
        output = super().checkpoint(*args, **kwargs)
        if self.revoke_next:
            self.revoke_next = False
            return attrs.evolve(output, checkpoint_token=None)
        return output


def test_revoked_token_ends_the_invocation_as_pending(twin: Twin) -> None:
    backend = RevokingBackend()
    runs: list[str] = []

    def scenario(event: Any, ctx: Any) -> Any:
        backend.revoke_next = True
        yield ctx.step(lambda _: runs.append("a"), name="a")
        yield ctx.step(lambda _: runs.append("b"), name="b")
        return "done"

    arn, _ = backend.start_execution()
    assert twin.invoke(scenario, backend, arn) == {"Status": "PENDING"}
    assert runs == ["a"]
    assert len(backend.checkpoint_calls()) == 1


def test_stale_token_from_the_backend_is_raised_out_of_the_handler(twin: Twin) -> None:
    backend = MemoryBackend()
    stale = StaleCheckpointTokenError(
        "Invalid checkpoint token", code="InvalidParameterValueException", http_status=400
    )

    def scenario(event: Any, ctx: Any) -> Any:
        with contextlib.suppress(Exception):  # user code cannot turn it into success
            yield ctx.step(lambda _: 1)
        return "done"

    arn, _ = backend.start_execution()
    backend.fail_next_checkpoint(stale)
    with pytest.raises(StaleCheckpointTokenError):
        twin.invoke(scenario, backend, arn)


def test_terminal_backend_error_fails_the_execution(twin: Twin) -> None:
    backend = MemoryBackend()
    rejected = InvalidRequestError(
        "update 0 is rejected", code="InvalidParameterValueException", http_status=400
    )

    def scenario(event: Any, ctx: Any) -> Any:
        yield ctx.step(lambda _: 1)
        return "done"

    arn, _ = backend.start_execution()
    backend.fail_next_checkpoint(rejected)
    output = twin.invoke(scenario, backend, arn)
    assert output["Status"] == "FAILED"
    assert output["Error"]["ErrorType"] == "durable_backend.exceptions.InvalidRequestError"


def test_async_body_in_the_sync_twin_is_a_type_error_at_the_call() -> None:
    sync = Twin("sync")
    runs = Counter[str]()

    async def body(step_ctx: db.StepContext) -> int:
        runs["body"] += 1
        return 1

    def scenario(event: Any, ctx: Any) -> Any:
        try:
            yield ctx.step(body)
        except TypeError as error:
            return str(error)
        return "not reached"

    outcome = sync.run(scenario)
    assert "async function" in outcome.result and "body" in outcome.result
    assert runs["body"] == 0
    assert outcome.backend.checkpoint_calls() == []


def test_plain_body_returning_a_coroutine_in_the_sync_twin_is_not_retried() -> None:
    sync = Twin("sync")
    attempts: list[int] = []

    async def work() -> int:
        return 1

    def body(step_ctx: db.StepContext) -> Any:
        attempts.append(step_ctx.attempt)
        return work()

    def scenario(event: Any, ctx: Any) -> Any:
        try:
            yield ctx.step(body)
        except TypeError as error:
            return str(error)
        return "not reached"

    outcome = sync.run(scenario)
    assert "returned an awaitable" in outcome.result
    assert attempts == [1]


# --- the async twin's concurrency -------------------------------------------------------------


def run_async_handler(fn: Any, backend: MemoryBackend, payload: str | None = None) -> str:
    handler = db.durable_execution(backend=backend.async_)(fn)
    return backend.run(lambda event, c: asyncio.run(handler.run_async(event, c)), payload)


def test_gather_takes_ids_in_call_order_and_replays() -> None:
    backend = MemoryBackend()
    finished: list[str] = []

    async def slow(step_ctx: db.StepContext) -> str:
        await asyncio.sleep(0.02)
        finished.append("a")
        return "A"

    def fast(step_ctx: db.StepContext) -> str:
        finished.append("b")
        return "B"

    results: list[Any] = []

    async def handler(event: Any, ctx: db.AsyncDurableContext) -> list[str]:
        pair = await asyncio.gather(ctx.step(slow, name="a"), ctx.step(fast, name="b"))
        results.append(pair)
        await ctx.wait(1)
        return list(pair)

    arn = run_async_handler(handler, backend)
    assert backend.execution_end(arn).result == '["A","B"]'
    assert finished == ["b", "a"]  # b finished first, ran once each
    assert results == [["A", "B"]] * 2
    assert backend.operation(arn, ROOT_1).name == "a"
    assert backend.operation(arn, ROOT_2).name == "b"
    assert backend.operation(arn, ROOT_3).type is T.WAIT


def test_task_group_is_deterministic_and_replays() -> None:
    backend = MemoryBackend()
    runs: Counter[str] = Counter()

    def body(label: str, delay: float) -> Any:
        async def run(step_ctx: db.StepContext) -> str:
            await asyncio.sleep(delay)
            runs[label] += 1
            return label.upper()

        return run

    async def handler(event: Any, ctx: db.AsyncDurableContext) -> list[str]:
        async with asyncio.TaskGroup() as group:
            tasks = [
                group.create_task(ctx.step(body(label, delay), name=label))  # type: ignore[arg-type]
                for label, delay in (("x", 0.03), ("y", 0.0), ("z", 0.01))
            ]
        await ctx.wait(1)
        return [t.result() for t in tasks]

    arn = run_async_handler(handler, backend)
    assert json.loads(backend.execution_end(arn).result) == ["X", "Y", "Z"]
    assert runs == {"x": 1, "y": 1, "z": 1}
    names = [backend.operation(arn, operation_id(None, n)).name for n in (1, 2, 3)]
    assert names == ["x", "y", "z"]


def test_async_twin_accepts_sync_and_async_bodies() -> None:
    backend = MemoryBackend()

    async def async_body(step_ctx: db.StepContext) -> int:
        await asyncio.sleep(0)
        return 20

    def sync_body(step_ctx: db.StepContext) -> int:
        return 22

    def sync_child(ctx: db.AsyncDurableContext) -> Any:
        return ctx.step(sync_body)  # a plain function returning an awaitable also works

    async def handler(event: Any, ctx: db.AsyncDurableContext) -> int:
        a = await ctx.step(async_body)
        b = await ctx.step(sync_body)
        c = await ctx.run_in_child_context(sync_child)
        return a + b + c - 22

    arn = run_async_handler(handler, backend)
    assert backend.execution_end(arn).result == "42"


# --- logging and replay status ----------------------------------------------------------------


def test_logger_is_quiet_while_replaying_and_tags_records(
    twin: Twin, caplog: pytest.LogCaptureFixture
) -> None:
    logger = logging.getLogger("tests.engine.durable")
    replaying: list[tuple[str, bool]] = []

    def step_body(step_ctx: db.StepContext) -> int:
        step_ctx.logger.info("inside step")
        return 1

    def scenario(event: Any, ctx: Any) -> Any:
        replaying.append(("start", ctx.is_replaying()))
        ctx.logger.info("starting")
        yield ctx.step(step_body, name="s")
        yield ctx.wait(1)
        replaying.append(("after wait", ctx.is_replaying()))
        ctx.logger.info("after wait")
        yield ctx.step(lambda _: 2, name="t")
        ctx.logger.info("done")
        return "ok"

    with caplog.at_level(logging.INFO, logger=logger.name):
        outcome = twin.run(scenario, logger=logger)
    records = [r for r in caplog.records if r.name == logger.name]
    # Each line is logged once per execution, not once per invocation.
    assert [r.getMessage() for r in records] == ["starting", "inside step", "after wait", "done"]
    assert replaying == [("start", False), ("start", True), ("after wait", False)]
    inside = records[1]
    assert inside.executionArn == outcome.arn  # type: ignore[attr-defined]
    assert inside.operationId == ROOT_1  # type: ignore[attr-defined]
    assert inside.operationName == "s"  # type: ignore[attr-defined]
    assert inside.attempt == 1  # type: ignore[attr-defined]
    assert inside.parentId is None  # type: ignore[attr-defined]
    assert records[0].executionArn == outcome.arn  # type: ignore[attr-defined]


def test_child_step_logger_names_its_parent(twin: Twin, caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("tests.engine.child")

    def body(step_ctx: db.StepContext) -> None:
        step_ctx.logger.warning("in child step", extra={"order": 3})

    def child(ctx: Any) -> Any:
        yield ctx.step(body, name="inner")

    def scenario(event: Any, ctx: Any) -> Any:
        yield ctx.run_in_child_context(twin.body(child), name="kid")

    with caplog.at_level(logging.INFO, logger=logger.name):
        twin.run(scenario, logger=logger)
    (record,) = [r for r in caplog.records if r.name == logger.name]
    assert record.parentId == ROOT_1  # type: ignore[attr-defined]
    assert record.operationId == operation_id(ROOT_1, 1)  # type: ignore[attr-defined]
    assert record.order == 3  # type: ignore[attr-defined]


def test_terminal_backend_error_on_the_final_flush_fails_the_execution(twin: Twin) -> None:
    """The WAIT START rides with the suspending flush; a rejection there is still terminal."""
    backend = MemoryBackend()
    rejected = InvalidRequestError(
        "update 0 is rejected", code="InvalidParameterValueException", http_status=400
    )

    def scenario(event: Any, ctx: Any) -> Any:
        yield ctx.wait(5)

    arn, _ = backend.start_execution()
    backend.fail_next_checkpoint(rejected)
    output = twin.invoke(scenario, backend, arn)
    assert output["Status"] == "FAILED"
    assert output["Error"]["ErrorType"] == "durable_backend.exceptions.InvalidRequestError"

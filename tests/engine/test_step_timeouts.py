"""Step timeouts and deadline awareness, on both twins.

``StepConfig(timeout=...)`` bounds each attempt: an attempt that runs longer fails with
``StepTimeoutError`` through the retry strategy (async bodies are cancelled, plain ones
abandoned on their thread). Given a Lambda context, a step still running when the invocation
is about to time out has its attempt checkpointed as failed (a RETRY that counts), and the
invocation ends.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import pytest

import durable_backend as db
from durable_backend._engine import SLOW_BODY_SECONDS
from durable_backend._models import OperationStatus
from durable_backend._protocol import DEADLINE_MARGIN_SECONDS
from durable_backend.retries import RetryStrategy
from tests.engine.conftest import Twin
from tests.support.service import MemoryBackend

QUICK = 0.2  # the timeout under test
SLOW = 1.0  # a body that outlives it


def retrying(attempts: int) -> RetryStrategy:
    return db.create_retry_strategy(
        db.RetryStrategyConfig(
            max_attempts=attempts,
            initial_delay=db.Duration.from_seconds(1),
            jitter_strategy=db.JitterStrategy.NONE,
        )
    )


def step_errors(backend: MemoryBackend, arn: str) -> list[tuple[str, str | None]]:
    """(EventType, ErrorType) of the step's outcome events."""
    return [
        (event["EventType"], (event[f"{event['EventType']}Details"].get("Error") or {})
         .get("Payload", {}).get("ErrorType"))
        for event in backend.history(arn)
        if event["EventType"] in ("StepFailed", "StepSucceeded")
    ]


def test_config_validates_the_timeout() -> None:
    assert db.StepConfig(timeout=1.5).timeout == 1.5
    assert db.StepConfig(timeout=db.Duration.from_minutes(2)).timeout == 120
    with pytest.raises(db.ValidationError, match="positive number of seconds"):
        db.StepConfig(timeout=0)
    with pytest.raises(db.ValidationError, match="timeout must be a Duration"):
        db.StepConfig(timeout="5")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        db.StepConfig(None, None, None, None, 5)  # type: ignore[call-arg, misc]


def test_an_attempt_over_its_timeout_fails_without_retries_left(twin: Twin) -> None:
    def scenario(event: Any, ctx: Any) -> Any:
        config = db.StepConfig(db.RetryPresets.none(), timeout=QUICK)
        return (yield ctx.step(twin.slow(lambda _: "late", SLOW), name="slow", config=config))

    started = time.monotonic()
    outcome = twin.run(scenario)
    assert time.monotonic() - started < SLOW, "the attempt was not waited for"
    assert outcome.status == "FAILED"
    assert outcome.error["ErrorMessage"] == (
        f"step slow attempt 1 ran longer than its timeout of {QUICK} s"
    )
    assert step_errors(outcome.backend, outcome.arn) == [
        ("StepFailed", "durable_backend.exceptions.StepTimeoutError")
    ]


def test_timed_out_attempts_go_through_the_retry_strategy(twin: Twin) -> None:
    calls: list[int] = []

    def body(step: db.StepContext) -> str:
        calls.append(step.attempt)
        return "done"

    def scenario(event: Any, ctx: Any) -> Any:
        slow_twice = twin.slow(body, SLOW)
        config = db.StepConfig(retrying(3), timeout=QUICK)
        return (yield ctx.step(
            lambda step: body(step) if step.attempt == 3 else slow_twice(step),
            name="flaky", config=config,
        ))

    outcome = twin.run(scenario)
    assert (outcome.status, outcome.result) == ("SUCCEEDED", "done")
    assert step_errors(outcome.backend, outcome.arn) == [
        ("StepFailed", "durable_backend.exceptions.StepTimeoutError"),
        ("StepFailed", "durable_backend.exceptions.StepTimeoutError"),
        ("StepSucceeded", None),
    ]
    assert calls[-1] == 3


def test_retries_run_out_on_a_step_that_always_times_out(twin: Twin) -> None:
    def scenario(event: Any, ctx: Any) -> Any:
        config = db.StepConfig(retrying(2), timeout=QUICK)
        return (yield ctx.step(twin.slow(lambda _: 1, SLOW), name="hopeless", config=config))

    outcome = twin.run(scenario)
    assert outcome.status == "FAILED"
    assert [kind for kind, _ in step_errors(outcome.backend, outcome.arn)] == ["StepFailed"] * 2


def test_a_fast_body_with_a_timeout_keeps_its_value_and_its_own_errors(twin: Twin) -> None:
    def own_timeout(_: db.StepContext) -> None:
        raise TimeoutError("the payment gateway timed out")

    def scenario(event: Any, ctx: Any) -> Any:
        config = db.StepConfig(db.RetryPresets.none(), timeout=5)
        value = yield ctx.step(lambda _: {"ok": True}, name="fast", config=config)
        try:
            yield ctx.step(own_timeout, name="own", config=config)
        except db.StepError as error:
            return [value, error.message]
        return None

    outcome = twin.run(scenario)
    assert outcome.result == [{"ok": True}, "the payment gateway timed out"]
    assert step_errors(outcome.backend, outcome.arn)[1] == ("StepFailed", "TimeoutError")


def test_async_bodies_are_cancelled() -> None:
    twin = Twin("async")
    cancelled = threading.Event()

    async def body(_: db.StepContext) -> str:
        try:
            await asyncio.sleep(SLOW)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "late"

    def scenario(event: Any, ctx: Any) -> Any:
        config = db.StepConfig(db.RetryPresets.none(), timeout=QUICK)
        return (yield ctx.step(body, name="slow", config=config))

    assert twin.run(scenario).status == "FAILED"
    assert cancelled.wait(1)


def test_plain_bodies_are_abandoned_on_their_thread(twin: Twin) -> None:
    finished = threading.Event()

    def body(_: db.StepContext) -> str:
        time.sleep(SLOW)
        finished.set()
        return "late"

    def scenario(event: Any, ctx: Any) -> Any:
        config = db.StepConfig(db.RetryPresets.none(), timeout=QUICK)
        return (yield ctx.step(body, name="slow", config=config))

    outcome = twin.run(scenario)
    assert outcome.status == "FAILED" and not finished.is_set()
    assert finished.wait(2 * SLOW), "the abandoned body ran on to its end"
    assert step_errors(outcome.backend, outcome.arn) == [
        ("StepFailed", "durable_backend.exceptions.StepTimeoutError")
    ]


# --------------------------------------------------------------------------- deadlines


class FakeLambdaContext:
    """A Lambda context whose remaining time runs out ``seconds`` after it is made."""

    def __init__(self, seconds: float) -> None:
        self._ends = time.monotonic() + seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._ends - time.monotonic()) * 1000))


BUDGET = 0.3  # seconds a body may run before the deadline


def invoke_near_the_deadline(
    twin: Twin, scenario: Any, backend: MemoryBackend, arn: str, budget: float = BUDGET
) -> dict[str, Any]:
    handler = twin.handler(scenario, backend)
    context = FakeLambdaContext(budget + DEADLINE_MARGIN_SECONDS)
    output = handler(backend.invocation_event(arn), context)
    backend.complete_invocation(arn, output)
    return output


# The deadline is armed once a body proves slow (SLOW_BODY_SECONDS), or at once if sooner.
@pytest.mark.parametrize("budget", [BUDGET, SLOW_BODY_SECONDS / 2])
def test_a_step_running_at_the_deadline_is_checkpointed_as_a_failed_attempt(
    twin: Twin, budget: float
) -> None:
    backend = MemoryBackend()
    arn, _ = backend.start_execution()
    seen_at_end: list[OperationStatus] = []

    def body(step: db.StepContext) -> str:
        seen_at_end.append(backend.operation(arn, step.operation_id).status)
        return "too late"

    def scenario(event: Any, ctx: Any) -> Any:
        return (yield ctx.step(twin.slow(body, 3 * budget), name="long",
                               config=db.StepConfig(retrying(3))))

    started = time.monotonic()
    output = invoke_near_the_deadline(twin, scenario, backend, arn, budget)
    assert output == {"Status": "PENDING"}
    assert time.monotonic() - started < 3 * budget + DEADLINE_MARGIN_SECONDS
    [step] = [op for op in backend.operations(arn) if op.name == "long"]
    assert step.status is OperationStatus.PENDING
    assert step.step_details is not None and step.step_details.attempt == 1
    assert step.step_details.error is not None
    assert step.step_details.error.error_type == "durable_backend.exceptions.StepTimeoutError"
    assert "about to reach its Lambda timeout" in (step.step_details.error.error_message or "")
    if not twin.is_async:
        # The sync body ran on where it was; its attempt was recorded failed meanwhile.
        assert seen_at_end == [OperationStatus.PENDING]
    else:
        assert seen_at_end == [], "the async body was cancelled"


def test_a_step_that_always_outlives_the_sandbox_exhausts_its_retries(twin: Twin) -> None:
    backend = MemoryBackend()
    arn, _ = backend.start_execution()

    def scenario(event: Any, ctx: Any) -> Any:
        return (yield ctx.step(twin.slow(lambda _: "never", 2 * BUDGET), name="long",
                               config=db.StepConfig(retrying(2))))

    outputs = []
    for _ in range(4):
        outputs.append(invoke_near_the_deadline(twin, scenario, backend, arn)["Status"])
        if outputs[-1] != "PENDING":
            break
        assert backend.advance_to_next_wake(arn)
    assert outputs == ["PENDING", "FAILED"]
    assert [kind for kind, _ in step_errors(backend, arn)] == ["StepFailed", "StepFailed"]


def test_without_a_lambda_context_there_is_no_deadline(twin: Twin) -> None:
    def scenario(event: Any, ctx: Any) -> Any:
        return (yield ctx.step(twin.slow(lambda _: "fine", BUDGET), name="long"))

    assert twin.run(scenario).result == "fine"


def test_a_quick_step_under_a_deadline_is_unaffected(twin: Twin) -> None:
    backend = MemoryBackend()
    arn, _ = backend.start_execution(json.dumps({}))

    def scenario(event: Any, ctx: Any) -> Any:
        return (yield ctx.step(lambda _: "quick", name="quick"))

    output = invoke_near_the_deadline(twin, scenario, backend, arn)
    assert output == {"Status": "SUCCEEDED", "Result": '"quick"'}


def test_an_async_body_that_swallows_its_cancellation_at_the_deadline_is_still_cut_off() -> None:
    twin = Twin("async")
    backend = MemoryBackend()
    arn, _ = backend.start_execution()

    async def stubborn(_: db.StepContext) -> str:
        try:
            await asyncio.sleep(3 * BUDGET)
        except asyncio.CancelledError:
            return "late, but returned anyway"
        return "never"

    def scenario(event: Any, ctx: Any) -> Any:
        return (yield ctx.step(stubborn, name="stubborn", config=db.StepConfig(retrying(3))))

    assert invoke_near_the_deadline(twin, scenario, backend, arn) == {"Status": "PENDING"}
    assert step_errors(backend, arn) == [
        ("StepFailed", "durable_backend.exceptions.StepTimeoutError")
    ]


def test_a_body_raising_its_own_timeout_error_under_a_deadline_keeps_it(twin: Twin) -> None:
    backend = MemoryBackend()
    arn, _ = backend.start_execution()

    def own_timeout(_: db.StepContext) -> None:
        raise TimeoutError("the payment gateway timed out")

    def scenario(event: Any, ctx: Any) -> Any:
        return (yield ctx.step(own_timeout, name="own", config=db.StepConfig(retrying(1))))

    # The body raises at once: a budget far above that keeps a loaded machine's start-up of
    # the invocation from reaching the deadline first, which would rightly time the step out.
    output = invoke_near_the_deadline(twin, scenario, backend, arn, budget=20 * BUDGET)
    assert output["Status"] == "FAILED"
    assert step_errors(backend, arn) == [("StepFailed", "TimeoutError")]

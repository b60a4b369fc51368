"""Every field of every public ``*Config`` changes what happens, on both twins.

Each behaviour test registers the fields it exercises with ``@covers``; a test of its own
checks that the registry names exactly the fields the configs have, so a new option cannot
land without a test showing it is not a silent no-op. Each test compares a run with the
option against a run without it (or with another value) and asserts on what the service
recorded or the handler returned.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import attrs
import pytest

import durable_backend as db
import durable_backend.config
import durable_backend.retries
import durable_backend.waits
from durable_backend._engine import operation_id
from durable_backend._models import Operation
from durable_backend._models import OperationAction as A
from durable_backend._models import OperationType as T
from durable_backend.retries import (
    LinearRetryStrategyConfig,
    RetryStrategy,
    create_linear_retry_strategy,
)
from tests.engine.conftest import Outcome, Twin
from tests.support.service import MemoryBackend

FieldTest = Callable[[Twin], None]
FIELD_TESTS: dict[str, FieldTest] = {}

ROOT_1 = operation_id(None, 1)
NO_RETRY = db.StepConfig(retry_strategy=db.RetryPresets.none())


def covers(*fields: str) -> Callable[[FieldTest], FieldTest]:
    def register(test: FieldTest) -> FieldTest:
        for name in fields:
            assert name not in FIELD_TESTS, f"{name} registered twice"
            FIELD_TESTS[name] = test
        return test

    return register


def public_configs() -> list[type[Any]]:
    """Every config class the root and the official config modules export."""
    modules = (db, durable_backend.config, durable_backend.retries, durable_backend.waits)
    found = {
        value
        for module in modules
        for name in module.__all__
        if name.endswith("Config") and attrs.has(value := getattr(module, name))
    }
    return sorted(found, key=lambda cls: cls.__name__)


def test_every_config_field_has_a_behaviour_test() -> None:
    fields = {f"{cls.__name__}.{f.name}" for cls in public_configs() for f in attrs.fields(cls)}
    assert sorted(fields - set(FIELD_TESTS)) == [], "config fields without a behaviour test"
    assert sorted(set(FIELD_TESTS) - fields) == [], "tests registered for unknown fields"


# --- helpers ----------------------------------------------------------------------------------


def ops(outcome: Outcome) -> list[Operation]:
    return [op for op in outcome.backend.operations(outcome.arn) if op.type is not T.EXECUTION]


def updates(outcome: Outcome) -> list[Any]:
    return [u for call in outcome.backend.checkpoint_calls() for u in call.updates]


def retry_delays(outcome: Outcome) -> list[int]:
    return [
        u.step_options.next_attempt_delay_seconds
        for u in updates(outcome)
        if u.action is A.RETRY
    ]


@attrs.define
class TaggedSerDes:
    """JSON behind a visible tag, counting its calls; deserialize wraps the value."""

    tag: str
    wrap: bool = True
    calls: Counter[str] = attrs.field(factory=Counter)

    def serialize(self, value: Any, serdes_context: db.SerDesContext) -> str:
        self.calls["serialize"] += 1
        if isinstance(value, db.BatchResult):
            value = {"batch": [[i.index, i.status.value, i.result] for i in value.all]}
        return self.tag + json.dumps(value)

    def deserialize(self, data: str, serdes_context: db.SerDesContext) -> Any:
        self.calls["deserialize"] += 1
        assert data.startswith(self.tag), f"{self.tag!r} asked to read {data!r}"
        value = json.loads(data[len(self.tag):])
        return {self.tag: value} if self.wrap else value


def failing_step_attempts(
    twin: Twin, strategy: RetryStrategy | None, error: Exception | None = None
) -> tuple[int, Outcome]:
    """Run a step that always raises ``error`` (a ConnectionError by default) under
    ``strategy``; return how many attempts ran."""
    attempts: list[int] = []

    def body(step_ctx: db.StepContext) -> None:
        attempts.append(step_ctx.attempt)
        raise error or ConnectionError("flaky dependency")

    def scenario(event: Any, ctx: Any) -> Any:
        try:
            yield ctx.step(body, name="call", config=db.StepConfig(retry_strategy=strategy))
        except db.StepError:
            return "gave up"
        return "not reached"

    outcome = twin.run(scenario)
    assert outcome.result == "gave up"
    return len(attempts), outcome


# --- steps ------------------------------------------------------------------------------------


@covers("StepConfig.retry_strategy")
def check_step_retry_strategy(twin: Twin) -> None:
    def twice(error: Exception, attempts_made: int) -> db.RetryDecision:
        if attempts_made < 3:
            return db.RetryDecision.retry(db.Duration.from_seconds(7))
        return db.RetryDecision.no_retry()

    none_attempts, _ = failing_step_attempts(twin, db.RetryPresets.none())
    attempts, outcome = failing_step_attempts(twin, twice)
    assert (none_attempts, attempts) == (1, 3)
    assert retry_delays(outcome) == [7, 7]


@covers("StepConfig.step_semantics")
def check_step_semantics(twin: Twin) -> None:
    def calls(semantics: db.StepSemantics) -> list[list[str]]:
        config = db.StepConfig(step_semantics=semantics)

        def scenario(event: Any, ctx: Any) -> Any:
            return (yield ctx.step(lambda _: 1, name="s", config=config))

        outcome = twin.run(scenario)
        calls = outcome.backend.checkpoint_calls()
        return [[u.action.value for u in call.updates] for call in calls]

    assert calls(db.StepSemantics.AT_LEAST_ONCE_PER_RETRY) == [["START", "SUCCEED"]]
    assert calls(db.StepSemantics.AT_MOST_ONCE_PER_RETRY) == [["START"], ["SUCCEED"]]


@covers("StepConfig.serdes")
def check_step_serdes(twin: Twin) -> None:
    serdes = TaggedSerDes("step:")

    def scenario(event: Any, ctx: Any) -> Any:
        first = yield ctx.step(lambda _: [1, 2], name="s", config=db.StepConfig(serdes=serdes))
        yield ctx.wait(1)
        return first

    outcome = twin.run(scenario)
    assert outcome.result == {"step:": [1, 2]}
    (step,) = [op for op in ops(outcome) if op.type is T.STEP]
    assert step.step_details.result == "step:[1, 2]"


@covers("StepConfig.sub_type")
def check_step_sub_type(twin: Twin) -> None:
    def scenario(event: Any, ctx: Any) -> Any:
        yield ctx.step(lambda _: 1, name="plain")
        yield ctx.step(lambda _: 2, name="custom", config=db.StepConfig(sub_type="Charge"))
        yield ctx.wait(1)  # replay validates the recorded subtype
        return "ok"

    outcome = twin.run(scenario)
    assert outcome.result == "ok"
    assert [(op.name, op.sub_type) for op in ops(outcome) if op.type is T.STEP] == [
        ("plain", "Step"),
        ("custom", "Charge"),
    ]


@covers("StepConfig.timeout")
def check_step_timeout(twin: Twin) -> None:
    def run(timeout: float | None) -> Any:
        config = db.StepConfig(retry_strategy=db.RetryPresets.none(), timeout=timeout)

        def scenario(event: Any, ctx: Any) -> Any:
            try:
                return (yield ctx.step(twin.slow(lambda _: "done", 0.3), config=config))
            except db.StepError as error:
                return error.error_type

        return twin.run(scenario).result

    assert run(None) == "done"
    assert "StepTimeoutError" in run(0.05)


# --- callbacks --------------------------------------------------------------------------------


def callback_scenario(
    twin: Twin, config: db.CallbackConfig | None, ids: list[str], *, wait_for: bool
) -> Callable[..., Any]:
    """``create_callback`` + ``result()``, or ``wait_for_callback`` with a config of that kind."""

    def submit(callback_id: str, _: Any) -> None:
        ids.append(callback_id)

    def scenario(event: Any, ctx: Any) -> Any:
        try:
            if wait_for:
                wfc = None if config is None else db.WaitForCallbackConfig(
                    timeout=config.timeout,
                    heartbeat_timeout=config.heartbeat_timeout,
                    serdes=config.serdes,
                    sub_type=config.sub_type,
                )
                return (yield ctx.wait_for_callback(submit, name="ask", config=wfc))
            callback = yield ctx.create_callback(name="ask", config=config)
            ids.append(callback.callback_id)
            return (yield callback.result())
        except db.CallbackTimeoutError as error:
            return ["timed out", error.error_type]

    return scenario


def callback_op(outcome: Outcome) -> Operation:
    (op,) = [op for op in ops(outcome) if op.type is T.CALLBACK]
    return op


@covers(
    "CallbackConfig.timeout",
    "WaitForCallbackConfig.timeout",
    "CallbackConfig.heartbeat_timeout",
    "WaitForCallbackConfig.heartbeat_timeout",
)
def check_callback_timeouts(twin: Twin) -> None:
    for wait_for in (False, True):
        for option in ("timeout", "heartbeat_timeout"):
            ids: list[str] = []
            config = db.CallbackConfig(**{option: 30})
            outcome = twin.run(callback_scenario(twin, config, ids, wait_for=wait_for))
            start = next(u for u in updates(outcome) if u.type is T.CALLBACK)
            assert getattr(start.callback_options, f"{option}_seconds") == 30
            outcome.backend.advance(31)
            twin.resume(outcome)
            assert outcome.result[0] == "timed out"

        ids = []
        outcome = twin.run(callback_scenario(twin, None, ids, wait_for=wait_for))
        outcome.backend.advance(10_000)
        twin.resume(outcome)
        assert outcome.status == "PENDING", "with no timeout the callback waits"
        outcome.backend.complete_callback(ids[0], "late")
        twin.resume(outcome)
        assert outcome.status == "SUCCEEDED"


@covers("CallbackConfig.serdes", "WaitForCallbackConfig.serdes")
def check_callback_serdes(twin: Twin) -> None:
    for wait_for in (False, True):
        answers = []
        for config in (None, db.CallbackConfig(serdes=TaggedSerDes("cb:"))):
            ids: list[str] = []
            outcome = twin.run(callback_scenario(twin, config, ids, wait_for=wait_for))
            outcome.backend.complete_callback(ids[0], 'cb:{"ok": true}')
            twin.resume(outcome)
            answers.append(outcome.result)
        assert answers == ['cb:{"ok": true}', {"cb:": {"ok": True}}]


@covers("CallbackConfig.sub_type", "WaitForCallbackConfig.sub_type")
def check_callback_sub_type(twin: Twin) -> None:
    for wait_for in (False, True):
        ids: list[str] = []
        config = db.CallbackConfig(sub_type="Approval")
        outcome = twin.run(callback_scenario(twin, config, ids, wait_for=wait_for))
        outcome.backend.complete_callback(ids[0], "yes")
        twin.resume(outcome)  # the replay checks the recorded subtype
        assert outcome.result == "yes"
        assert callback_op(outcome).sub_type == "Approval"
        contexts = [op.sub_type for op in ops(outcome) if op.type is T.CONTEXT]
        assert contexts == (["WaitForCallback"] if wait_for else [])


@covers("WaitForCallbackConfig.retry_strategy")
def check_wait_for_callback_retry_strategy(twin: Twin) -> None:
    def run(config: db.WaitForCallbackConfig) -> tuple[Any, list[int]]:
        attempts: list[int] = []

        def submit(callback_id: str, _: Any) -> None:
            attempts.append(len(attempts) + 1)
            raise ConnectionError("queue unreachable")

        def scenario(event: Any, ctx: Any) -> Any:
            try:
                return (yield ctx.wait_for_callback(submit, config=config))
            except db.CallbackSubmitterError as error:
                return error.message

        return twin.run(scenario).result, attempts

    assert run(db.WaitForCallbackConfig(retry_strategy=db.RetryPresets.none())) == (
        "queue unreachable",
        [1],
    )
    three = db.create_retry_strategy(db.RetryStrategyConfig(max_attempts=3))
    assert run(db.WaitForCallbackConfig(retry_strategy=three)) == ("queue unreachable", [1, 2, 3])


# --- with_retry -------------------------------------------------------------------------------


@covers(
    "WithRetryConfig.retry_strategy",
    "WithRetryConfig.wrap_with_run_in_child_context",
    "WithRetryConfig.child_context_config",
)
def check_with_retry_config(twin: Twin) -> None:
    def run(config: db.WithRetryConfig[Any]) -> tuple[Any, list[int], Outcome]:
        attempts: list[int] = []

        def block(ctx: Any, attempt: int) -> Any:
            attempts.append(attempt)
            value = yield ctx.step(lambda _: attempt, name=f"try-{attempt}")
            if attempt < 3:
                raise ValueError(f"attempt {attempt} failed")
            return value

        def scenario(event: Any, ctx: Any) -> Any:
            try:
                return (yield db.with_retry(ctx, twin.body(block), config, "charge"))
            except Exception as error:
                return [type(error).__name__, str(error)]

        outcome = twin.run(scenario)
        return outcome.result, sorted(set(attempts)), outcome

    three = db.create_retry_strategy(db.RetryStrategyConfig(max_attempts=3))
    result, attempts, outcome = run(db.WithRetryConfig(retry_strategy=three))
    assert (result, attempts) == (3, [1, 2, 3])
    waits = [op.name for op in ops(outcome) if op.type is T.WAIT]
    assert waits == ["charge-backoff-1", "charge-backoff-2"]
    assert [op.sub_type for op in ops(outcome) if op.type is T.CONTEXT] == ["RunInChildContext"]

    result, attempts, _ = run(db.WithRetryConfig(retry_strategy=db.RetryPresets.none()))
    assert (result, attempts) == (["ChildContextError", "attempt 1 failed"], [1])

    unwrapped = db.WithRetryConfig[Any](
        retry_strategy=db.RetryPresets.none(), wrap_with_run_in_child_context=False
    )
    result, _, outcome = run(unwrapped)
    assert result == ["ValueError", "attempt 1 failed"]
    assert [op.type for op in ops(outcome)] == [T.STEP]

    labelled = db.WithRetryConfig(
        retry_strategy=three, child_context_config=db.ChildConfig(sub_type="Retrying")
    )
    _, _, outcome = run(labelled)
    assert [op.sub_type for op in ops(outcome) if op.type is T.CONTEXT] == ["Retrying"]


# --- chained invokes --------------------------------------------------------------------------


@covers("InvokeConfig.serdes_payload", "InvokeConfig.serdes_result", "InvokeConfig.tenant_id")
def check_invoke_config(twin: Twin) -> None:
    def run(config: db.InvokeConfig[Any, Any] | None) -> tuple[Any, Any]:
        def scenario(event: Any, ctx: Any) -> Any:
            return (yield ctx.invoke("billing", {"order": 7}, name="charge", config=config))

        outcome = twin.run(scenario)
        (pending,) = outcome.backend.pending_chained_invokes(outcome.arn)
        outcome.backend.complete_chained_invoke(outcome.arn, pending.id, 'res:{"paid": 7}')
        twin.resume(outcome)
        (start,) = [u for u in updates(outcome) if u.type is T.CHAINED_INVOKE]
        return start, outcome.result

    plain, _ = run(db.InvokeConfig(serdes_result=TaggedSerDes("res:")))
    assert plain.payload == '{"order":7}' and plain.chained_invoke_options.tenant_id is None
    start, result = run(
        db.InvokeConfig(
            serdes_payload=TaggedSerDes("pay:"),
            serdes_result=TaggedSerDes("res:"),
            tenant_id="tenant-9",
        )
    )
    assert start.payload == 'pay:{"order": 7}'
    assert start.chained_invoke_options.tenant_id == "tenant-9"
    assert result == {"res:": {"paid": 7}}


# --- child contexts ---------------------------------------------------------------------------


@covers("ChildConfig.serdes")
def check_child_serdes(twin: Twin) -> None:
    serdes = TaggedSerDes("child:")

    def scenario(event: Any, ctx: Any) -> Any:
        value = yield ctx.run_in_child_context(
            twin.body(lambda c: {"n": 1}), name="c", config=db.ChildConfig(serdes=serdes)
        )
        yield ctx.wait(1)
        return value

    outcome = twin.run(scenario)
    assert outcome.result == {"child:": {"n": 1}}, "first run and replay return the round trip"
    (context,) = [op for op in ops(outcome) if op.type is T.CONTEXT]
    assert context.context_details.result == 'child:{"n": 1}'


@covers("ChildConfig.sub_type")
def check_child_sub_type(twin: Twin) -> None:
    def scenario(event: Any, ctx: Any) -> Any:
        yield ctx.run_in_child_context(twin.body(lambda c: 1), name="a")
        yield ctx.run_in_child_context(
            twin.body(lambda c: 2), name="b", config=db.ChildConfig(sub_type="Checkout")
        )
        yield ctx.wait(1)
        return "ok"

    outcome = twin.run(scenario)
    assert outcome.result == "ok"
    assert [(op.name, op.sub_type) for op in ops(outcome) if op.type is T.CONTEXT] == [
        ("a", "RunInChildContext"),
        ("b", "Checkout"),
    ]


@covers("ChildConfig.summary_generator")
def check_child_summary_generator(twin: Twin) -> None:
    big = "x" * (300 * 1024)

    def payload(config: db.ChildConfig[Any]) -> str:
        def child(ctx: Any) -> Any:
            part = yield ctx.step(lambda _: big[: 200 * 1024])
            return part + big[200 * 1024 :]

        def scenario(event: Any, ctx: Any) -> Any:
            value = yield ctx.run_in_child_context(twin.body(child), config=config)
            yield ctx.wait(1)
            return len(value)

        outcome = twin.run(scenario)
        assert outcome.result == len(big)
        context = outcome.backend.operation(outcome.arn, ROOT_1)
        assert context.context_details.replay_children is True
        return str(context.context_details.result)

    assert payload(db.ChildConfig()) == ""
    assert payload(db.ChildConfig(summary_generator=lambda v: f"{len(v)} chars")) == "307200 chars"


@covers("ChildConfig.is_virtual")
def check_child_is_virtual(twin: Twin) -> None:
    runs: Counter[str] = Counter()

    def child(ctx: Any) -> Any:
        runs["body"] += 1
        value = yield ctx.step(lambda _: runs.update(["step"]) or 5, name="inner")
        yield ctx.wait(1)
        return value * 2

    def run(config: db.ChildConfig[Any]) -> Outcome:
        runs.clear()

        def scenario(event: Any, ctx: Any) -> Any:
            def outer(c: Any) -> Any:
                return (yield c.run_in_child_context(twin.body(child), name="v", config=config))

            return (yield ctx.run_in_child_context(twin.body(outer), name="outer"))

        return twin.run(scenario)

    nested = run(db.ChildConfig())
    assert nested.result == 10
    assert [op.name for op in ops(nested) if op.type is T.CONTEXT] == ["outer", "v"]

    virtual = run(db.ChildConfig(is_virtual=True))
    assert virtual.result == 10
    assert runs == {"body": 2, "step": 1}, "the virtual body re-runs on replay; its step replays"
    (outer,) = [op for op in ops(virtual) if op.type is T.CONTEXT]
    assert outer.name == "outer", "a virtual context writes no CONTEXT of its own"
    virtual_id = operation_id(outer.id, 1)
    step = next(op for op in ops(virtual) if op.type is T.STEP)
    assert (step.id, step.parent_id) == (operation_id(virtual_id, 1), outer.id)
    assert [u.id for u in updates(virtual) if u.id == virtual_id] == []


def test_a_virtual_child_over_a_recorded_context_is_non_deterministic(twin: Twin) -> None:
    backend = MemoryBackend()
    arn, _ = backend.start_execution()

    def with_config(config: db.ChildConfig[Any]) -> Callable[..., Any]:
        def scenario(event: Any, ctx: Any) -> Any:
            yield ctx.run_in_child_context(
                twin.body(lambda c: (yield c.wait(1))), name="c", config=config
            )
            return "done"

        return scenario

    assert twin.invoke(with_config(db.ChildConfig()), backend, arn)["Status"] == "PENDING"
    backend.advance(2)
    output = twin.invoke(with_config(db.ChildConfig(is_virtual=True)), backend, arn)
    assert output["Status"] == "FAILED"
    assert output["Error"]["ErrorType"] == (
        "durable_backend.exceptions.NonDeterministicExecutionError"
    )
    assert "virtual context" in output["Error"]["ErrorMessage"]


# --- map and parallel -------------------------------------------------------------------------


def run_batch(
    twin: Twin,
    kind: str,
    bodies: list[Callable[..., Any]],
    config: dict[str, Any],
    *,
    finish: Callable[[Any], Any] = lambda batch: {
        "reason": batch.completion_reason.value,
        "statuses": [[i.index, i.status.value] for i in batch.all],
        "results": batch.get_results(),
    },
    pause: bool = True,
) -> Outcome:
    """A map over ``range(len(bodies))`` or a parallel of ``bodies`` (each ``body(ctx, index)``,
    a scenario); ``pause`` adds a wait after it so the batch is replayed once."""
    if kind == "map":

        def item(ctx: Any, x: int, index: int, items: Any) -> Any:
            return bodies[index](ctx, index)

        call = lambda ctx: ctx.map(  # noqa: E731
            list(range(len(bodies))), twin.body(item), name="batch", config=db.MapConfig(**config)
        )
    else:
        branches = [
            twin.body(lambda ctx, index=index: bodies[index](ctx, index))
            for index in range(len(bodies))
        ]
        call = lambda ctx: ctx.parallel(  # noqa: E731
            branches, name="batch", config=db.ParallelConfig(**config)
        )

    def scenario(event: Any, ctx: Any) -> Any:
        batch = yield call(ctx)
        if pause:
            yield ctx.wait(1)
        return finish(batch)

    return twin.run(scenario)


def stepper(value: Callable[[int], Any], runs: Counter[int] | None = None) -> Callable[..., Any]:
    """An item body running one step named ``work`` that returns ``value(index)`` (or raises
    it, when it is an exception)."""

    def body(ctx: Any, index: int) -> Any:
        def work(_: db.StepContext) -> Any:
            if runs is not None:
                runs[index] += 1
            result = value(index)
            if isinstance(result, Exception):
                raise result
            return result

        return (yield ctx.step(work, name="work", config=NO_RETRY))

    return body


def item_contexts(outcome: Outcome) -> list[Operation]:
    return [op for op in ops(outcome) if op.sub_type in ("MapIteration", "ParallelBranch")]


def batch_op(outcome: Outcome) -> Operation:
    (op,) = [op for op in ops(outcome) if op.sub_type in ("Map", "Parallel")]
    return op


KINDS = ("map", "parallel")


@covers("MapConfig.max_concurrency", "ParallelConfig.max_concurrency")
def check_batch_max_concurrency(twin: Twin) -> None:
    guard = threading.Lock()
    active = peak = 0

    def leave(index: int) -> int:
        nonlocal active
        with guard:
            active -= 1
        return index

    def body(ctx: Any, index: int) -> Any:
        def enter(_: db.StepContext) -> Any:
            nonlocal active, peak
            with guard:
                active += 1
                peak = max(peak, active)
            return twin.slow(leave, 0.05)(index)  # the async twin awaits what this returns

        return (yield ctx.step(enter, name="work"))

    for kind in KINDS:
        peaks = []
        for limit in (1, 4):
            active = peak = 0
            outcome = run_batch(twin, kind, [body] * 4, {"max_concurrency": limit}, pause=False)
            assert outcome.result["results"] == [0, 1, 2, 3]
            peaks.append(peak)
        assert peaks[0] == 1 and peaks[1] > 1, peaks


@covers("MapConfig.completion_config", "ParallelConfig.completion_config")
def check_batch_completion_config(twin: Twin) -> None:
    for kind in KINDS:
        runs: Counter[int] = Counter()
        bodies = [stepper(lambda i: ValueError("no") if i == 1 else i, runs)] * 4
        default = run_batch(twin, kind, bodies, {"max_concurrency": 1})
        assert default.result["reason"] == "FAILURE_TOLERANCE_EXCEEDED"
        assert sum(runs.values()) == 2
        runs.clear()
        every = run_batch(
            twin,
            kind,
            bodies,
            {"max_concurrency": 1, "completion_config": db.CompletionConfig.all_completed()},
        )
        assert every.result["reason"] == "ALL_COMPLETED"
        assert every.result["results"] == [0, 2, 3] and sum(runs.values()) == 4


@covers(
    "CompletionConfig.min_successful",
    "CompletionConfig.tolerated_failure_count",
    "CompletionConfig.tolerated_failure_percentage",
)
def check_completion_thresholds(twin: Twin) -> None:
    runs: Counter[int] = Counter()
    bodies = [stepper(lambda i: ValueError("odd") if i % 2 else i, runs)] * 6

    def ran(**completion: Any) -> tuple[str, int]:
        runs.clear()
        config = {"max_concurrency": 1, "completion_config": db.CompletionConfig(**completion)}
        outcome = run_batch(twin, "map", bodies, config)
        return outcome.result["reason"], sum(runs.values())

    assert ran(min_successful=2) == ("MIN_SUCCESSFUL_REACHED", 3)
    assert ran(min_successful=3) == ("MIN_SUCCESSFUL_REACHED", 5)
    assert ran(tolerated_failure_count=1) == ("FAILURE_TOLERANCE_EXCEEDED", 4)
    assert ran(tolerated_failure_count=3) == ("ALL_COMPLETED", 6)
    assert ran(tolerated_failure_percentage=20) == ("FAILURE_TOLERANCE_EXCEEDED", 4)
    assert ran(tolerated_failure_percentage=50) == ("ALL_COMPLETED", 6)


@covers("CompletionConfig.should_complete")
def check_should_complete(twin: Twin) -> None:
    seen: list[db.CompletionStatus] = []

    def two_successes(status: db.CompletionStatus) -> db.CompletionDecision:
        seen.append(status)
        if status.success_count >= 2:
            return db.complete_batch()
        return db.continue_batch()

    runs: Counter[int] = Counter()
    bodies = [stepper(lambda i: ValueError("first fails") if i == 0 else i, runs)] * 5
    config = {
        "max_concurrency": 1,
        "completion_config": db.CompletionConfig(should_complete=two_successes),
    }
    outcome = run_batch(twin, "map", bodies, config)
    assert outcome.result["reason"] == "CUSTOM_COMPLETION_SUCCEEDED"
    assert outcome.result["statuses"] == [[0, "FAILED"], [1, "SUCCEEDED"], [2, "SUCCEEDED"]]
    assert sum(runs.values()) == 3, "a failure did not end the batch; two successes did"
    first = seen[0]
    assert (first.completed_count, first.total_count) == (0, 5)
    assert [i.status for i in first.items] == [None] * 5, "asked before any item started"
    last = seen[-1]
    assert [i.status for i in last.items[:4]] == [
        db.BatchItemStatus.FAILED,
        db.BatchItemStatus.SUCCEEDED,
        db.BatchItemStatus.SUCCEEDED,
        None,
    ]
    assert (last.success_count, last.failure_count, last.completed_count) == (2, 1, 3)


def test_should_complete_failed_outcome_fails_the_batch(twin: Twin) -> None:
    def quorum_lost(status: db.CompletionStatus) -> db.CompletionDecision:
        named = {item.name: item.status for item in status.items}
        if named["primary"] is db.BatchItemStatus.SUCCEEDED:
            return db.complete_batch(db.CompletionOutcome.FAILED)
        return db.continue_batch()

    def finish(batch: Any) -> Any:
        try:
            batch.throw_if_error()
        except db.BatchCompletionError as error:
            return [batch.status.value, batch.failure_count, error.completion_reason.value]
        return "not reached"

    def scenario(event: Any, ctx: Any) -> Any:
        batch = yield ctx.parallel(
            [
                db.ParallelBranch(twin.body(lambda c: "p"), name="primary"),
                twin.body(lambda c: "other"),
            ],
            config=db.ParallelConfig(
                max_concurrency=1,
                completion_config=db.CompletionConfig(should_complete=quorum_lost),
            ),
        )
        return finish(batch)

    outcome = twin.run(scenario)
    assert outcome.result == ["FAILED", 0, "CUSTOM_COMPLETION_FAILED"]


def test_should_complete_that_raises_fails_the_batch_context(twin: Twin) -> None:
    def broken(status: db.CompletionStatus) -> db.CompletionDecision:
        if status.completed_count:
            raise RuntimeError("predicate bug")
        return db.continue_batch()

    config = db.MapConfig(completion_config=db.CompletionConfig(should_complete=broken))

    def scenario(event: Any, ctx: Any) -> Any:
        try:
            yield ctx.map([1, 2], twin.body(lambda c, x, i, items: x), name="m", config=config)
        except db.ChildContextError as error:
            return [error.message, error.error_type]
        return "not reached"

    outcome = twin.run(scenario)
    assert outcome.result == ["predicate bug", "RuntimeError"]
    assert outcome.backend.operation(outcome.arn, ROOT_1).status.value == "FAILED"


def test_should_complete_cannot_be_combined_with_thresholds() -> None:
    with pytest.raises(db.ValidationError, match="should_complete cannot be combined"):
        db.CompletionConfig(min_successful=1, should_complete=lambda s: db.continue_batch())
    with pytest.raises(db.ValidationError, match="outcome is required"):
        db.CompletionDecision(True)


@covers("MapConfig.serdes", "ParallelConfig.serdes")
def check_batch_serdes(twin: Twin) -> None:
    for kind in KINDS:
        serdes = TaggedSerDes("batch:")
        outcome = run_batch(
            twin, kind, [stepper(lambda i: i * 10)] * 2, {"serdes": serdes}, finish=lambda b: b
        )
        # Without item_serdes, the batch serdes writes (and so wraps) each item as well.
        items = [[0, "SUCCEEDED", {"batch:": 0}], [1, "SUCCEEDED", {"batch:": 10}]]
        assert outcome.result == {"batch:": {"batch": items}}, "the round trip, on replay too"
        payload = batch_op(outcome).context_details.result
        assert payload.startswith("batch:{")
        assert [op.context_details.result for op in item_contexts(outcome)] == [
            "batch:0",
            "batch:10",
        ]


@covers("MapConfig.item_serdes", "ParallelConfig.item_serdes")
def check_batch_item_serdes(twin: Twin) -> None:
    for kind in KINDS:
        items = TaggedSerDes("item:", wrap=False)
        batch = TaggedSerDes("batch:", wrap=False)
        for config in ({"item_serdes": items}, {"item_serdes": items, "serdes": batch}):
            outcome = run_batch(
                twin, kind, [stepper(lambda i: [i])] * 2, config,
                finish=lambda b: b if isinstance(b, dict) else b.to_dict(),
            )
            items_seen = [[0, "SUCCEEDED", [0]], [1, "SUCCEEDED", [1]]]
            if "serdes" in config:
                assert outcome.result == {"batch": items_seen}
            else:
                assert [[i["index"], i["status"], i["result"]] for i in outcome.result["all"]] == (
                    items_seen
                )
            assert [op.context_details.result for op in item_contexts(outcome)] == [
                "item:[0]",
                "item:[1]",
            ]
            payload = batch_op(outcome).context_details.result
            assert payload.startswith("batch:" if "serdes" in config else '{"all":')


@covers("MapConfig.summary_generator", "ParallelConfig.summary_generator")
def check_batch_summary_generator(twin: Twin) -> None:
    chunk = 100 * 1024

    def envelope(kind: str, summary: Any) -> dict[str, Any]:
        runs: Counter[int] = Counter()
        outcome = run_batch(
            twin,
            kind,
            [stepper(lambda i: str(i) * chunk, runs)] * 3,
            {"summary_generator": summary},
            finish=lambda b: [len(r) for r in b.get_results()],
        )
        assert outcome.result == [chunk] * 3, "the oversized result is rebuilt on replay"
        assert sum(runs.values()) == 3, "from the items' checkpoints"
        op = batch_op(outcome)
        assert op.context_details.replay_children is True
        return dict(json.loads(op.context_details.result))

    for kind, result_type in (("map", "MapResult"), ("parallel", "ParallelResult")):
        plain = envelope(kind, None)
        assert plain == {
            "type": result_type,
            "totalCount": 3,
            "completionReason": "ALL_COMPLETED",
            "startedIndexes": [],
            "startedCount": 0,
            "successCount": 3,
            "failureCount": 0,
            "status": "SUCCEEDED",
        }
        summarized = envelope(kind, lambda result: f"{result.success_count} big items")
        assert summarized == {**plain, "summary": "3 big items"}


def test_an_oversized_batch_replays_its_recorded_completion(twin: Twin) -> None:
    """Items unfinished when the batch completed stay STARTED on replay: they are not run
    again, even once what they waited for is over."""
    chunk = 150 * 1024

    def body(ctx: Any, index: int) -> Any:
        if index == 1:
            yield ctx.wait(1, name="slow")  # over by the time the batch replays
            return (yield ctx.step(lambda _: "late", name="late"))
        return (yield ctx.step(lambda _: str(index) * chunk, name="big"))

    config = {"completion_config": db.CompletionConfig(min_successful=2)}
    outcome = run_batch(
        twin,
        "map",
        [body] * 3,
        config,
        finish=lambda b: [b.completion_reason.value, [i.status.value for i in b.all]],
    )
    expected = ["MIN_SUCCESSFUL_REACHED", ["SUCCEEDED", "STARTED", "SUCCEEDED"]]
    assert outcome.result == expected
    envelope = json.loads(batch_op(outcome).context_details.result)
    assert envelope["startedIndexes"] == [1]
    assert [op.name for op in ops(outcome) if op.name == "late"] == []


@covers("MapConfig.nesting_type", "ParallelConfig.nesting_type")
def check_batch_nesting_type(twin: Twin) -> None:
    def body(ctx: Any, index: int) -> Any:
        value = yield ctx.step(lambda _: runs.update([index]) or index * 10, name="work")
        if index == 1:
            yield ctx.wait(2, name="pause")
        return value

    for kind in KINDS:
        runs: Counter[int] = Counter()
        nested = run_batch(twin, kind, [body] * 3, {})
        flat_runs = runs = Counter()
        flat = run_batch(twin, kind, [body] * 3, {"nesting_type": db.NestingType.FLAT})
        assert flat.result == nested.result
        assert flat.result["results"] == [0, 10, 20]
        assert flat_runs == {0: 1, 1: 1, 2: 1}, "replay re-ran a finished item's step"
        assert len(flat.outputs) == len(nested.outputs) == 3
        assert len(item_contexts(nested)) == 3
        assert item_contexts(flat) == [], "FLAT items write no context of their own"
        batch = batch_op(flat)
        steps = [op for op in ops(flat) if op.name in ("work", "pause")]
        assert [op.parent_id for op in steps] == [batch.id] * 4, "items report the batch"
        assert sorted(op.id for op in steps if op.type is T.STEP) == sorted(
            operation_id(operation_id(batch.id, index), 1) for index in range(3)
        ), "ids are still prefixed by each item's own id"
        assert sorted(op.id for op in ops(flat)) == sorted(
            op.id for op in ops(nested) if op.sub_type not in ("MapIteration", "ParallelBranch")
        )


def test_flat_item_failure_is_reported_and_replayed(twin: Twin) -> None:
    def body(ctx: Any, index: int) -> Any:
        value = yield ctx.step(
            lambda _: (_ for _ in ()).throw(ValueError("bad item")) if index == 0 else index,
            name="work",
            config=NO_RETRY,
        )
        return value

    config = {
        "nesting_type": db.NestingType.FLAT,
        "completion_config": db.CompletionConfig.all_completed(),
    }
    outcome = run_batch(twin, "map", [body] * 2, config)
    assert outcome.result["statuses"] == [[0, "FAILED"], [1, "SUCCEEDED"]]
    assert [op.type for op in ops(outcome)] == [T.CONTEXT, T.STEP, T.STEP, T.WAIT]


def test_flat_items_draw_their_own_replay_safe_randoms(twin: Twin) -> None:
    """Virtual items share their reported parent, not the key of their random draws."""

    def body(ctx: Any, index: int) -> Any:
        value = yield ctx.random()
        if index == 0:
            yield ctx.wait(1)
        return value

    outcome = run_batch(twin, "map", [body] * 2, {"nesting_type": db.NestingType.FLAT})
    first, second = outcome.result["results"]
    assert first != second
    assert len(outcome.outputs) == 3, "the item drew again on replay and got the same value"


def test_changing_nesting_to_flat_mid_execution_is_non_deterministic(twin: Twin) -> None:
    backend = MemoryBackend()
    arn, _ = backend.start_execution()

    def with_nesting(nesting: db.NestingType) -> Callable[..., Any]:
        def scenario(event: Any, ctx: Any) -> Any:
            batch = yield ctx.map(
                [1],
                twin.body(lambda c, x, i, items: (yield c.wait(1))),
                config=db.MapConfig(nesting_type=nesting),
            )
            return batch.completion_reason.value

        return scenario

    assert twin.invoke(with_nesting(db.NestingType.NESTED), backend, arn)["Status"] == "PENDING"
    backend.advance(2)
    output = twin.invoke(with_nesting(db.NestingType.FLAT), backend, arn)
    assert output["Status"] == "FAILED"
    assert output["Error"]["ErrorType"] == (
        "durable_backend.exceptions.NonDeterministicExecutionError"
    )


@covers("MapConfig.item_namer")
def check_map_item_namer(twin: Twin) -> None:
    def names(config: dict[str, Any]) -> list[str | None]:
        outcome = run_batch(twin, "map", [stepper(lambda i: i)] * 2, config)
        return [op.name for op in item_contexts(outcome)]

    assert names({}) == ["map-item-0", "map-item-1"]
    assert names({"item_namer": lambda item, index: f"order-{item}"}) == ["order-0", "order-1"]


# --- wait_for_condition -----------------------------------------------------------------------


def poll(
    twin: Twin, config: db.WaitForConditionConfig[Any], check: Callable[..., Any] | None = None
) -> Outcome:
    def scenario(event: Any, ctx: Any) -> Any:
        try:
            return (
                yield ctx.wait_for_condition(
                    check or (lambda state, _: state + 1), config=config, name="poll"
                )
            )
        except db.WaitForConditionError as error:
            return ["gave up", error.message]

    return twin.run(scenario)


def stop_at(limit: int) -> Callable[[int, int], db.WaitForConditionDecision]:
    def strategy(state: int, attempt: int) -> db.WaitForConditionDecision:
        if state >= limit:
            return db.WaitForConditionDecision.stop_polling()
        return db.WaitForConditionDecision.continue_waiting(3)

    return strategy


@covers("WaitForConditionConfig.wait_strategy", "WaitForConditionConfig.initial_state")
def check_wait_for_condition_strategy_and_state(twin: Twin) -> None:
    assert poll(twin, db.WaitForConditionConfig(stop_at(3), 0)).result == 3
    assert retry_delays(poll(twin, db.WaitForConditionConfig(stop_at(3), 0))) == [3, 3]
    assert poll(twin, db.WaitForConditionConfig(stop_at(5), 0)).result == 5
    assert retry_delays(poll(twin, db.WaitForConditionConfig(stop_at(3), 2))) == []


@covers("WaitForConditionConfig.serdes")
def check_wait_for_condition_serdes(twin: Twin) -> None:
    serdes = TaggedSerDes("state:", wrap=False)
    outcome = poll(twin, db.WaitForConditionConfig(stop_at(2), 0, serdes=serdes))
    assert outcome.result == 2
    payloads = [u.payload for u in updates(outcome) if u.action in (A.RETRY, A.SUCCEED)]
    assert payloads == ["state:1", "state:2"]


def strategy_delays(twin: Twin, **options: Any) -> tuple[Any, list[int]]:
    """Poll a condition that never holds (or stops when ``should_continue_polling`` says)."""
    options.setdefault("should_continue_polling", lambda state: True)
    options.setdefault("max_attempts", 5)
    options.setdefault("jitter_strategy", db.JitterStrategy.NONE)
    rng = options.pop("rng", None)
    strategy = db.create_wait_strategy(db.WaitStrategyConfig(**options), rng=rng)
    outcome = poll(twin, db.WaitForConditionConfig(strategy, 0))
    return outcome.result, retry_delays(outcome)


@covers(
    "WaitStrategyConfig.should_continue_polling",
    "WaitStrategyConfig.max_attempts",
    "WaitStrategyConfig.initial_delay",
    "WaitStrategyConfig.max_delay",
    "WaitStrategyConfig.backoff_rate",
    "WaitStrategyConfig.jitter_strategy",
)
def check_wait_strategy_config(twin: Twin) -> None:
    result, delays = strategy_delays(twin)
    assert result[0] == "gave up" and "exhausted 5 attempts" in result[1]
    assert delays == [5, 8, 12, 17]  # 5 * 1.5 ** n, rounded up
    assert strategy_delays(twin, should_continue_polling=lambda s: s < 2) == (2, [5])
    assert strategy_delays(twin, max_attempts=2)[1] == [5]
    assert strategy_delays(twin, initial_delay=2)[1] == [2, 3, 5, 7]
    assert strategy_delays(twin, max_delay=10)[1] == [5, 8, 10, 10]
    assert strategy_delays(twin, backoff_rate=2)[1] == [5, 10, 20, 40]
    jittered = strategy_delays(
        twin, jitter_strategy=db.JitterStrategy.FULL, rng=random.Random(7)
    )[1]
    assert jittered != delays and all(1 <= j <= d for j, d in zip(jittered, delays, strict=True))


def step_retry_delays(
    twin: Twin,
    create: Callable[..., RetryStrategy],
    config: type[Any],
    error: Exception | None = None,
    **options: Any,
) -> list[int]:
    """The RETRY delays of a step that always raises ``error`` under
    ``create(config(**options))`` (no jitter unless the options say)."""
    options.setdefault("jitter_strategy", db.JitterStrategy.NONE)
    rng = options.pop("rng", None)
    _, outcome = failing_step_attempts(twin, create(config(**options), rng=rng), error)
    return retry_delays(outcome)


RETRY_FIELDS = (
    "max_attempts",
    "initial_delay",
    "max_delay",
    "jitter_strategy",
    "retryable_errors",
    "retryable_error_types",
)

# Each option against the delays it must produce (max_attempts=4 unless it says otherwise).
RETRY_CASES: dict[type[Any], tuple[Callable[..., RetryStrategy], list[tuple[Any, ...]]]] = {
    db.RetryStrategyConfig: (
        db.create_retry_strategy,
        [
            ({}, [5, 10, 20]),
            ({"max_attempts": 2}, [5]),
            ({"initial_delay": 1}, [1, 2, 4]),
            ({"max_delay": 8}, [5, 8, 8]),
            ({"backoff_rate": 3}, [5, 15, 45]),
        ],
    ),
    LinearRetryStrategyConfig: (
        create_linear_retry_strategy,
        [
            ({}, [1, 2, 3]),
            ({"max_attempts": 2}, [1]),
            ({"initial_delay": 4}, [4, 5, 6]),
            ({"increment": 5}, [1, 6, 11]),
            ({"increment": 5, "max_delay": 7}, [1, 6, 7]),
        ],
    ),
}


@covers(
    *(f"RetryStrategyConfig.{name}" for name in (*RETRY_FIELDS, "backoff_rate")),
    *(f"LinearRetryStrategyConfig.{name}" for name in (*RETRY_FIELDS, "increment")),
)
def check_retry_strategy_configs(twin: Twin) -> None:
    for config, (create, cases) in RETRY_CASES.items():

        def delays(
            error: Exception | None = None,
            create: Callable[..., RetryStrategy] = create,
            config: type[Any] = config,
            **options: Any,
        ) -> list[int]:
            options.setdefault("max_attempts", 4)
            return step_retry_delays(twin, create, config, error, **options)

        for options, expected in cases:
            assert delays(**options) == expected, (config.__name__, options)
        exact = delays(initial_delay=20)
        full = db.JitterStrategy.FULL
        jittered = delays(initial_delay=20, jitter_strategy=full, rng=random.Random(3))
        assert jittered != exact and all(1 <= j <= e for j, e in zip(jittered, exact, strict=True))
        # Once retryable_errors or retryable_error_types is set, only matching errors retry.
        base = cases[0][1]
        assert delays(retryable_errors=["throttled"]) == []
        assert delays(RuntimeError("throttled"), retryable_errors=["throttled"]) == base
        assert delays(retryable_error_types=[KeyError]) == []
        assert delays(KeyError("k"), retryable_error_types=[KeyError]) == base


# --- the logger -------------------------------------------------------------------------------


def test_logger_with_is_replaying_rebinds_the_replay_source(
    twin: Twin, caplog: pytest.LogCaptureFixture
) -> None:
    logger = logging.getLogger("tests.engine.with_is_replaying")

    def scenario(event: Any, ctx: Any) -> Any:
        ctx.logger.info("deduplicated")
        ctx.logger.with_is_replaying(lambda: False).info("every invocation")
        ctx.logger.with_is_replaying(lambda: True).info("never")
        yield ctx.wait(1)
        return "ok"

    with caplog.at_level(logging.INFO, logger=logger.name):
        outcome = twin.run(scenario, logger=logger)
    records = [r for r in caplog.records if r.name == logger.name]
    assert [r.getMessage() for r in records] == [
        "deduplicated",
        "every invocation",
        "every invocation",
    ]
    assert all(r.executionArn == outcome.arn for r in records)  # type: ignore[attr-defined]


# --- the registry, run ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "check", dict.fromkeys(FIELD_TESTS.values()), ids=lambda check: check.__name__
)
def test_config_fields_change_behaviour(twin: Twin, check: FieldTest) -> None:
    check(twin)

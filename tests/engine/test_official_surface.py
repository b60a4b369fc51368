"""The official SDK's calling conventions, run on both twins: positional parameters, the
``durable_*`` decorators, ``with_retry``, the per-operation contexts, and the errors that end an
invocation (``InvocationError``) or an execution (``ExecutionError``)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import Any

import pytest

import durable_backend as db
from durable_backend import types
from durable_backend.config import MapConfig, ParallelConfig, StepConfig
from durable_backend.exceptions import RetryableSerDesError
from durable_backend.lambda_service import OperationType as T
from durable_backend.retries import RetryDecision, RetryStrategy, WithRetryConfig
from durable_backend.waits import WaitForConditionConfig, WaitForConditionDecision
from tests.engine.conftest import Twin
from tests.support.service import MemoryBackend


def names(backend: MemoryBackend, arn: str) -> list[tuple[T, str | None]]:
    return [(op.type, op.name) for op in backend.operations(arn)[1:]]


@db.durable_step
def charge(step_ctx: types.StepContext, order: str, cents: int) -> str:
    return f"{order}:{cents}:{step_ctx.attempt}"


@db.durable_with_child_context
def ship(child_ctx: Any, order: str) -> str:
    return order.upper()


@db.durable_parallel_branch(name="first")
def first(ctx: Any, value: int) -> int:
    return value


def test_decorated_functions_bind_arguments_and_name_operations(twin: Twin) -> None:
    def scenario(event: Any, ctx: Any) -> Any:
        charged = yield ctx.step(charge("o-1", 250))
        renamed = yield ctx.step(charge("o-2", 1), "explicit")
        shipped = yield ctx.run_in_child_context(ship("o-1"))
        both = yield ctx.parallel([first(7), lambda _: 8])
        return [charged, renamed, shipped, both.get_results()]

    outcome = twin.run(scenario)
    assert outcome.result == ["o-1:250:1", "o-2:1:1", "O-1", [7, 8]]
    assert names(outcome.backend, outcome.arn)[:3] == [
        (T.STEP, "charge"),
        (T.STEP, "explicit"),
        (T.CONTEXT, "ship"),
    ]
    branches = [
        op.name for op in outcome.backend.operations(outcome.arn) if op.sub_type == "ParallelBranch"
    ]
    assert branches == ["first", "parallel-branch-1"]


def test_every_operation_takes_its_name_and_config_positionally(twin: Twin) -> None:
    def check(state: int, check_ctx: types.WaitForConditionCheckContext) -> int:
        assert isinstance(check_ctx, types.WaitForConditionCheckContext)
        return state + check_ctx.attempt

    def stop_at_three(state: int, attempts: int) -> WaitForConditionDecision:
        if state >= 3:
            return WaitForConditionDecision.stop_polling()
        return WaitForConditionDecision.continue_waiting(db.Duration(1))

    def scenario(event: Any, ctx: Any) -> Any:
        one = yield ctx.step(lambda _: 1, "one", StepConfig())
        yield ctx.wait(db.Duration.from_seconds(1), "pause")
        doubled = yield ctx.map([1, 2], lambda _, item, i, items: item * 2, "double", MapConfig())
        pair = yield ctx.parallel([lambda _: "a", lambda _: "b"], "pair", ParallelConfig())
        condition = WaitForConditionConfig(stop_at_three, 0)
        polled = yield ctx.wait_for_condition(check, condition, "poll")
        return [one, doubled.get_results(), pair.get_results(), polled]

    outcome = twin.run(scenario)
    assert outcome.result == [1, [2, 4], ["a", "b"], 3]
    top_level = [
        (op.type, op.name) for op in outcome.backend.operations(outcome.arn)[1:] if not op.parent_id
    ]
    assert top_level == [
        (T.STEP, "one"),
        (T.WAIT, "pause"),
        (T.CONTEXT, "double"),
        (T.CONTEXT, "pair"),
        (T.STEP, "poll"),
    ]


def test_the_context_knows_its_execution_and_lambda_context(twin: Twin) -> None:
    seen: list[Any] = []

    def scenario(event: Any, ctx: Any) -> Any:
        seen.append((ctx.execution_context.durable_execution_arn, ctx.lambda_context))
        return ctx.is_replaying()

    backend = MemoryBackend()
    arn, _ = backend.start_execution()
    lambda_context = object()
    handler = twin.handler(scenario, backend)
    output = handler(backend.invocation_event(arn), lambda_context)
    assert output["Status"] == "SUCCEEDED"
    assert seen == [(arn, lambda_context)]


def test_with_retry_reruns_the_block_after_a_durable_wait(twin: Twin) -> None:
    attempts: list[int] = []

    def twice_then_stop(error: Exception, attempts_made: int) -> RetryDecision:
        if attempts_made < 3:
            return RetryDecision.retry(db.Duration(1))
        return RetryDecision.no_retry()

    def block(child: Any, attempt: int) -> Any:
        attempts.append(attempt)
        value = yield child.step(lambda _: attempt, f"try-{attempt}")
        if value < 3:
            raise ValueError(f"attempt {value} failed")
        return value

    strategy: RetryStrategy = twice_then_stop

    def scenario(event: Any, ctx: Any) -> Any:
        return (
            yield db.with_retry(ctx, twin.body(block), WithRetryConfig(strategy), "flaky")
        )

    outcome = twin.run(scenario)
    assert outcome.result == 3
    ops = outcome.backend.operations(outcome.arn)[1:]
    assert [(op.type, op.name) for op in ops] == [
        (T.CONTEXT, "flaky"),
        (T.STEP, "try-1"),
        (T.WAIT, "flaky-backoff-1"),
        (T.STEP, "try-2"),
        (T.WAIT, "flaky-backoff-2"),
        (T.STEP, "try-3"),
    ]
    assert max(attempts) == 3


def test_with_retry_gives_up_with_the_child_context_error(twin: Twin) -> None:
    def block(child: Any, attempt: int) -> Any:
        raise ValueError("always")

    def scenario(event: Any, ctx: Any) -> Any:
        config = WithRetryConfig(db.RetryPresets.none())
        try:
            yield db.with_retry(ctx, twin.body(block), config, "doomed")
        except db.ChildContextError as error:
            return error.message

    assert twin.run(scenario).result == "always"


def test_an_invocation_error_is_raised_out_for_lambda_to_retry(twin: Twin) -> None:
    def scenario(event: Any, ctx: Any) -> Any:
        yield ctx.step(lambda _: 1, "before")
        raise db.InvocationError("the database is down")

    backend = MemoryBackend()
    arn, _ = backend.start_execution()
    with pytest.raises(db.InvocationError, match="the database is down"):
        twin.handler(scenario, backend)(backend.invocation_event(arn), None)


def test_an_execution_error_fails_the_execution(twin: Twin) -> None:
    def scenario(event: Any, ctx: Any) -> Any:
        yield ctx.step(lambda _: 1, "before")
        raise db.ExecutionError("order is invalid")

    outcome = twin.run(scenario)
    assert outcome.status == "FAILED"
    assert outcome.error["ErrorMessage"] == "order is invalid"


class FlakyStore:
    def serialize(self, value: Any, serdes_context: db.SerDesContext) -> str:
        raise RetryableSerDesError("the offload bucket timed out")

    def deserialize(self, data: str, serdes_context: db.SerDesContext) -> Any:
        return data


def test_a_retryable_serdes_error_fails_the_invocation_not_the_step(twin: Twin) -> None:
    def scenario(event: Any, ctx: Any) -> Any:
        return (yield ctx.step(lambda _: "big", "offload", StepConfig(serdes=FlakyStore())))

    backend = MemoryBackend()
    arn, _ = backend.start_execution()
    with pytest.raises(RetryableSerDesError, match="timed out"):
        twin.handler(scenario, backend)(backend.invocation_event(arn), None)


@db.durable_step
async def fetch(step_ctx: types.StepContext, key: int) -> int:
    await asyncio.sleep(0)
    return key * 2


@db.durable_with_child_context
async def fetch_in_child(ctx: db.AsyncDurableContext, key: int) -> int:
    return await ctx.step(fetch(key))


@db.durable_parallel_branch(name="fetch-branch")
async def fetch_branch(ctx: db.AsyncDurableContext, key: int) -> int:
    return await ctx.step(fetch(key))


def test_decorated_async_functions_stay_async_for_the_async_twin() -> None:
    async def handler(event: Any, ctx: db.AsyncDurableContext) -> list[Any]:
        step = await ctx.step(fetch(1))
        child = await ctx.run_in_child_context(fetch_in_child(2))
        batch = await ctx.parallel([fetch_branch(3)])
        return [step, child, batch.get_results()]

    backend = MemoryBackend()
    durable = db.durable_execution(backend=backend.async_)(handler)
    arn = backend.run(lambda event, context: asyncio.run(durable.run_async(event, context)))
    ops = backend.operations(arn)
    end = backend.execution_end(arn)
    assert end is not None
    assert json.loads(end.result or "null") == [2, 4, [6]]
    assert [(op.type, op.name) for op in ops[1:] if op.name] == [
        (T.STEP, "fetch"),
        (T.CONTEXT, "fetch_in_child"),
        (T.STEP, "fetch"),
        (T.CONTEXT, "fetch-branch"),
        (T.STEP, "fetch"),
    ]


class ListLogger:
    """A LoggerInterface that is not a logging.Logger (the shape of Powertools' Logger)."""

    def __init__(self) -> None:
        self.records: list[tuple[str, object, dict[str, object]]] = []

    def _record(self, level: str, msg: object, extra: Mapping[str, object] | None) -> None:
        self.records.append((level, msg, dict(extra or {})))

    def debug(self, msg: object, *args: object, extra: Mapping[str, object] | None = None) -> None:
        self._record("debug", msg, extra)

    def info(self, msg: object, *args: object, extra: Mapping[str, object] | None = None) -> None:
        self._record("info", msg, extra)

    def warning(
        self, msg: object, *args: object, extra: Mapping[str, object] | None = None
    ) -> None:
        self._record("warning", msg, extra)

    def error(self, msg: object, *args: object, extra: Mapping[str, object] | None = None) -> None:
        self._record("error", msg, extra)

    def exception(
        self, msg: object, *args: object, extra: Mapping[str, object] | None = None
    ) -> None:
        self._record("exception", msg, extra)


def test_set_logger_routes_later_records_once_per_execution(twin: Twin) -> None:
    plugged = ListLogger()

    def scenario(event: Any, ctx: Any) -> Any:
        ctx.set_logger(plugged)
        ctx.logger.info("start", extra={"order": "o-1"})
        yield ctx.step(lambda step_ctx: step_ctx.logger.warning("in step"), "s")
        yield ctx.wait(1, "pause")
        yield ctx.run_in_child_context(twin.body(lambda child: child.logger.error("in child")), "c")
        return "ok"

    outcome = twin.run(scenario)
    assert outcome.result == "ok"
    assert len(outcome.outputs) == 2  # the wait suspended once: the start was replayed
    logged = [(level, msg) for level, msg, _ in plugged.records]
    assert logged == [("info", "start"), ("warning", "in step"), ("error", "in child")]
    start_extra, step_extra = plugged.records[0][2], plugged.records[1][2]
    assert start_extra["order"] == "o-1"
    assert start_extra["executionArn"] == outcome.arn
    assert (step_extra["operationName"], step_extra["attempt"]) == ("s", 1)


def test_records_name_the_line_that_logged(caplog: pytest.LogCaptureFixture) -> None:
    def scenario(event: Any, ctx: db.DurableContext) -> str:
        ctx.logger.info("here")
        return "ok"

    backend = MemoryBackend()
    with caplog.at_level(logging.INFO):
        backend.run(db.durable_execution(backend=backend)(scenario))
    (record,) = [r for r in caplog.records if r.getMessage() == "here"]
    assert (record.pathname, record.funcName) == (__file__, "scenario")

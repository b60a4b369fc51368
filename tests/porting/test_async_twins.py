"""The porting scenarios written as ``async def`` handlers: the same runner, the same asserts."""

from __future__ import annotations

import json
from typing import Any

import durable_backend as db
from durable_backend.config import CompletionConfig, Duration, MapConfig, StepConfig
from durable_backend.execution import InvocationStatus
from durable_backend.retries import RetryStrategyConfig, create_retry_strategy
from durable_backend.testing import DurableFunctionTestRunner


def _run(handler: Any, payload: object) -> Any:
    with DurableFunctionTestRunner(handler=handler) as runner:
        return runner.run(input=json.dumps(payload), execution_timeout=30)


@db.durable_step
def add_numbers(step_context: db.StepContext, a: int, b: int) -> int:
    return a + b


@db.durable_execution
async def steps(event: dict[str, int], ctx: db.AsyncDurableContext) -> int:
    first = await ctx.step(add_numbers(event["a"], event["b"]))
    return await ctx.step(add_numbers(first, 10), "add ten")


def test_durable_step() -> None:
    result = _run(steps, {"a": 1, "b": 2})
    assert result.status is InvocationStatus.SUCCEEDED
    assert json.loads(result.get_step("add_numbers").result) == 3
    assert json.loads(result.result) == 13


RETRY = StepConfig(retry_strategy=create_retry_strategy(
    RetryStrategyConfig(max_attempts=3, initial_delay=Duration.from_seconds(1))))


async def flaky(step_context: db.StepContext) -> str:
    if step_context.attempt < 3:
        raise ConnectionError(f"attempt {step_context.attempt} failed")
    return f"ok after {step_context.attempt}"


@db.durable_execution
async def retried(event: Any, ctx: db.AsyncDurableContext) -> str:
    await ctx.wait(Duration.from_minutes(5), "long pause")
    return await ctx.step(flaky, "flaky call", RETRY)


def test_retry_strategy_and_wait() -> None:
    result = _run(retried, {})
    assert result.status is InvocationStatus.SUCCEEDED
    assert result.get_step("flaky call").attempt == 3
    assert result.get_wait("long pause").scheduled_end_timestamp is not None


@db.durable_execution
async def approval(event: Any, ctx: db.AsyncDurableContext) -> dict[str, Any]:
    callback = await ctx.create_callback("approval")
    return {"answer": await callback.result()}


def test_callback() -> None:
    with DurableFunctionTestRunner(handler=approval) as runner:
        arn = runner.run_async(input="{}")
        runner.send_callback_success(runner.wait_for_callback(arn, name="approval"), b"approved")
        result = runner.wait_for_result(arn, timeout=30)
    assert json.loads(result.result or "null") == {"answer": "approved"}


async def square(ctx: db.AsyncDurableContext, item: int, index: int, items: Any) -> int:
    if item == 3:
        raise ValueError("three is unlucky")
    return await ctx.step(lambda _: item * item, f"square {item}")


@db.durable_execution
async def squares(event: dict[str, Any], ctx: db.AsyncDurableContext) -> dict[str, Any]:
    config = MapConfig(max_concurrency=2,
                       completion_config=CompletionConfig(tolerated_failure_count=1))
    batch = await ctx.map(event["items"], square, "squares", config)
    return {"results": batch.get_results(), "failed": batch.failure_count}


def test_map() -> None:
    result = _run(squares, {"items": [1, 2, 3, 4]})
    assert json.loads(result.result) == {"results": [1, 4, 16], "failed": 1}
    assert len(result.get_context("squares").child_operations) == 4

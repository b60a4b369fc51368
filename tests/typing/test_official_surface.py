"""Static type cases for the official SDK's surface: positional parameters, the public
modules, the decorators and ``with_retry``. Read by mypy --strict and pyright; never called.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, assert_type

from durable_backend import types
from durable_backend.backend import DurableBackend, RetryPolicy, SyncRealBackend
from durable_backend.concurrency.models import BatchCompletionError, BatchResult, CompletionReason
from durable_backend.config import (
    CallbackConfig,
    CompletionDecision,
    CompletionOutcome,
    Duration,
    InvokeConfig,
    MapConfig,
    ParallelBranch,
    ParallelConfig,
    StepConfig,
    complete_batch,
    continue_batch,
)
from durable_backend.context import (
    AsyncDurableContext,
    Callback,
    DurableContext,
    ExecutionContext,
    durable_parallel_branch,
    durable_step,
    durable_wait_for_callback,
    durable_with_child_context,
)
from durable_backend.exceptions import ExecutionError, InvocationError, TerminationReason
from durable_backend.execution import durable_execution
from durable_backend.logger import Logger
from durable_backend.retries import RetryPresets, WithRetryConfig, with_retry
from durable_backend.serdes import PassThroughSerDes, deserialize, serialize
from durable_backend.types import StepContext, WaitForCallbackContext
from durable_backend.waits import WaitForConditionConfig, WaitForConditionDecision


@durable_step
def charge(step_ctx: StepContext, order: str, cents: int) -> int:
    return cents


@durable_step
async def fetch(step_ctx: StepContext, key: str) -> bytes:
    return key.encode()


@durable_with_child_context
def ship(child_ctx: DurableContext, order: str) -> str:
    return order


@durable_wait_for_callback
def submit(callback_id: str, ctx: WaitForCallbackContext, task: str) -> None:
    return None


@durable_parallel_branch(name="user")
def load_user(ctx: DurableContext, user_id: int) -> dict[str, int]:
    return {"id": user_id}


def check_decorators() -> None:
    assert_type(charge("o-1", 5), Callable[[StepContext], int])
    assert_type(ship("o-1"), Callable[[DurableContext], str])
    assert_type(submit("t"), Callable[[str, WaitForCallbackContext], None])
    assert_type(load_user(1), ParallelBranch[dict[str, int]])


def check_positional_parameters(ctx: DurableContext) -> None:
    assert_type(ctx.step(charge("o-1", 5), "charge", StepConfig()), int)
    assert_type(ctx.wait(Duration.from_seconds(5), "pause"), None)
    assert_type(ctx.create_callback("approval", CallbackConfig(timeout=60)), Callback[str])
    assert_type(ctx.create_callback("approval"), Callback[str])
    invoke_config: InvokeConfig[dict[str, int], str] = InvokeConfig()
    assert_type(ctx.invoke("billing", {"a": 1}, "bill", invoke_config), str)
    assert_type(ctx.run_in_child_context(ship("o-1"), "ship"), str)

    def double(child: DurableContext, item: int, index: int, items: Sequence[int]) -> int:
        return item * 2

    assert_type(ctx.map([1, 2], double, "doubles", MapConfig()), BatchResult[int])
    assert_type(ctx.map(inputs=[1, 2], func=double), BatchResult[int])
    assert_type(
        ctx.parallel([load_user(1), load_user(2)], "users", ParallelConfig()),
        BatchResult[dict[str, int]],
    )
    assert_type(ctx.wait_for_callback(submit("t"), "ask"), str)

    def check(state: int, check_ctx: types.WaitForConditionCheckContext) -> int:
        return state + check_ctx.attempt

    def strategy(state: int, attempts: int) -> WaitForConditionDecision:
        return WaitForConditionDecision.stop_polling()

    condition = WaitForConditionConfig(wait_strategy=strategy, initial_state=0)
    assert_type(ctx.wait_for_condition(check, condition, "poll"), int)
    assert_type(ctx.is_replaying(), bool)
    assert_type(ctx.execution_context, ExecutionContext)


async def check_async_positional_parameters(ctx: AsyncDurableContext) -> None:
    assert_type(await ctx.step(fetch("k"), "fetch", StepConfig()), bytes)
    assert_type(await ctx.wait(Duration.from_seconds(5), "pause"), None)
    assert_type(ctx.is_replaying(), bool)


def check_with_retry(ctx: DurableContext, actx: AsyncDurableContext) -> None:
    def block(child: DurableContext, attempt: int) -> str:
        return str(attempt)

    async def async_block(child: AsyncDurableContext, attempt: int) -> int:
        return attempt

    config = WithRetryConfig[str](retry_strategy=RetryPresets.transient())
    assert_type(with_retry(ctx, block, config, "block"), str)
    assert_type(with_retry(actx, async_block, WithRetryConfig[int]()), Awaitable[int])


def check_completion_and_errors() -> None:
    assert_type(continue_batch(), CompletionDecision)
    assert_type(complete_batch(CompletionOutcome.FAILED), CompletionDecision)
    assert_type(BatchCompletionError().completion_reason, CompletionReason)
    assert_type(ExecutionError("stop").termination_reason, TerminationReason)
    assert_type(InvocationError("retry me").is_retryable(), bool)


def check_serdes() -> None:
    assert_type(serialize(PassThroughSerDes(), "x", "op", "arn"), str)
    assert_type(deserialize(PassThroughSerDes(), "x", "op", "arn"), str)


def check_durable_execution(client: Any) -> None:
    @durable_execution(boto3_client=client)
    def handler(event: dict[str, str], context: DurableContext) -> str:
        return event["id"]

    assert_type(handler({}, None), dict[str, Any])


def check_logger(
    ctx: DurableContext, actx: AsyncDurableContext, plugged: types.LoggerInterface
) -> None:
    assert_type(ctx.logger, Logger)
    assert_type(ctx.set_logger(plugged), None)
    assert_type(actx.set_logger(logging.getLogger("x")), None)
    assert_type(ctx.logger.get_logger(), types.LoggerInterface)


def check_backend_module(client: Any) -> None:
    assert_type(SyncRealBackend(client), SyncRealBackend)
    backend: DurableBackend = SyncRealBackend(client, retry=RetryPolicy())
    assert_type(backend.get_execution_state("arn", "token", "").next_marker, str | None)


def check_protocols(ctx: DurableContext, callback: Callback[str], batch: BatchResult[int]) -> None:
    as_protocol: types.DurableContext = ctx
    assert_type(as_protocol.step(charge("o-1", 5)), int)
    as_callback: types.Callback[str] = callback
    assert_type(as_callback.callback_id, str)
    as_batch: types.BatchResult[int] = batch
    assert_type(as_batch.get_results(), list[int])


def check_optional_configs(
    ctx: DurableContext,
    callback_config: CallbackConfig | None,
    invoke_config: InvokeConfig[str, int] | None,
) -> None:
    assert_type(ctx.create_callback("approval", callback_config), Callback[str])
    assert_type(ctx.invoke("billing", "payload", "bill", invoke_config), int)

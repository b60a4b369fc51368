"""Retry strategies and presets (official ``retries``), and ``with_retry`` for whole blocks.

A strategy is ``strategy(error, attempts_made) -> RetryDecision``. ``StepConfig`` applies one to
a single step; ``with_retry`` applies one to a block of durable operations, re-running the block
after a durable wait.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar, overload

from attrs import frozen

from durable_backend._config import ChildConfig
from durable_backend._context import AsyncDurableContext, DurableContext
from durable_backend._retry import (
    ErrorPattern,
    JitterStrategy,
    LinearRetryStrategyConfig,
    RetryDecision,
    RetryPresets,
    RetryStrategy,
    RetryStrategyConfig,
    create_linear_retry_strategy,
    create_retry_strategy,
)
from durable_backend.config import Numeric

T = TypeVar("T")


@frozen
class WithRetryConfig(Generic[T]):
    """``with_retry`` options.

    ``retry_strategy=None`` means ``create_retry_strategy()`` (3 attempts). With
    ``wrap_with_run_in_child_context`` (the default) the block runs in a child context configured
    by ``child_context_config``, so its final failure surfaces as a ``ChildContextError``;
    without it, the block's own error propagates unchanged.
    """

    retry_strategy: RetryStrategy | None = None
    wrap_with_run_in_child_context: bool = True
    child_context_config: ChildConfig[T] | None = None


def _wait_name(name: str | None, attempt: int) -> str | None:
    return f"{name}-backoff-{attempt}" if name else None


@overload
def with_retry(
    context: AsyncDurableContext,
    func: Callable[[AsyncDurableContext, int], Awaitable[T]],
    config: WithRetryConfig[T],
    name: str | None = None,
) -> Awaitable[T]: ...
@overload
def with_retry(
    context: DurableContext,
    func: Callable[[DurableContext, int], T],
    config: WithRetryConfig[T],
    name: str | None = None,
) -> T: ...
def with_retry(
    context: DurableContext | AsyncDurableContext,
    func: Callable[[Any, int], Any],
    config: WithRetryConfig[Any],
    name: str | None = None,
) -> Any:
    """Run ``func(ctx, attempt)`` (attempt from 1); on an error the strategy retries, wait
    durably (``{name}-backoff-{attempt}``) and run the whole block again."""
    strategy = config.retry_strategy or create_retry_strategy()

    def run_loop(ctx: DurableContext) -> Any:
        attempt = 0
        while True:
            attempt += 1
            try:
                return func(ctx, attempt)
            except Exception as error:
                decision = strategy(error, attempt)
                if not decision.should_retry:
                    raise
                ctx.wait(decision.delay, _wait_name(name, attempt))

    async def run_loop_async(ctx: AsyncDurableContext) -> Any:
        attempt = 0
        while True:
            attempt += 1
            try:
                value = func(ctx, attempt)
                return await value if inspect.isawaitable(value) else value
            except Exception as error:
                decision = strategy(error, attempt)
                if not decision.should_retry:
                    raise
                await ctx.wait(decision.delay, _wait_name(name, attempt))

    if isinstance(context, AsyncDurableContext):
        if config.wrap_with_run_in_child_context:
            return context.run_in_child_context(run_loop_async, name, config.child_context_config)
        return run_loop_async(context)
    if config.wrap_with_run_in_child_context:
        return context.run_in_child_context(run_loop, name, config.child_context_config)
    return run_loop(context)


__all__ = [
    "ErrorPattern",
    "JitterStrategy",
    "LinearRetryStrategyConfig",
    "Numeric",
    "RetryDecision",
    "RetryPresets",
    "RetryStrategy",
    "RetryStrategyConfig",
    "WithRetryConfig",
    "create_linear_retry_strategy",
    "create_retry_strategy",
    "with_retry",
]

"""The contexts a handler receives, and the official decorators that bind arguments to the
functions handed to them.

``@durable_step`` turns ``f(step_ctx, *args)`` into ``f(*args)`` returning the step body, named
after ``f`` in the history unless the call names it; likewise ``@durable_with_child_context``,
``@durable_wait_for_callback`` and ``@durable_parallel_branch(name)``. Each works for ``def`` and
``async def`` functions alike: an ``async def`` stays one, so the async twin awaits it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

from durable_backend._config import ParallelBranch
from durable_backend._context import (
    AsyncCallback,
    AsyncDurableContext,
    Callback,
    DurableContext,
    ExecutionContext,
)
from durable_backend.serdes import PassThroughSerDes
from durable_backend.types import StepContext, WaitForCallbackContext, WaitForConditionCheckContext

PASS_THROUGH_SERDES = PassThroughSerDes()
"""What a callback's answer is read with when its config names no serdes: the raw string."""

P = ParamSpec("P")
T = TypeVar("T")
C = TypeVar("C")


def _bind(
    func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Callable[..., Any]:
    """``func`` with ``args``/``kwargs`` appended after the arguments the SDK passes, named
    after ``func`` and still a coroutine function when ``func`` is one."""
    bound: Callable[..., Any]
    if inspect.iscoroutinefunction(func):

        async def bound_async(*given: Any) -> Any:
            return await func(*given, *args, **kwargs)

        bound = bound_async
    else:

        def bound_sync(*given: Any) -> Any:
            return func(*given, *args, **kwargs)

        bound = bound_sync
    bound.__dict__["_original_name"] = func.__name__
    return bound


def durable_step(
    func: Callable[Concatenate[StepContext, P], T],
) -> Callable[P, Callable[[StepContext], T]]:
    """``@durable_step def charge(step_ctx, order)``; then ``ctx.step(charge(order))``."""

    def bind(*args: P.args, **kwargs: P.kwargs) -> Callable[[StepContext], T]:
        return _bind(func, args, kwargs)

    return bind


def durable_with_child_context(
    func: Callable[Concatenate[C, P], T],
) -> Callable[P, Callable[[C], T]]:
    """``@durable_with_child_context def f(child_ctx, x)``; then ``ctx.run_in_child_context(f(x))``
    (or ``ctx.map``)."""

    def bind(*args: P.args, **kwargs: P.kwargs) -> Callable[[C], T]:
        return _bind(func, args, kwargs)

    return bind


def durable_wait_for_callback(
    func: Callable[Concatenate[str, WaitForCallbackContext, P], T],
) -> Callable[P, Callable[[str, WaitForCallbackContext], T]]:
    """``@durable_wait_for_callback def submit(callback_id, ctx, task)``; then
    ``ctx.wait_for_callback(submit(task))``."""

    def bind(*args: P.args, **kwargs: P.kwargs) -> Callable[[str, WaitForCallbackContext], T]:
        return _bind(func, args, kwargs)

    return bind


def durable_parallel_branch(
    name: str | None = None,
) -> Callable[[Callable[Concatenate[Any, P], T]], Callable[P, ParallelBranch[T]]]:
    """``@durable_parallel_branch("fetch-user") def fetch(ctx, user_id)``; then
    ``ctx.parallel([fetch(user_id), ...])``: each call is a ``ParallelBranch`` named ``name``
    (``parallel-branch-{index}`` when None)."""

    def decorator(func: Callable[Concatenate[Any, P], T]) -> Callable[P, ParallelBranch[T]]:
        def bind(*args: P.args, **kwargs: P.kwargs) -> ParallelBranch[T]:
            return ParallelBranch(_bind(func, args, kwargs), name)

        return bind

    return decorator


__all__ = [
    "AsyncCallback",
    "AsyncDurableContext",
    "Callback",
    "DurableContext",
    "ExecutionContext",
    "PASS_THROUGH_SERDES",
    "StepContext",
    "WaitForCallbackContext",
    "WaitForConditionCheckContext",
    "durable_parallel_branch",
    "durable_step",
    "durable_wait_for_callback",
    "durable_with_child_context",
]

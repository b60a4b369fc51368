"""Step stubs: a context wrapper that swaps a named step's body, leaving user code untouched.

The kit decorates ``stubbed(fn, stubs)`` instead of ``fn``: the user's function receives a
``StubbingContext`` that forwards every call to the real context, except that ``step(...,
name=N)`` runs the stub registered for ``N`` instead of the body. The step is still a real step
(checkpointed, replayed, retried), so histories and checkpoint counts stay honest. Contexts
handed to child contexts, map items and parallel branches are wrapped the same way.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from durable_backend._config import ParallelBranch


def _like(wrapper: Callable[..., Any], original: Callable[..., Any]) -> Callable[..., Any]:
    """Give ``wrapper`` ``original``'s name, signature and *resolved* annotations.

    The engine picks serdes from annotations and caches string annotations per code object;
    all wrappers share one code object, so they carry resolved hints, never strings.
    """
    functools.update_wrapper(wrapper, original)
    try:
        hints = typing.get_type_hints(original)
    except Exception:
        hints = {}
    wrapper.__annotations__ = hints
    return wrapper


def stub_body(stub: object, original: Callable[..., Any]) -> Callable[..., Any]:
    """A step body that returns ``stub`` (a value), raises it (an exception), or calls it
    with the step context (a function). It keeps ``original``'s annotations for serdes."""

    def body(step_context: Any) -> Any:
        if isinstance(stub, BaseException):
            raise stub
        if callable(stub):
            return stub(step_context)
        return stub

    return _like(body, original)


class StubbingContext:
    """Forwards to the real ``DurableContext``/``AsyncDurableContext``; stubs named steps."""

    def __init__(self, ctx: Any, stubs: Mapping[str, object], used: set[str]) -> None:
        self._ctx = ctx
        self._stubs = stubs
        self._used = used

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ctx, name)

    def step(self, func: Callable[..., Any], *, name: str | None = None, **options: Any) -> Any:
        if name is not None and name in self._stubs:
            self._used.add(name)
            func = stub_body(self._stubs[name], func)
        return self._ctx.step(func, name=name, **options)

    def run_in_child_context(self, func: Callable[..., Any], **options: Any) -> Any:
        return self._ctx.run_in_child_context(self._wrap(func), **options)

    def map(self, items: Sequence[Any], func: Callable[..., Any], **options: Any) -> Any:
        return self._ctx.map(items, self._wrap(func), **options)

    def parallel(self, branches: Sequence[Callable[..., Any]], **options: Any) -> Any:
        wrapped = [
            attrs.evolve(branch, func=self._wrap(branch.func))
            if isinstance(branch, ParallelBranch)
            else self._wrap(branch)
            for branch in branches
        ]
        return self._ctx.parallel(wrapped, **options)

    def _wrap(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """``func(ctx, *rest)`` called with a stubbing context; sync stays sync, async async."""
        stubs, used = self._stubs, self._used
        if inspect.iscoroutinefunction(func):

            async def async_wrapper(ctx: Any, *rest: Any) -> Any:
                return await func(StubbingContext(ctx, stubs, used), *rest)

            return _like(async_wrapper, func)

        def wrapper(ctx: Any, *rest: Any) -> Any:
            return func(StubbingContext(ctx, stubs, used), *rest)

        return _like(wrapper, func)


def stubbed(
    fn: Callable[..., Any], stubs: Mapping[str, object], used: set[str]
) -> Callable[..., Any]:
    """``fn(event, ctx)`` receiving a ``StubbingContext`` that records the stub names it uses
    in ``used``; same kind (sync/async), same annotations, so the decorator picks the same
    twin and serdes."""
    if inspect.iscoroutinefunction(fn):

        async def async_handler(event: Any, ctx: Any) -> Any:
            return await fn(event, StubbingContext(ctx, stubs, used))

        return _like(async_handler, fn)

    def handler(event: Any, ctx: Any) -> Any:
        return fn(event, StubbingContext(ctx, stubs, used))

    return _like(handler, fn)

"""Which role a piece of user code runs in: orchestration (handler, child context and branch
bodies) or step body. The engine marks the bodies it runs; the determinism guard reads the
role. Apart from the guard so the engine imports no threading or profiling machinery.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

ORCHESTRATION = "orchestration"
STEP = "step"
_ROLE: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "durable_backend_role", default=None
)
marking = False  # set while a determinism guard is armed


def current_role() -> str | None:
    return _ROLE.get()


def step_body(fn: F) -> F:
    """``fn`` marked as a step body while a guard is armed (clock and random are fine there);
    ``fn`` itself otherwise, so unguarded runs pay nothing."""
    return _marked(fn, STEP) if marking else fn


def orchestration_body(fn: F) -> F:
    """``fn`` (a child context or branch body) marked as orchestration while a guard is armed:
    the sync twin runs branches on threads of their own, which inherit no context."""
    return _marked(fn, ORCHESTRATION) if marking else fn


def _marked(fn: F, role: str) -> F:
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def marked_async(*args: Any) -> Any:
            return await in_role(role, fn(*args))

        return marked_async  # type: ignore[return-value]

    @functools.wraps(fn)
    def marked(*args: Any) -> Any:
        return call_in_role(role, fn, args, {})

    return marked  # type: ignore[return-value]


def call_in_role(
    role: str, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Call ``fn`` in ``role``; an awaitable it returns is awaited in that role too."""
    token = _ROLE.set(role)
    try:
        result = fn(*args, **kwargs)
    finally:
        _ROLE.reset(token)
    if inspect.isawaitable(result):
        return in_role(role, result)
    return result


async def in_role(role: str, awaitable: Awaitable[Any]) -> Any:
    token = _ROLE.set(role)
    try:
        return await awaitable
    finally:
        _ROLE.reset(token)

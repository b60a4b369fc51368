"""What the SDK reads off user callables: their annotations, and whether they are async.

Serdes are picked by annotation; resolving ``from __future__ import annotations`` strings with
``typing.get_type_hints`` is slow, so it happens once per function, not once per call.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from types import FunctionType
from typing import Any, NoReturn

_RESOLVED: dict[int, tuple[object, object | None]] = {}
"""Resolved return annotations by the id of their code object, which the entry keeps alive (so
the id is not reused). Keying by the code object itself would hash it on every step: a
step's body is often a fresh closure of the same code."""


def _hints(fn: Callable[..., Any]) -> dict[str, object]:
    try:
        return typing.get_type_hints(fn)
    except Exception:
        return {}


def return_annotation(fn: Callable[..., Any]) -> object | None:
    """``fn``'s return annotation, resolved; None when it has none."""
    if fn.__class__ is FunctionType and "__wrapped__" not in fn.__dict__:
        # The usual step body, a fresh closure of code seen before: reading its
        # ``__annotations__`` would build a new dict, and a missing ``__wrapped__`` raises
        # inside ``getattr``; the code's cached entry answers without either.
        cached = _RESOLVED.get(id(fn.__code__))
        if cached is not None:
            return cached[1]
    annotations = getattr(fn, "__annotations__", None)
    if not annotations or "return" not in annotations:
        return None
    found: object = annotations["return"]
    if not isinstance(found, str):
        return found
    while (inner := getattr(fn, "__wrapped__", None)) is not None:
        fn = inner  # a decorator's wrapper code is shared by every function it wraps
    code = getattr(fn, "__code__", fn)
    cached = _RESOLVED.get(id(code))
    if cached is None:
        cached = _RESOLVED[id(code)] = (code, _hints(fn).get("return"))
    return cached[1]


def first_parameter_annotation(fn: Callable[..., Any]) -> object | None:
    """The resolved annotation of ``fn``'s first parameter (a handler's event), if any."""
    try:
        parameters = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return None
    if not parameters:
        return None
    return _hints(fn).get(parameters[0])


def callable_name(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)


def is_coroutine_function(fn: Callable[..., Any]) -> bool:
    """``inspect.iscoroutinefunction``, read off the code flags of a plain function (the usual
    lambda or closure), which is a tenth of what ``inspect`` costs on every step."""
    if fn.__class__ is FunctionType and "_is_coroutine_marker" not in fn.__dict__:
        return bool(fn.__code__.co_flags & inspect.CO_COROUTINE)
    return inspect.iscoroutinefunction(fn)


def reject_coroutine_function(fn: Callable[..., Any], what: str) -> None:
    """The sync twin refuses ``async def`` bodies up front instead of retrying a TypeError."""
    if is_coroutine_function(fn) or (
        fn.__class__ is not FunctionType
        and inspect.iscoroutinefunction(getattr(fn, "__call__", None))  # noqa: B004
    ):
        _refuse_async(fn, what)


def _refuse_async(fn: Callable[..., Any], what: str) -> NoReturn:
    raise TypeError(
        f"{what} got the async function {callable_name(fn)} in a sync DurableContext. Use a "
        "plain function here, or write the handler as `async def` to get an AsyncDurableContext."
    )

"""Resolved return and parameter annotations of user callables, cached per code object.

Serdes are picked by annotation; resolving ``from __future__ import annotations`` strings with
``typing.get_type_hints`` is slow, so it happens once per function, not once per call.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from typing import Any

_RESOLVED: dict[tuple[object, str], object] = {}


def _hints(fn: Callable[..., Any]) -> dict[str, object]:
    try:
        return typing.get_type_hints(fn)
    except Exception:
        return {}


def return_annotation(fn: Callable[..., Any]) -> object | None:
    """``fn``'s return annotation, resolved; None when it has none."""
    annotations = getattr(fn, "__annotations__", None)
    if not annotations or "return" not in annotations:
        return None
    found: object = annotations["return"]
    if not isinstance(found, str):
        return found
    key = (getattr(fn, "__code__", fn), "return")
    if key not in _RESOLVED:
        _RESOLVED[key] = _hints(fn).get("return")
    return _RESOLVED[key]


def first_parameter_annotation(fn: Callable[..., Any]) -> object | None:
    """The resolved annotation of ``fn``'s first parameter (a handler's event), if any."""
    try:
        parameters = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return None
    if not parameters:
        return None
    return _hints(fn).get(parameters[0])

"""One request per durable operation: what the user asked for, as the context received it.

A context turns a call's arguments into a request (checked here, at call time) and hands it to
``begin``, which takes the operation's id and makes its flow. Everything else is the flow's to
resolve, once for both twins: default configs, names, serdes, the invoke payload.

Requests are plain slotted classes, not frozen ones: nothing keeps them past the flow that
reads them, and a frozen attrs ``__init__`` pays a call per field on every durable call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, ClassVar

from attrs import Attribute, define, field

from durable_backend._config import (
    CallbackConfig,
    ChildConfig,
    InvokeConfig,
    MapConfig,
    ParallelConfig,
    StepConfig,
    WaitForCallbackConfig,
    WaitForConditionConfig,
)
from durable_backend._duration import Duration, duration_seconds

OperationContext = Callable[[str, str | None, int], Any]
"""Makes the object a step-like body receives: ``(operation id, name, attempt)``."""


def _wait_seconds(duration: Duration | timedelta | int) -> int:
    return duration_seconds(duration, what="wait duration")


def _items(items: Sequence[Any]) -> list[Any]:
    """A map's items as a list taken at call time: later changes to the caller's sequence do
    not reach the map."""
    return list(items)


def _function_name(_: object, __: Attribute[str], value: object) -> None:
    if not isinstance(value, str) or not value:
        raise TypeError(f"invoke needs a function name (str), got {value!r}")


def _condition_config(_: object, __: Attribute[Any], value: object) -> None:
    if not isinstance(value, WaitForConditionConfig):
        raise TypeError(
            f"wait_for_condition needs a WaitForConditionConfig, got {type(value).__name__}"
        )


@define
class StepRequest:
    kind: ClassVar[str] = "step"
    func: Callable[..., Any]
    name: str | None
    config: StepConfig | None
    context: OperationContext


@define
class WaitRequest:
    kind: ClassVar[str] = "wait"
    seconds: int = field(converter=_wait_seconds)
    name: str | None = None


@define
class CallbackRequest:
    kind: ClassVar[str] = "create_callback"
    name: str | None
    config: CallbackConfig | None


@define
class WaitForCallbackRequest:
    kind: ClassVar[str] = "wait_for_callback"
    submitter: Callable[..., Any]
    name: str | None
    config: WaitForCallbackConfig | None
    context: OperationContext


@define
class InvokeRequest:
    kind: ClassVar[str] = "invoke"
    function_name: str = field(validator=_function_name)
    payload: object
    name: str | None
    config: InvokeConfig[Any, Any] | None


@define
class ChildRequest:
    kind: ClassVar[str] = "run_in_child_context"
    func: Callable[..., Any]
    name: str | None
    config: ChildConfig[Any] | None


@define
class MapRequest:
    kind: ClassVar[str] = "map"
    items: list[Any] = field(converter=_items)
    func: Callable[..., Any]
    name: str | None
    config: MapConfig[Any] | None


@define
class ParallelRequest:
    kind: ClassVar[str] = "parallel"
    branches: Sequence[Callable[..., Any]]
    name: str | None
    config: ParallelConfig | None


@define
class WaitForConditionRequest:
    kind: ClassVar[str] = "wait_for_condition"
    check: Callable[..., Any]
    config: WaitForConditionConfig[Any] = field(validator=_condition_config)
    name: str | None
    context: OperationContext


@define
class NowRequest:
    kind: ClassVar[str] = "now"
    name: ClassVar[None] = None


Request = (
    StepRequest
    | WaitRequest
    | CallbackRequest
    | WaitForCallbackRequest
    | InvokeRequest
    | ChildRequest
    | MapRequest
    | ParallelRequest
    | WaitForConditionRequest
    | NowRequest
)

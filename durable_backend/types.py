"""What user functions receive and the Protocols they are typed against (official ``types``).

Only the standard library and attrs are imported at run time, so every other module can use
these names without an import cycle.
"""

from __future__ import annotations

import re
from abc import abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from attrs import field, frozen

if TYPE_CHECKING:
    from durable_backend._config import (
        CallbackConfig,
        ChildConfig,
        MapConfig,
        ParallelBranch,
        ParallelConfig,
        StepConfig,
    )
    from durable_backend._duration import Duration

T = TypeVar("T")
U = TypeVar("U")
C_co = TypeVar("C_co", covariant=True)
C_contra = TypeVar("C_contra", contravariant=True)


class LoggerInterface(Protocol):
    """What a logger must offer to be handed to ``DurableContext.set_logger``."""

    def debug(
        self, msg: object, *args: object, extra: Mapping[str, object] | None = None
    ) -> None: ...

    def info(
        self, msg: object, *args: object, extra: Mapping[str, object] | None = None
    ) -> None: ...

    def warning(
        self, msg: object, *args: object, extra: Mapping[str, object] | None = None
    ) -> None: ...

    def error(
        self, msg: object, *args: object, extra: Mapping[str, object] | None = None
    ) -> None: ...

    def exception(
        self, msg: object, *args: object, extra: Mapping[str, object] | None = None
    ) -> None: ...


@frozen
class OperationContext:
    """What every piece of user code run by an operation receives: a replay-aware logger."""

    logger: LoggerInterface


@frozen
class StepContext(OperationContext):
    """A step body's context. ``attempt`` counts from 1; ``operation_id`` and ``name`` (ours,
    keyword-only) identify the step, for example as an idempotency key."""

    attempt: int
    operation_id: str = field(default="", kw_only=True)
    name: str | None = field(default=None, kw_only=True)


@frozen
class WaitForCallbackContext(OperationContext):
    """A ``wait_for_callback`` submitter's context."""


@frozen
class WaitForConditionCheckContext(OperationContext):
    """A ``wait_for_condition`` check's context; ``attempt`` counts checks from 1."""

    attempt: int


class Callback(Protocol, Generic[C_co]):
    """A started callback: ``callback_id`` for the external system, ``result()`` to wait."""

    callback_id: str

    @abstractmethod
    def result(self) -> C_co | None: ...


class BatchResult(Protocol, Generic[T]):
    """What ``map`` and ``parallel`` return, at the least."""

    @abstractmethod
    def get_results(self) -> list[T]: ...


class DurableContext(Protocol):
    """The sync context's core operations, for code typed against an interface."""

    @abstractmethod
    def step(
        self,
        func: Callable[[StepContext], T],
        name: str | None = None,
        config: StepConfig | None = None,
    ) -> T: ...

    @abstractmethod
    def run_in_child_context(
        self,
        func: Callable[[Any], T],
        name: str | None = None,
        config: ChildConfig[Any] | None = None,
    ) -> T: ...

    @abstractmethod
    def map(
        self,
        inputs: Sequence[U],
        func: Callable[[Any, U, int, Sequence[U]], T],
        name: str | None = None,
        config: MapConfig[U] | None = None,
    ) -> BatchResult[T]: ...

    @abstractmethod
    def parallel(
        self,
        functions: Sequence[Callable[[Any], T] | ParallelBranch[T]],
        name: str | None = None,
        config: ParallelConfig | None = None,
    ) -> BatchResult[T]: ...

    @abstractmethod
    def wait(self, duration: Duration, name: str | None = None) -> None: ...

    @abstractmethod
    def create_callback(
        self, name: str | None = None, config: CallbackConfig | None = None
    ) -> Callback[Any]: ...


class LambdaContext(Protocol):
    """The Lambda runtime's context object, as far as a durable function uses it."""

    aws_request_id: str
    log_group_name: str | None
    log_stream_name: str | None
    function_name: str | None
    memory_limit_in_mb: str | None
    function_version: str | None
    invoked_function_arn: str | None
    tenant_id: str | None
    client_context: Any | None
    identity: Any | None

    def get_remaining_time_in_millis(self) -> int: ...

    def log(self, msg: Any) -> None: ...


class SummaryGenerator(Protocol[C_contra]):
    """``summary_generator(result) -> str``: checkpointed instead of an oversized result."""

    def __call__(self, result: C_contra) -> str: ...


_DURABLE_EXECUTION_ARN = re.compile(
    r"^arn:[^:]*:lambda:[^:]*:[^:]*:function:([^:/]+):[^:/]+/durable-execution/([^/]+)/([^/]+)$"
)


@frozen
class DurableExecutionArn:
    """The parts of ``arn:...:function:<function>:<version>/durable-execution/<name>/<id>``."""

    function_name: str
    execution_name: str
    invocation_id: str

    @classmethod
    def from_arn(cls, arn: str) -> DurableExecutionArn | None:
        """The parts, or None when ``arn`` is not a durable execution ARN."""
        match = _DURABLE_EXECUTION_ARN.match(arn)
        if match is None:
            return None
        return cls(match.group(1), match.group(2), match.group(3))


__all__ = [
    "BatchResult",
    "Callback",
    "DurableContext",
    "DurableExecutionArn",
    "LambdaContext",
    "LoggerInterface",
    "OperationContext",
    "StepContext",
    "SummaryGenerator",
    "WaitForCallbackContext",
    "WaitForConditionCheckContext",
]

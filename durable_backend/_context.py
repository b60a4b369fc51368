"""``DurableContext`` and ``AsyncDurableContext``: thin typed shells over the engine's flows.

Each method allocates its operation id at call time, builds the flow and hands it to the
driver. The sync twin returns the value; the async twin returns an awaitable, so
``asyncio.gather(ctx.step(a), ctx.step(b))`` numbers its operations in call order.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Generator, Sequence
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar, overload
from uuid import UUID

from attrs import frozen

from durable_backend._annotations import reject_coroutine_function
from durable_backend._batch import BatchResult
from durable_backend._config import (
    CallbackConfig,
    CallbackResultT,
    ChildConfig,
    InvokeConfig,
    InvokeResultT,
    MapConfig,
    ParallelConfig,
    StepConfig,
    WaitForCallbackConfig,
    WaitForConditionConfig,
)
from durable_backend._drive import AsyncRuntime, Runtime
from durable_backend._duration import Duration
from durable_backend._engine import (
    CallbackRequest,
    ChildRequest,
    Flow,
    InvokeRequest,
    MapRequest,
    NowRequest,
    ParallelRequest,
    Request,
    Scope,
    StartedCallback,
    StepRequest,
    WaitForCallbackRequest,
    WaitForConditionRequest,
    WaitRequest,
    begin,
    callback_result_flow,
    draw_float,
    draw_uuid,
)
from durable_backend._logger import Logger, LoggerSlot, context_logger, operation_logger
from durable_backend.types import (
    LoggerInterface,
    StepContext,
    WaitForCallbackContext,
    WaitForConditionCheckContext,
)

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741 - a map item
S = TypeVar("S")
T1 = TypeVar("T1")
T2 = TypeVar("T2")
T3 = TypeVar("T3")

@frozen
class ExecutionContext:
    """Read-only facts about the running execution."""

    durable_execution_arn: str


class _Shell:
    """What both twins share: the scope and the flows they build. No I/O, no awaiting."""

    __slots__ = ("_draws", "_logger", "_scope", "lambda_context")

    def __init__(self, scope: Scope, logger: LoggerSlot, lambda_context: Any = None) -> None:
        self._scope = scope
        self._logger = logger
        self.lambda_context = lambda_context
        """The Lambda runtime's context object of this invocation (None when run locally)."""
        self._draws = 0

    def _operation_logger(self, op_id: str, name: str | None, attempt: int | None) -> Logger:
        scope = self._scope
        return operation_logger(
            self._logger.logger, scope.execution, scope.ids.parent_id, op_id, name, attempt
        )

    def _make_step_context(self, op_id: str, name: str | None, attempt: int) -> StepContext:
        return StepContext(
            self._operation_logger(op_id, name, attempt), attempt, operation_id=op_id, name=name
        )

    def _make_submitter_context(
        self, op_id: str, name: str | None, attempt: int
    ) -> WaitForCallbackContext:
        return WaitForCallbackContext(self._operation_logger(op_id, name, attempt))

    def _make_check_context(
        self, op_id: str, name: str | None, attempt: int
    ) -> WaitForConditionCheckContext:
        return WaitForConditionCheckContext(self._operation_logger(op_id, name, attempt), attempt)

    @property
    def logger(self) -> Logger:
        """A logger that is quiet while replaying and tags records with the execution."""
        return context_logger(self._logger.logger, self._scope.execution, self._scope.parent_id)

    def set_logger(self, new_logger: LoggerInterface) -> None:
        """Log through ``new_logger`` (a ``logging.Logger`` or any ``LoggerInterface``, such as
        Powertools' ``Logger``) from now on: this context, and every context and operation
        context this invocation creates after the call."""
        self._logger.logger = new_logger

    def is_replaying(self) -> bool:
        """True while the code re-runs operations the history already holds."""
        return self._scope.execution.replaying

    @property
    def execution_arn(self) -> str:
        return self._scope.execution.arn

    @property
    def execution_context(self) -> ExecutionContext:
        return ExecutionContext(self._scope.execution.arn)

    def _begin(self, request: Request) -> Flow:
        """The one construction path of both twins: the engine's flow for ``request``."""
        return begin(self._scope, request)

    def _step(
        self, func: Callable[..., Any], name: str | None, config: StepConfig | None
    ) -> Flow:
        return begin(self._scope, StepRequest(func, name, config, self._make_step_context))

    def _wait_for_callback(
        self,
        submitter: Callable[..., Any],
        name: str | None,
        config: WaitForCallbackConfig[Any] | None,
    ) -> Flow:
        request = WaitForCallbackRequest(submitter, name, config, self._make_submitter_context)
        return begin(self._scope, request)

    def _wait_for_condition(
        self, check: Callable[..., Any], config: WaitForConditionConfig[Any], name: str | None
    ) -> Flow:
        request = WaitForConditionRequest(check, config, name, self._make_check_context)
        return begin(self._scope, request)

    def _draw(self) -> tuple[str, str | None, int]:
        """The key of this context's next replay-safe random draw, taken at call time."""
        self._draws += 1
        scope = self._scope
        return scope.execution.arn, scope.ids.prefix, self._draws


R = TypeVar("R", Runtime, AsyncRuntime)
_NOW = NowRequest()


class _CallbackHandle(Generic[R]):
    """What both callback twins hold: the started operation and how to read its answer."""

    __slots__ = ("_runtime", "_started", "callback_id", "operation_id")

    def __init__(self, runtime: R, started: StartedCallback) -> None:
        self._runtime: R = runtime
        self._started = started
        self.operation_id = started.operation_id
        self.callback_id = started.callback_id

    def _result_flow(self) -> Flow:
        return callback_result_flow(self._started)


class Callback(_CallbackHandle[Runtime], Generic[T]):
    """A started callback: hand ``callback_id`` to the external system, then ``result()``."""

    __slots__ = ()

    def result(self) -> T:
        """The answer (the raw string unless the config names a serdes), or suspend."""
        result: T = self._runtime.drive(self._result_flow())
        return result


class AsyncCallback(_CallbackHandle[AsyncRuntime], Generic[T]):
    """The async twin of ``Callback``: ``await callback.result()``."""

    __slots__ = ()

    async def result(self) -> T:
        result: T = await self._runtime.drive(self._result_flow())
        return result


class DurableContext(_Shell):
    """The context a sync ``def`` handler receives."""

    __slots__ = ("_runtime",)

    def __init__(
        self, runtime: Runtime, scope: Scope, logger: LoggerSlot, lambda_context: Any = None
    ) -> None:
        super().__init__(scope, logger, lambda_context)
        self._runtime = runtime

    def step(
        self,
        func: Callable[[StepContext], T],
        name: str | None = None,
        config: StepConfig | None = None,
    ) -> T:
        """Run ``func`` once (per retry), checkpoint its result, and replay it afterwards."""
        reject_coroutine_function(func, "step")
        result: T = self._runtime.drive(self._step(func, name, config))
        return result

    def wait(self, duration: Duration | timedelta | int, name: str | None = None) -> None:
        """Suspend for ``duration`` (at least 1 s) without paying for the time."""
        self._runtime.drive(self._begin(WaitRequest(duration, name)))

    @overload
    def create_callback(self, name: str | None = None, config: None = None) -> Callback[str]: ...
    @overload
    def create_callback(
        self, name: str | None = None, config: CallbackConfig[CallbackResultT] | None = None
    ) -> Callback[CallbackResultT]: ...
    def create_callback(
        self, name: str | None = None, config: CallbackConfig[Any] | None = None
    ) -> Callback[Any]:
        """Start a callback and return its handle; ``result()`` suspends until it is answered."""
        started: StartedCallback = self._runtime.drive(
            self._begin(CallbackRequest(name, config))
        )
        return Callback(self._runtime, started)

    @overload
    def wait_for_callback(
        self,
        submitter: Callable[[str, WaitForCallbackContext], object],
        name: str | None = None,
        config: None = None,
    ) -> str: ...
    @overload
    def wait_for_callback(
        self,
        submitter: Callable[[str, WaitForCallbackContext], object],
        name: str | None = None,
        config: WaitForCallbackConfig[CallbackResultT] | None = None,
    ) -> CallbackResultT: ...
    def wait_for_callback(
        self,
        submitter: Callable[[str, WaitForCallbackContext], object],
        name: str | None = None,
        config: WaitForCallbackConfig[Any] | None = None,
    ) -> Any:
        """Create a callback, run ``submitter(callback_id, ctx)`` as a step, await the answer."""
        reject_coroutine_function(submitter, "wait_for_callback")
        return self._runtime.drive(self._wait_for_callback(submitter, name, config))

    def invoke(
        self,
        function_name: str,
        payload: object,
        name: str | None = None,
        config: InvokeConfig[Any, InvokeResultT] | None = None,
    ) -> InvokeResultT:
        """Start another durable function and suspend until it finishes; return its result.

        Without a ``serdes_result`` the result is ``JsonValue``, or the type the assignment
        names (``priced: dict[str, int] = ctx.invoke(...)``), taken on trust as with JSON.
        """
        result: InvokeResultT = self._runtime.drive(
            self._begin(InvokeRequest(function_name, payload, name, config))
        )
        return result

    def run_in_child_context(
        self,
        func: Callable[[DurableContext], T],
        name: str | None = None,
        config: ChildConfig[Any] | None = None,
    ) -> T:
        """Run ``func`` with a child context whose operations nest under one CONTEXT."""
        reject_coroutine_function(func, "run_in_child_context")
        result: T = self._runtime.drive(self._begin(ChildRequest(func, name, config)))
        return result

    def map(
        self,
        inputs: Sequence[I],
        func: Callable[[DurableContext, I, int, Sequence[I]], T],
        name: str | None = None,
        config: MapConfig[I] | None = None,
    ) -> BatchResult[T]:
        """Run ``func(ctx, item, index, items)`` for each item as its own child context."""
        reject_coroutine_function(func, "map")
        result: BatchResult[T] = self._runtime.drive(
            self._begin(MapRequest(inputs, func, name, config))
        )
        return result

    @overload
    def parallel(
        self,
        functions: tuple[Callable[[DurableContext], T1], Callable[[DurableContext], T2]],
        name: str | None = None,
        config: ParallelConfig | None = None,
    ) -> BatchResult[T1 | T2]: ...
    @overload
    def parallel(
        self,
        functions: tuple[
            Callable[[DurableContext], T1],
            Callable[[DurableContext], T2],
            Callable[[DurableContext], T3],
        ],
        name: str | None = None,
        config: ParallelConfig | None = None,
    ) -> BatchResult[T1 | T2 | T3]: ...
    @overload
    def parallel(
        self,
        functions: Sequence[Callable[[DurableContext], T]],
        name: str | None = None,
        config: ParallelConfig | None = None,
    ) -> BatchResult[T]: ...
    def parallel(
        self,
        functions: Sequence[Callable[[DurableContext], Any]],
        name: str | None = None,
        config: ParallelConfig | None = None,
    ) -> BatchResult[Any]:
        """Run each branch ``branch(ctx)`` as its own child context, concurrently."""
        for branch in functions:
            reject_coroutine_function(branch, "parallel")
        result: BatchResult[Any] = self._runtime.drive(
            self._begin(ParallelRequest(functions, name, config))
        )
        return result

    def wait_for_condition(
        self,
        check: Callable[[S, WaitForConditionCheckContext], S],
        config: WaitForConditionConfig[S],
        name: str | None = None,
    ) -> S:
        """Poll ``check(state, ctx)`` with durable waits until the wait strategy stops."""
        reject_coroutine_function(check, "wait_for_condition")
        result: S = self._runtime.drive(self._wait_for_condition(check, config, name))
        return result

    def now(self) -> datetime:
        """The current time (UTC), recorded once: every replay returns the same moment.

        Costs one update that rides along with the next checkpoint, not a call of its own.
        """
        result: datetime = self._runtime.drive(self._begin(_NOW))
        return result

    def random(self) -> float:
        """A float in [0, 1) that every replay draws again: derived from the execution and
        this context, so it costs no checkpoint. Not for secrets."""
        return draw_float(*self._draw())

    def uuid4(self) -> UUID:
        """A version 4 UUID that every replay draws again (see ``random``). Not for secrets."""
        return draw_uuid(*self._draw())


class AsyncDurableContext(_Shell):
    """The context an ``async def`` handler receives; every operation is awaitable."""

    __slots__ = ("_runtime",)

    def __init__(
        self,
        runtime: AsyncRuntime,
        scope: Scope,
        logger: LoggerSlot,
        lambda_context: Any = None,
    ) -> None:
        super().__init__(scope, logger, lambda_context)
        self._runtime = runtime

    @overload
    def step(
        self,
        func: Callable[[StepContext], Awaitable[T]],
        name: str | None = None,
        config: StepConfig | None = None,
    ) -> Coroutine[Any, Any, T]: ...
    @overload
    def step(
        self,
        func: Callable[[StepContext], T],
        name: str | None = None,
        config: StepConfig | None = None,
    ) -> Coroutine[Any, Any, T]: ...
    def step(
        self,
        func: Callable[[StepContext], Any],
        name: str | None = None,
        config: StepConfig | None = None,
    ) -> Coroutine[Any, Any, Any]:
        """Run ``func`` (``async def`` or plain) once per retry; the id is taken now."""
        return self._runtime.drive(self._step(func, name, config))

    def wait(
        self, duration: Duration | timedelta | int, name: str | None = None
    ) -> Coroutine[Any, Any, None]:
        return self._runtime.drive(self._begin(WaitRequest(duration, name)))

    @overload
    def create_callback(
        self, name: str | None = None, config: None = None
    ) -> Coroutine[Any, Any, AsyncCallback[str]]: ...
    @overload
    def create_callback(
        self, name: str | None = None, config: CallbackConfig[CallbackResultT] | None = None
    ) -> Coroutine[Any, Any, AsyncCallback[CallbackResultT]]: ...
    def create_callback(
        self, name: str | None = None, config: CallbackConfig[Any] | None = None
    ) -> Coroutine[Any, Any, AsyncCallback[Any]]:
        return self._started_callback(self._begin(CallbackRequest(name, config)))

    async def _started_callback(self, flow: Flow) -> AsyncCallback[Any]:
        started: StartedCallback = await self._runtime.drive(flow)
        return AsyncCallback(self._runtime, started)

    @overload
    def wait_for_callback(
        self,
        submitter: Callable[[str, WaitForCallbackContext], object],
        name: str | None = None,
        config: None = None,
    ) -> Coroutine[Any, Any, str]: ...
    @overload
    def wait_for_callback(
        self,
        submitter: Callable[[str, WaitForCallbackContext], object],
        name: str | None = None,
        config: WaitForCallbackConfig[CallbackResultT] | None = None,
    ) -> Coroutine[Any, Any, CallbackResultT]: ...
    def wait_for_callback(
        self,
        submitter: Callable[[str, WaitForCallbackContext], object],
        name: str | None = None,
        config: WaitForCallbackConfig[Any] | None = None,
    ) -> Coroutine[Any, Any, Any]:
        return self._runtime.drive(self._wait_for_callback(submitter, name, config))

    def invoke(
        self,
        function_name: str,
        payload: object,
        name: str | None = None,
        config: InvokeConfig[Any, InvokeResultT] | None = None,
    ) -> Coroutine[Any, Any, InvokeResultT]:
        return self._runtime.drive(
            self._begin(InvokeRequest(function_name, payload, name, config))
        )

    @overload
    def run_in_child_context(
        self,
        func: Callable[[AsyncDurableContext], Awaitable[T]],
        name: str | None = None,
        config: ChildConfig[Any] | None = None,
    ) -> Coroutine[Any, Any, T]: ...
    @overload
    def run_in_child_context(
        self,
        func: Callable[[AsyncDurableContext], T],
        name: str | None = None,
        config: ChildConfig[Any] | None = None,
    ) -> Coroutine[Any, Any, T]: ...
    def run_in_child_context(
        self,
        func: Callable[[AsyncDurableContext], Any],
        name: str | None = None,
        config: ChildConfig[Any] | None = None,
    ) -> Coroutine[Any, Any, Any]:
        return self._runtime.drive(self._begin(ChildRequest(func, name, config)))

    @overload
    def map(
        self,
        inputs: Sequence[I],
        func: Callable[[AsyncDurableContext, I, int, Sequence[I]], Awaitable[T]],
        name: str | None = None,
        config: MapConfig[I] | None = None,
    ) -> Coroutine[Any, Any, BatchResult[T]]: ...
    @overload
    def map(
        self,
        inputs: Sequence[I],
        func: Callable[[AsyncDurableContext, I, int, Sequence[I]], T],
        name: str | None = None,
        config: MapConfig[I] | None = None,
    ) -> Coroutine[Any, Any, BatchResult[T]]: ...
    def map(
        self,
        inputs: Sequence[Any],
        func: Callable[..., Any],
        name: str | None = None,
        config: MapConfig[Any] | None = None,
    ) -> Coroutine[Any, Any, BatchResult[Any]]:
        return self._runtime.drive(
            self._begin(MapRequest(inputs, func, name, config))
        )

    @overload
    def parallel(
        self,
        functions: tuple[
            Callable[[AsyncDurableContext], Awaitable[T1]],
            Callable[[AsyncDurableContext], Awaitable[T2]],
        ],
        name: str | None = None,
        config: ParallelConfig | None = None,
    ) -> Coroutine[Any, Any, BatchResult[T1 | T2]]: ...
    @overload
    def parallel(
        self,
        functions: tuple[
            Callable[[AsyncDurableContext], Awaitable[T1]],
            Callable[[AsyncDurableContext], Awaitable[T2]],
            Callable[[AsyncDurableContext], Awaitable[T3]],
        ],
        name: str | None = None,
        config: ParallelConfig | None = None,
    ) -> Coroutine[Any, Any, BatchResult[T1 | T2 | T3]]: ...
    @overload
    def parallel(
        self,
        functions: Sequence[Callable[[AsyncDurableContext], Awaitable[T]]],
        name: str | None = None,
        config: ParallelConfig | None = None,
    ) -> Coroutine[Any, Any, BatchResult[T]]: ...
    def parallel(
        self,
        functions: Sequence[Callable[[AsyncDurableContext], Any]],
        name: str | None = None,
        config: ParallelConfig | None = None,
    ) -> Coroutine[Any, Any, BatchResult[Any]]:
        return self._runtime.drive(
            self._begin(ParallelRequest(functions, name, config))
        )

    def wait_for_condition(
        self,
        check: Callable[[S, WaitForConditionCheckContext], Awaitable[S]]
        | Callable[[S, WaitForConditionCheckContext], S],
        config: WaitForConditionConfig[S],
        name: str | None = None,
    ) -> Coroutine[Any, Any, S]:
        return self._runtime.drive(self._wait_for_condition(check, config, name))

    def now(self) -> Coroutine[Any, Any, datetime]:
        """The current time (UTC), recorded once: every replay returns the same moment."""
        return self._runtime.drive(self._begin(_NOW))

    def random(self) -> Coroutine[Any, Any, float]:
        """A float in [0, 1) that every replay draws again; drawn at call time. Not for
        secrets."""
        return self._runtime.drive(_ready(draw_float(*self._draw())))

    def uuid4(self) -> Coroutine[Any, Any, UUID]:
        """A version 4 UUID that every replay draws again; drawn at call time. Not for
        secrets."""
        return self._runtime.drive(_ready(draw_uuid(*self._draw())))


def _ready(value: T) -> Generator[Any, Any, T]:
    """A flow that answers at once: what the async twin awaits for a value it already has."""
    return value
    yield


def sync_context_factory(
    logger: LoggerInterface, lambda_context: Any = None
) -> Callable[[Runtime, Scope], DurableContext]:
    slot = LoggerSlot(logger)

    def make(runtime: Runtime, scope: Scope) -> DurableContext:
        return DurableContext(runtime, scope, slot, lambda_context)

    return make


def async_context_factory(
    logger: LoggerInterface, lambda_context: Any = None
) -> Callable[[AsyncRuntime, Scope], AsyncDurableContext]:
    slot = LoggerSlot(logger)

    def make(runtime: AsyncRuntime, scope: Scope) -> AsyncDurableContext:
        return AsyncDurableContext(runtime, scope, slot, lambda_context)

    return make

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

from durable_backend._annotations import reject_coroutine_function, return_annotation
from durable_backend._batch import BatchResult
from durable_backend._config import (
    CallbackConfig,
    ChildConfig,
    InvokeConfig,
    MapConfig,
    ParallelBranch,
    ParallelConfig,
    StepConfig,
    WaitForCallbackConfig,
    WaitForConditionConfig,
)
from durable_backend._determinism import orchestration_body, step_body
from durable_backend._drive import AsyncRuntime, Runtime
from durable_backend._duration import Duration, duration_seconds
from durable_backend._engine import (
    Batch,
    Flow,
    Scope,
    batch_flow,
    callback_result_flow,
    child_flow,
    create_callback_flow,
    draw_float,
    draw_uuid,
    invoke_flow,
    now_flow,
    step_flow,
    wait_flow,
    wait_for_callback_flow,
    wait_for_condition_flow,
)
from durable_backend._logger import Logger, LoggerSlot, context_logger, operation_logger
from durable_backend._models import OperationSubType
from durable_backend._serdes import BATCH_SERDES, JSON_SERDES, SerDes, serdes_for, serialize
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

_DEFAULT_STEP = StepConfig()
_DEFAULT_CALLBACK = CallbackConfig()
_DEFAULT_WAIT_FOR_CALLBACK = WaitForCallbackConfig()


def _resolve_name(name: str | None, func: Callable[..., Any]) -> str | None:
    """An explicit name, else the one a ``durable_*`` decorator recorded on ``func``."""
    return name or getattr(func, "_original_name", None)


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
            self._logger.logger, scope.execution, scope.parent_id, op_id, name, attempt
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

    def _called(self, what: str, name: str | None) -> str:
        """The next operation id, noted as called until its flow starts: an async call whose
        awaitable is dropped never starts, and the engine then fails the invocation."""
        scope = self._scope
        op_id = scope.ids.next()
        scope.execution.called(op_id, what, name)
        return op_id

    def _step_flow(
        self, func: Callable[..., Any], name: str | None, config: StepConfig | None
    ) -> Flow:
        scope = self._scope
        config = config or _DEFAULT_STEP
        return step_flow(
            scope,
            self._called("step", name),
            _resolve_name(name, func),
            step_body(func),
            config,
            self._make_step_context,
            serdes_for(return_annotation(func), config.serdes),
        )

    def _wait_flow(self, duration: Duration | timedelta | int, name: str | None) -> Flow:
        seconds = duration_seconds(duration, what="wait duration")
        scope = self._scope
        return wait_flow(scope, self._called("wait", name), name, seconds)

    def _callback_flow(self, name: str | None, config: CallbackConfig | None) -> tuple[Flow, str]:
        scope = self._scope
        op_id = self._called("create_callback", name)
        return create_callback_flow(scope, op_id, name, config or _DEFAULT_CALLBACK), op_id

    def _wait_for_callback_flow(
        self,
        submitter: Callable[..., Any],
        name: str | None,
        config: WaitForCallbackConfig | None,
    ) -> Flow:
        scope = self._scope
        config = config or _DEFAULT_WAIT_FOR_CALLBACK
        return wait_for_callback_flow(
            scope,
            self._called("wait_for_callback", name),
            _resolve_name(name, submitter),
            step_body(submitter),
            config,
            StepConfig(retry_strategy=config.retry_strategy),
            self._make_submitter_context,
        )

    def _invoke_flow(
        self,
        function_name: str,
        payload: object,
        name: str | None,
        config: InvokeConfig[Any, Any] | None,
    ) -> Flow:
        if not isinstance(function_name, str) or not function_name:
            raise TypeError(f"invoke needs a function name (str), got {function_name!r}")
        scope = self._scope
        op_id = scope.ids.next()
        config = config or InvokeConfig()
        encoded = serialize(
            config.serdes_payload or JSON_SERDES, payload, scope.serdes_context(op_id)
        )
        scope.execution.called(op_id, "invoke", name)
        return invoke_flow(
            scope,
            op_id,
            name,
            function_name,
            encoded,
            config.tenant_id,
            config.serdes_result or JSON_SERDES,
        )

    def _child_flow(
        self, func: Callable[..., Any], name: str | None, config: ChildConfig[Any] | None
    ) -> Flow:
        scope = self._scope
        config = config or ChildConfig()
        return child_flow(
            scope,
            self._called("run_in_child_context", name),
            _resolve_name(name, func),
            config.sub_type or OperationSubType.RUN_IN_CHILD_CONTEXT.value,
            orchestration_body(func),
            serdes_for(return_annotation(func), config.serdes),
            config.summary_generator,
            in_branch=scope.in_branch,
            virtual=config.is_virtual,
        )


    def _map_flow(
        self,
        items: Sequence[Any],
        func: Callable[..., Any],
        name: str | None,
        config: MapConfig[Any] | None,
    ) -> Flow:
        config = config or MapConfig()
        items = list(items)
        namer = config.item_namer
        func = orchestration_body(func)

        def branch(index: int) -> tuple[str | None, Callable[[Any], Any]]:
            item = items[index]
            own_name = namer(item, index) if namer is not None else None
            return own_name, lambda ctx: func(ctx, item, index, items)

        return self._batch_flow(
            self._called("map", name), _resolve_name(name, func), config, OperationSubType.MAP,
            OperationSubType.MAP_ITERATION, "map-item-", len(items), branch,
        )

    def _parallel_flow(
        self,
        branches: Sequence[Callable[..., Any]],
        name: str | None,
        config: ParallelConfig | None,
    ) -> Flow:
        named = [
            (
                branch.name if isinstance(branch, ParallelBranch) else None,
                orchestration_body(branch),
            )
            for branch in branches
        ]
        return self._batch_flow(
            self._called("parallel", name), name, config or ParallelConfig(),
            OperationSubType.PARALLEL, OperationSubType.PARALLEL_BRANCH, "parallel-branch-",
            len(named), named.__getitem__,
        )

    def _now_flow(self) -> Flow:
        scope = self._scope
        return now_flow(scope, self._called("now", None))

    def _draw(self) -> tuple[str, str | None, int]:
        """The key of this context's next replay-safe random draw, taken at call time."""
        self._draws += 1
        scope = self._scope
        return scope.execution.arn, scope.ids.prefix, self._draws

    def _batch_flow(
        self,
        op_id: str,
        name: str | None,
        config: MapConfig[Any] | ParallelConfig,
        sub_type: OperationSubType,
        item_sub_type: OperationSubType,
        name_prefix: str,
        count: int,
        branch: Callable[[int], tuple[str | None, Callable[..., Any]]],
    ) -> Flow:
        """``serdes`` writes the whole BatchResult and, without ``item_serdes``, each item."""
        batch = Batch(
            sub_type=sub_type.value,
            item_sub_type=item_sub_type.value,
            name_prefix=name_prefix,
            count=count,
            branch=branch,
            completion=config.completion_config,
            max_concurrency=config.max_concurrency,
            nesting=config.nesting_type,
            serdes=config.serdes or BATCH_SERDES,
            item_serdes=config.item_serdes or config.serdes or JSON_SERDES,
            summary=config.summary_generator,
        )
        return batch_flow(self._scope, op_id, name, batch)

    def _wait_for_condition_flow(
        self,
        check: Callable[..., Any],
        config: WaitForConditionConfig[Any],
        name: str | None,
    ) -> Flow:
        if not isinstance(config, WaitForConditionConfig):
            raise TypeError(
                f"wait_for_condition needs a WaitForConditionConfig, got {type(config).__name__}"
            )
        scope = self._scope
        return wait_for_condition_flow(
            scope,
            self._called("wait_for_condition", name),
            name,
            step_body(check),
            config,
            self._make_check_context,
        )


R = TypeVar("R", Runtime, AsyncRuntime)


class _CallbackHandle(Generic[R]):
    """What both callback twins hold: the started operation and how to read its answer."""

    __slots__ = ("_name", "_runtime", "_scope", "_serdes", "callback_id", "operation_id")

    def __init__(
        self,
        runtime: R,
        scope: Scope,
        operation_id: str,
        callback_id: str,
        name: str | None,
        serdes: SerDes[Any] | None,
    ) -> None:
        self._runtime: R = runtime
        self._scope = scope
        self.operation_id = operation_id
        self.callback_id = callback_id
        self._name = name
        self._serdes = serdes

    def _result_flow(self) -> Flow:
        return callback_result_flow(self._scope, self.operation_id, self._name, self._serdes)


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
        result: T = self._runtime.drive(self._step_flow(func, name, config))
        return result

    def wait(self, duration: Duration | timedelta | int, name: str | None = None) -> None:
        """Suspend for ``duration`` (at least 1 s) without paying for the time."""
        self._runtime.drive(self._wait_flow(duration, name))

    @overload
    def create_callback(self, name: str | None = None, config: None = None) -> Callback[str]: ...
    @overload
    def create_callback(
        self, name: str | None = None, config: CallbackConfig | None = None
    ) -> Callback[Any]: ...
    def create_callback(
        self, name: str | None = None, config: CallbackConfig | None = None
    ) -> Callback[Any]:
        """Start a callback and return its handle; ``result()`` suspends until it is answered."""
        flow, op_id = self._callback_flow(name, config)
        callback_id: str = self._runtime.drive(flow)
        serdes = config.serdes if config is not None else None
        return Callback(self._runtime, self._scope, op_id, callback_id, name, serdes)

    def wait_for_callback(
        self,
        submitter: Callable[[str, WaitForCallbackContext], object],
        name: str | None = None,
        config: WaitForCallbackConfig | None = None,
    ) -> Any:
        """Create a callback, run ``submitter(callback_id, ctx)`` as a step, await the answer."""
        reject_coroutine_function(submitter, "wait_for_callback")
        return self._runtime.drive(self._wait_for_callback_flow(submitter, name, config))

    @overload
    def invoke(
        self, function_name: str, payload: object, name: str | None = None, config: None = None
    ) -> Any: ...
    @overload
    def invoke(
        self,
        function_name: str,
        payload: object,
        name: str | None = None,
        config: InvokeConfig[Any, T] | None = None,
    ) -> T: ...
    def invoke(
        self,
        function_name: str,
        payload: object,
        name: str | None = None,
        config: InvokeConfig[Any, Any] | None = None,
    ) -> Any:
        """Start another durable function and suspend until it finishes; return its result."""
        return self._runtime.drive(self._invoke_flow(function_name, payload, name, config))

    def run_in_child_context(
        self,
        func: Callable[[DurableContext], T],
        name: str | None = None,
        config: ChildConfig[Any] | None = None,
    ) -> T:
        """Run ``func`` with a child context whose operations nest under one CONTEXT."""
        reject_coroutine_function(func, "run_in_child_context")
        result: T = self._runtime.drive(self._child_flow(func, name, config))
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
        result: BatchResult[T] = self._runtime.drive(self._map_flow(inputs, func, name, config))
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
        result: BatchResult[Any] = self._runtime.drive(self._parallel_flow(functions, name, config))
        return result

    def wait_for_condition(
        self,
        check: Callable[[S, WaitForConditionCheckContext], S],
        config: WaitForConditionConfig[S],
        name: str | None = None,
    ) -> S:
        """Poll ``check(state, ctx)`` with durable waits until the wait strategy stops."""
        reject_coroutine_function(check, "wait_for_condition")
        result: S = self._runtime.drive(self._wait_for_condition_flow(check, config, name))
        return result

    def now(self) -> datetime:
        """The current time (UTC), recorded once: every replay returns the same moment.

        Costs one update that rides along with the next checkpoint, not a call of its own.
        """
        result: datetime = self._runtime.drive(self._now_flow())
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
        return self._runtime.drive(self._step_flow(func, name, config))

    def wait(
        self, duration: Duration | timedelta | int, name: str | None = None
    ) -> Coroutine[Any, Any, None]:
        return self._runtime.drive(self._wait_flow(duration, name))

    @overload
    def create_callback(
        self, name: str | None = None, config: None = None
    ) -> Coroutine[Any, Any, AsyncCallback[str]]: ...
    @overload
    def create_callback(
        self, name: str | None = None, config: CallbackConfig | None = None
    ) -> Coroutine[Any, Any, AsyncCallback[Any]]: ...
    def create_callback(
        self, name: str | None = None, config: CallbackConfig | None = None
    ) -> Coroutine[Any, Any, AsyncCallback[Any]]:
        flow, op_id = self._callback_flow(name, config)
        return self._started_callback(flow, op_id, name, config)

    async def _started_callback(
        self, flow: Flow, op_id: str, name: str | None, config: CallbackConfig | None
    ) -> AsyncCallback[Any]:
        callback_id: str = await self._runtime.drive(flow)
        serdes = config.serdes if config is not None else None
        return AsyncCallback(self._runtime, self._scope, op_id, callback_id, name, serdes)

    def wait_for_callback(
        self,
        submitter: Callable[[str, WaitForCallbackContext], object],
        name: str | None = None,
        config: WaitForCallbackConfig | None = None,
    ) -> Coroutine[Any, Any, Any]:
        return self._runtime.drive(self._wait_for_callback_flow(submitter, name, config))

    @overload
    def invoke(
        self, function_name: str, payload: object, name: str | None = None, config: None = None
    ) -> Coroutine[Any, Any, Any]: ...
    @overload
    def invoke(
        self,
        function_name: str,
        payload: object,
        name: str | None = None,
        config: InvokeConfig[Any, T] | None = None,
    ) -> Coroutine[Any, Any, T]: ...
    def invoke(
        self,
        function_name: str,
        payload: object,
        name: str | None = None,
        config: InvokeConfig[Any, Any] | None = None,
    ) -> Coroutine[Any, Any, Any]:
        return self._runtime.drive(self._invoke_flow(function_name, payload, name, config))

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
        return self._runtime.drive(self._child_flow(func, name, config))

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
        return self._runtime.drive(self._map_flow(inputs, func, name, config))

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
        return self._runtime.drive(self._parallel_flow(functions, name, config))

    def wait_for_condition(
        self,
        check: Callable[[S, WaitForConditionCheckContext], Awaitable[S]]
        | Callable[[S, WaitForConditionCheckContext], S],
        config: WaitForConditionConfig[S],
        name: str | None = None,
    ) -> Coroutine[Any, Any, S]:
        return self._runtime.drive(self._wait_for_condition_flow(check, config, name))

    def now(self) -> Coroutine[Any, Any, datetime]:
        """The current time (UTC), recorded once: every replay returns the same moment."""
        return self._runtime.drive(self._now_flow())

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

"""``durable_execution``: turns a ``def`` or ``async def`` into a Lambda durable handler."""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar, overload

from durable_backend._annotations import first_parameter_annotation, return_annotation
from durable_backend._backend import AsyncDurableBackend, DurableBackend
from durable_backend._context import (
    AsyncDurableContext,
    DurableContext,
    async_context_factory,
    sync_context_factory,
)
from durable_backend._drive import AsyncRuntime, Runtime
from durable_backend._engine import Execution, Flow, MakeExecution, invocation_flow
from durable_backend._engine._instrumentation import PluginSet
from durable_backend._serdes import SerDes, serdes_for
from durable_backend.plugin import DurableInstrumentationPluginFactory
from durable_backend.plugin_discovery import load_configured_plugins

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

I = TypeVar("I")  # noqa: E741 - the handler's input
O = TypeVar("O")  # noqa: E741 - the handler's output

LambdaOutput = dict[str, Any]


class _OwnedLoop:
    """This thread's event loop, kept so warm invocations skip creating one (a selector and a
    socket pair); closed when the thread ends instead of leaking both.

    Not ``asyncio.Runner``: it re-installs a SIGINT handler on every run, a third of the cost
    of a 0-operation invocation. Each run's task still gets a fresh copy of the contextvars.
    """

    __slots__ = ("loop",)

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def __del__(self) -> None:
        if not self.loop.is_running():
            self.loop.close()


_per_thread = threading.local()


def _thread_loop() -> asyncio.AbstractEventLoop:
    owned: _OwnedLoop | None = getattr(_per_thread, "owned", None)
    if owned is None or owned.loop.is_closed():
        owned = _per_thread.owned = _OwnedLoop()
    return owned.loop


def remaining_ms(lambda_context: Any) -> Callable[[], int] | None:
    """The Lambda context's clock of the invocation: milliseconds left before Lambda ends it
    (None without a Lambda context, as when run locally)."""
    remaining: Callable[[], int] | None = getattr(
        lambda_context, "get_remaining_time_in_millis", None
    )
    return remaining if callable(remaining) else None


class _Settings:
    __slots__ = ("input_serdes", "logger", "result_serdes")

    def __init__(
        self,
        fn: Callable[..., Any],
        logger: logging.Logger | None,
        input_serdes: SerDes[Any] | None,
        result_serdes: SerDes[Any] | None,
    ) -> None:
        self.logger = logger or logging.getLogger(getattr(fn, "__module__", None) or __name__)
        self.input_serdes = serdes_for(first_parameter_annotation(fn), input_serdes)
        self.result_serdes = serdes_for(return_annotation(fn), result_serdes)


F = TypeVar("F", bound=Callable[..., Any])
B = TypeVar("B", DurableBackend, AsyncDurableBackend)


def _check_backend_kind(fn: Callable[..., Any], backend: object, is_async: bool) -> None:
    backend_is_async = inspect.iscoroutinefunction(getattr(backend, "checkpoint", None))
    if backend_is_async != is_async:
        kind = "an async" if is_async else "a sync"
        backend_kind = "an async" if backend_is_async else "a sync"
        raise TypeError(
            f"{getattr(fn, '__name__', fn)!r} is {kind} handler but "
            f"{type(backend).__name__} is {backend_kind} backend; pass the matching twin "
            "(for example AsyncRealBackend for an async def handler)"
        )


class _Handler(Generic[F, B]):
    """What both handler twins hold: the user function, its backend and its serdes."""

    _is_async = False

    def __init__(
        self,
        fn: F,
        backend: B | None = None,
        *,
        logger: logging.Logger | None = None,
        input_serdes: SerDes[Any] | None = None,
        result_serdes: SerDes[Any] | None = None,
        plugins: Sequence[DurableInstrumentationPluginFactory] | PluginSet | None = None,
    ) -> None:
        if backend is not None:
            _check_backend_kind(fn, backend, self._is_async)
        self.fn = fn
        self._backend: B | None = backend
        if not isinstance(plugins, PluginSet):
            plugins = PluginSet(load_configured_plugins(plugins))
        self._plugins = plugins
        self._options = (logger, input_serdes, result_serdes)
        self._settings = _Settings(fn, logger, input_serdes, result_serdes)
        self.__wrapped__ = fn
        self.__name__ = getattr(fn, "__name__", "handler")
        self.__doc__ = fn.__doc__

    def with_backend(self, backend: B) -> Self:
        """This handler (function, logger, serdes) over another backend, such as a
        ``LocalRunner``'s or a test fake; the original keeps its own."""
        return self._rebuilt(self.fn, backend)

    def with_function(self, fn: F) -> Self:
        """This handler's backend, logger and serdes around another function of the same
        shape, such as the testing kit's wrapper that stubs steps by name."""
        return self._rebuilt(fn, self._backend)

    def _rebuilt(self, fn: F, backend: B | None) -> Self:
        logger, input_serdes, result_serdes = self._options
        return type(self)(
            fn, backend, logger=logger, input_serdes=input_serdes, result_serdes=result_serdes,
            plugins=self._plugins,
        )

    def _invocation(
        self, event: Any, lambda_context: Any, make_execution: MakeExecution
    ) -> Flow:
        """The invocation as the engine's flow, for either twin's runtime to drive. Plugins
        observe real invocations only, not the Replayer's checks of a recorded history."""
        settings = self._settings
        return invocation_flow(
            event,
            self.fn,
            settings.input_serdes,
            settings.result_serdes,
            make_execution,
            remaining_ms(lambda_context),
            plugins=self._plugins if make_execution is Execution else None,
            request_id=getattr(lambda_context, "aws_request_id", None),
        )


class DurableHandler(_Handler[Callable[[I, DurableContext], O], DurableBackend], Generic[I, O]):
    """A sync durable function, callable by Lambda as ``handler(event, context)``."""

    def __init__(
        self,
        fn: Callable[[I, DurableContext], O],
        backend: DurableBackend | None = None,
        *,
        logger: logging.Logger | None = None,
        input_serdes: SerDes[I] | None = None,
        result_serdes: SerDes[O] | None = None,
        plugins: Sequence[DurableInstrumentationPluginFactory] | PluginSet | None = None,
    ) -> None:
        super().__init__(
            fn, backend, logger=logger, input_serdes=input_serdes, result_serdes=result_serdes,
            plugins=plugins,
        )

    @property
    def backend(self) -> DurableBackend:
        """The injected backend, or one ``SyncRealBackend`` made on first use."""
        if self._backend is None:
            from durable_backend._real import SyncRealBackend, shared_client

            self._backend = SyncRealBackend(shared_client())
        return self._backend

    def __call__(self, event: Any, lambda_context: Any = None) -> LambdaOutput:
        return self._run(event, lambda_context)

    def _run(
        self, event: Any, lambda_context: Any, make_execution: MakeExecution = Execution
    ) -> LambdaOutput:
        """One invocation; the Replayer passes a replay-only ``make_execution``."""
        make_context = sync_context_factory(self._settings.logger, lambda_context)
        output: LambdaOutput = Runtime(self.backend, make_context).drive(
            self._invocation(event, lambda_context, make_execution)
        )
        return output


class AsyncDurableHandler(
    _Handler[Callable[[I, AsyncDurableContext], Awaitable[O]], AsyncDurableBackend], Generic[I, O]
):
    """An async durable function: Lambda calls it synchronously; ``run_async`` awaits it."""

    _is_async = True

    def __init__(
        self,
        fn: Callable[[I, AsyncDurableContext], Awaitable[O]],
        backend: AsyncDurableBackend | None = None,
        *,
        logger: logging.Logger | None = None,
        input_serdes: SerDes[I] | None = None,
        result_serdes: SerDes[O] | None = None,
        plugins: Sequence[DurableInstrumentationPluginFactory] | PluginSet | None = None,
    ) -> None:
        super().__init__(
            fn, backend, logger=logger, input_serdes=input_serdes, result_serdes=result_serdes,
            plugins=plugins,
        )

    @property
    def backend(self) -> AsyncDurableBackend:
        """The injected backend, or one ``AsyncRealBackend`` made on first use."""
        if self._backend is None:
            from durable_backend._real import AsyncRealBackend, shared_client

            self._backend = AsyncRealBackend(shared_client())
        return self._backend

    def __call__(self, event: Any, lambda_context: Any = None) -> LambdaOutput:
        """Run the invocation on an event loop kept for this thread (warm invocations reuse it)."""
        if asyncio._get_running_loop() is not None:  # the non-raising twin of get_running_loop
            raise RuntimeError(
                f"{self.__name__} was called synchronously inside a running event loop; "
                f"use `await {self.__name__}.run_async(event, context)` instead"
            )
        return _thread_loop().run_until_complete(self._run(event, lambda_context))

    async def run_async(self, event: Any, lambda_context: Any = None) -> LambdaOutput:
        return await self._run(event, lambda_context)

    def _run(
        self, event: Any, lambda_context: Any, make_execution: MakeExecution = Execution
    ) -> Coroutine[Any, Any, LambdaOutput]:
        """One invocation, to await; the Replayer passes a replay-only ``make_execution``."""
        make_context = async_context_factory(self._settings.logger, lambda_context)
        return AsyncRuntime(self.backend, make_context).drive(
            self._invocation(event, lambda_context, make_execution)
        )


@overload
def durable_execution(
    func: Callable[[I, AsyncDurableContext], Awaitable[O]],
) -> AsyncDurableHandler[I, O]: ...
@overload
def durable_execution(func: Callable[[I, DurableContext], O]) -> DurableHandler[I, O]: ...
@overload
def durable_execution(
    func: None = None,
    *,
    boto3_client: LambdaClient | None = None,
    backend: DurableBackend | AsyncDurableBackend | None = None,
    logger: logging.Logger | None = None,
    input_serdes: SerDes[Any] | None = None,
    result_serdes: SerDes[Any] | None = None,
    plugins: list[DurableInstrumentationPluginFactory] | None = None,
) -> _Decorator: ...
def durable_execution(
    func: Callable[..., Any] | None = None,
    *,
    boto3_client: LambdaClient | None = None,
    backend: DurableBackend | AsyncDurableBackend | None = None,
    logger: logging.Logger | None = None,
    input_serdes: SerDes[Any] | None = None,
    result_serdes: SerDes[Any] | None = None,
    plugins: list[DurableInstrumentationPluginFactory] | None = None,
) -> Any:
    """Make ``func(event, ctx)`` a durable Lambda handler; bare or with options.

    ``boto3_client`` is the ``lambda`` client the real backend calls (as in the official SDK);
    ``backend`` replaces the real backend altogether (a ``LocalBackend``, a fake).
    ``plugins`` are instrumentation plugin factories (``durable_backend.plugin``); those the
    ``DURABLE_EXECUTION_PLUGINS`` environment variable names are added after them.
    """
    if boto3_client is not None and backend is not None:
        raise TypeError(
            "durable_execution takes boto3_client or backend, not both: boto3_client configures "
            "the real backend, backend replaces it"
        )
    options = {
        "logger": logger,
        "input_serdes": input_serdes,
        "result_serdes": result_serdes,
        "plugins": PluginSet(load_configured_plugins(plugins)),
    }
    decorator = _Decorator(backend, options, boto3_client)
    return decorator if func is None else decorator(func)


class _Decorator:
    """``@durable_execution(backend=...)``: checks the backend's kind against the handler's."""

    def __init__(
        self,
        backend: DurableBackend | AsyncDurableBackend | None,
        options: dict[str, Any],
        boto3_client: LambdaClient | None = None,
    ) -> None:
        self._backend = backend
        self._options = options
        self._boto3_client = boto3_client

    @overload
    def __call__(
        self, fn: Callable[[I, AsyncDurableContext], Awaitable[O]], /
    ) -> AsyncDurableHandler[I, O]: ...
    @overload
    def __call__(self, fn: Callable[[I, DurableContext], O], /) -> DurableHandler[I, O]: ...
    def __call__(self, fn: Callable[..., Any], /) -> Any:
        if not callable(fn):
            raise TypeError(f"durable_execution decorates a function, got {fn!r}")
        backend = self._backend
        client = self._boto3_client
        if inspect.iscoroutinefunction(fn):
            if client is not None:
                from durable_backend._real import AsyncRealBackend

                backend = AsyncRealBackend(client)
            return AsyncDurableHandler(fn, backend, **self._options)  # type: ignore[arg-type]
        if client is not None:
            from durable_backend._real import SyncRealBackend

            backend = SyncRealBackend(client)
        return DurableHandler(fn, backend, **self._options)  # type: ignore[arg-type]

"""``LocalRunner``: plays the Lambda service's invoke loop against a ``LocalBackend``.

The service starts an execution, invokes the handler, and invokes it again whenever something
changed (a timer fired, a callback was answered, a chained invoke ended). The runner does the
same, in one process. With time skipping (the default) the clock jumps to the next timer or
retry instead of sleeping, so a workflow with a one-day wait runs in milliseconds.

The loop is one generator that yields two effects, ``_Invoke`` and ``_Sleep``; ``run`` and
``run_async`` are the two small drivers (the shape of the engine's flows), so the sync and
async entry points cannot drift apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import os
import re
import time
from collections.abc import Callable, Generator, Iterable
from datetime import UTC, datetime
from typing import Any

from attrs import frozen

from durable_backend._backend import InlineAsyncBackend
from durable_backend._errors import CallbackNotOpenError, DurableError, InvalidRequestError
from durable_backend._handler import AsyncDurableHandler, DurableHandler, durable_execution
from durable_backend._models import (
    ErrorObject,
    ExecutionStatus,
    Operation,
    OperationStatus,
    OperationSubType,
    OperationType,
)
from durable_backend.local._backend import ChainedInvokeRequest, LocalBackend, lease_owner
from durable_backend.local._clock import ManualClock, system_clock
from durable_backend.local._errors import LocalStoreError
from durable_backend.local._recording import (
    Call,
    CallLog,
    CheckpointCall,
    RecordingBackend,
)

Handler = DurableHandler[Any, Any] | AsyncDurableHandler[Any, Any]
HandlerLike = Handler | Callable[..., Any]

DEFAULT_MAX_INVOCATIONS = 1000
LEASE_POLL_SECONDS = 0.02
"""How often a runner looks again while another runner's invocation holds the execution."""


@frozen
class PendingCallback:
    """A callback the execution waits on; answer it with the runner's ``send_callback_*``.

    ``name`` is the callback operation's name; ``wait_name`` the name of the enclosing
    ``wait_for_callback`` (the name the user wrote), if any.
    """

    arn: str
    operation_id: str
    callback_id: str
    name: str | None
    wait_name: str | None

    @property
    def label(self) -> str | None:
        """The name a user knows this callback by."""
        return self.wait_name or self.name


@frozen
class Reply:
    """An answer the runner gives in place of an outside system: a result or an error."""

    result: str | None = None
    error: ErrorObject | None = None


OnCallback = Callable[[PendingCallback], Reply | None]
"""Called for each open callback; a ``Reply`` answers it, ``None`` leaves it open."""

OnInvoke = Callable[[ChainedInvokeRequest, str | None], Reply | None]
"""Called with each started chained invoke and its operation name; a ``Reply`` ends it
without running a target, ``None`` runs the registered target."""


@frozen
class RunResult:
    """What a run left behind: the execution's state, history and the calls it made.

    ``status`` is ``RUNNING`` when the run stopped because only the outside world can move it
    on (see ``pending_callbacks``). ``result`` is the decoded JSON result (the raw string when
    it is not JSON).
    """

    arn: str
    status: ExecutionStatus
    result: Any
    raw_result: str | None
    error: ErrorObject | None
    operations: tuple[Operation, ...]
    history: tuple[dict[str, Any], ...]
    invocations: int
    calls: tuple[Call, ...]
    pending_callbacks: tuple[PendingCallback, ...]

    @property
    def done(self) -> bool:
        return self.status is not ExecutionStatus.RUNNING

    def history_types(self) -> list[str]:
        return [event["EventType"] for event in self.history]

    def checkpoint_calls(self, invocation: int | None = None) -> list[CheckpointCall]:
        """This execution's checkpoint calls, or those of one invocation (numbered from 1)."""
        return [
            call
            for call in self.calls
            if isinstance(call, CheckpointCall)
            and call.arn == self.arn
            and invocation in (None, call.invocation)
        ]

    def operation(self, name: str) -> Operation:
        """The operation called ``name`` (the first one, in start order)."""
        for op in self.operations:
            if op.name == name:
                return op
        names = sorted({op.name for op in self.operations if op.name})
        raise KeyError(f"no operation named {name!r}; the execution has {names}")


@frozen
class _Invoke:
    handler: Handler
    event: dict[str, Any]


@frozen
class _Sleep:
    seconds: float


_Effect = _Invoke | _Sleep
_Loop = Generator[_Effect, Any, None]

_CHAINED_STATUS = {
    ExecutionStatus.SUCCEEDED.value: OperationStatus.SUCCEEDED,
    ExecutionStatus.FAILED.value: OperationStatus.FAILED,
    ExecutionStatus.TIMED_OUT.value: OperationStatus.TIMED_OUT,
    ExecutionStatus.STOPPED.value: OperationStatus.STOPPED,
}


def _short_name(function_name: str) -> str:
    """``my-fn`` from ``my-fn``, ``my-fn:live`` or a function ARN."""
    return function_name.split(":function:", 1)[-1].split(":", 1)[0]


def derive_function_name(module: str, attr: str) -> str:
    """The function name a handler runs under locally: the last part of its module, plus
    ``-ATTR`` unless it is called ``handler`` (``saga_trip``, ``saga_trip-async_handler``)."""
    base = module.rsplit(".", 1)[-1]
    name = base if attr == "handler" else f"{base}-{attr}"
    return re.sub(r"[^A-Za-z0-9_-]", "-", name)[:64]


def function_name_of(handler: HandlerLike) -> str:
    """``derive_function_name`` of a decorated handler or plain function."""
    fn = handler.fn if isinstance(handler, DurableHandler | AsyncDurableHandler) else handler
    return derive_function_name(
        getattr(fn, "__module__", None) or "", getattr(fn, "__qualname__", None) or "handler"
    )


def _decode(payload: str | None) -> Any:
    if payload is None:
        return None
    try:
        return json.loads(payload)
    except ValueError:
        return payload


def _error_object(error: BaseException) -> ErrorObject:
    return ErrorObject(error_message=str(error) or None, error_type=type(error).__name__)


class LocalRunner:
    """Runs durable handlers on a ``LocalBackend`` until their executions end.

    ``db`` is a SQLite path, ``":memory:"``, or an existing ``LocalBackend`` (then pass the
    ``ManualClock`` it was built with to skip time). ``time_skipping=False`` uses the real
    clock and sleeps until the next timer.
    """

    def __init__(
        self,
        db: str | os.PathLike[str] | LocalBackend = ":memory:",
        *,
        time_skipping: bool = True,
        clock: ManualClock | None = None,
        execution_timeout_seconds: int | None = None,
        max_invocations: int = DEFAULT_MAX_INVOCATIONS,
    ) -> None:
        if time_skipping and clock is None:
            if isinstance(db, LocalBackend):
                raise ValueError(
                    "time skipping needs the ManualClock the LocalBackend was built with: "
                    "pass clock=..., or time_skipping=False"
                )
            now = datetime.now(UTC)
            clock = ManualClock(now.replace(microsecond=now.microsecond // 1000 * 1000))
        self.clock = clock if time_skipping else None
        if isinstance(db, LocalBackend):
            self.backend = db
            self._owns_backend = False
        else:
            options: dict[str, Any] = {}
            if execution_timeout_seconds is not None:
                options["execution_timeout_seconds"] = execution_timeout_seconds
            self.backend = LocalBackend(db, clock=self.clock or system_clock, **options)
            self._owns_backend = True
        self.max_invocations = max_invocations
        self.owner = lease_owner()
        self.log = CallLog()
        self._targets: dict[str, HandlerLike] = {}
        self._timeouts: dict[str, int] = {}
        self._bound: dict[int, tuple[HandlerLike, Handler]] = {}
        self._handlers: dict[str, Handler] = {}

    # ------------------------------------------------------------------ setup

    def close(self) -> None:
        """Close the backend if the runner opened it."""
        if self._owns_backend:
            self.backend.close()

    def __enter__(self) -> LocalRunner:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def register(
        self, function_name: str, handler: HandlerLike, *, execution_timeout: int | None = None
    ) -> None:
        """Make ``handler`` the target of ``ctx.invoke(function_name, ...)``; its executions
        time out after ``execution_timeout`` seconds (default: the backend's)."""
        self._targets[_short_name(function_name)] = handler
        if execution_timeout is not None:
            self._timeouts[_short_name(function_name)] = execution_timeout

    def bind(self, handler: HandlerLike) -> Handler:
        """The handler over this runner's backend, with its own logger and serdes options
        (a plain function is decorated with the defaults)."""
        cached = self._bound.get(id(handler))
        if cached is not None and cached[0] is handler:
            return cached[1]
        bound: Handler
        if isinstance(handler, AsyncDurableHandler):
            bound = handler.with_backend(self._async_recording())
        elif isinstance(handler, DurableHandler):
            bound = handler.with_backend(self._recording())
        elif not callable(handler):
            raise TypeError(f"a durable handler or function is needed, got {handler!r}")
        elif inspect.iscoroutinefunction(handler):
            bound = durable_execution(backend=self._async_recording())(handler)
        else:
            bound = durable_execution(backend=self._recording())(handler)
        self._bound[id(handler)] = (handler, bound)
        return bound

    def _recording(self) -> RecordingBackend:
        return RecordingBackend(self.backend, self.log)

    def _async_recording(self) -> InlineAsyncBackend:
        return InlineAsyncBackend(self._recording())

    # ------------------------------------------------------------------ running

    def start(
        self,
        handler: HandlerLike,
        input: object = None,
        *,
        input_payload: str | None = None,
        name: str | None = None,
        function_name: str | None = None,
    ) -> str:
        """Create the execution (without invoking it); ``input`` is JSON-encoded unless
        ``input_payload`` gives the raw payload."""
        bound = self.bind(handler)
        payload = input_payload if input_payload is not None else json.dumps(input)
        arn = self.backend.start_execution(
            function_name or function_name_of(handler), payload, name=name
        )
        self._handlers[arn] = bound
        return arn

    def run(
        self,
        handler: HandlerLike,
        input: object = None,
        *,
        input_payload: str | None = None,
        name: str | None = None,
        function_name: str | None = None,
        on_callback: OnCallback | None = None,
        on_invoke: OnInvoke | None = None,
    ) -> RunResult:
        """Start an execution and invoke ``handler`` until it ends or waits on the outside."""
        arn = self.start(
            handler, input, input_payload=input_payload, name=name, function_name=function_name
        )
        return self.resume(arn, on_callback=on_callback, on_invoke=on_invoke)

    def resume(
        self,
        arn: str,
        handler: HandlerLike | None = None,
        *,
        on_callback: OnCallback | None = None,
        on_invoke: OnInvoke | None = None,
    ) -> RunResult:
        """Continue a suspended execution (after answering its callbacks, or in a new
        process: then pass its ``handler``)."""
        # Closing the loop gives back the lease of an invocation cut short by an exception.
        with contextlib.closing(self._loop(arn, handler, on_callback, on_invoke)) as loop:
            answer: Any = None
            error: BaseException | None = None
            while True:
                try:
                    effect = loop.send(answer) if error is None else loop.throw(error)
                except StopIteration:
                    return self.result(arn)
                answer = error = None
                if isinstance(effect, _Sleep):
                    time.sleep(effect.seconds)
                    continue
                try:
                    answer = effect.handler(effect.event, None)
                except Exception as exc:
                    error = exc

    async def run_async(
        self,
        handler: HandlerLike,
        input: object = None,
        *,
        input_payload: str | None = None,
        name: str | None = None,
        function_name: str | None = None,
        on_callback: OnCallback | None = None,
        on_invoke: OnInvoke | None = None,
    ) -> RunResult:
        """``run`` for callers inside an event loop: async handlers are awaited there."""
        arn = self.start(
            handler, input, input_payload=input_payload, name=name, function_name=function_name
        )
        return await self.resume_async(arn, on_callback=on_callback, on_invoke=on_invoke)

    async def resume_async(
        self,
        arn: str,
        handler: HandlerLike | None = None,
        *,
        on_callback: OnCallback | None = None,
        on_invoke: OnInvoke | None = None,
    ) -> RunResult:
        # Closing the loop gives back the lease of an invocation cut short by an exception.
        with contextlib.closing(self._loop(arn, handler, on_callback, on_invoke)) as loop:
            answer: Any = None
            error: BaseException | None = None
            while True:
                try:
                    effect = loop.send(answer) if error is None else loop.throw(error)
                except StopIteration:
                    return self.result(arn)
                answer = error = None
                if isinstance(effect, _Sleep):
                    await asyncio.sleep(effect.seconds)
                    continue
                target = effect.handler
                try:
                    if isinstance(target, AsyncDurableHandler):
                        answer = await target.run_async(effect.event, None)
                    else:
                        answer = await asyncio.to_thread(target, effect.event, None)
                except Exception as exc:
                    error = exc

    # ------------------------------------------------------------------ callbacks

    def send_callback_success(self, callback_id: str, result: object = None) -> None:
        """Answer a callback; a non-string ``result`` is sent as JSON."""
        text = result if isinstance(result, str) or result is None else json.dumps(result)
        self.backend.send_callback_success(callback_id, text)

    def send_callback_failure(
        self, callback_id: str, message: str | None = None, *, error_type: str | None = None
    ) -> None:
        self.backend.send_callback_failure(
            callback_id, ErrorObject(error_message=message, error_type=error_type)
        )

    def send_callback_heartbeat(self, callback_id: str) -> None:
        self.backend.send_callback_heartbeat(callback_id)

    # ------------------------------------------------------------------ inspection

    def result(self, arn: str) -> RunResult:
        """A snapshot of the execution ``arn``."""
        summary = self.backend.get_execution(arn)
        operations = tuple(self.backend.operations(arn))
        raw: str | None = summary.get("Result")
        error = summary.get("Error")
        return RunResult(
            arn=arn,
            status=ExecutionStatus(summary["Status"]),
            result=_decode(raw),
            raw_result=raw,
            error=ErrorObject(
                error_message=error.get("ErrorMessage"),
                error_type=error.get("ErrorType"),
                error_data=error.get("ErrorData"),
                stack_trace=tuple(error["StackTrace"]) if error.get("StackTrace") else None,
            )
            if error
            else None,
            operations=operations,
            history=tuple(self.backend.history_events(arn)),
            invocations=self.log.invocations.get(arn, 0),
            calls=tuple(call for call in self.log.calls if call.arn == arn),
            pending_callbacks=tuple(_open_callbacks(arn, operations)),
        )

    def pending_callbacks(self, arn: str) -> list[PendingCallback]:
        return _open_callbacks(arn, self.backend.operations(arn))

    # ------------------------------------------------------------------ the loop

    def _handler_for(self, arn: str, handler: HandlerLike | None) -> Handler:
        if handler is not None:
            self._handlers[arn] = self.bind(handler)
        bound = self._handlers.get(arn)
        if bound is None:
            raise ValueError(f"no handler known for {arn!r}: pass the handler to resume it")
        return bound

    def _status(self, arn: str) -> str:
        status: str = self.backend.get_execution(arn)["Status"]
        return status

    def _loop(
        self,
        root: str,
        handler: HandlerLike | None,
        on_callback: OnCallback | None,
        on_invoke: OnInvoke | None,
    ) -> _Loop:
        """Invoke, answer and advance time until ``root`` ends or only the outside can help.

        Whether to invoke is the backend's stored answer (``claim_invocation``), so a crash
        anywhere leaves work that the next ``resume`` picks up, and a second runner on the same
        execution waits for the first one's lease instead of fighting it for tokens.
        """
        self._handler_for(root, handler)
        if self.clock is not None:
            self.clock.advance_to(self._latest_event(root))
        active = [root]
        invocations = 0
        while True:
            progressed = held = False
            wakes: list[datetime] = []
            for arn in list(active):
                claim = self.backend.claim_invocation(arn, self.owner)
                if claim.event is not None:
                    invocations += 1
                    if invocations > self.max_invocations:
                        self.backend.release_invocation(arn, self.owner)
                        raise RuntimeError(
                            f"execution {root!r} did not settle within {self.max_invocations} "
                            "invocations; raise max_invocations if that is expected"
                        )
                    yield from self._invoke(arn, claim.event)
                    progressed = True
                elif claim.holder is not None:
                    held = True
                elif claim.next_wake is not None:
                    wakes.append(claim.next_wake)
            for arn in list(active):
                for request in self.backend.pending_chained_invokes(arn):
                    progressed |= self._chained(request, active, on_invoke)
            waiting = False
            for arn in active:
                for pending in self.pending_callbacks(arn):
                    reply = on_callback(pending) if on_callback else None
                    if reply is None:
                        waiting = True
                    else:
                        self._answer(pending, reply)
                        progressed = True
            if self._status(root) != ExecutionStatus.RUNNING.value:
                return
            if progressed:
                continue
            if held:
                yield _Sleep(LEASE_POLL_SECONDS)
                continue
            if waiting or not wakes:
                return
            wake = min(wakes)
            if self.clock is not None:
                self.clock.advance_to(wake)
            else:
                yield _Sleep(max(0.0, (wake - datetime.now(UTC)).total_seconds()) + 0.002)

    def _invoke(self, arn: str, event: dict[str, Any]) -> Generator[_Effect, Any, None]:
        """One claimed invocation, recorded with its outcome; its lease is given back whatever
        happens, so an interrupted run leaves the invocation due for the next one."""
        handler = self._handlers[arn]
        self.log.begin_invocation(arn)
        done = False
        try:
            try:
                output = yield _Invoke(handler, event)
            except LocalStoreError:
                raise  # the store cannot take the outcome either; resume once the cause is fixed
            except Exception as exc:
                # A stale token or a transient error is the service's business, not the code's.
                counts = not (isinstance(exc, DurableError) and exc.retry_invocation)
                self.backend.record_invocation_completed(
                    arn, None, function_error=_error_object(exc), owner=self.owner, counts=counts
                )
            else:
                self.backend.record_invocation_completed(arn, output, owner=self.owner)
            done = True
        finally:
            if not done:
                with contextlib.suppress(LocalStoreError):
                    self.backend.release_invocation(arn, self.owner)

    def _chained(
        self,
        request: ChainedInvokeRequest,
        active: list[str],
        on_invoke: OnInvoke | None,
    ) -> bool:
        """Move one started chained invoke on; True when something changed."""
        backend = self.backend
        if on_invoke is not None:
            op_name = next(
                (op.name for op in backend.operations(request.arn) if op.id == request.op_id),
                None,
            )
            reply = on_invoke(request, op_name)
            if reply is not None:
                self._end_chained(request, reply.result, error=reply.error)
                return True
        child = request.target_arn
        if child not in self._handlers:
            target = self._targets.get(_short_name(request.function_name))
            if target is None:
                self._end_chained(
                    request,
                    None,
                    error=ErrorObject(
                        error_type="ResourceNotFoundException",
                        error_message=(
                            f"Function not found: {request.function_name} (register it with "
                            "LocalRunner.register)"
                        ),
                    ),
                )
                return True
            backend.start_execution(
                request.function_name,
                request.input_payload,
                name=child.rsplit("/", 1)[-1],
                arn=child,
                timeout_seconds=self._timeouts.get(_short_name(request.function_name)),
            )
            self._handlers[child] = self.bind(target)
        summary = backend.get_execution(child)
        status = _CHAINED_STATUS.get(summary["Status"])
        if status is not None:
            error = summary.get("Error")
            self._end_chained(
                request,
                summary.get("Result"),
                error=ErrorObject(
                    error_message=error.get("ErrorMessage"), error_type=error.get("ErrorType")
                )
                if error
                else None,
                status=status,
            )
            if child in active:
                active.remove(child)
            return True
        if child not in active:
            active.append(child)
            return True
        return False

    def _answer(self, pending: PendingCallback, reply: Reply) -> None:
        """Answer a callback, unless another runner on the same execution already did."""
        try:
            if reply.error is not None:
                self.backend.send_callback_failure(pending.callback_id, reply.error)
            else:
                self.backend.send_callback_success(pending.callback_id, reply.result)
        except CallbackNotOpenError:
            pass

    def _end_chained(
        self,
        request: ChainedInvokeRequest,
        result: str | None,
        *,
        error: ErrorObject | None = None,
        status: OperationStatus | None = None,
    ) -> None:
        """End a chained invoke, unless another runner on the same execution already did."""
        try:
            self.backend.complete_chained_invoke(
                request.arn, request.op_id, result, error=error, status=status
            )
        except InvalidRequestError:
            ops = {op.id: op for op in self.backend.operations(request.arn)}
            if ops[request.op_id].status is OperationStatus.STARTED:
                raise

    def _latest_event(self, arn: str) -> datetime:
        """The newest timestamp of ``arn``'s history: a skipping clock never goes behind it."""
        stamps: Iterable[datetime] = (
            event["EventTimestamp"] for event in self.backend.history_events(arn)
        )
        return max(stamps, default=datetime.now(UTC))


def _open_callbacks(arn: str, operations: Iterable[Operation]) -> list[PendingCallback]:
    ops = list(operations)
    by_id = {op.id: op for op in ops}
    pending: list[PendingCallback] = []
    for op in ops:
        if op.type is not OperationType.CALLBACK or op.status is not OperationStatus.STARTED:
            continue
        details = op.callback_details
        if details is None or not details.callback_id:
            continue
        parent = by_id.get(op.parent_id) if op.parent_id else None
        wait_name = (
            parent.name
            if parent is not None and parent.sub_type == OperationSubType.WAIT_FOR_CALLBACK.value
            else None
        )
        pending.append(PendingCallback(arn, op.id, details.callback_id, op.name, wait_name))
    return pending

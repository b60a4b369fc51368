"""One flow per durable operation, written once for both twins.

Each flow is a generator: it reads the replay index, yields effects (commit updates, run user
code, suspend) and returns the operation's value or raises its error. The drivers perform the
effects; composite operations (``wait_for_callback``) reuse simpler flows with ``yield from``.
"""

from __future__ import annotations

import inspect
import traceback
from collections.abc import Callable, Generator
from typing import Any, NoReturn

from attrs import define, frozen

from durable_backend._annotations import callable_name, return_annotation
from durable_backend._body_roles import orchestration_body, step_body
from durable_backend._codec import utf8_size
from durable_backend._config import (
    CallbackConfig,
    ChildConfig,
    InvokeConfig,
    StepConfig,
    StepSemantics,
    WaitForCallbackConfig,
)
from durable_backend._engine._checkpoints import SuspendExecution
from durable_backend._engine._effects import (
    BodyTimedOut,
    Commit,
    Effect,
    RunInContext,
    RunUserCode,
    Suspend,
)
from durable_backend._engine._execution import Execution
from durable_backend._engine._ids import IdSequence
from durable_backend._engine._instrumentation import reported
from durable_backend._engine._requests import (
    CallbackRequest,
    ChildRequest,
    InvokeRequest,
    StepRequest,
    WaitForCallbackRequest,
    WaitRequest,
)
from durable_backend._errors import (
    CallbackError,
    CallbackExternalError,
    CallbackSubmitterError,
    CallbackTimeoutError,
    ChildContextError,
    DurableOperationError,
    InvokeError,
    SerDesError,
    StepError,
    StepInterruptedError,
    StepTimeoutError,
    error_message,
    qualified_error_type,
    rebuild_operation_error,
)
from durable_backend._models import (
    CallbackOptions,
    ChainedInvokeOptions,
    ContextOptions,
    ErrorObject,
    OperationAction,
    OperationStatus,
    OperationSubType,
    OperationType,
    OperationUpdate,
    StepOptions,
    WaitOptions,
)
from durable_backend._protocol import MAX_ERROR_BYTES, MAX_PAYLOAD_BYTES
from durable_backend._retry import RetryPresets
from durable_backend._serdes import (
    JSON_SERDES,
    SerDes,
    SerDesContext,
    deserialize,
    json_decode,
    json_encode,
    serdes_for,
    serialize,
)

Flow = Generator[Effect, Any, Any]

_STACK_LINES = 40

_DEFAULT_RETRY = RetryPresets.default()
_DEFAULT_STEP = StepConfig()
_DEFAULT_CALLBACK = CallbackConfig()
_DEFAULT_CHILD: ChildConfig[Any] = ChildConfig()
_DEFAULT_INVOKE: InvokeConfig[Any, Any] = InvokeConfig()
_DEFAULT_WAIT_FOR_CALLBACK = WaitForCallbackConfig()
_STEP = OperationSubType.STEP.value
_STEP_TYPE = OperationType.STEP


_NEVER_AWAITABLE: frozenset[type] = frozenset(
    {type(None), bool, int, float, str, bytes, list, tuple, dict}
)


def reject_awaitable(fn: Callable[..., Any], value: Any) -> None:
    """A body that handed back an awaitable is a programming error, not a failed attempt.

    The async driver awaits what a body returns, so only a sync context ever gets here.
    """
    if value.__class__ in _NEVER_AWAITABLE:  # the usual results, without an ABC check
        return
    if inspect.isawaitable(value):
        if inspect.iscoroutine(value):
            value.close()
        raise TypeError(
            f"{callable_name(fn)} returned an awaitable in a sync durable context. Use an "
            "async handler (AsyncDurableContext) for async code, or call it synchronously."
        )


def over_payload_limit(payload: str) -> bool:
    """Whether ``payload`` is over the per-operation limit, which counts UTF-8 bytes; cheap
    for the usual short payload (no character takes more than four bytes)."""
    return len(payload) * 4 > MAX_PAYLOAD_BYTES and utf8_size(payload) > MAX_PAYLOAD_BYTES


def error_object(error: BaseException) -> ErrorObject:
    """The wire form of an error, bounded to the service's 32 KiB."""
    error_type = qualified_error_type(error)
    if isinstance(error, DurableOperationError):
        message = error.message or ""
        data = error.data
        stack = tuple(error.stack_trace) if error.stack_trace is not None else None
    else:
        message = error_message(error)
        data = None
        stack = tuple(
            line.rstrip("\n")
            for line in traceback.format_tb(error.__traceback__)[-_STACK_LINES:]
        ) or None
    budget = MAX_ERROR_BYTES - 1024
    message = _clip_utf8(message, budget // 2)
    if stack is not None:
        kept: list[str] = []
        room = budget - utf8_size(message) - utf8_size(data or "")
        for line in reversed(stack):
            room -= utf8_size(line) + 8
            if room < 0:
                break
            kept.append(line)
        stack = tuple(reversed(kept))
    return ErrorObject(
        error_message=message, error_type=error_type, error_data=data, stack_trace=stack
    )


def _clip_utf8(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes (the service's limits count bytes),
    never inside a character."""
    if len(text) * 4 <= limit:
        return text
    return text.encode("utf-8", "surrogatepass")[:limit].decode("utf-8", "ignore")


class Scope:
    """Where an operation runs: its execution and the context it belongs to."""

    __slots__ = ("execution", "ids", "in_branch")

    def __init__(self, execution: Execution, ids: IdSequence, in_branch: bool = False) -> None:
        self.execution = execution
        self.ids = ids
        self.in_branch = in_branch

    @property
    def parent_id(self) -> str | None:
        return self.ids.parent_id

    def update(
        self,
        op_id: str,
        op_type: OperationType,
        action: OperationAction,
        sub_type: str | None,
        name: str | None,
        *,
        payload: str | None = None,
        error: ErrorObject | None = None,
        context_options: ContextOptions | None = None,
        step_options: StepOptions | None = None,
        wait_options: WaitOptions | None = None,
        callback_options: CallbackOptions | None = None,
        chained_invoke_options: ChainedInvokeOptions | None = None,
    ) -> OperationUpdate:
        # positional, in field order: a step builds several of these, and keywords cost more
        return OperationUpdate(
            op_id, op_type, action, self.ids.parent_id, name, sub_type, payload, error,
            context_options, step_options, wait_options, callback_options,
            chained_invoke_options,
        )

    def commit(self, updates: tuple[OperationUpdate, ...], durable: bool = True) -> Commit:
        if self.execution.hooks is not None:
            self.execution.hooks.queued(updates)
        return Commit(self.execution, updates, durable)

    def suspend(self, reason: str) -> Generator[Effect, Any, NoReturn]:
        """End the invocation as PENDING. The driver throws the suspension back in once the
        invocation is quiet; from then on this context remembers it (see ``IdSequence``)."""
        try:
            yield Suspend(reason)
        except SuspendExecution:
            self.ids.suspended = self.ids.suspended or reason
            raise
        raise SuspendExecution(reason)

    def serdes_context(self, op_id: str) -> SerDesContext:
        return SerDesContext(operation_id=op_id, durable_execution_arn=self.execution.arn)

    def encode(
        self, serdes: SerDes[Any], value: Any, op_id: str, what: str, name: str | None = None
    ) -> str:
        payload: str | None = None
        if serdes is JSON_SERDES:
            # Plain JSON reads no context: build one only when it fails and must say where.
            try:
                payload = json_encode(value)
            except Exception:
                payload = None
        if payload is None:
            payload = serialize(serdes, value, self.serdes_context(op_id), operation_name=name)
        if what != "context" and over_payload_limit(payload):
            label = f"{what} {name!r}" if name else f"an unnamed {what} (id {op_id})"
            raise SerDesError(
                f"The result of {label} serializes to {utf8_size(payload)} bytes of "
                "UTF-8, over the "
                f"{MAX_PAYLOAD_BYTES}-byte limit for one operation. Return a smaller value, "
                "or store the data elsewhere (S3, DynamoDB) and return a reference."
            )
        return payload

    def decode(
        self, serdes: SerDes[Any], payload: str | None, op_id: str, subject: str | None = None
    ) -> Any:
        """``deserialize``, without building the context plain JSON would not read."""
        if payload is not None and serdes is JSON_SERDES:
            try:
                return json_decode(payload)
            except ValueError:
                pass
        stored = self.execution.operations.get(op_id)
        return deserialize(
            serdes, payload, self.serdes_context(op_id),
            operation_name=stored.name if stored is not None else None, subject=subject,
        )


def resolved_name(name: str | None, func: Callable[..., Any]) -> str | None:
    """An explicit name, else the one a ``durable_*`` decorator recorded on ``func``."""
    return name or getattr(func, "_original_name", None)


@reported
def step_flow(scope: Scope, op_id: str, request: StepRequest) -> Flow:
    """A step: replay its result, or run its body under its retry strategy."""
    config = request.config or _DEFAULT_STEP
    name = resolved_name(request.name, request.func)
    serdes = serdes_for(return_annotation(request.func), config.serdes)
    execution = scope.execution
    sub_type = config.sub_type or _STEP
    op = execution.lookup(op_id, _STEP_TYPE, sub_type, name)
    attempts = 0
    started = False
    if op is not None:
        status = op.status
        details = op.step_details
        if status is OperationStatus.SUCCEEDED:
            return scope.decode(serdes, details.result if details else None, op_id)
        if status is OperationStatus.FAILED:
            raise StepError.from_error_object(details.error if details else None)
        if status is OperationStatus.PENDING:
            yield from scope.suspend(f"step {name or op_id} waits for its next attempt")
        attempts = (details.attempt or 0) if details else 0
        started = status is OperationStatus.STARTED
    attempt = attempts + 1
    fn = step_body(request.func)
    at_most_once = config.step_semantics is StepSemantics.AT_MOST_ONCE_PER_RETRY

    ending = FailedAttempt(scope, op_id, sub_type, name, config, attempt)
    failure: Exception
    recorded = False
    if started and at_most_once:
        failure = StepInterruptedError(
            f"step {name or op_id} was interrupted during attempt {attempt} and is "
            "at-most-once per retry, so it is not run again without asking its retry strategy",
            op_id,
        )
    else:
        if not started:
            start = scope.update(op_id, _STEP_TYPE, OperationAction.START, sub_type, name)
            yield scope.commit((start,), durable=at_most_once)
        limit, left = config.timeout, execution.seconds_left()
        by_deadline = left is not None and (limit is None or left < limit)
        if execution.hooks is not None:
            identity = scope.update(op_id, _STEP_TYPE, OperationAction.START, sub_type, name)
            fn = execution.hooks.user_function(fn, identity, attempt)
        try:
            value = yield RunUserCode(
                fn,
                (request.context(op_id, name, attempt),),
                execution,
                timeout=(left if by_deadline else limit) if limit is not None else None,
                deadline=left if limit is None else None,
                on_deadline=ending if limit is None and left is not None else None,
            )
        except BodyTimedOut as timed_out:
            failure = _timed_out(name or op_id, attempt, timed_out.seconds, by_deadline)
            recorded = timed_out.recorded
        except Exception as error:
            failure = error
        else:
            reject_awaitable(fn, value)
            try:
                payload = scope.encode(serdes, value, op_id, "step", name)
            except SerDesError as error:
                fail = scope.update(
                    op_id, _STEP_TYPE, OperationAction.FAIL, sub_type, name,
                    error=error_object(error),
                )
                yield scope.commit((fail,))
                raise StepError(str(error), qualified_error_type(error)) from error
            succeed = scope.update(
                op_id, _STEP_TYPE, OperationAction.SUCCEED, sub_type, name, payload=payload
            )
            yield scope.commit((succeed,))
            return scope.decode(serdes, payload, op_id)
    update = ending.decide(failure)
    if not recorded:
        yield scope.commit((update,))
    if ending.retry_delay is not None:
        yield from scope.suspend(f"step {name or op_id} retries in {ending.retry_delay} s")
    raise StepError.from_error_object(update.error) from ending.failure


class FailedAttempt:
    """How a failed attempt ends: the retry strategy's decision and the RETRY or FAIL that
    records it, worked out once, by the step's flow or (``cut_off``) by the sync driver's
    deadline timer while the body still runs.

    The timer and the body's end race for the attempt; the sync driver asks both under its
    lock, and whichever comes first decides: ``cut_off`` after the body ended records nothing,
    and ``body_ended`` says whether the attempt had been cut off.
    """

    __slots__ = (
        "_attempt", "_config", "_name", "_op_id", "_scope", "_state", "_sub_type",
        "failure", "retry_delay", "update",
    )

    def __init__(
        self,
        scope: Scope,
        op_id: str,
        sub_type: str,
        name: str | None,
        config: StepConfig,
        attempt: int,
    ) -> None:
        self._scope, self._op_id, self._sub_type, self._name = scope, op_id, sub_type, name
        self._config, self._attempt = config, attempt
        self._state = _RUNNING
        self.failure: Exception | None = None
        self.retry_delay: int | None = None
        self.update: OperationUpdate | None = None

    def decide(self, failure: Exception) -> OperationUpdate:
        if self.update is not None:
            return self.update
        self.failure = failure
        decision = (self._config.retry_strategy or _DEFAULT_RETRY)(failure, self._attempt)
        wire_error = error_object(failure)
        scope, op_id, sub_type, name = self._scope, self._op_id, self._sub_type, self._name
        if decision.should_retry:
            self.retry_delay = max(1, decision.delay_seconds)
            self.update = scope.update(
                op_id, _STEP_TYPE, OperationAction.RETRY, sub_type, name, error=wire_error,
                step_options=StepOptions(next_attempt_delay_seconds=self.retry_delay),
            )
        else:
            self.update = scope.update(
                op_id, _STEP_TYPE, OperationAction.FAIL, sub_type, name, error=wire_error
            )
        return self.update

    def running(self) -> bool:
        return self._state is _RUNNING

    def cut_off(self, seconds: float) -> tuple[OperationUpdate, ...]:
        """The deadline passed ``seconds`` into the attempt: the update recording it, or none
        once the body has ended."""
        if self._state is not _RUNNING:
            return ()
        self._state = _CUT_OFF
        step = self._name or self._op_id
        return (self.decide(_timed_out(step, self._attempt, seconds, True)),)

    def body_ended(self) -> bool:
        """The body returned or raised: whether the deadline had cut it off already."""
        cut, self._state = self._state is _CUT_OFF, _ENDED
        return cut


_RUNNING, _CUT_OFF, _ENDED = "running", "cut off", "ended"


def _timed_out(step: str, attempt: int, seconds: float, by_deadline: bool) -> StepTimeoutError:
    if by_deadline:
        return StepTimeoutError(
            f"step {step} attempt {attempt} was cut off {seconds:.3g} s in: the invocation was "
            "about to reach its Lambda timeout. The attempt counts as failed, so a step that "
            "always outlives the function's timeout runs out of retries; raise the function's "
            "timeout or split the step."
        )
    return StepTimeoutError(
        f"step {step} attempt {attempt} ran longer than its timeout of {seconds:.3g} s"
    )


def wait_flow(scope: Scope, op_id: str, request: WaitRequest) -> Flow:
    """A durable timer: START it, then suspend until the service finishes it."""
    name, seconds = request.name, request.seconds
    sub_type = OperationSubType.WAIT.value
    op = scope.execution.lookup(op_id, OperationType.WAIT, sub_type, name)
    if op is None:
        yield scope.commit(
            (
                scope.update(
                    op_id,
                    OperationType.WAIT,
                    OperationAction.START,
                    sub_type,
                    name,
                    wait_options=WaitOptions(wait_seconds=seconds),
                ),
            ),
            durable=False,
        )
    elif op.status.is_terminal:
        return None
    yield from scope.suspend(f"wait {name or op_id} for {seconds} s")


@frozen
class StartedCallback:
    """A callback the service started: the id to hand out, and how to read its answer
    (``serdes`` None: the raw string)."""

    scope: Scope
    operation_id: str
    callback_id: str
    name: str | None
    serdes: SerDes[Any] | None


def create_callback_flow(
    scope: Scope, op_id: str, request: CallbackRequest
) -> Generator[Effect, Any, StartedCallback]:
    """START a callback synchronously: the service mints the id the caller hands out."""
    name, config = request.name, request.config or _DEFAULT_CALLBACK
    sub_type = config.sub_type or OperationSubType.CALLBACK.value
    op = scope.execution.lookup(op_id, OperationType.CALLBACK, sub_type, name)
    if op is None:
        yield scope.commit(
            (
                scope.update(
                    op_id,
                    OperationType.CALLBACK,
                    OperationAction.START,
                    sub_type,
                    name,
                    callback_options=CallbackOptions(
                        timeout_seconds=config.timeout.seconds,
                        heartbeat_timeout_seconds=config.heartbeat_timeout.seconds,
                    ),
                ),
            )
        )
        op = scope.execution.operations.get(op_id)
    details = op.callback_details if op is not None else None
    if details is None or not details.callback_id:
        raise CallbackError(
            f"the service did not return a CallbackId for callback {name or op_id}; "
            "the backend must echo the started CALLBACK operation in NewExecutionState"
        )
    return StartedCallback(scope, op_id, details.callback_id, name, config.serdes)


def callback_result_flow(started: StartedCallback) -> Flow:
    """The answer an external system sent, or suspend until it arrives."""
    scope, op_id, name, serdes = started.scope, started.operation_id, started.name, started.serdes
    op = scope.execution.operations.get(op_id)
    if op is None:
        raise CallbackError(f"callback {name or op_id} was never started")
    details = op.callback_details
    status = op.status
    if status is OperationStatus.SUCCEEDED:
        result = details.result if details else None
        if serdes is None:
            return result
        return scope.decode(serdes, result, op_id)
    error = details.error if details else None
    if status is OperationStatus.TIMED_OUT:
        raise CallbackTimeoutError.from_error_object(error)
    if status.is_terminal:
        raise CallbackExternalError.from_error_object(error)
    scope.execution.replaying = False
    yield from scope.suspend(f"callback {name or op_id} has not been answered yet")


def invoke_flow(scope: Scope, op_id: str, request: InvokeRequest) -> Flow:
    """A chained invoke. Its payload is serialized now, at call time, so a value that does not
    serialize fails the call itself, even one whose awaitable is never awaited."""
    config = request.config or _DEFAULT_INVOKE
    payload = serialize(
        config.serdes_payload or JSON_SERDES, request.payload, scope.serdes_context(op_id)
    )
    return _invoke(scope, op_id, request, payload, config.serdes_result or JSON_SERDES)


def _invoke(
    scope: Scope, op_id: str, request: InvokeRequest, payload: str, result_serdes: SerDes[Any]
) -> Flow:
    """START the invoke once, then suspend until the target execution ends."""
    name, function_name = request.name, request.function_name
    tenant_id = request.config.tenant_id if request.config is not None else None
    sub_type = OperationSubType.CHAINED_INVOKE.value
    op = scope.execution.lookup(op_id, OperationType.CHAINED_INVOKE, sub_type, name)
    if op is None:
        hooks = scope.execution.hooks
        trace = hooks.propagation(op_id, scope.parent_id, function_name) if hooks else None
        yield scope.commit(
            (
                scope.update(
                    op_id,
                    OperationType.CHAINED_INVOKE,
                    OperationAction.START,
                    sub_type,
                    name,
                    payload=payload,
                    chained_invoke_options=ChainedInvokeOptions(
                        function_name=function_name, tenant_id=tenant_id, x_amzn_trace_id=trace
                    ),
                ),
            ),
            durable=False,
        )
    else:
        details = op.chained_invoke_details
        if op.status is OperationStatus.SUCCEEDED:
            return scope.decode(result_serdes, details.result if details else None, op_id)
        if op.status.is_terminal:
            raise InvokeError.from_error_object(details.error if details else None)
    yield from scope.suspend(f"invoke {name or op_id} of {function_name} is running")


def child_context_flow(scope: Scope, op_id: str, request: ChildRequest) -> Flow:
    """``run_in_child_context``: the user's body in a context of its own."""
    config = request.config or _DEFAULT_CHILD
    child = Child(
        resolved_name(request.name, request.func),
        config.sub_type or OperationSubType.RUN_IN_CHILD_CONTEXT.value,
        orchestration_body(request.func),
        serdes_for(return_annotation(request.func), config.serdes),
        config.summary_generator,
        in_branch=scope.in_branch,
        virtual=config.is_virtual,
    )
    return child_flow(scope, op_id, child)


@define
class Child:
    """A child context with every choice made: what the engine runs (one per map item, so
    not frozen: a frozen class pays a call per field to build).

    ``internal`` bodies are flows of our own (``wait_for_callback``, a batch), run with
    ``yield from``; user bodies are run by the driver with a context shell of its kind.
    """

    name: str | None
    sub_type: str
    body: Callable[[IdSequence], Flow] | Callable[..., Any]
    serdes: SerDes[Any]
    summary: Callable[[Any], str] | None = None
    internal: bool = False
    in_branch: bool = False
    virtual: bool = False


@reported
def child_flow(scope: Scope, op_id: str, child: Child) -> Flow:
    """A child context: its operations nest under its id; its result is checkpointed once.

    Its SUCCEED/FAIL is queued, not awaited: everything inside is already durable, so a crash
    before the next flush only replays the body from its children's checkpoints. A ``virtual``
    context checkpoints nothing: its operations report the caller's parent, and its body runs
    again on every replay. The value returned is always the result's serdes round trip, so
    the first run returns what replay will.
    """
    name, sub_type, body, serdes = child.name, child.sub_type, child.body, child.serdes
    virtual = child.virtual
    execution = scope.execution
    op = None
    if virtual:
        execution.reject_recorded(op_id, f"{sub_type} {name or op_id}")
        ids = IdSequence.virtual(op_id, scope.parent_id)
    else:
        op = execution.lookup(op_id, OperationType.CONTEXT, sub_type, name)
        if op is not None:
            details = op.context_details
            if op.status is OperationStatus.SUCCEEDED and not (
                details and details.replay_children
            ):
                return scope.decode(serdes, details.result if details else None, op_id)
            if op.status is OperationStatus.FAILED:
                raise child_error(details.error if details else None)
        else:
            start = scope.update(
                op_id, OperationType.CONTEXT, OperationAction.START, sub_type, name
            )
            yield scope.commit((start,), durable=False)
        ids = IdSequence(op_id)
    recorded = op is not None and op.status.is_terminal
    if execution.hooks is not None:
        identity = scope.update(op_id, OperationType.CONTEXT, OperationAction.START, sub_type, name)
        body = execution.hooks.context_body(
            body, identity, op, internal=child.internal, virtual=virtual
        )
    try:
        if child.internal:
            value = yield from body(ids)
        else:
            value = yield RunInContext(body, Scope(execution, ids, child.in_branch))
        if ids.suspended is not None:  # the body caught its suspension and returned
            raise SuspendExecution(ids.suspended)
    except SuspendExecution as suspension:
        scope.ids.suspended = scope.ids.suspended or str(suspension)
        raise
    except Exception as error:
        if ids.suspended is not None:  # the body caught its suspension and raised instead
            scope.ids.suspended = scope.ids.suspended or ids.suspended
            raise SuspendExecution(ids.suspended) from error
        if not (virtual or recorded):
            yield scope.commit(
                (
                    scope.update(
                        op_id,
                        OperationType.CONTEXT,
                        OperationAction.FAIL,
                        sub_type,
                        name,
                        error=error_object(error),
                    ),
                ),
                durable=False,
            )
        raise child_error(error_object(error)) from error
    payload = scope.encode(serdes, value, op_id, "context", name)
    if not (virtual or recorded):
        succeed = context_success(scope, op_id, child, value, payload)
        yield scope.commit((succeed,), durable=False)
    return scope.decode(serdes, payload, op_id)


def context_success(
    scope: Scope, op_id: str, child: Child, value: Any, payload: str
) -> OperationUpdate:
    """A context's SUCCEED. A result over the payload limit is stored as its summary (or
    nothing) and marked ``replay_children``: replay rebuilds it from the children instead."""
    options = None
    if over_payload_limit(payload):
        payload = child.summary(value) if child.summary is not None else ""
        options = ContextOptions(replay_children=True)
    return scope.update(
        op_id,
        OperationType.CONTEXT,
        OperationAction.SUCCEED,
        child.sub_type,
        child.name,
        payload=payload,
        context_options=options,
    )


def child_error(error: ErrorObject | None) -> ChildContextError:
    """The same ChildContextError, with the same rebuilt cause, on first run and replay."""
    child_error = ChildContextError.from_error_object(error)
    child_error.__cause__ = rebuild_operation_error(error, DurableOperationError)
    return child_error


def wait_for_callback_flow(scope: Scope, op_id: str, request: WaitForCallbackRequest) -> Flow:
    """A CONTEXT holding a callback and a submitter step; the callback's answer is its value.

    The config's serdes reads the answer; the context itself records it as JSON, as the
    official SDK does (a custom serdes is not run twice).
    """
    config = request.config or _DEFAULT_WAIT_FOR_CALLBACK
    name = resolved_name(request.name, request.submitter)
    submitter = request.submitter
    prefix = f"{name} " if name else ""

    def body(ids: IdSequence) -> Flow:
        inner = Scope(scope.execution, ids, scope.in_branch)
        started = yield from create_callback_flow(
            inner, ids.next(), CallbackRequest(f"{prefix}create callback id", config)
        )
        submit = StepRequest(
            lambda step_context: submitter(started.callback_id, step_context),
            f"{prefix}submitter",
            StepConfig(retry_strategy=config.retry_strategy),
            request.context,
        )
        try:
            yield from step_flow(inner, ids.next(), submit)
        except StepError as error:
            raise CallbackSubmitterError(
                error.message or "the callback submitter failed",
                "CallbackSubmitterError",
                error.data,
                error.stack_trace,
            ) from error
        return (yield from callback_result_flow(started))

    child = Child(name, OperationSubType.WAIT_FOR_CALLBACK.value, body, JSON_SERDES, internal=True)
    try:
        return (yield from child_flow(scope, op_id, child))
    except ChildContextError as error:
        if isinstance(error.__cause__, CallbackError):
            raise error.__cause__ from None
        raise

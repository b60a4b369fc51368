"""The official testing package's in-process runner, on our local service.

``DurableFunctionTestRunner`` and ``DurableFunctionTestResult`` keep the names, parameters and
result accessors of ``aws_durable_execution_sdk_python_testing``, so a team's tests port by
rewriting the import prefix. Underneath is a ``LocalRunner`` on an in-memory ``LocalBackend``
with time skipping: waits and retry delays pass at once. Each execution is driven in a
background thread, so a test can start it, answer its callbacks and wait for its result as
with the official runner.
"""

from __future__ import annotations

import inspect
import json
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, cast

from attrs import field, frozen

from durable_backend._handler import durable_execution
from durable_backend._models import (
    ErrorObject,
    ExecutionStatus,
    OperationStatus,
    OperationType,
)
from durable_backend._models import Operation as ServiceOperation
from durable_backend.context import AsyncDurableContext, DurableContext
from durable_backend.execution import InvocationStatus
from durable_backend.local._backend import ChainedInvokeRequest
from durable_backend.local._runner import HandlerLike, LocalRunner, Reply, RunResult


class DurableFunctionsTestError(Exception):
    """A test asked the runner for something the execution does not have."""


@frozen
class Operation:
    """An operation of the execution under test, as the official testing package shows it."""

    operation_id: str
    operation_type: OperationType
    status: OperationStatus
    parent_id: str | None = field(default=None, kw_only=True)
    name: str | None = field(default=None, kw_only=True)
    sub_type: str | None = field(default=None, kw_only=True)
    start_timestamp: datetime | None = field(default=None, kw_only=True)
    end_timestamp: datetime | None = field(default=None, kw_only=True)


@frozen
class ExecutionOperation(Operation):
    input_payload: str | None = None


class _Lookup:
    """Lookup by name among the operations directly under this one."""

    def _children(self) -> Sequence[Operation]:
        raise NotImplementedError

    def get_operation_by_name(self, name: str) -> Operation:
        return _by_name(self._children(), name, "Operation")

    def get_step(self, name: str) -> StepOperation:
        return cast(StepOperation, self.get_operation_by_name(name))

    def get_wait(self, name: str) -> WaitOperation:
        return cast(WaitOperation, self.get_operation_by_name(name))

    def get_context(self, name: str) -> ContextOperation:
        return cast(ContextOperation, self.get_operation_by_name(name))

    def get_callback(self, name: str) -> CallbackOperation:
        return cast(CallbackOperation, self.get_operation_by_name(name))

    def get_invoke(self, name: str) -> InvokeOperation:
        return cast(InvokeOperation, self.get_operation_by_name(name))

    def get_execution(self, name: str) -> ExecutionOperation:
        return cast(ExecutionOperation, self.get_operation_by_name(name))


@frozen
class ContextOperation(_Lookup, Operation):
    child_operations: list[Operation]
    result: str | None = None
    error: ErrorObject | None = None

    def _children(self) -> Sequence[Operation]:
        return self.child_operations


@frozen
class StepOperation(ContextOperation):
    attempt: int = 0
    next_attempt_timestamp: datetime | None = None


@frozen
class WaitOperation(Operation):
    scheduled_end_timestamp: datetime | None = None


@frozen
class CallbackOperation(ContextOperation):
    callback_id: str | None = None


@frozen
class InvokeOperation(Operation):
    result: str | None = None
    error: ErrorObject | None = None


def _by_name(operations: Sequence[Operation], name: str, what: str) -> Operation:
    for operation in operations:
        if operation.name == name:
            return operation
    names = sorted({op.name for op in operations if op.name})
    raise DurableFunctionsTestError(f"{what} with name {name!r} not found; there are {names}")


def create_operation(
    op: ServiceOperation, all_operations: Sequence[ServiceOperation] = ()
) -> Operation:
    """The testing view of a service operation, its children nested under it."""
    common: dict[str, Any] = {
        "parent_id": op.parent_id, "name": op.name, "sub_type": op.sub_type,
        "start_timestamp": op.start_timestamp, "end_timestamp": op.end_timestamp,
    }
    head = (op.id, op.type, op.status)
    children = [create_operation(o, all_operations) for o in all_operations if o.parent_id == op.id]
    if op.type is OperationType.STEP:
        step = op.step_details
        return StepOperation(
            *head, children, step.result if step else None, step.error if step else None,
            (step.attempt or 0) if step else 0, step.next_attempt_timestamp if step else None,
            **common,
        )
    if op.type is OperationType.CONTEXT:
        ctx = op.context_details
        return ContextOperation(
            *head, children, ctx.result if ctx else None, ctx.error if ctx else None, **common
        )
    if op.type is OperationType.CALLBACK:
        cb = op.callback_details
        return CallbackOperation(
            *head, children, cb.result if cb else None, cb.error if cb else None,
            cb.callback_id if cb else None, **common,
        )
    if op.type is OperationType.WAIT:
        wait = op.wait_details
        return WaitOperation(*head, wait.scheduled_end_timestamp if wait else None, **common)
    if op.type is OperationType.CHAINED_INVOKE:
        invoke = op.chained_invoke_details
        return InvokeOperation(
            *head, invoke.result if invoke else None, invoke.error if invoke else None, **common
        )
    execution = op.execution_details
    return ExecutionOperation(*head, execution.input_payload if execution else None, **common)


@frozen
class DurableFunctionTestResult(_Lookup):
    """How an execution ended: its status, result or error, and its operations as a tree
    (top-level operations in ``operations``, the rest under ``child_operations``)."""

    status: InvocationStatus
    operations: list[Operation]
    result: str | None = None
    error: ErrorObject | None = None
    execution_status: ExecutionStatus | None = None

    @classmethod
    def create(cls, run: RunResult) -> DurableFunctionTestResult:
        operations = [
            create_operation(op, run.operations)
            for op in run.operations
            if op.type is not OperationType.EXECUTION and op.parent_id is None
        ]
        succeeded = run.status is ExecutionStatus.SUCCEEDED
        return cls(
            status=InvocationStatus.SUCCEEDED if succeeded else InvocationStatus.FAILED,
            operations=operations,
            result=run.raw_result,
            error=run.error,
            execution_status=run.status,
        )

    def _children(self) -> Sequence[Operation]:
        return self.operations

    def get_all_operations(self) -> list[Operation]:
        """Every operation, nested ones included."""
        found: list[Operation] = []
        stack = list(self.operations)
        while stack:
            op = stack.pop()
            found.append(op)
            stack.extend(getattr(op, "child_operations", ()))
        return found


class DurableFunctionTestRunner:
    """Run a durable handler in-process, as the official testing package's runner does.

    ``run`` blocks until the execution ends; ``run_async`` starts it and returns its ARN, so
    the test can ``wait_for_callback``, ``send_callback_success`` and ``wait_for_result``.
    ``skip_time=False`` sleeps through waits and retry delays for real.
    """

    def __init__(
        self,
        handler: HandlerLike,
        poll_interval: float = 1.0,
        execution_timeout: int = 300,
        skip_time: bool = True,
    ) -> None:
        self._handler = handler
        self.poll_interval = poll_interval
        self._execution_timeout = execution_timeout
        # The timeouts bound the test's real-time wait, as in the official runner: time the
        # runner skips does not count against them.
        self._runner = LocalRunner(":memory:", time_skipping=skip_time)
        self._lock = threading.RLock()
        self._answered: dict[str, threading.Event] = {}
        self._done: dict[str, threading.Event] = {}
        self._failures: dict[str, BaseException] = {}
        self._plain: dict[str, Callable[[Any, Any], Any]] = {}
        self._closed = False

    def __enter__(self) -> DurableFunctionTestRunner:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._closed = True
        for event in self._answered.values():
            event.set()
        self._runner.close()

    def register_durable_function(
        self, function_name: str, handler: HandlerLike, execution_timeout: int | None = None
    ) -> DurableFunctionTestRunner:
        """Make ``handler`` the durable target of ``ctx.invoke(function_name, ...)``: it runs
        as its own execution, timing out after ``execution_timeout`` seconds."""
        self._runner.register(function_name, handler, execution_timeout=execution_timeout)
        return self

    def register_function(
        self, function_name: str, handler: Callable[[Any, Any], Any]
    ) -> DurableFunctionTestRunner:
        """Make the plain (non-durable) ``handler`` the target of ``ctx.invoke(function_name,
        ...)``: one call with the decoded payload (and ``None`` for the Lambda context), whose
        return value, as JSON, is the invoke's result and whose exception is its error."""
        self._plain[function_name] = handler
        return self

    def _invoke_plain(self, request: ChainedInvokeRequest, _: str | None) -> Reply | None:
        name = request.function_name
        handler = self._plain.get(name) or self._plain.get(name.split(":", 1)[0])
        if handler is None:
            return None
        try:
            payload = json.loads(request.input_payload) if request.input_payload else None
            return Reply(result=json.dumps(handler(payload, None)))
        except Exception as exc:
            return Reply(error=ErrorObject.from_exception(exc))

    def run(
        self,
        input: str | None = None,
        execution_timeout: int | None = None,
        timeout: int | None = None,
        function_name: str = "test-function",
        execution_name: str = "execution-name",
    ) -> DurableFunctionTestResult:
        """Run to the end. ``timeout`` is the official runner's deprecated spelling of
        ``execution_timeout`` (it warns, as there)."""
        if timeout is not None and execution_timeout is None:
            warnings.warn("timeout on run() is deprecated. Use execution_timeout instead.",
                          DeprecationWarning, stacklevel=2)
            execution_timeout = timeout
        timeout = execution_timeout if execution_timeout is not None else self._execution_timeout
        arn = self.run_async(input, timeout, function_name, execution_name)
        return self.wait_for_result(arn, timeout)

    def run_async(
        self,
        input: str | None = None,
        execution_timeout: int | None = None,
        function_name: str = "test-function",
        execution_name: str = "execution-name",
    ) -> str:
        """Start the execution (``input`` is its JSON payload) and drive it in the background."""
        with self._lock:
            arn = self._runner.start(
                self._handler,
                input_payload=input if input is not None else "null",
                name=execution_name,
                function_name=function_name,
            )
            self._answered[arn] = threading.Event()
            self._done[arn] = threading.Event()
        threading.Thread(target=self._drive, args=(arn,), name=f"test-runner-{arn[-8:]}",
                         daemon=True).start()
        return arn

    def _drive(self, arn: str) -> None:
        try:
            while not self._closed:
                with self._lock:
                    if self._runner.resume(arn, on_invoke=self._invoke_plain).done:
                        return
                self._answered[arn].wait()
                self._answered[arn].clear()
        except BaseException as exc:
            self._failures[arn] = exc
        finally:
            self._done[arn].set()

    def wait_for_result(self, execution_arn: str, timeout: int = 60) -> DurableFunctionTestResult:
        if not self._done[execution_arn].wait(timeout):
            raise TimeoutError("Execution did not complete within timeout")
        failure = self._failures.get(execution_arn)
        if failure is not None:
            raise DurableFunctionsTestError(f"the runner failed: {failure}") from failure
        with self._lock:
            return DurableFunctionTestResult.create(self._runner.result(execution_arn))

    def _answer(self, callback_id: str, send: Callable[[], None]) -> None:
        with self._lock:
            send()
            for event in self._answered.values():
                event.set()

    def send_callback_success(self, callback_id: str, result: bytes | None = None) -> None:
        self._answer(callback_id,
                     lambda: self._runner.backend.send_callback_success(callback_id, result))

    def send_callback_failure(self, callback_id: str, error: ErrorObject | None = None) -> None:
        self._answer(callback_id,
                     lambda: self._runner.backend.send_callback_failure(callback_id, error))

    def send_callback_heartbeat(self, callback_id: str) -> None:
        with self._lock:
            self._runner.backend.send_callback_heartbeat(callback_id)

    def wait_for_callback(
        self, execution_arn: str, name: str | None = None, timeout: int = 60
    ) -> str:
        """The id of an open callback (named ``name``, else the latest) once the invocation
        that created it has ended, so an answer cannot race it."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                events = self._runner.backend.history_events(execution_arn)
            callback_id = ready_callback(events, name)
            if callback_id is not None:
                return callback_id
            if time.monotonic() >= deadline:
                raise TimeoutError(f"Callback did not become available within {timeout}s")
            time.sleep(min(self.poll_interval, 0.05))


def ready_callback(events: Sequence[dict[str, Any]], name: str | None) -> str | None:
    done = {e["Id"] for e in events if e["EventType"] in
            ("CallbackSucceeded", "CallbackFailed", "CallbackTimedOut")}
    ready: list[str] = []
    for index, event in enumerate(events):
        if event["EventType"] != "CallbackStarted" or (name and event.get("Name") != name):
            continue
        if event["Id"] in done:
            if name:
                raise DurableFunctionsTestError(f"Callback {name} has already completed")
            continue
        if any(e["EventType"] == "InvocationCompleted" for e in events[index + 1:]):
            ready.append(event["CallbackStartedDetails"]["CallbackId"])
    return ready[-1] if ready else None


def child_context_handler(
    context_function: Callable[..., Callable[[Any], Any]], *args: Any, **kwargs: Any
) -> HandlerLike:
    """A handler running ``context_function(*args, **kwargs)`` on its root context: a sync
    handler for a ``def`` block, an async one for an ``async def`` block."""
    block = context_function(*args, **kwargs)
    if inspect.iscoroutinefunction(block):

        @durable_execution
        async def async_handler(event: Any, context: AsyncDurableContext) -> Any:
            return await block(context)

        return async_handler

    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        return block(context)

    return handler


class DurableChildContextTestRunner(DurableFunctionTestRunner):
    """Test a ``@durable_with_child_context`` function (``def`` or ``async def``) on its own."""

    def __init__(
        self,
        context_function: Callable[..., Callable[[Any], Any]],
        *args: Any,
        skip_time: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(child_context_handler(context_function, *args, **kwargs),
                         skip_time=skip_time)

"""The testing kit: run a workflow in one call, stub steps and invokes, answer callbacks, and
assert on checkpoint calls and history.

Everything runs on a ``LocalRunner`` over an in-memory ``LocalBackend`` (the same rules as the
service), with time skipping, so a test of a workflow that waits for a day takes milliseconds.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, TypeVar, cast, overload

from attrs import frozen

from durable_backend._codec import event_converter, to_wire
from durable_backend._determinism import DeterminismGuard
from durable_backend._handler import AsyncDurableHandler, DurableHandler, durable_execution
from durable_backend._models import (
    DurableInvocationInput,
    ErrorObject,
    ExecutionStatus,
    InitialExecutionState,
    Operation,
    OperationAction,
)
from durable_backend._serdes import SerDesContext
from durable_backend.local import _rules as rules
from durable_backend.local._backend import ChainedInvokeRequest
from durable_backend.local._recording import CheckpointCall
from durable_backend.local._runner import (
    HandlerLike,
    LocalRunner,
    PendingCallback,
    Reply,
    RunResult,
)
from durable_backend.testing._probe import AsyncReplayProbe, ReplayProbe, ReplayProbeError
from durable_backend.testing._stubs import stubbed

O = TypeVar("O")  # noqa: E741 - the workflow's output


class WorkflowAssertionError(AssertionError):
    """A kit assertion failed; the message says what was expected and what happened."""


class UnknownNameError(LookupError):
    """A stub or callback answer names no step, invoke or callback the workflow reached:
    usually a typo, which would otherwise pass silently (or leave the run waiting)."""


def _encode(value: object) -> str | None:
    """A callback answer as the text the handler receives: a string as it is (the raw text an
    outside system sends), anything else as its JSON text."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


def _error(error: BaseException) -> ErrorObject:
    return ErrorObject(error_message=str(error) or None, error_type=type(error).__name__)


def _reply(answer: object, argument: object) -> Reply:
    """A stub or callback answer as a ``Reply``: a value, an exception, or a function of
    ``argument`` returning a value or raising."""
    if callable(answer) and not isinstance(answer, BaseException):
        try:
            answer = answer(argument)
        except Exception as exc:
            return Reply(error=_error(exc))
    if isinstance(answer, BaseException):
        return Reply(error=_error(answer))
    return Reply(result=_encode(answer))


def _is_async(handler: HandlerLike) -> bool:
    return isinstance(handler, AsyncDurableHandler) or inspect.iscoroutinefunction(handler)


@frozen
class WorkflowResult(Generic[O]):
    """A finished (or suspended) run, with assertion helpers.

    ``status`` is ``RUNNING`` while the workflow waits on a callback nobody answered.
    ``result`` is the handler's return value, decoded by its result serdes (``None`` unless
    it succeeded). ``checkpoint_calls`` are the root execution's calls in order.
    """

    run: RunResult
    handler: HandlerLike

    @property
    def arn(self) -> str:
        return self.run.arn

    @property
    def status(self) -> ExecutionStatus:
        return self.run.status

    @property
    def result(self) -> O | None:
        raw = self.run.raw_result
        if raw is None or self.status is not ExecutionStatus.SUCCEEDED:
            return None
        if isinstance(self.handler, DurableHandler | AsyncDurableHandler):
            serdes = self.handler._settings.result_serdes
            return cast(O, serdes.deserialize(raw, SerDesContext("", self.arn)))
        return cast(O, self.run.result)

    @property
    def error(self) -> ErrorObject | None:
        return self.run.error

    @property
    def operations(self) -> tuple[Operation, ...]:
        return self.run.operations

    @property
    def history(self) -> tuple[dict[str, Any], ...]:
        return self.run.history

    @property
    def invocations(self) -> int:
        return self.run.invocations

    @property
    def pending_callbacks(self) -> tuple[PendingCallback, ...]:
        return self.run.pending_callbacks

    @property
    def checkpoint_calls(self) -> list[CheckpointCall]:
        return self.run.checkpoint_calls()

    def history_types(self) -> list[str]:
        return self.run.history_types()

    def operation(self, name: str) -> Operation:
        return self.run.operation(name)

    def checkpoint_counts(self) -> Counter[int]:
        """Checkpoint calls per invocation (numbered from 1)."""
        return Counter(call.invocation for call in self.checkpoint_calls)

    def updates(self, name: str) -> list[OperationAction]:
        """The actions sent for the operations named ``name``, in order."""
        return [
            update.action
            for call in self.checkpoint_calls
            for update in call.updates
            if update.name == name
        ]

    def assert_succeeded(self) -> O:
        """Assert the execution succeeded and return its result."""
        if self.status is not ExecutionStatus.SUCCEEDED:
            raise WorkflowAssertionError(
                f"expected SUCCEEDED, the execution is {self.status.value}"
                + (f" with {self.error}" if self.error else "")
                + (
                    f", waiting on callbacks {[c.label for c in self.pending_callbacks]}"
                    if self.pending_callbacks
                    else ""
                )
            )
        return cast(O, self.result)

    def assert_failed(self, error_type: str | None = None) -> ErrorObject:
        """Assert the execution failed (with ``error_type``, if given); return the error.

        ``error_type`` is the recorded ErrorType (``"orders.CardDeclined"``, module-qualified as
        the official SDK records it) or just the class name (``"CardDeclined"``).
        """
        if self.status is not ExecutionStatus.FAILED or self.error is None:
            raise WorkflowAssertionError(
                f"expected FAILED, the execution is {self.status.value} (result {self.result!r})"
            )
        recorded = self.error.error_type or ""
        if error_type is not None and error_type not in (recorded, recorded.rsplit(".", 1)[-1]):
            raise WorkflowAssertionError(
                f"expected error type {error_type!r}, got {self.error.error_type!r}: "
                f"{self.error.error_message}"
            )
        return self.error

    def assert_pure_replay(self) -> None:
        """Replay the finished execution once more: it must make no checkpoint call and
        return the same outcome.

        A completed history replayed by deterministic code runs no step body and sends
        nothing; a checkpoint here means the workflow took a different path on replay.
        """
        if not self.run.done:
            raise WorkflowAssertionError(
                f"a pure replay needs a finished execution; it is {self.status.value}"
            )
        ops = self.operations
        by_id = {op.id: op for op in ops}
        visible = rules.visible_operations(ops, by_id.get)
        event = to_wire(
            DurableInvocationInput(
                durable_execution_arn=self.arn,
                checkpoint_token="replay-probe",
                initial_execution_state=InitialExecutionState(
                    operations=tuple(visible), next_marker=""
                ),
            ),
            event_converter,
        )
        handler = self.handler
        is_async = _is_async(handler)
        probe = AsyncReplayProbe() if is_async else ReplayProbe()
        replay = _over(handler, probe)
        try:
            if is_async:
                # A thread of its own: the caller may be an ``async def`` test with a running loop.
                with ThreadPoolExecutor(1) as pool:
                    output = pool.submit(replay, event, None).result()
            else:
                output = replay(event, None)
        except ReplayProbeError:
            output = {}
        if probe.calls:
            raise WorkflowAssertionError(
                f"replaying the finished execution made {len(probe.calls)} backend call(s): "
                f"{probe.calls}"
            )
        expected = {
            ExecutionStatus.SUCCEEDED: "SUCCEEDED",
            ExecutionStatus.FAILED: "FAILED",
        }.get(self.status)
        if expected is not None and output.get("Status") != expected:
            raise WorkflowAssertionError(
                f"the replay returned {output.get('Status')} ({output.get('Error')}), "
                f"the execution ended {expected}"
            )
        if expected == "SUCCEEDED" and output.get("Result") != self.run.raw_result:
            raise WorkflowAssertionError(
                f"the replay returned {output.get('Result')!r}, "
                f"the execution returned {self.run.raw_result!r}"
            )


def _with_stubs(
    handler: HandlerLike, stubs: Mapping[str, object], used: set[str]
) -> HandlerLike:
    """``handler`` with steps stubbed by name (recorded in ``used``), keeping a decorated
    handler's own options."""
    if not stubs:
        return handler
    if isinstance(handler, DurableHandler | AsyncDurableHandler):
        return handler.with_function(stubbed(handler.fn, stubs, used))
    return stubbed(handler, stubs, used)


def guarded(handler: HandlerLike, guard: DeterminismGuard) -> HandlerLike:
    """``handler`` with the determinism guard armed while it runs, keeping a decorated
    handler's own options."""
    if isinstance(handler, DurableHandler):
        return handler.with_function(guard.guarding(handler.fn))
    if isinstance(handler, AsyncDurableHandler):
        return handler.with_function(guard.guarding(handler.fn))
    return guard.guarding(handler)


def _over(handler: HandlerLike, probe: ReplayProbe | AsyncReplayProbe) -> Callable[..., Any]:
    """``handler`` over the replay probe, keeping a decorated handler's own options."""
    if isinstance(handler, AsyncDurableHandler) and isinstance(probe, AsyncReplayProbe):
        return handler.with_backend(probe)
    if isinstance(handler, DurableHandler) and isinstance(probe, ReplayProbe):
        return handler.with_backend(probe)
    return durable_execution(backend=probe)(handler)


class Workflow(Generic[O]):
    """One workflow under test, for runs that need a hand while suspended.

    ``stubs`` maps a step name to a stub (the step's value, an exception it raises, or a
    function of the step context), and an invoke's operation name or function name to a stub
    (the result, an exception, or a function of the decoded payload). ``functions`` registers
    real chained-invoke targets. ``callbacks`` answers callbacks by name (the
    ``wait_for_callback`` name or the callback's own): a result (a string is sent as it is, the
    raw text the handler receives unless its callback config names a serdes; anything else as
    its JSON text), an exception (a failure), or a function of the callback id.

    A name that matches nothing is an ``UnknownNameError``: a stub no step or invoke used, once
    the run has ended; a callback answer no callback used, once the run has ended or waits on
    other callbacks. ``run`` in an ``async def`` test (a running event loop) with an async
    handler is a ``RuntimeError`` that points to ``run_async`` / ``run_workflow_async``.

    ``strict`` arms the determinism guard: orchestration code (outside steps) that calls
    ``time.time``, ``datetime.now``, ``random.*`` or ``uuid.uuid4`` raises
    ``NondeterministicCallError`` naming the line, and so does ``run``.
    """

    def __init__(
        self,
        handler: HandlerLike,
        *,
        stubs: Mapping[str, object] | None = None,
        functions: Mapping[str, HandlerLike] | None = None,
        callbacks: Mapping[str, object] | None = None,
        time_skipping: bool = True,
        runner: LocalRunner | None = None,
        strict: bool = False,
    ) -> None:
        self.runner = runner or LocalRunner(time_skipping=time_skipping)
        self.stubs = dict(stubs or {})
        self.callbacks = dict(callbacks or {})
        self._used: set[str] = set()
        self._answered: set[str] = set()
        self.handler = _with_stubs(handler, self.stubs, self._used)
        self.guard = DeterminismGuard() if strict else None
        if self.guard is not None:
            self.handler = guarded(self.handler, self.guard)
        for name, target in (functions or {}).items():
            self.runner.register(name, _with_stubs(target, self.stubs, self._used))
        self.arn: str | None = None

    # ------------------------------------------------------------------ running

    def run(self, input: object = None, **options: Any) -> WorkflowResult[O]:
        """Start the workflow with ``input`` and run it until it ends or waits on a callback
        nobody answered (then answer it and ``resume``)."""
        self._outside_loop("run")
        self.arn = self.runner.start(self.handler, input, **options)
        return self.resume()

    def resume(self) -> WorkflowResult[O]:
        self._outside_loop("resume")
        run = self.runner.resume(
            self._arn(), on_callback=self._on_callback, on_invoke=self._on_invoke
        )
        return self._result(run)

    async def run_async(self, input: object = None, **options: Any) -> WorkflowResult[O]:
        """``run`` from inside an event loop (an ``async def`` test)."""
        self.arn = self.runner.start(self.handler, input, **options)
        return await self.resume_async()

    async def resume_async(self) -> WorkflowResult[O]:
        run = await self.runner.resume_async(
            self._arn(), on_callback=self._on_callback, on_invoke=self._on_invoke
        )
        return self._result(run)

    def _result(self, run: RunResult) -> WorkflowResult[O]:
        """The run's result; in strict mode, the first nondeterministic call is raised even
        if the workflow caught it; a stub or callback name that matched nothing is an
        ``UnknownNameError`` (see the class doc)."""
        if self.guard is not None and self.guard.violation is not None:
            raise self.guard.violation
        result: WorkflowResult[O] = WorkflowResult(run, self.handler)
        names = sorted({op.name for op in result.operations if op.name})
        if result.run.done:
            unused = [name for name in self.stubs if name not in self._used]
            if unused:
                raise UnknownNameError(
                    f"stubs {unused} match no step or invoke this run made; its operations "
                    f"are named {names}"
                )
        unanswered = [name for name in self.callbacks if name not in self._answered]
        if unanswered and (result.run.done or result.pending_callbacks):
            waiting = [c.label for c in result.pending_callbacks]
            raise UnknownNameError(
                f"callbacks {unanswered} match no callback this run created"
                + (f"; it waits on {waiting}" if waiting else f"; its operations are {names}")
            )
        return result

    def _outside_loop(self, method: str) -> None:
        """An async handler cannot run to completion from inside a running loop."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        if _is_async(self.handler):
            raise RuntimeError(
                f"Workflow.{method} (and run_workflow) cannot run an async handler inside a "
                f"running event loop (an async def test): use `await run_workflow_async(...)` "
                f"or `await workflow.{method}_async(...)`"
            )

    # ------------------------------------------------------------------ callbacks by name

    def callback(self, name: str) -> PendingCallback:
        """The open callback called ``name``."""
        pending = self.runner.pending_callbacks(self._arn())
        for callback in pending:
            if name in (callback.wait_name, callback.name, callback.callback_id):
                return callback
        raise LookupError(
            f"no open callback named {name!r}; open: {[c.label for c in pending] or 'none'}"
        )

    def succeed_callback(self, name: str, result: object = None) -> None:
        self.runner.send_callback_success(self.callback(name).callback_id, result)

    def fail_callback(self, name: str, message: str, *, error_type: str | None = None) -> None:
        self.runner.send_callback_failure(
            self.callback(name).callback_id, message, error_type=error_type
        )

    def heartbeat_callback(self, name: str) -> None:
        self.runner.send_callback_heartbeat(self.callback(name).callback_id)

    def advance(self, seconds: float) -> None:
        """Move the skipping clock (a callback's timeout, say); timers fire on ``resume``."""
        if self.runner.clock is None:
            raise RuntimeError("advance needs time skipping (the run uses the real clock)")
        self.runner.clock.advance(seconds)

    # ------------------------------------------------------------------ hooks

    def _arn(self) -> str:
        if self.arn is None:
            raise RuntimeError("the workflow has not been started: call run() first")
        return self.arn

    def _on_callback(self, pending: PendingCallback) -> Reply | None:
        for key in (pending.wait_name, pending.name):
            if key is not None and key in self.callbacks:
                self._answered.add(key)
                return _reply(self.callbacks[key], pending.callback_id)
        return None

    def _on_invoke(self, request: ChainedInvokeRequest, name: str | None) -> Reply | None:
        for key in (name, request.function_name):
            if key is not None and key in self.stubs:
                self._used.add(key)
                payload = json.loads(request.input_payload) if request.input_payload else None
                return _reply(self.stubs[key], payload)
        return None


@overload
def run_workflow(
    handler: DurableHandler[Any, O] | AsyncDurableHandler[Any, O],
    input: object = None,
    *,
    time_skipping: bool = True,
    stubs: Mapping[str, object] | None = None,
    callbacks: Mapping[str, object] | None = None,
    functions: Mapping[str, HandlerLike] | None = None,
    strict: bool = False,
) -> WorkflowResult[O]: ...
@overload
def run_workflow(
    handler: Callable[..., Any],
    input: object = None,
    *,
    time_skipping: bool = True,
    stubs: Mapping[str, object] | None = None,
    callbacks: Mapping[str, object] | None = None,
    functions: Mapping[str, HandlerLike] | None = None,
    strict: bool = False,
) -> WorkflowResult[Any]: ...
def run_workflow(
    handler: HandlerLike,
    input: object = None,
    *,
    time_skipping: bool = True,
    stubs: Mapping[str, object] | None = None,
    callbacks: Mapping[str, object] | None = None,
    functions: Mapping[str, HandlerLike] | None = None,
    strict: bool = False,
) -> WorkflowResult[Any]:
    """Run ``handler`` on a fresh in-memory local backend in one call; see ``Workflow``.
    Inside an ``async def`` test use ``run_workflow_async``."""
    workflow: Workflow[Any] = Workflow(
        handler,
        stubs=stubs,
        functions=functions,
        callbacks=callbacks,
        time_skipping=time_skipping,
        strict=strict,
    )
    try:
        return workflow.run(input)
    finally:
        workflow.runner.close()


@overload
async def run_workflow_async(
    handler: DurableHandler[Any, O] | AsyncDurableHandler[Any, O],
    input: object = None,
    *,
    time_skipping: bool = True,
    stubs: Mapping[str, object] | None = None,
    callbacks: Mapping[str, object] | None = None,
    functions: Mapping[str, HandlerLike] | None = None,
    strict: bool = False,
) -> WorkflowResult[O]: ...
@overload
async def run_workflow_async(
    handler: Callable[..., Any],
    input: object = None,
    *,
    time_skipping: bool = True,
    stubs: Mapping[str, object] | None = None,
    callbacks: Mapping[str, object] | None = None,
    functions: Mapping[str, HandlerLike] | None = None,
    strict: bool = False,
) -> WorkflowResult[Any]: ...
async def run_workflow_async(
    handler: HandlerLike,
    input: object = None,
    *,
    time_skipping: bool = True,
    stubs: Mapping[str, object] | None = None,
    callbacks: Mapping[str, object] | None = None,
    functions: Mapping[str, HandlerLike] | None = None,
    strict: bool = False,
) -> WorkflowResult[Any]:
    """``run_workflow`` for ``async def`` tests."""
    workflow: Workflow[Any] = Workflow(
        handler,
        stubs=stubs,
        functions=functions,
        callbacks=callbacks,
        time_skipping=time_skipping,
        strict=strict,
    )
    try:
        return await workflow.run_async(input)
    finally:
        workflow.runner.close()


"""An in-memory, rule-enforcing fake of the durable execution service for tests.

One ``MemoryBackend`` holds the state and serves the sync ``DurableBackend`` Protocol; its
``async_`` view (an ``AsyncMemoryBackend``) serves ``AsyncDurableBackend`` over the same state,
the way httpx's ``MockTransport`` serves both clients. Validation, transitions, tokens and
history come from ``durable_backend.local._rules``, the code ``LocalBackend`` runs, so the fake
and the local backend cannot disagree. State is plain dicts: a checkpoint costs microseconds.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from attrs import frozen

from durable_backend import _models as m
from durable_backend._backend import (
    DEFAULT_MAX_ITEMS,
    AsyncDurableBackend,
    DurableBackend,
    InlineAsyncBackend,
)
from durable_backend._codec import event_converter, from_wire, to_wire
from durable_backend._errors import DurableError, NotFoundError
from durable_backend._protocol import RESOURCE_NOT_FOUND, execution_id
from durable_backend.local import _rules as rules

DEFAULT_START = datetime(2025, 1, 1, tzinfo=UTC)
FUNCTION_ARN_PREFIX = "arn:aws:lambda:us-east-1:123456789012:function"


@frozen
class CheckpointCall:
    """One ``checkpoint``/``batch_checkpoint`` call as received (even if it was rejected)."""

    arn: str
    checkpoint_token: str
    updates: tuple[m.OperationUpdate, ...]
    client_token: str | None


@frozen
class StateCall:
    """One ``get_execution_state`` call as received."""

    arn: str
    checkpoint_token: str
    next_marker: str
    max_items: int


Handler = Callable[[dict[str, Any], Any], Mapping[str, Any]]


class _Execution:
    """Mutable state of one execution; ``open_ops`` are those a timer may still move."""

    def __init__(
        self, arn: str, name: str, input_payload: str | None, op: m.Operation,
        event: rules.HistoryEvent,
    ) -> None:
        self.arn = arn
        self.name = name
        self.input_payload = input_payload
        self.ops: dict[str, m.Operation] = {op.id: op}
        self.events: list[rules.HistoryEvent] = [event]
        self.token_sequence: int | None = 0
        self.end: rules.ExecutionEnd | None = None
        self.open_ops: dict[str, m.Operation] = {}
        self.timers: dict[str, rules.CallbackTimer] = {}
        self.delta: dict[str, m.Operation] = {}
        self.updated_while_suspended: dict[str, None] = {}
        self.client_tokens: dict[
            str, tuple[rules.ClientTokenEntry, m.CheckpointDurableExecutionOutput]
        ] = {}
        self.invocation_start: datetime | None = None
        self.invocations = 0


def _is_open(op: m.Operation) -> bool:
    if op.type is m.OperationType.STEP:
        return op.status is m.OperationStatus.PENDING
    return op.type in (m.OperationType.WAIT, m.OperationType.CALLBACK) and (
        op.status is m.OperationStatus.STARTED
    )


class MemoryBackend:
    """The fake service. Data-plane calls are the Protocol's; the rest is test control.

    ``page_size`` bounds the operations in an invocation event (``NextMarker`` paging);
    ``calls`` records every data-plane call in order.
    """

    def __init__(
        self,
        *,
        start: datetime = DEFAULT_START,
        page_size: int = DEFAULT_MAX_ITEMS,
        execution_timeout_seconds: int = 86_400,
    ) -> None:
        self._now = start
        self.page_size = page_size
        self.execution_timeout_seconds = execution_timeout_seconds
        self.calls: list[CheckpointCall | StateCall] = []
        self._executions: dict[str, _Execution] = {}
        self._counter = itertools.count(1)
        self._faults: list[tuple[DurableError, bool]] = []
        self.async_ = AsyncMemoryBackend(self)

    # ------------------------------------------------------------------ clock

    @property
    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> None:
        """Move the fake clock forward; due timers fire on the next call that looks."""
        if seconds < 0:
            raise ValueError(f"the clock only moves forward, got {seconds} seconds")
        self._now += timedelta(seconds=seconds)

    def advance_to_next_wake(self, arn: str, *, callbacks: bool = True) -> bool:
        """Skip the clock to the next timer of ``arn``; False when nothing is scheduled.

        ``callbacks=False`` ignores callback deadlines (a test completes those itself).
        """
        wake = self.next_wake(arn, callbacks=callbacks)
        if wake is None:
            return False
        self._now = max(self._now, wake)
        return True

    def next_wake(self, arn: str, *, callbacks: bool = True) -> datetime | None:
        """When the service will next move an operation of ``arn`` on its own."""
        execution = self._get(arn)
        dues = [
            rules.next_due(op, execution.timers.get(op.id))
            for op in execution.open_ops.values()
            if callbacks or op.type is not m.OperationType.CALLBACK
        ]
        return min((d for d in dues if d is not None), default=None)

    # ------------------------------------------------------------------ control plane

    def start_execution(
        self,
        input_payload: str | None = None,
        arn: str | None = None,
        *,
        name: str | None = None,
        function_name: str = "fn",
    ) -> tuple[str, dict[str, Any]]:
        """Create an execution and return its ARN and the first invocation event."""
        number = next(self._counter)
        name = name or f"execution-{number}"
        arn = arn or (
            f"{FUNCTION_ARN_PREFIX}:{function_name}:$LATEST/durable-execution/{name}/{number:032x}"
        )
        if arn in self._executions:
            raise ValueError(f"execution {arn!r} already exists")
        op, event = rules.start_execution(
            arn, name, input_payload, self._now, self.execution_timeout_seconds
        )
        execution = _Execution(arn, name, input_payload, op, event)
        self._executions[arn] = execution
        return arn, self.invocation_event(arn)

    def invocation_event(self, arn: str, max_page: int | None = None) -> dict[str, Any]:
        """Begin the next invocation: fire due timers, rotate the token, build the event dict.

        The previous invocation's token stops working. ``max_page`` overrides ``page_size``.
        """
        execution = self._get(arn)
        if execution.end is not None or execution.token_sequence is None:
            raise ValueError(f"execution {arn!r} has ended ({execution.end})")
        self._advance_time(execution)
        execution.token_sequence += 1
        execution.invocations += 1
        execution.invocation_start = self._now
        visible = self._visible(execution, execution.ops.values())
        page, marker = rules.state_page(visible, "", max_page or self.page_size)
        event = m.DurableInvocationInput(
            durable_execution_arn=arn,
            checkpoint_token=rules.mint_token(arn, execution.token_sequence),
            initial_execution_state=m.InitialExecutionState(operations=page, next_marker=marker),
            updated_operation_ids=tuple(execution.updated_while_suspended),
        )
        execution.updated_while_suspended.clear()
        execution.delta.clear()
        return to_wire(event, event_converter)

    def complete_invocation(
        self,
        arn: str,
        output: Mapping[str, Any] | None,
        *,
        function_error: m.ErrorObject | None = None,
        request_id: str | None = None,
    ) -> None:
        """Record an invocation's end (``InvocationCompleted``) and apply the handler's output.

        ``output`` is the handler's return dict, or ``None`` when it raised (``function_error``).
        """
        execution = self._get(arn)
        details: dict[str, Any] = {
            "StartTimestamp": execution.invocation_start or self._now,
            "EndTimestamp": self._now,
            "RequestId": request_id or f"request-{execution.invocations}",
        }
        if function_error is not None:
            details["Error"] = rules.wrap_error(function_error)
        exec_op = execution.ops[execution_id(arn)]
        execution.events.append(
            rules.HistoryEvent("InvocationCompleted", self._now, exec_op.id, details=details)
        )
        if output is None or execution.end is not None:
            return
        result = from_wire(output, m.DurableInvocationOutput, event_converter)
        if result.status == "SUCCEEDED":
            self._finish(execution, rules.ExecutionEnd(m.ExecutionStatus.SUCCEEDED, result.result))
        elif result.status == "FAILED":
            self._finish(
                execution, rules.ExecutionEnd(m.ExecutionStatus.FAILED, error=result.error)
            )
        elif result.status != "PENDING":
            raise ValueError(f"handler returned an unknown Status {result.status!r}")

    def run(
        self, handler: Handler, input_payload: str | None = None, *, max_invocations: int = 100
    ) -> str:
        """Start an execution and invoke ``handler`` until it ends, skipping time between
        invocations (callback deadlines excepted). Returns the ARN. Stops early when the
        execution waits on a callback or a chained invoke: complete it, then call ``resume``."""
        arn, event = self.start_execution(input_payload)
        self._drive(arn, handler, event, max_invocations)
        return arn

    def resume(self, arn: str, handler: Handler, *, max_invocations: int = 100) -> None:
        """Continue invoking a suspended execution, as ``run`` does."""
        self._drive(arn, handler, self.invocation_event(arn), max_invocations)

    def _drive(
        self, arn: str, handler: Handler, event: dict[str, Any], max_invocations: int
    ) -> None:
        for _ in range(max_invocations):
            output = handler(event, None)
            self.complete_invocation(arn, output)
            execution = self._executions[arn]
            if execution.end is not None:
                return
            self._advance_time(execution)
            if not execution.updated_while_suspended and not self.advance_to_next_wake(
                arn, callbacks=False
            ):
                return
            event = self.invocation_event(arn)
        raise RuntimeError(f"execution {arn!r} did not end within {max_invocations} invocations")

    def stop(self, arn: str, error: m.ErrorObject | None = None) -> None:
        self._finish(self._get(arn), rules.ExecutionEnd(m.ExecutionStatus.STOPPED, error=error))

    def complete_callback(
        self, callback_id: str, result: str | None = None, *, error: m.ErrorObject | None = None
    ) -> None:
        """Send a callback's success (``result``) or failure (``error``)."""
        call = (
            "SendDurableExecutionCallbackFailure"
            if error
            else "SendDurableExecutionCallbackSuccess"
        )
        execution, op = self._callback_op(callback_id, call)
        self._advance_time(execution)
        new, event = rules.complete_callback(
            execution.ops[op.id], self._now, result=result, error=error, failed=error is not None,
            call=call,
        )
        self._service_change(execution, new, event)

    def heartbeat_callback(self, callback_id: str) -> None:
        call = "SendDurableExecutionCallbackHeartbeat"
        execution, op = self._callback_op(callback_id, call)
        self._advance_time(execution)
        current = execution.ops[op.id]
        if current.status is not m.OperationStatus.STARTED:
            raise rules.callback_not_open(callback_id, current.status.value, call)
        timer = execution.timers.get(op.id)
        if timer is not None:
            execution.timers[op.id] = rules.heartbeat(timer, self._now)

    def pending_chained_invokes(self, arn: str) -> list[m.Operation]:
        return [
            op
            for op in self._get(arn).ops.values()
            if op.type is m.OperationType.CHAINED_INVOKE and op.status is m.OperationStatus.STARTED
        ]

    def complete_chained_invoke(
        self,
        arn: str,
        op_id: str,
        result: str | None = None,
        *,
        error: m.ErrorObject | None = None,
        status: m.OperationStatus | None = None,
    ) -> None:
        execution = self._get(arn)
        op = execution.ops.get(op_id)
        if op is None or op.type is not m.OperationType.CHAINED_INVOKE:
            raise ValueError(f"{op_id!r} is not a chained invoke of {arn!r}")
        final = status or (m.OperationStatus.FAILED if error else m.OperationStatus.SUCCEEDED)
        new, event = rules.complete_chained_invoke(op, final, self._now, result=result, error=error)
        self._service_change(execution, new, event)

    def fail_next_checkpoint(self, error: DurableError, *, after_apply: bool = False) -> None:
        """Make the next checkpoint raise ``error``; ``after_apply`` applies it first (a lost
        response), which is what ``ClientToken`` de-duplication exists for."""
        self._faults.append((error, after_apply))

    # ------------------------------------------------------------------ inspection

    def operations(self, arn: str) -> list[m.Operation]:
        """Every operation, children of completed contexts included, in start order."""
        return list(self._get(arn).ops.values())

    def operation(self, arn: str, op_id: str) -> m.Operation:
        return self._get(arn).ops[op_id]

    def history(self, arn: str, include_execution_data: bool = True) -> list[dict[str, Any]]:
        """``GetDurableExecutionHistory`` events (boto3 flavour), all pages."""
        return [
            event.to_wire(index, include_execution_data)
            for index, event in enumerate(self._get(arn).events, start=1)
        ]

    def history_types(self, arn: str) -> list[str]:
        return [event.event_type for event in self._get(arn).events]

    def execution_end(self, arn: str) -> rules.ExecutionEnd | None:
        """How the execution ended, or ``None`` while it runs."""
        return self._get(arn).end

    def checkpoint_calls(self, arn: str | None = None) -> list[CheckpointCall]:
        return [
            c for c in self.calls if isinstance(c, CheckpointCall) and arn in (None, c.arn)
        ]

    # ------------------------------------------------------------------ data plane

    def checkpoint(
        self,
        arn: str,
        checkpoint_token: str,
        updates: Sequence[m.OperationUpdate],
        client_token: str | None = None,
    ) -> m.CheckpointDurableExecutionOutput:
        self.calls.append(CheckpointCall(arn, checkpoint_token, tuple(updates), client_token))
        execution = self._get(arn, "CheckpointDurableExecution")
        fingerprint = ""
        if client_token is not None:
            rules.check_client_token(client_token)
            fingerprint = rules.request_fingerprint(checkpoint_token, updates)
            stored = execution.client_tokens.get(client_token)
            if rules.is_repeat(
                stored[0] if stored else None, client_token, fingerprint, self._now
            ):
                assert stored is not None
                return stored[1]
        fault = self._faults.pop(0) if self._faults else None
        if fault is not None and not fault[1]:
            raise fault[0]
        rules.check_token(arn, execution.token_sequence, checkpoint_token)
        self._advance_time(execution)
        outcome = rules.apply_batch(arn, execution.ops, updates, self._now)
        for op in outcome.operations:
            self._store(execution, op)
        execution.events.extend(outcome.events)
        execution.timers.update(outcome.callback_timers)
        if outcome.execution_end is not None:
            execution.end = outcome.execution_end
            execution.token_sequence = None
            token = None
        else:
            assert execution.token_sequence is not None
            execution.token_sequence += 1
            token = rules.mint_token(arn, execution.token_sequence)
        delta = execution.delta
        for op in outcome.operations:
            delta[op.id] = op
        response = m.CheckpointDurableExecutionOutput(
            checkpoint_token=token,
            new_execution_state=m.CheckpointUpdatedExecutionState(
                operations=tuple(self._visible(execution, delta.values())), next_marker=""
            ),
        )
        execution.delta = {}
        if client_token is not None:
            execution.client_tokens[client_token] = (
                rules.client_token_entry(fingerprint, self._now),
                response,
            )
        if fault is not None:
            raise fault[0]
        return response

    def batch_checkpoint(
        self,
        arn: str,
        checkpoint_token: str,
        updates: Sequence[m.OperationUpdate],
        client_token: str | None = None,
    ) -> m.CheckpointDurableExecutionOutput:
        return self.checkpoint(arn, checkpoint_token, updates, client_token)

    def get_execution_state(
        self,
        arn: str,
        checkpoint_token: str,
        next_marker: str,
        max_items: int = DEFAULT_MAX_ITEMS,
    ) -> m.GetDurableExecutionStateOutput:
        call = "GetDurableExecutionState"
        self.calls.append(StateCall(arn, checkpoint_token, next_marker, max_items))
        execution = self._get(arn, call)
        rules.check_token(arn, execution.token_sequence, checkpoint_token, call)
        self._advance_time(execution)
        visible = self._visible(execution, execution.ops.values())
        page, marker = rules.state_page(visible, next_marker, max_items, call)
        return m.GetDurableExecutionStateOutput(operations=page, next_marker=marker)

    # ------------------------------------------------------------------ internals

    def _get(self, arn: str, call: str = "") -> _Execution:
        execution = self._executions.get(arn)
        if execution is None:
            raise NotFoundError(
                f"no durable execution {arn!r}", call=call, code=RESOURCE_NOT_FOUND,
                http_status=404,
            )
        return execution

    def _callback_op(self, callback_id: str, call: str) -> tuple[_Execution, m.Operation]:
        arn, op_id = rules.parse_callback_id(callback_id, call)
        execution = self._executions.get(arn)
        op = execution.ops.get(op_id) if execution else None
        if execution is None or op is None:
            raise NotFoundError(
                f"no callback {callback_id!r}", call=call, code=RESOURCE_NOT_FOUND,
                http_status=404,
            )
        return execution, op

    def _store(self, execution: _Execution, op: m.Operation) -> None:
        execution.ops[op.id] = op
        if _is_open(op):
            execution.open_ops[op.id] = op
        else:
            execution.open_ops.pop(op.id, None)

    def _service_change(
        self, execution: _Execution, op: m.Operation, event: rules.HistoryEvent | None
    ) -> None:
        self._store(execution, op)
        execution.delta[op.id] = op
        execution.updated_while_suspended[op.id] = None
        if event is not None:
            execution.events.append(event)

    def _advance_time(self, execution: _Execution) -> None:
        if not execution.open_ops or execution.end is not None:
            return
        outcome = rules.advance_time(execution.open_ops.values(), self._now, execution.timers)
        for op in outcome.operations:
            self._store(execution, op)
            execution.delta[op.id] = op
            execution.updated_while_suspended[op.id] = None
        execution.events.extend(outcome.events)

    def _finish(self, execution: _Execution, end: rules.ExecutionEnd) -> None:
        if execution.end is not None:
            raise ValueError(f"execution {execution.arn!r} already ended ({execution.end})")
        exec_op = execution.ops[execution_id(execution.arn)]
        op, event = rules.finish_execution(exec_op, end, self._now)
        self._store(execution, op)
        execution.events.append(event)
        execution.end = end
        execution.token_sequence = None

    @staticmethod
    def _visible(execution: _Execution, ops: Any) -> list[m.Operation]:
        return rules.visible_operations(ops, execution.ops.get)


class AsyncMemoryBackend(InlineAsyncBackend):
    """The ``AsyncDurableBackend`` view of a ``MemoryBackend``: same state, awaitable calls."""

    backend: MemoryBackend

_sync_check: type[DurableBackend] = MemoryBackend
_async_check: type[AsyncDurableBackend] = AsyncMemoryBackend

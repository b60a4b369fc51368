"""The local service in memory, with the controls engine tests need.

``MemoryBackend`` is not a second emulation of the service: every rule, transition, token and
history event comes from ``LocalBackend`` (over a ``MemoryStore``, on a ``ManualClock``). This
front adds only what a test drives the service with: a record of every data-plane call, faults
injected into the next checkpoint, a clock to move, and a loop that plays Lambda with a plain
``handler(event, context)`` callable. Its ``async_`` view serves ``AsyncDurableBackend`` over
the same state, the way httpx's ``MockTransport`` serves both clients.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from attrs import frozen

from durable_backend import _models as m
from durable_backend._backend import (
    DEFAULT_MAX_ITEMS,
    AsyncDurableBackend,
    DurableBackend,
    InlineAsyncBackend,
)
from durable_backend._codec import from_wire
from durable_backend._errors import DurableError
from durable_backend.local import LocalBackend, ManualClock, MemoryStore
from durable_backend.local import _rules as rules

DEFAULT_START = datetime(2025, 1, 1, tzinfo=UTC)


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


class MemoryBackend:
    """The service for a test. Data-plane calls are the Protocol's; the rest is test control.

    ``page_size`` bounds the operations in an invocation event (``NextMarker`` paging);
    ``calls`` records every data-plane call in order; ``service`` is the ``LocalBackend``.
    """

    def __init__(
        self,
        *,
        start: datetime = DEFAULT_START,
        page_size: int = DEFAULT_MAX_ITEMS,
        execution_timeout_seconds: int = 86_400,
    ) -> None:
        self.clock = ManualClock(start)
        self.service = LocalBackend(
            store=MemoryStore(), clock=self.clock,
            execution_timeout_seconds=execution_timeout_seconds,
        )
        self.page_size = page_size
        self.calls: list[CheckpointCall | StateCall] = []
        self._faults: list[tuple[DurableError, bool]] = []
        self.async_ = AsyncMemoryBackend(self)

    # ------------------------------------------------------------------ clock

    @property
    def now(self) -> datetime:
        return self.clock()

    def advance(self, seconds: float) -> None:
        """Move the clock forward; due timers fire on the next call that changes anything."""
        self.clock.advance(seconds)

    def advance_to_next_wake(self, arn: str, *, callbacks: bool = True) -> bool:
        """Skip the clock to the next timer of ``arn``; False when nothing is scheduled.

        ``callbacks=False`` ignores callback deadlines (a test completes those itself).
        """
        wake = self.service.next_wake(arn, callbacks=callbacks)
        if wake is None:
            return False
        self.clock.advance_to(wake)
        return True

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
        arn = self.service.start_execution(function_name, input_payload, name=name, arn=arn)
        return arn, self.invocation_event(arn)

    def invocation_event(self, arn: str, max_page: int | None = None) -> dict[str, Any]:
        """Begin the next invocation (the previous one's token goes stale): its event dict."""
        return self.service.next_invocation_event(arn, max_page or self.page_size)

    def complete_invocation(
        self,
        arn: str,
        output: Mapping[str, Any] | None,
        *,
        function_error: m.ErrorObject | None = None,
        request_id: str | None = None,
        counts: bool = False,
    ) -> None:
        """Record an invocation's end (``InvocationCompleted``) and apply the handler's output.

        ``output`` is the handler's return dict, or ``None`` when it raised (``function_error``);
        such a failure ``counts`` towards failing the execution only when the test says so.
        """
        self.service.record_invocation_completed(
            arn, output, function_error=function_error, request_id=request_id, counts=counts
        )

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
            self.complete_invocation(arn, handler(event, None))
            if self.execution_end(arn) is not None:
                return
            if not self.service.needs_invocation(arn) and not self.advance_to_next_wake(
                arn, callbacks=False
            ):
                return
            event = self.invocation_event(arn)
        raise RuntimeError(f"execution {arn!r} did not end within {max_invocations} invocations")

    def stop(self, arn: str, error: m.ErrorObject | None = None) -> None:
        self.service.stop_execution(arn, error)

    def complete_callback(
        self, callback_id: str, result: str | None = None, *, error: m.ErrorObject | None = None
    ) -> None:
        """Send a callback's success (``result``) or failure (``error``)."""
        if error is None:
            self.service.send_callback_success(callback_id, result)
        else:
            self.service.send_callback_failure(callback_id, error)

    def heartbeat_callback(self, callback_id: str) -> None:
        self.service.send_callback_heartbeat(callback_id)

    def pending_chained_invokes(self, arn: str) -> list[m.Operation]:
        ids = {request.op_id for request in self.service.pending_chained_invokes(arn)}
        return [op for op in self.operations(arn) if op.id in ids]

    def complete_chained_invoke(
        self,
        arn: str,
        op_id: str,
        result: str | None = None,
        *,
        error: m.ErrorObject | None = None,
        status: m.OperationStatus | None = None,
    ) -> None:
        self.service.complete_chained_invoke(arn, op_id, result, error=error, status=status)

    def fail_next_checkpoint(self, error: DurableError, *, after_apply: bool = False) -> None:
        """Make the next checkpoint raise ``error``; ``after_apply`` applies it first (a lost
        response), which is what ``ClientToken`` de-duplication exists for."""
        self._faults.append((error, after_apply))

    # ------------------------------------------------------------------ inspection

    def operations(self, arn: str) -> list[m.Operation]:
        """Every operation, children of completed contexts included, in start order."""
        return self.service.operations(arn)

    def operation(self, arn: str, op_id: str) -> m.Operation:
        return next(op for op in self.operations(arn) if op.id == op_id)

    def history(self, arn: str, include_execution_data: bool = True) -> list[dict[str, Any]]:
        """``GetDurableExecutionHistory`` events (boto3 flavour), all pages."""
        events: list[dict[str, Any]] = []
        marker = ""
        while True:
            page = self.service.get_history(
                arn, include_execution_data=include_execution_data, marker=marker,
                max_items=1000,
            )
            events.extend(page["Events"])
            marker = page["NextMarker"]
            if not marker:
                return events

    def history_types(self, arn: str) -> list[str]:
        return [event["EventType"] for event in self.service.history_events(arn)]

    def execution_end(self, arn: str) -> rules.ExecutionEnd | None:
        """How the execution ended, or ``None`` while it runs."""
        summary = self.service.get_execution(arn)
        status = m.ExecutionStatus(summary["Status"])
        if status is m.ExecutionStatus.RUNNING:
            return None
        error = summary.get("Error")
        return rules.ExecutionEnd(
            status,
            result=summary.get("Result"),
            error=None if error is None else from_wire(error, m.ErrorObject),
        )

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
        fault = self._faults.pop(0) if self._faults else None
        if fault is not None and not fault[1]:
            raise fault[0]
        response = self.service.checkpoint(arn, checkpoint_token, updates, client_token)
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
        self.calls.append(StateCall(arn, checkpoint_token, next_marker, max_items))
        return self.service.get_execution_state(arn, checkpoint_token, next_marker, max_items)


class AsyncMemoryBackend(InlineAsyncBackend):
    """The ``AsyncDurableBackend`` view of a ``MemoryBackend``: same state, awaitable calls."""

    backend: MemoryBackend


_sync_check: type[DurableBackend] = MemoryBackend
_async_check: type[AsyncDurableBackend] = AsyncMemoryBackend

"""Instrumentation plugins (official ``plugin``): the hooks, their infos and the factory.

A plugin observes an execution without taking part in it. ``durable_execution(plugins=[...])``
takes factories; each invocation asks every factory for a fresh plugin, then calls its hooks:

- ``on_invocation_start`` / ``on_invocation_end`` around the handler;
- ``on_operation_start`` before an operation's START is queued, or when replay meets an
  operation still in progress (``is_replayed``);
- ``on_user_function_start`` / ``on_user_function_end`` around each run of user code (a step
  attempt, a child context's body, a map item or parallel branch);
- ``on_operation_end`` once per operation that ends in this invocation, or that ended while the
  execution was suspended (a timer that fired, a callback that was answered);
- ``on_operation_change`` with the operations a checkpoint response changed;
- ``provide_propagation_metadata`` before a chained invoke starts.

A hook that raises is logged (once per plugin and hook) and ignored: a plugin never fails an
execution, nor keeps the other plugins from their hooks.
"""

from __future__ import annotations

import datetime
from enum import Enum
from typing import Any, Protocol

from attrs import field, frozen

from durable_backend._models import (
    DurableInvocationOutput,
    ErrorObject,
    Operation,
    OperationStatus,
)


class InvocationStatus(Enum):
    """How an invocation ended, as plugins see it (RETRY: it raised, Lambda retries it)."""

    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    PENDING = "PENDING"
    RETRY = "RETRY"


class OperationType(Enum):
    """The kinds of durable operation, as plugins see them."""

    EXECUTION = "EXECUTION"
    CONTEXT = "CONTEXT"
    STEP = "STEP"
    WAIT = "WAIT"
    CALLBACK = "CALLBACK"
    CHAINED_INVOKE = "CHAINED_INVOKE"


def _details(operation: Operation) -> tuple[Any, ...]:
    """The details that may carry a result or an error, in the official order."""
    return (
        operation.step_details,
        operation.callback_details,
        operation.chained_invoke_details,
        operation.context_details,
    )


@frozen
class OperationInfo:
    """One operation as a hook reports it. ``sub_type`` is the recorded subtype string
    (compare it with ``==`` to an ``OperationSubType``); ``result`` is the serialized result."""

    operation_id: str
    operation_type: OperationType
    sub_type: str | None
    name: str | None
    parent_id: str | None
    start_time: datetime.datetime | None
    is_replayed: bool
    status: OperationStatus
    end_time: datetime.datetime | None = field(default=None, kw_only=True)
    result: str | None = field(default=None, kw_only=True)
    error: ErrorObject | None = field(default=None, kw_only=True)
    attempt: int | None = field(default=None, kw_only=True)

    @staticmethod
    def from_operation(operation: Operation, *, is_replayed: bool = False) -> OperationInfo:
        """The plugin view of a checkpointed operation."""
        details = [d for d in _details(operation) if d is not None]
        return OperationInfo(
            operation_id=operation.id,
            operation_type=OperationType(operation.type.value),
            sub_type=operation.sub_type,
            name=operation.name,
            parent_id=operation.parent_id,
            start_time=operation.start_timestamp,
            is_replayed=is_replayed,
            status=operation.status,
            end_time=operation.end_timestamp,
            result=next((d.result for d in details if d.result is not None), None),
            error=next((d.error for d in details if d.error is not None), None),
            attempt=operation.step_details.attempt if operation.step_details else None,
        )


@frozen
class OperationStartInfo(OperationInfo):
    """``on_operation_start``: a START about to be queued, or a replayed operation in
    progress (``is_replayed``, with its recorded status)."""


@frozen
class OperationEndInfo(OperationInfo):
    """``on_operation_end``: an operation reached a terminal status."""


@frozen
class OperationChangeInfo:
    """``on_operation_change``: the operations whose status a checkpoint response changed,
    and the whole operation map after it, both keyed by operation id."""

    execution_arn: str | None
    updated_operations: dict[str, OperationInfo]
    operations: dict[str, OperationInfo]


class UserFunctionOutcome(Enum):
    """How a run of user code ended (INCOMPLETE: it suspended)."""

    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    INCOMPLETE = "INCOMPLETE"

    @classmethod
    def from_error(cls, error: ErrorObject | None) -> UserFunctionOutcome:
        return cls.SUCCEEDED if error is None else cls.FAILED


@frozen
class UserFunctionStartInfo(OperationInfo):
    """``on_user_function_start``. ``is_replay_children``: a map, parallel or child context
    whose large result is rebuilt by running its body again."""

    is_replay_children: bool = False


@frozen
class UserFunctionEndInfo(OperationInfo):
    """``on_user_function_end``: the start info's fields, the outcome and the error."""

    is_replay_children: bool
    outcome: UserFunctionOutcome

    @classmethod
    def from_start_info(
        cls,
        start_info: UserFunctionStartInfo,
        error: ErrorObject | None,
        *,
        outcome: UserFunctionOutcome | None = None,
    ) -> UserFunctionEndInfo:
        return cls(
            operation_id=start_info.operation_id,
            operation_type=start_info.operation_type,
            sub_type=start_info.sub_type,
            name=start_info.name,
            parent_id=start_info.parent_id,
            start_time=start_info.start_time,
            is_replayed=start_info.is_replayed,
            status=start_info.status,
            is_replay_children=start_info.is_replay_children,
            attempt=start_info.attempt,
            outcome=outcome if outcome is not None else UserFunctionOutcome.from_error(error),
            end_time=datetime.datetime.now(datetime.UTC),
            error=error,
        )


@frozen
class InvocationInfo:
    """One invocation. ``execution_input`` (the decoded input) and ``operations`` (the
    operation map) stay out of ``repr`` and equality: hook infos get logged wholesale."""

    request_id: str | None
    execution_arn: str | None
    is_first_invocation: bool
    execution_start_time: datetime.datetime | None = None
    execution_input: Any = field(default=None, kw_only=True, repr=False, eq=False)
    operations: dict[str, OperationInfo] = field(
        factory=dict, kw_only=True, repr=False, eq=False
    )


@frozen
class InvocationStartInfo(InvocationInfo):
    """``on_invocation_start``. ``updated_operations``: the operations the service updated
    while the execution was suspended (a timer fired, a callback was answered)."""

    updated_operations: dict[str, OperationInfo] = field(
        factory=dict, kw_only=True, repr=False, eq=False
    )


@frozen
class InvocationEndInfo(InvocationInfo):
    """``on_invocation_end``: the status the invocation returned, its error, and the
    serialized result (``""`` when it was checkpointed instead; None unless SUCCEEDED)."""

    status: InvocationStatus = field(kw_only=True)
    error: ErrorObject | None = None
    execution_result: str | None = field(default=None, kw_only=True, repr=False, eq=False)

    @classmethod
    def from_durable_execution_invocation_output(
        cls,
        invocation_start_info: InvocationStartInfo,
        output: DurableInvocationOutput,
        operations: dict[str, OperationInfo] | None = None,
    ) -> InvocationEndInfo:
        start = invocation_start_info
        return cls(
            request_id=start.request_id,
            execution_arn=start.execution_arn,
            is_first_invocation=start.is_first_invocation,
            execution_start_time=start.execution_start_time,
            execution_input=start.execution_input,
            operations=operations if operations is not None else start.operations,
            status=InvocationStatus(output.status),
            error=output.error,
            execution_result=output.result,
        )


@frozen
class PropagationInput:
    """The chained invoke about to start, for ``provide_propagation_metadata``."""

    execution_arn: str
    operation_id: str
    target_function_name: str
    parent_operation_id: str | None = None


@frozen
class PropagationMetadata:
    """What a plugin adds to a chained invoke's START (the first non-blank value wins)."""

    x_amzn_trace_id: str | None = None


class DurableInstrumentationPlugin:
    """Base class for plugins: override the hooks you need; the others do nothing.

    Every hook is a plain call on the thread (or, in the async twin, the task) that runs what
    it reports, so a slow hook slows that work only; a plugin doing slow export work does it on
    its own thread and finishes in ``on_invocation_end``. For one operation:
    ``on_operation_start`` comes before ``on_user_function_start``, ``on_user_function_end``
    before the terminal checkpoint, and ``on_operation_end`` before the operation returns to
    the caller, so a child's end comes before its parent's. Map items and parallel branches
    run their hooks concurrently. ``on_invocation_end`` comes last, after every other hook.
    """

    def provide_propagation_metadata(self, info: PropagationInput) -> PropagationMetadata | None:
        """Metadata for a new chained invoke's START (never called for its replay)."""
        return None

    def on_invocation_start(self, info: InvocationStartInfo) -> None:
        """The invocation starts, before the handler runs."""

    def on_invocation_end(self, info: InvocationEndInfo) -> None:
        """The invocation ends: every other hook of it has returned."""

    def on_operation_start(self, info: OperationStartInfo) -> None:
        """An operation's START is about to be queued, or replay met it in progress."""

    def on_operation_end(self, info: OperationEndInfo) -> None:
        """An operation reached a terminal status; reported once, in the first invocation
        that sees it (a context with no terminal checkpoint: on every run of its body)."""

    def on_operation_change(self, info: OperationChangeInfo) -> None:
        """A checkpoint response changed the status of operations."""

    def on_user_function_start(self, info: UserFunctionStartInfo) -> None:
        """User code of an operation starts (a step attempt, a context body)."""

    def on_user_function_end(self, info: UserFunctionEndInfo) -> None:
        """User code of an operation returned, raised or suspended (INCOMPLETE)."""


class DurableInstrumentationPluginFactory(Protocol):
    """Makes one plugin per invocation: register the factory, not a plugin.

    The factory keeps what outlives an invocation (an exporter, a configuration); the plugin
    it returns serves one invocation. ``create_plugin`` that raises or returns None is logged,
    and that invocation runs without the plugin. Not ``runtime_checkable``:
    ``durable_execution`` checks the shape itself and names what was wrong.
    """

    def create_plugin(self, info: InvocationStartInfo, /) -> DurableInstrumentationPlugin:
        """The plugin for the invocation ``info`` describes; called before any of its hooks."""
        ...


__all__ = [
    "DurableInstrumentationPlugin",
    "DurableInstrumentationPluginFactory",
    "ErrorObject",
    "InvocationEndInfo",
    "InvocationInfo",
    "InvocationStartInfo",
    "InvocationStatus",
    "Operation",
    "OperationChangeInfo",
    "OperationEndInfo",
    "OperationInfo",
    "OperationStartInfo",
    "OperationStatus",
    "OperationType",
    "PropagationInput",
    "PropagationMetadata",
    "UserFunctionEndInfo",
    "UserFunctionOutcome",
    "UserFunctionStartInfo",
]

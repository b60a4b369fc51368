"""The per-execution view: the execution's logical operations as one tree under Workflow.

    ancestor ─┬─ Workflow ── operation ── "<name> attempt N"
              └─ Invocation                     (one per invocation; operations link to it)

Each operation is exported once, with its derived id, by the invocation that sees it end;
until then it is a placeholder with that id, so attempts and children started in earlier
invocations already name it as their parent.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from opentelemetry.trace import Link, NonRecordingSpan, Span, SpanContext

from durable_backend.otel._config import OtelPluginConfig
from durable_backend.otel._plugin_base import OtelPluginBase
from durable_backend.otel._spans import (
    ExecutionTrace,
    attempt_name,
    attributes,
    nanos,
    set_outcome,
)
from durable_backend.plugin import (
    OperationEndInfo,
    OperationStartInfo,
    OperationType,
    UserFunctionEndInfo,
    UserFunctionStartInfo,
)

_Bounds = tuple[datetime | None, datetime | None]


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else min(a, b)


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)


class ExecutionOtelPlugin(OtelPluginBase):
    """The per-execution view for one invocation (its factory: ``ExecutionOtelPluginFactory``)."""

    def __init__(self, config: OtelPluginConfig | None = None) -> None:
        super().__init__(config)
        self._bounds: dict[str, _Bounds] = {}

    def _scope_at_start(self, execution: ExecutionTrace, invocation: Span) -> Span:
        return NonRecordingSpan(execution.workflow)

    def _placeholder(self, execution: ExecutionTrace, operation_id: str, *, own_id: bool) -> Span:
        """The operation's span-to-be: its id, not yet recording."""
        existing = self._get(operation_id)
        if existing is not None and not existing.is_recording():
            return existing
        ids = execution.ids
        span_id = execution.operation(operation_id).span_id if own_id else ids.generate_span_id()
        return self._put(operation_id, NonRecordingSpan(execution.context(span_id)))

    def _parent(self, execution: ExecutionTrace, parent_id: str | None) -> Span | SpanContext:
        if parent_id is None:
            return execution.workflow
        return self._get(parent_id) or execution.operation(parent_id)

    def _note(self, operation_id: str | None, start: datetime | None, end: datetime | None) -> None:
        """Widen an operation's span to cover what ran under it (times of different clocks:
        the service's checkpoint stamps and this process's)."""
        if operation_id is None:
            return
        with self._lock:
            first, last = self._bounds.get(operation_id, (None, None))
            self._bounds[operation_id] = (_earliest(first, start), _latest(last, end))

    def _links(self) -> list[Link]:
        span = self._invocation_span
        return [Link(span.get_span_context())] if span is not None else []

    def _operation_started(self, execution: ExecutionTrace, info: OperationStartInfo) -> None:
        self._placeholder(execution, info.operation_id, own_id=True)
        self._note(info.operation_id, info.start_time, None)

    def _attempt_started(
        self, execution: ExecutionTrace, key: str, info: UserFunctionStartInfo
    ) -> Span:
        self._note(info.operation_id, info.start_time, None)
        if info.operation_type is OperationType.STEP:
            parent = self._placeholder(execution, info.operation_id, own_id=True)
            return self._put(key, execution.start(
                attempt_name(info), parent, attributes(execution.arn, info),
                start_time=info.start_time, links=self._links(),
            ))
        with self._lock:
            checkpointed = info.operation_id in self._context_replayed
        # A context with no checkpoint (a FLAT branch) gets a fresh id each time it runs.
        return self._placeholder(
            execution, info.operation_id, own_id=checkpointed or info.is_replay_children
        )

    def _attempt_ended(self, info: UserFunctionEndInfo) -> None:
        self._note(info.operation_id, None, info.end_time)

    def on_operation_end(self, info: OperationEndInfo) -> None:
        execution = self._claim()
        # A context body run again on replay reports its end again: its span is out already.
        if execution is None or info.is_replayed:
            return
        with self._lock:
            first, last = self._bounds.pop(info.operation_id, (None, None))
        placeholder = self._pop(info.operation_id)
        if placeholder is not None:
            span_id = placeholder.get_span_context().span_id
        elif info.operation_type is OperationType.CONTEXT and info.start_time is None:
            span_id = execution.ids.generate_span_id()  # no checkpoint: no identity to keep
        else:
            span_id = execution.operation(info.operation_id).span_id
        start = _earliest(info.start_time, first)
        end = _latest(info.end_time, last)
        start = start or end
        if start is not None and end is not None and end <= start:
            end = start + timedelta(microseconds=1)
        span = execution.start(
            info.name or info.operation_id,
            self._parent(execution, info.parent_id),
            attributes(execution.arn, info),
            span_id=span_id,
            start_time=start,
            links=self._links(),
        )
        set_outcome(span, info)
        span.end(end_time=nanos(end))
        self._note(info.parent_id, start, end)

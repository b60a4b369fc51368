"""The per-invocation view: what each Lambda invocation did, as a tree under its Invocation span.

    ancestor ─┬─ Workflow                          (exported by the invocation that ends it)
              └─ Invocation ── operation ── "<name> attempt N"

An operation's first span has its derived id; a later invocation that carries it on (a wait
that ended, a replayed step retrying) opens a new span linked to that id. Every operation and
attempt span links to the Workflow span.
"""

from __future__ import annotations

from opentelemetry.trace import Link, Span

from durable_backend.otel._plugin_base import OtelPluginBase
from durable_backend.otel._spans import (
    ExecutionTrace,
    attempt_name,
    attributes,
    now,
    set_outcome,
)
from durable_backend.plugin import (
    OperationEndInfo,
    OperationInfo,
    OperationStartInfo,
    OperationType,
    UserFunctionStartInfo,
)


class InvocationOtelPlugin(OtelPluginBase):
    """The per-invocation view for one invocation (its factory: ``InvocationOtelPluginFactory``)."""

    def _parent(self, parent_id: str | None) -> Span | None:
        return self._get(parent_id) or self._invocation_span

    def _open(
        self,
        execution: ExecutionTrace,
        key: str,
        name: str,
        info: OperationInfo,
        *,
        own_id: bool,
        carries_on: bool,
        parent: Span | None = None,
    ) -> Span:
        """Start a span: with the operation's derived id (``own_id``) or a fresh one, linked
        to the Workflow and, when it ``carries_on`` an operation an earlier invocation began,
        to that operation's id."""
        links = [Link(execution.workflow)]
        if carries_on:
            links.append(Link(execution.operation(info.operation_id)))
        anchor = parent or self._parent(info.parent_id)
        span = execution.start(
            name,
            anchor if anchor is not None else execution.ancestor,
            attributes(execution.arn, info),
            span_id=execution.operation(info.operation_id).span_id if own_id else None,
            start_time=now(),
            links=links,
        )
        return self._put(key, span)

    def _operation_started(self, execution: ExecutionTrace, info: OperationStartInfo) -> None:
        self._open(
            execution, info.operation_id, info.name or info.operation_id, info,
            own_id=not info.is_replayed, carries_on=info.is_replayed,
        )

    def _attempt_started(
        self, execution: ExecutionTrace, key: str, info: UserFunctionStartInfo
    ) -> Span:
        if info.operation_type is OperationType.STEP:
            return self._open(
                execution, key, attempt_name(info), info,
                own_id=False, carries_on=False, parent=self._get(info.operation_id),
            )
        existing = self._get(key)
        if existing is not None and existing.is_recording():
            return existing
        with self._lock:
            replayed = self._context_replayed.get(info.operation_id)
        # No START hook: a context with no checkpoint (a FLAT branch), fresh each run.
        first = replayed is False and not info.is_replay_children
        return self._open(
            execution, key, info.name or info.operation_id, info,
            own_id=first, carries_on=bool(replayed) or info.is_replay_children,
        )

    def on_operation_end(self, info: OperationEndInfo) -> None:
        execution = self._claim()
        if execution is None:
            return
        span = self._pop(info.operation_id)
        if span is None:
            span = self._open(
                execution, info.operation_id, info.name or info.operation_id, info,
                own_id=False, carries_on=True,
            )
            self._pop(info.operation_id)
        else:
            span.set_attributes(attributes(execution.arn, info))
        set_outcome(span, info)
        span.end()

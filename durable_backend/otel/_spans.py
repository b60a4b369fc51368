"""The span vocabulary both views share: the execution's trace and how spans are started on
it with derived ids, the official attributes and statuses, the X-Ray propagation header."""


from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from attrs import frozen
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import Tracer as SdkTracer
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    StatusCode,
    TracerProvider,
)

from durable_backend.lambda_service import OperationStatus
from durable_backend.otel._ids import (
    DeterministicIdGenerator,
    derive_workflow_span_id,
    operation_id_to_span_id,
)
from durable_backend.plugin import (
    OperationInfo,
    OperationType,
    UserFunctionEndInfo,
    UserFunctionOutcome,
    UserFunctionStartInfo,
)

if TYPE_CHECKING:
    from opentelemetry.util.types import Attributes

Attrs = dict[str, str | bool | int]
Parent = Span | SpanContext


def nanos(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1_000_000_000)


def now() -> datetime:
    return datetime.now(UTC)


def xray_header(span_context: SpanContext) -> str:
    """An X-Ray trace header naming ``span_context`` as the parent."""
    trace_hex = format(span_context.trace_id, "032x")
    return (
        f"Root=1-{trace_hex[:8]}-{trace_hex[8:]};Parent={span_context.span_id:016x};"
        f"Sampled={int(span_context.trace_flags.sampled)}"
    )


@frozen
class ExecutionTrace:
    """One invocation's view of its execution's trace: the trace id, the ancestor every
    Workflow and Invocation span hangs from (the propagated parent, or the synthetic
    ``DurableExecutionRoot``), the sampling decision, and the tracer that makes spans with
    the ids ``DeterministicIdGenerator`` hands it."""

    arn: str
    start_time: datetime
    ancestor: SpanContext
    provider: TracerProvider
    tracer: SdkTracer
    ids: DeterministicIdGenerator

    @property
    def trace_id(self) -> int:
        return self.ancestor.trace_id

    def context(self, span_id: int) -> SpanContext:
        return SpanContext(
            self.trace_id, span_id, is_remote=False, trace_flags=self.ancestor.trace_flags
        )

    def operation(self, operation_id: str) -> SpanContext:
        """The span context an operation's own span has (or will have)."""
        return self.context(operation_id_to_span_id(self.arn, operation_id))

    @property
    def workflow(self) -> SpanContext:
        return self.context(derive_workflow_span_id(self.arn))

    def start(
        self,
        name: str,
        parent: Parent,
        attributes: Attributes,
        *,
        span_id: int | None = None,
        start_time: datetime | None = None,
        links: Sequence[Link] = (),
    ) -> Span:
        """Start a span under ``parent``, with ``span_id`` if given (else a fresh one)."""
        parent_span = NonRecordingSpan(parent) if isinstance(parent, SpanContext) else parent
        with self.ids.use_ids(trace_id=None, span_id=span_id):
            return self.tracer.start_span(
                name,
                context=trace.set_span_in_context(parent_span, Context()),
                kind=SpanKind.INTERNAL,
                attributes=attributes,
                start_time=nanos(start_time),
                links=links,
            )

    def export_root(self) -> None:
        """Export the zero-length synthetic root, when it is the ancestor and sampled. Every
        such invocation exports it again, with the same ids and times, so the trace keeps its
        root whichever invocation's export gets through."""
        if self.ancestor.is_remote or not self.ancestor.trace_flags.sampled:
            return
        at = nanos(self.start_time)
        with self.ids.use_ids(trace_id=self.trace_id, span_id=self.ancestor.span_id):
            root = self.tracer.start_span(
                "DurableExecutionRoot",
                context=Context(),
                attributes={"durable.execution.arn": self.arn,
                            "durable.execution.synthetic_root": True},
                start_time=at,
            )
        root.end(end_time=at)


def attributes(arn: str, info: OperationInfo) -> Attrs:
    """The official plugin's span attributes for an operation or a run of its user code."""
    found: Attrs = {
        "durable.execution.arn": arn,
        "durable.operation.id": info.operation_id,
        "durable.operation.type": info.operation_type.value,
    }
    if info.sub_type is not None:
        found["durable.operation.subtype"] = info.sub_type
    if info.name is not None:
        found["durable.operation.name"] = info.name
    is_attempt = info.operation_type is OperationType.STEP and isinstance(
        info, UserFunctionStartInfo | UserFunctionEndInfo
    )
    if not is_attempt:
        found["durable.operation.status"] = info.status.value
    if info.operation_type is not OperationType.CONTEXT:
        if info.attempt is not None:
            found["durable.attempt.number"] = info.attempt
        if isinstance(info, UserFunctionEndInfo):
            found["durable.attempt.outcome"] = info.outcome.value
    return found


def set_outcome(span: Span, info: OperationInfo) -> None:
    """ERROR with an exception event when the info carries an error; OK when it succeeded."""
    error = info.error
    if error is not None:
        span.set_status(StatusCode.ERROR, error.message or "")
        span.add_event(
            "exception",
            {"exception.type": error.type or "", "exception.message": error.message or ""},
        )
    elif info.status is OperationStatus.SUCCEEDED or (
        isinstance(info, UserFunctionEndInfo) and info.outcome is UserFunctionOutcome.SUCCEEDED
    ):
        span.set_status(StatusCode.OK)


def attempt_key(info: UserFunctionStartInfo | UserFunctionEndInfo) -> str:
    """Where a run of user code keeps its span: per attempt for a step, per context else."""
    if info.operation_type is OperationType.STEP:
        return f"{info.operation_id}:attempt:{info.attempt or 1}"
    return info.operation_id


def attempt_name(info: UserFunctionStartInfo) -> str:
    return f"{info.name or info.operation_id} attempt {info.attempt or 1}"

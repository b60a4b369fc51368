"""What both views do alike: the Invocation and Workflow spans, context scopes, attempt ends,
log correlation and propagation into chained invokes."""

from __future__ import annotations

import logging
import threading

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import Tracer as SdkTracer
from opentelemetry.sdk.trace.sampling import Decision
from opentelemetry.trace import Span, SpanContext, StatusCode, TraceFlags

from durable_backend.otel._config import OtelPluginConfig, create_tracer_provider
from durable_backend.otel._extractors import ExtractedContext, Sampling, xray_context_extractor
from durable_backend.otel._ids import (
    DeterministicIdGenerator,
    derive_execution_root_span_id,
    derive_trace_id,
)
from durable_backend.otel._logs import bind_invocation, install_log_filter, unbind_invocation
from durable_backend.otel._spans import (
    ExecutionTrace,
    attempt_key,
    attributes,
    nanos,
    set_outcome,
    xray_header,
)
from durable_backend.plugin import (
    DurableInstrumentationPlugin,
    InvocationEndInfo,
    InvocationStartInfo,
    InvocationStatus,
    OperationStartInfo,
    OperationType,
    PropagationInput,
    PropagationMetadata,
    UserFunctionEndInfo,
    UserFunctionOutcome,
    UserFunctionStartInfo,
)

logger = logging.getLogger("durable_backend.otel")

_INVOCATION_SCOPE = "__invocation__"


class OtelPluginBase(DurableInstrumentationPlugin):
    """One invocation's spans; the views decide where operations hang.

    Ids that must agree across invocations (trace, Workflow, operations) are derived from the
    execution ARN, so nothing is carried from one invocation's plugin to the next.
    """

    def __init__(self, config: OtelPluginConfig | None = None) -> None:
        self.config = config if config is not None else OtelPluginConfig()
        self._trace: ExecutionTrace | None = None
        self._lock = threading.RLock()
        self._spans: dict[str, Span] = {}
        self._scopes: dict[str, tuple[Context, object]] = {}
        self._invocation_span: Span | None = None
        self._enclosing: SpanContext | None = None
        # CONTEXT operations whose START this invocation saw (replayed or not): a context
        # without one has no checkpoint (a FLAT branch).
        self._context_replayed: dict[str, bool] = {}

    # ------------------------------------------------------------------ registry and scopes

    def _put(self, key: str, span: Span) -> Span:
        with self._lock:
            self._spans[key] = span
        return span

    def _get(self, key: str | None) -> Span | None:
        if key is None:
            return None
        with self._lock:
            return self._spans.get(key)

    def _pop(self, key: str) -> Span | None:
        with self._lock:
            return self._spans.pop(key, None)

    def _attach(self, key: str, span: Span) -> None:
        """Make ``span`` current here (for the user code about to run and its log records)."""
        self._detach(key)  # a body that suspended and came back never reported its end
        attached = trace.set_span_in_context(span)
        token = otel_context.attach(attached)
        with self._lock:
            self._scopes[key] = (attached, token)

    def _detach(self, key: str) -> None:
        """Restore what was current before ``_attach(key)``; only from where it was attached
        (another thread or task has a context of its own that this token cannot reset)."""
        with self._lock:
            scope = self._scopes.pop(key, None)
        if scope is not None and otel_context.get_current() is scope[0]:
            otel_context.detach(scope[1])  # type: ignore[arg-type]

    def _detach_all(self) -> None:
        with self._lock:
            keys = list(reversed(self._scopes))
        for key in keys:
            self._detach(key)

    # ------------------------------------------------------------------ log correlation

    def get_current_span_context(self) -> SpanContext | None:
        """The span a log record emitted here belongs to: the current span when it is on this
        execution's trace and was made current inside the invocation, else the Invocation span."""
        execution = self._trace
        if execution is None:
            return None
        current = trace.get_current_span().get_span_context()
        if (
            current.is_valid
            and current.trace_id == execution.trace_id
            and current != self._enclosing
        ):
            return current
        span = self._invocation_span
        return span.get_span_context() if span is not None else None

    # ------------------------------------------------------------------ invocation

    def on_invocation_start(self, info: InvocationStartInfo) -> None:
        if self.config.enrich_logger:
            bind_invocation(self)
        execution = self._open_trace(info)
        if execution is None:
            return
        self._trace = execution
        execution.export_root()
        ambient = trace.get_current_span()
        on_trace = ambient.get_span_context().trace_id == execution.trace_id
        self._invocation_span = execution.start(
            "Invocation",
            ambient if on_trace else execution.ancestor,
            {"durable.execution.arn": execution.arn,
             "durable.invocation.first": info.is_first_invocation},
        )
        if not on_trace:
            self._attach(_INVOCATION_SCOPE, self._scope_at_start(execution, self._invocation_span))
        self._enclosing = trace.get_current_span().get_span_context()
        if self.config.enrich_logger:
            install_log_filter()

    def _scope_at_start(self, execution: ExecutionTrace, invocation: Span) -> Span:
        """The span the handler's own code runs under (and user spans it starts hang from)."""
        return invocation

    def _open_trace(self, info: InvocationStartInfo) -> ExecutionTrace | None:
        name = type(self).__name__
        arn, start_time = info.execution_arn, info.execution_start_time
        if not arn or start_time is None:
            logger.warning(
                "%s needs the execution ARN and start time to derive the trace; this "
                "invocation is not traced", name,
            )
            return None
        provider = create_tracer_provider(self.config).tracer_provider
        tracer = provider.get_tracer(self.config.instrument_name)
        if not isinstance(tracer, SdkTracer):
            logger.warning(
                "%s needs an OpenTelemetry SDK TracerProvider (opentelemetry.sdk.trace) for "
                "stable span ids, got %s: install one globally or pass "
                "OtelPluginConfig(tracer_provider=...); this invocation is not traced",
                name, type(provider).__name__,
            )
            return None
        extractor = self.config.context_extractor or xray_context_extractor
        extracted = extractor(info)
        if extracted is not None and not isinstance(extracted, ExtractedContext):
            raise TypeError(
                f"the context extractor returned {type(extracted).__name__}; "
                "it must return ExtractedContext or None"
            )
        valid = extracted is not None and extracted.has_valid_trace_id
        trace_id = extracted.trace_id if extracted and valid else None
        trace_id = trace_id or derive_trace_id(arn, start_time)
        flags = TraceFlags(
            TraceFlags.SAMPLED if self._sampled(extracted, tracer, trace_id) else TraceFlags.DEFAULT
        )
        remote = extracted is not None and extracted.has_complete_remote_parent
        parent_id = extracted.parent_span_id if extracted and remote else None
        ancestor = SpanContext(
            trace_id,
            parent_id or derive_execution_root_span_id(arn),
            is_remote=remote,
            trace_flags=flags,
        )
        ids = DeterministicIdGenerator.install_on_tracer(tracer)
        return ExecutionTrace(arn, start_time, ancestor, provider, tracer, ids)

    def _sampled(
        self, extracted: ExtractedContext | None, tracer: SdkTracer, trace_id: int
    ) -> bool:
        """Decided once per invocation: the propagated decision, else that of an ambient span
        on this trace, else the tracer's sampler for the Workflow span."""
        sampling = extracted.sampling if extracted is not None else Sampling.UNDECIDED
        if sampling is not Sampling.UNDECIDED:
            return sampling is Sampling.SAMPLED
        ambient = trace.get_current_span().get_span_context()
        if ambient.is_valid and ambient.trace_id == trace_id:
            return ambient.trace_flags.sampled
        result = tracer.sampler.should_sample(None, trace_id, self.config.workflow_span_name)
        return result.decision is Decision.RECORD_AND_SAMPLE

    def on_invocation_end(self, info: InvocationEndInfo) -> None:
        execution = self._trace
        try:
            self._detach_all()
            if execution is not None:
                self._end_open_spans()
                self._end_invocation_span(info)
                if info.status in (InvocationStatus.SUCCEEDED, InvocationStatus.FAILED):
                    self._export_workflow(execution, info)
        finally:
            unbind_invocation(self)
            self._trace = None
            if execution is not None:
                self._flush(execution)

    def _end_open_spans(self) -> None:
        """End what this invocation leaves open (a body that suspended), children first."""
        with self._lock:
            open_spans = list(reversed(self._spans.items()))
            self._spans.clear()
        for _, span in open_spans:
            if span.is_recording():
                span.set_attribute("durable.span.truncated_at_invocation_boundary", True)
                span.end()

    def _end_invocation_span(self, info: InvocationEndInfo) -> None:
        span = self._invocation_span
        if span is None:
            return
        status = info.status
        span.set_attribute(
            "durable.invocation.status",
            "RETRYING" if status is InvocationStatus.RETRY else status.value,
        )
        if status in (InvocationStatus.SUCCEEDED, InvocationStatus.PENDING):
            span.set_status(StatusCode.OK)
        elif status is InvocationStatus.FAILED:
            span.set_status(StatusCode.ERROR, info.error.message or "" if info.error else "")
        span.end()

    def _export_workflow(self, execution: ExecutionTrace, info: InvocationEndInfo) -> None:
        """The execution-wide span, exported once: by the invocation that ends the execution."""
        span = execution.start(
            self.config.workflow_span_name,
            execution.ancestor,
            {"durable.execution.arn": execution.arn,
             "durable.execution.status": info.status.value},
            span_id=execution.workflow.span_id,
            start_time=execution.start_time,
        )
        if info.status is InvocationStatus.FAILED:
            span.set_status(StatusCode.ERROR, info.error.message or "" if info.error else "")
        else:
            span.set_status(StatusCode.OK)
        span.end()

    @staticmethod
    def _flush(execution: ExecutionTrace) -> None:
        """Export before Lambda freezes the environment; an exporter's failure is logged."""
        flush = getattr(execution.provider, "force_flush", None)
        if flush is None:
            return
        try:
            flush()
        except Exception:
            logger.exception("flushing spans at the end of the invocation failed")

    # ------------------------------------------------------------------ operations

    def on_operation_start(self, info: OperationStartInfo) -> None:
        execution = self._claim()
        if execution is None:
            return
        if info.operation_type is OperationType.CONTEXT:
            # Its body's hooks open its span; this says it has a checkpoint, and if replayed.
            with self._lock:
                self._context_replayed[info.operation_id] = info.is_replayed
            return
        self._operation_started(execution, info)

    def _operation_started(self, execution: ExecutionTrace, info: OperationStartInfo) -> None:
        """A view's span (or placeholder) for an operation other than a context."""


    def on_user_function_start(self, info: UserFunctionStartInfo) -> None:
        """A body's span (a step attempt's, or its context's) becomes the current scope."""
        execution = self._claim()
        if execution is None:
            return
        key = attempt_key(info)
        self._attach(key, self._attempt_started(execution, key, info))

    def _attempt_started(
        self, execution: ExecutionTrace, key: str, info: UserFunctionStartInfo
    ) -> Span:
        """A view's span for a body that starts: a step attempt's, or its context's."""
        raise NotImplementedError

    def on_user_function_end(self, info: UserFunctionEndInfo) -> None:
        """A step attempt's span ends with its outcome (unless it suspended: then it is cut at
        the invocation's end); the scope its start opened closes either way."""
        execution = self._trace
        if execution is None:
            return
        key = attempt_key(info)
        if (
            info.operation_type is OperationType.STEP
            and info.outcome is not UserFunctionOutcome.INCOMPLETE
        ):
            span = self._pop(key)
            if span is not None:
                span.set_attributes(attributes(execution.arn, info))
                set_outcome(span, info)
                span.end(end_time=nanos(info.end_time))
            self._attempt_ended(info)
        self._detach(key)

    def _attempt_ended(self, info: UserFunctionEndInfo) -> None:
        """What a view notes when a step attempt ended."""

    # ------------------------------------------------------------------ chained invokes

    def provide_propagation_metadata(self, info: PropagationInput) -> PropagationMetadata | None:
        """The invoke operation's span as the parent of the invoked execution's trace."""
        execution = self._trace
        if execution is None or info.execution_arn != execution.arn:
            return None
        span = self._get(info.operation_id)
        parent = span.get_span_context() if span is not None else execution.operation(
            info.operation_id
        )
        return PropagationMetadata(x_amzn_trace_id=xray_header(parent))

    def _claim(self) -> ExecutionTrace | None:
        """The trace, after claiming this thread or task for log correlation (a branch runs
        on one the invocation's start never saw); None when this invocation is not traced."""
        execution = self._trace
        if execution is not None and self.config.enrich_logger:
            bind_invocation(self)
        return execution

"""Log records carry the span they were emitted in; chained invokes carry the trace onwards."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan

from durable_backend.lambda_service import OperationAction, OperationType
from durable_backend.otel import (
    ExecutionOtelPluginFactory,
    InvocationOtelPluginFactory,
    OtelPluginConfig,
    install_log_filter,
    operation_id_to_span_id,
)
from durable_backend.otel._extractors import parse_xray_header
from tests.engine.conftest import Twin
from tests.otel.conftest import Spans, invoke_once, parent_of
from tests.support.service import MemoryBackend


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def by_message(self, message: str) -> logging.LogRecord:
        (found,) = [record for record in self.records if record.getMessage() == message]
        return found


@pytest.fixture
def records() -> Iterator[Records]:
    """A handler on the root logger: where Lambda's is, and where the plugin puts its filter."""
    handler, root = Records(), logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


def _stamp(record: logging.LogRecord) -> tuple[str, str] | None:
    trace_id, span_id = getattr(record, "traceId", None), getattr(record, "spanId", None)
    return None if trace_id is None or span_id is None else (trace_id, span_id)


def _ids(span: ReadableSpan) -> tuple[str, str]:
    return format(span.context.trace_id, "032x"), format(span.context.span_id, "016x")


def test_durable_logger_records_carry_the_span_they_were_emitted_in(
    twin: Twin, spans: Spans, records: Records
) -> None:
    def item(ctx: Any, value: int, index: int, items: Any) -> int:
        ctx.logger.info("in item %d", value)
        return value

    def work(step_ctx: Any) -> int:
        step_ctx.logger.info("in step")
        return 1

    def scenario(event: Any, ctx: Any) -> Any:
        ctx.logger.info("at top")
        yield ctx.step(work, name="work")
        yield ctx.map([7, 8], item, name="items")
        ctx.logger.info("after")

    outcome = twin.run(scenario, plugins=[InvocationOtelPluginFactory(spans.config)])
    assert outcome.status == "SUCCEEDED"
    logging.getLogger("outside").warning("no invocation open")

    invocation = spans.one("Invocation")
    assert _stamp(records.by_message("at top")) == _ids(invocation)
    assert _stamp(records.by_message("after")) == _ids(invocation)
    assert _stamp(records.by_message("in step")) == _ids(spans.one("work attempt 1"))
    branches = {
        span.attributes["durable.operation.id"]: span
        for span in spans.all
        if span.parent is not None and span.parent.span_id == spans.one("items").context.span_id
        and span.attributes is not None
    }
    for value in (7, 8):
        record = records.by_message(f"in item {value}")
        branch = branches[record.__dict__["parentId"]]
        assert _stamp(record) == _ids(branch)
        assert record.otelTraceSampled is True
    assert _stamp(records.by_message("no invocation open")) is None


@pytest.mark.parametrize("factory", [InvocationOtelPluginFactory, ExecutionOtelPluginFactory])
def test_a_chained_invoke_carries_the_trace_into_the_invoked_execution(
    twin: Twin, spans: Spans, factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def caller(event: Any, ctx: Any) -> Any:
        return (yield ctx.invoke("target", {"n": 1}, name="call"))

    def target(event: Any, ctx: Any) -> Any:
        return (yield ctx.step(lambda _: event["n"] + 1, name="add"))

    plugin = factory(spans.config)
    backend = MemoryBackend()
    arn, _ = backend.start_execution()
    assert invoke_once(twin, caller, backend, arn, plugin)["Status"] == "PENDING"
    (start,) = [
        update
        for call in backend.checkpoint_calls(arn)
        for update in call.updates
        if update.type is OperationType.CHAINED_INVOKE and update.action is OperationAction.START
    ]
    assert start.chained_invoke_options is not None
    header = start.chained_invoke_options.x_amzn_trace_id
    assert header is not None
    propagated = parse_xray_header(header)
    call_span_id = operation_id_to_span_id(arn, start.id)
    caller_trace = spans.one("Invocation").context.trace_id
    assert propagated is not None
    assert (propagated.trace_id, propagated.parent_span_id) == (caller_trace, call_span_id)
    assert header.endswith(";Sampled=1")
    if factory is InvocationOtelPluginFactory:
        assert spans.one("call").context.span_id == call_span_id

    # Lambda hands the invoked function the header as _X_AMZN_TRACE_ID.
    spans.clear()
    monkeypatch.setenv("_X_AMZN_TRACE_ID", header)
    child = twin.run(target, '{"n": 1}', plugins=[plugin])
    assert child.status == "SUCCEEDED"
    assert {span.context.trace_id for span in spans.all} == {caller_trace}
    assert not spans.named("DurableExecutionRoot")  # the caller's operation is its parent
    assert parent_of(spans.one("Invocation")) == call_span_id
    assert parent_of(spans.one("Workflow")) == call_span_id

    # The caller's span for the invoke has that id: in the per-invocation view the span of the
    # invocation that started it (cut when it suspended), in the per-execution view the one span.
    monkeypatch.delenv("_X_AMZN_TRACE_ID")
    spans.clear()
    backend.complete_chained_invoke(arn, start.id, child.outputs[-1]["Result"])
    assert invoke_once(twin, caller, backend, arn, plugin)["Status"] == "SUCCEEDED"
    call = spans.one("call")
    if factory is ExecutionOtelPluginFactory:
        assert call.context.span_id == call_span_id
    else:
        assert call_span_id in {link.context.span_id for link in call.links}


def test_enrich_logger_false_leaves_records_alone(
    twin: Twin, spans: Spans, records: Records
) -> None:
    install_log_filter()  # even with the filter installed by someone else

    def scenario(event: Any, ctx: Any) -> Any:
        ctx.logger.info("plain")
        return (yield ctx.step(lambda step_ctx: step_ctx.logger.info("plain step"), name="s"))

    config = OtelPluginConfig(tracer_provider=spans.provider, enrich_logger=False)
    assert twin.run(scenario, plugins=[InvocationOtelPluginFactory(config)]).status == "SUCCEEDED"
    assert spans.one("s attempt 1")  # traced, but not correlated
    assert _stamp(records.by_message("plain")) is None
    assert _stamp(records.by_message("plain step")) is None

"""The span trees of both views, on both twins, for a workflow over two invocations.

Invocation 1 runs step ``fetch``, map ``double`` (two items), creates callback ``approval``
and suspends on wait ``pause``. The test answers the callback and lets the timer pass.
Invocation 2 replays them, reads the callback, and step ``charge`` fails the execution.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

import durable_backend as db
from durable_backend.lambda_service import OperationType
from durable_backend.otel import (
    ExecutionOtelPluginFactory,
    InvocationOtelPluginFactory,
    derive_execution_root_span_id,
    derive_workflow_span_id,
    operation_id_to_span_id,
)
from durable_backend.otel._ids import derive_trace_id
from tests.engine.conftest import Twin
from tests.otel.conftest import Spans, invoke_once, parent_of
from tests.support.service import DEFAULT_START, MemoryBackend


def _double(ctx: Any, item: int, index: int, items: Any) -> int:
    return item * 2


def _charge(_: Any) -> None:
    raise ValueError("card declined")


def workflow(event: Any, ctx: Any) -> Any:
    yield ctx.step(lambda _: 1, name="fetch")
    yield ctx.map([1, 2], _double, name="double")
    callback = yield ctx.create_callback(name="approval")
    yield ctx.wait(db.Duration.from_seconds(5), name="pause")
    answer = yield callback.result()
    no_retry = db.StepConfig(retry_strategy=db.RetryPresets.none())
    yield ctx.step(_charge, name="charge", config=no_retry)
    return answer


def _run_two_invocations(twin: Twin, factory: Any) -> tuple[MemoryBackend, str, list[str]]:
    """Both invocations; returns the service, the ARN and the statuses they returned."""
    backend = MemoryBackend()
    arn, _ = backend.start_execution()
    first = invoke_once(twin, workflow, backend, arn, factory)
    callback = next(op for op in backend.operations(arn) if op.type is OperationType.CALLBACK)
    assert callback.callback_details is not None
    backend.complete_callback(callback.callback_details.callback_id, '"yes"')
    assert backend.advance_to_next_wake(arn, callbacks=False)
    second = invoke_once(twin, workflow, backend, arn, factory)
    # Nothing the plugin made current outlives the invocation (a warm Lambda thread).
    assert not trace.get_current_span().get_span_context().is_valid
    return backend, arn, [first["Status"], second["Status"]]


def _op_ids(backend: MemoryBackend, arn: str) -> dict[str, str]:
    return {op.name: op.id for op in backend.operations(arn) if op.name}


def _attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def _linked(span: ReadableSpan) -> set[int]:
    return {link.context.span_id for link in span.links}


def _check_common(spans: Spans, arn: str, statuses: list[str]) -> tuple[ReadableSpan, ...]:
    """What both views share: one trace, the synthetic root, two Invocations, one Workflow."""
    assert statuses == ["PENDING", "FAILED"]
    trace_id = derive_trace_id(arn, DEFAULT_START)
    assert {span.context.trace_id for span in spans.all} == {trace_id}, spans.render()
    roots = spans.named("DurableExecutionRoot")
    root_id = derive_execution_root_span_id(arn)
    # Exported by each invocation, with the same ids: whichever export arrives anchors the trace.
    assert [root.context.span_id for root in roots] == [root_id, root_id]
    assert all(root.parent is None for root in roots)
    assert _attrs(roots[0])["durable.execution.synthetic_root"] is True

    first, second = spans.named("Invocation")
    assert parent_of(first) == parent_of(second) == root_id
    assert first.context.span_id != second.context.span_id
    assert _attrs(first)["durable.invocation.first"] is True
    assert _attrs(second)["durable.invocation.first"] is False
    assert _attrs(first)["durable.invocation.status"] == "PENDING"
    assert first.status.status_code is StatusCode.OK
    assert _attrs(second)["durable.invocation.status"] == "FAILED"
    assert second.status.status_code is StatusCode.ERROR

    workflow_span = spans.one("Workflow")  # only the invocation that ends the execution has it
    assert workflow_span.context.span_id == derive_workflow_span_id(arn)
    assert parent_of(workflow_span) == root_id
    assert workflow_span.status.status_code is StatusCode.ERROR
    assert _attrs(workflow_span)["durable.execution.status"] == "FAILED"
    assert workflow_span.start_time == int(DEFAULT_START.timestamp() * 1e9)
    return first, second, workflow_span


def test_invocation_view_draws_each_invocation_as_its_own_tree(twin: Twin, spans: Spans) -> None:
    backend, arn, statuses = _run_two_invocations(twin, InvocationOtelPluginFactory(spans.config))
    first, second, workflow_span = _check_common(spans, arn, statuses)
    ids = _op_ids(backend, arn)

    def span_id(name: str) -> int:
        return operation_id_to_span_id(arn, ids[name])

    # Invocation 1: each operation under the Invocation span, with its derived id.
    fetch = spans.one("fetch")  # one span: the replay in invocation 2 reports nothing
    assert (fetch.context.span_id, parent_of(fetch)) == (span_id("fetch"), first.context.span_id)
    assert fetch.status.status_code is StatusCode.OK
    assert _attrs(fetch)["durable.execution.arn"] == arn
    assert _attrs(fetch)["durable.operation.type"] == "STEP"
    assert _attrs(fetch)["durable.operation.status"] == "SUCCEEDED"
    attempt = spans.one("fetch attempt 1")
    assert parent_of(attempt) == fetch.context.span_id
    assert attempt.context.span_id != fetch.context.span_id
    assert _attrs(attempt)["durable.attempt.number"] == 1
    assert _attrs(attempt)["durable.attempt.outcome"] == "SUCCEEDED"
    assert attempt.status.status_code is StatusCode.OK
    assert "durable.operation.status" not in _attrs(attempt)

    double = spans.one("double")
    assert (double.context.span_id, parent_of(double)) == (span_id("double"), first.context.span_id)
    assert _attrs(double)["durable.operation.type"] == "CONTEXT"
    branches = [span for span in spans.all if parent_of(span) == double.context.span_id]
    assert len(branches) == 2, spans.render()
    assert {_attrs(b)["durable.operation.subtype"] for b in branches} == {"MapIteration"}
    assert all(b.status.status_code is StatusCode.OK for b in branches)

    # The callback and the wait were still open when invocation 1 suspended: cut there.
    approval_1, approval_2 = spans.named("approval")
    pause_1, pause_2 = spans.named("pause")
    for opened in (approval_1, pause_1):
        assert parent_of(opened) == first.context.span_id
        assert _attrs(opened)["durable.span.truncated_at_invocation_boundary"] is True
    assert approval_1.context.span_id == span_id("approval")
    assert pause_1.context.span_id == span_id("pause")

    # Invocation 2 carries them on in new spans linked to the operation's id, and fails.
    for carried, name in ((approval_2, "approval"), (pause_2, "pause")):
        assert parent_of(carried) == second.context.span_id
        assert carried.context.span_id != span_id(name)
        assert span_id(name) in _linked(carried)
        assert carried.status.status_code is StatusCode.OK
        assert _attrs(carried)["durable.operation.status"] == "SUCCEEDED"
    charge = spans.one("charge")
    assert charge.context.span_id == span_id("charge")
    assert parent_of(charge) == second.context.span_id
    assert charge.status.status_code is StatusCode.ERROR
    assert _attrs(charge)["durable.operation.status"] == "FAILED"
    assert [event.name for event in charge.events] == ["exception"]
    charge_attempt = spans.one("charge attempt 1")
    assert parent_of(charge_attempt) == charge.context.span_id
    assert charge_attempt.status.status_code is StatusCode.ERROR
    assert charge_attempt.status.description == "card declined"
    assert _attrs(charge_attempt)["durable.attempt.outcome"] == "FAILED"

    # Every operation and attempt span links to the Workflow span.
    workflow_id = workflow_span.context.span_id
    for span in spans.all:
        if "durable.operation.id" in _attrs(span):
            assert workflow_id in _linked(span), span.name


def test_execution_view_draws_one_tree_for_the_execution(twin: Twin, spans: Spans) -> None:
    backend, arn, statuses = _run_two_invocations(twin, ExecutionOtelPluginFactory(spans.config))
    first, second, workflow_span = _check_common(spans, arn, statuses)
    ids = _op_ids(backend, arn)
    workflow_id = workflow_span.context.span_id

    # Every operation is exported once, with its derived id, under the Workflow span, and
    # links to the invocation that ended it: fetch and double in the first, the others later.
    for name, ended_in in (
        ("fetch", first), ("double", first),
        ("approval", second), ("pause", second), ("charge", second),
    ):
        span = spans.one(name)
        assert span.context.span_id == operation_id_to_span_id(arn, ids[name]), name
        assert parent_of(span) == workflow_id, name
        assert _linked(span) == {ended_in.context.span_id}, name
        assert _attrs(span)["durable.operation.id"] == ids[name]
        assert span.end_time is not None and span.start_time is not None
        assert span.end_time > span.start_time
        expected = StatusCode.ERROR if name == "charge" else StatusCode.OK
        assert span.status.status_code is expected, name
        assert "durable.span.truncated_at_invocation_boundary" not in _attrs(span)

    # Attempts hang from their operation's id; map items from the map's.
    fetch_attempt = spans.one("fetch attempt 1")
    assert parent_of(fetch_attempt) == spans.one("fetch").context.span_id
    charge_attempt = spans.one("charge attempt 1")
    assert parent_of(charge_attempt) == spans.one("charge").context.span_id
    assert charge_attempt.status.status_code is StatusCode.ERROR
    double_id = spans.one("double").context.span_id
    branches = [span for span in spans.all if parent_of(span) == double_id]
    assert len(branches) == 2, spans.render()
    assert {_attrs(b)["durable.operation.subtype"] for b in branches} == {"MapIteration"}

    # The Invocation spans carry no operations: only the execution tree does.
    invocation_ids = {first.context.span_id, second.context.span_id}
    assert not [span for span in spans.all if parent_of(span) in invocation_ids]


def test_a_retried_step_keeps_its_id_and_gets_an_attempt_span_per_try(
    twin: Twin, spans: Spans
) -> None:
    tries: list[int] = []

    def flaky(step_ctx: Any) -> str:
        tries.append(step_ctx.attempt)
        if len(tries) == 1:
            raise RuntimeError("try again")
        return "ok"

    def retry_once(error: Exception, attempt: int) -> db.RetryDecision:
        return db.RetryDecision.retry(1) if attempt < 2 else db.RetryDecision.no_retry()

    def scenario(event: Any, ctx: Any) -> Any:
        return (yield ctx.step(flaky, name="flaky", config=db.StepConfig(retry_once)))

    outcome = twin.run(scenario, plugins=[ExecutionOtelPluginFactory(spans.config)])
    assert outcome.status == "SUCCEEDED" and len(outcome.outputs) == 2
    arn, op_id = outcome.arn, _op_ids(outcome.backend, outcome.arn)["flaky"]
    flaky_span = spans.one("flaky")
    assert flaky_span.context.span_id == operation_id_to_span_id(arn, op_id)
    failed, passed = spans.one("flaky attempt 1"), spans.one("flaky attempt 2")
    assert parent_of(failed) == parent_of(passed) == flaky_span.context.span_id
    assert failed.status.status_code is StatusCode.ERROR
    assert _attrs(failed)["durable.attempt.outcome"] == "FAILED"
    assert passed.status.status_code is StatusCode.OK
    assert _attrs(passed)["durable.attempt.number"] == 2
    # Each attempt links to the invocation that ran it: the retry ran in the second.
    first, second = spans.named("Invocation")
    assert _linked(failed) == {first.context.span_id}
    assert _linked(passed) == {second.context.span_id}


def test_branches_hang_from_their_map_or_parallel(twin: Twin, spans: Spans) -> None:
    """A FLAT map's items have no checkpoint: fresh span ids, their steps under the map; a
    parallel's branches are checkpointed contexts with derived ids."""

    def item(ctx: Any, value: int, index: int, items: Any) -> Any:
        return (yield ctx.step(lambda _: value, name=f"s{value}"))

    def scenario(event: Any, ctx: Any) -> Any:
        flat = db.MapConfig[int](nesting_type=db.NestingType.FLAT)
        yield ctx.map([1, 2], twin.body(item), name="flat", config=flat)
        yield ctx.parallel([lambda c: 1, lambda c: 2], name="both")

    outcome = twin.run(scenario, plugins=[ExecutionOtelPluginFactory(spans.config)])
    assert outcome.status == "SUCCEEDED"
    arn, ids = outcome.arn, _op_ids(outcome.backend, outcome.arn)
    workflow_id = spans.one("Workflow").context.span_id
    flat, both = spans.one("flat"), spans.one("both")
    assert parent_of(flat) == parent_of(both) == workflow_id
    under_flat = {span.name: span for span in spans.all if parent_of(span) == flat.context.span_id}
    assert {"s1", "s2"} <= set(under_flat), spans.render()
    items = [span for name, span in under_flat.items() if name not in ("s1", "s2")]
    assert [_attrs(span)["durable.operation.subtype"] for span in items] == ["MapIteration"] * 2
    for span in items:  # no checkpoint, so no derived id to keep
        assert span.context.span_id != operation_id_to_span_id(
            arn, _attrs(span)["durable.operation.id"]
        )
    branches = [span for span in spans.all if parent_of(span) == both.context.span_id]
    assert sorted(_attrs(b)["durable.operation.subtype"] for b in branches) == [
        "ParallelBranch", "ParallelBranch"
    ]
    for span in branches:
        assert span.context.span_id == operation_id_to_span_id(
            arn, _attrs(span)["durable.operation.id"]
        )
    assert spans.one("s1").context.span_id == operation_id_to_span_id(arn, ids["s1"])


def test_a_map_that_replays_its_children_keeps_one_logical_span(twin: Twin, spans: Spans) -> None:
    """A map result too large to checkpoint is rebuilt by running the map's body again on
    replay: the per-execution view does not export it twice, the per-invocation view links the
    second run to the map's id."""

    def scenario(event: Any, ctx: Any) -> Any:
        yield ctx.map([1, 2, 3], lambda c, item, i, items: "x" * 100_000, name="big")
        yield ctx.wait(db.Duration.from_seconds(1), name="pause")

    for factory in (ExecutionOtelPluginFactory, InvocationOtelPluginFactory):
        spans.clear()
        outcome = twin.run(scenario, plugins=[factory(spans.config)])
        assert outcome.status == "SUCCEEDED" and len(outcome.outputs) == 2
        arn, op_id = outcome.arn, _op_ids(outcome.backend, outcome.arn)["big"]
        details = outcome.backend.operation(arn, op_id).context_details
        assert details is not None and details.replay_children
        big_id = operation_id_to_span_id(arn, op_id)
        if factory is ExecutionOtelPluginFactory:
            assert spans.one("big").context.span_id == big_id
        else:
            first, second = spans.named("big")
            assert first.context.span_id == big_id
            assert second.context.span_id != big_id and big_id in _linked(second)
            assert parent_of(second) == spans.named("Invocation")[1].context.span_id

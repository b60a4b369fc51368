"""The timeline model (a tree from history events) and its terminal rendering."""

from __future__ import annotations

import json
from typing import Any

import pytest

import durable_backend as db
from durable_backend._timeline import build_timeline, json_default, timeline_to_json
from durable_backend._timeline_view import render_timeline
from durable_backend.testing import run_workflow

NO_RETRY = db.StepConfig(retry_strategy=db.RetryPresets.none())


def shape(nodes: Any, depth: int = 0) -> list[str]:
    """``kind/sub_type name status`` per node, indented by depth."""
    out: list[str] = []
    for node in nodes:
        out.append("  " * depth + f"{node.kind}/{node.sub_type} {node.name} {node.status}")
        out.extend(shape(node.children, depth + 1))
    return out


@db.durable_execution
def nested(event: Any, ctx: db.DurableContext) -> Any:
    def child(c: db.DurableContext) -> int:
        return c.step(lambda _: 1, name="inner")

    ctx.run_in_child_context(child, name="child")
    ctx.map([1, 2], lambda c, item, i, items: c.step(lambda _: item, name=f"item {item}"),
            name="fan")
    ctx.parallel([lambda c: c.step(lambda _: "a", name="a"), lambda c: "b"], name="both")
    with db.Saga(ctx, name="trip") as saga:
        saga.step(lambda _: "f", compensate=lambda _, f: None, name="flight")
    return "done"


def test_nesting_for_child_contexts_maps_parallels_and_sagas() -> None:
    timeline = build_timeline(run_workflow(nested).history)
    assert timeline.status == "SUCCEEDED" and timeline.result == '"done"'
    assert shape(timeline.roots) == [
        "Context/RunInChildContext child SUCCEEDED",
        "  Step/Step inner SUCCEEDED",
        "Context/Map fan SUCCEEDED",
        "  Context/MapIteration map-item-0 SUCCEEDED",
        "    Step/Step item 1 SUCCEEDED",
        "  Context/MapIteration map-item-1 SUCCEEDED",
        "    Step/Step item 2 SUCCEEDED",
        "Context/Parallel both SUCCEEDED",
        "  Context/ParallelBranch parallel-branch-0 SUCCEEDED",
        "    Step/Step a SUCCEEDED",
        "  Context/ParallelBranch parallel-branch-1 SUCCEEDED",
        "Saga/None None SUCCEEDED",
        "  Step/SagaStep flight SUCCEEDED",
    ]


@db.durable_execution
def saga_fails(event: Any, ctx: db.DurableContext) -> Any:
    try:
        with db.Saga(ctx, name="trip") as saga:
            saga.step(lambda _: "f", compensate=lambda _, f: None, name="flight")
            saga.step(lambda _: 1 / 0, compensate=lambda _, f: None, name="car", config=NO_RETRY)
    except db.SagaError:
        return "undone"


def test_a_compensated_saga_is_one_failed_node_named_after_the_saga() -> None:
    timeline = build_timeline(run_workflow(saga_fails).history)
    (saga,) = timeline.roots
    assert (saga.kind, saga.name, saga.status) == ("Saga", "trip", "FAILED")
    assert saga.error is not None and saga.error.type == "ZeroDivisionError"
    assert [(s.name, s.sub_type, s.status) for s in saga.children] == [
        ("flight", "SagaStep", "SUCCEEDED"),
        ("car", "SagaStep", "FAILED"),
        ("trip: compensate flight", "SagaCompensation", "SUCCEEDED"),
    ]


@db.durable_execution
def flaky(event: Any, ctx: db.DurableContext) -> Any:
    def body(step: db.StepContext) -> int:
        if step.attempt < 3:
            raise TimeoutError(f"try {step.attempt}")
        return step.attempt

    return ctx.step(body, name="flaky")


def test_attempts_errors_and_durations() -> None:
    timeline = build_timeline(run_workflow(flaky).history)
    (step,) = timeline.roots
    assert [(a.number, a.outcome, str(a.error)) for a in step.attempts] == [
        (1, "FAILED", "TimeoutError: try 1"),
        (2, "FAILED", "TimeoutError: try 2"),
        (3, "SUCCEEDED", "None"),
    ]
    assert step.status == "SUCCEEDED" and step.result == "3" and step.error is None
    assert step.duration is not None and step.duration.total_seconds() > 0  # retry delays
    assert len(timeline.invocations) == 3


@db.durable_execution
def approval(event: Any, ctx: db.DurableContext) -> Any:
    return ctx.wait_for_callback(lambda callback_id, _: None, name="approve")


def test_pending_callbacks_carry_the_wait_for_callback_name_and_full_id() -> None:
    result = run_workflow(approval)
    timeline = build_timeline(result.history)
    (pending,) = timeline.pending_callbacks()
    assert pending.name == "approve"
    assert pending.callback_id == result.pending_callbacks[0].callback_id
    data = json.loads(json.dumps(timeline_to_json(timeline, result.history),
                                 default=json_default))
    assert data["pending_callbacks"][0]["callback_id"] == pending.callback_id
    assert data["operations"][0]["children"][0]["callback_id"] == pending.callback_id
    assert len(data["events"]) == timeline.event_count


def test_events_with_iso_timestamps_build_the_same_tree() -> None:
    history = run_workflow(nested).history
    as_json = json.loads(json.dumps(list(history), default=json_default))
    assert shape(build_timeline(as_json).roots) == shape(build_timeline(history).roots)


@db.durable_execution
def big_map(event: Any, ctx: db.DurableContext) -> Any:
    def item(c: db.DurableContext, n: int, i: int, items: Any) -> int:
        def body(_: db.StepContext) -> int:
            if n in (50, 150):
                raise ValueError(f"bad {n}")
            return n

        return c.step(body, name=f"item {n}", config=NO_RETRY)

    batch = ctx.map(list(range(200)), item, name="all",
                    config=db.MapConfig(completion_config=db.CompletionConfig.all_completed()))
    return batch.failure_count


@pytest.mark.parametrize("width", [60, 80, 132])
def test_a_200_item_map_collapses_and_every_line_fits(width: int) -> None:
    timeline = build_timeline(run_workflow(big_map).history)
    lines = render_timeline(timeline, width)
    text = [line.plain for line in lines]
    assert len(text) < 20
    assert all(len(line) <= width for line in text)
    assert any("map-item-50" in line for line in text)  # failures are always shown
    assert any("map-item-150" in line for line in text)
    assert text[-1].endswith("… 195 more items (195 succeeded); --expand shows all")
    expanded = render_timeline(timeline, width, expand=True)
    assert len(expanded) == 2 + 200 * 2

"""The Replayer: recorded histories replayed by changed code, on both twins, from each local
source (the SQLite file, JSON state and history exports). AWS sources: tests/e2e."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import durable_backend as db
from durable_backend._codec import to_wire
from durable_backend.local import LocalRunner
from durable_backend.testing import (
    History,
    HistoryFormatError,
    Replayer,
    ReplayIncompatibleError,
    assert_replays,
    histories_from_sqlite,
    history_from_json,
    run_workflow,
)

Call = tuple[str, str]
V1: list[Call] = [("step", "a"), ("wait", "w"), ("step", "b"), ("child", "c"), ("callback", "cb")]
"""The recorded program: it ends in flight, waiting on callback ``cb`` nobody answers."""


def program(calls: Sequence[Call], twin: str) -> Callable[..., Any]:
    """A handler making ``calls`` in order: steps, waits, child contexts (each with one inner
    step), callbacks (``wait_for_callback``), in the given twin."""
    if twin == "async":

        async def async_handler(event: Any, ctx: db.AsyncDurableContext) -> str:
            for kind, name in calls:
                if kind == "step":
                    await ctx.step(lambda _, name=name: name, name=name)
                elif kind == "wait":
                    await ctx.wait(5, name=name)
                elif kind == "child":
                    await ctx.run_in_child_context(
                        lambda child: child.step(lambda _: 1, name="inner"), name=name
                    )
                else:
                    await ctx.wait_for_callback(lambda _id, _ctx: None, name=name)
            return "done"

        return async_handler

    def handler(event: Any, ctx: db.DurableContext) -> str:
        for kind, name in calls:
            if kind == "step":
                ctx.step(lambda _, name=name: name, name=name)
            elif kind == "wait":
                ctx.wait(5, name=name)
            elif kind == "child":
                ctx.run_in_child_context(
                    lambda child: child.step(lambda _: 1, name="inner"), name=name
                )
            else:
                ctx.wait_for_callback(lambda _id, _ctx: None, name=name)
        return "done"

    return handler


def record(calls: Sequence[Call], twin: str) -> History:
    result = run_workflow(program(calls, twin))
    return History("recorded", result.arn, result.operations, result.status.value)


@pytest.fixture(params=["sync", "async"])
def twin(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_unchanged_code_is_compatible(twin: str) -> None:
    history = record(V1, twin)
    assert history.status == "RUNNING"
    result = Replayer(program(V1, twin)).replay(history)
    assert result.compatible, str(result)
    assert (result.replayed, result.recorded) == (7, 7)
    assert str(result) == "recorded: compatible (7 of 7 recorded operations replayed)"


def test_calls_appended_after_the_recorded_history_are_compatible(twin: str) -> None:
    history = record(V1, twin)
    later = [*V1, ("step", "new"), ("wait", "another")]
    assert Replayer(program(later, twin)).replay(history).compatible


@pytest.mark.parametrize(
    ("change", "position", "recorded", "new"),
    [
        pytest.param(
            [("step", "a"), ("wait", "w"), ("step", "b2"), ("child", "c"), ("callback", "cb")],
            "3", "STEP/Step named 'b'", "STEP/Step named 'b2'", id="rename",
        ),
        pytest.param(
            [("step", "a"), ("step", "b"), ("wait", "w"), ("child", "c"), ("callback", "cb")],
            "2", "WAIT/Wait named 'w'", "STEP/Step named 'b'", id="reorder",
        ),
        pytest.param(
            [("step", "a"), ("step", "x"), ("wait", "w"), ("step", "b"), ("child", "c")],
            "2", "WAIT/Wait named 'w'", "STEP/Step named 'x'", id="insert",
        ),
        pytest.param(
            [("step", "a"), ("wait", "w"), ("child", "c"), ("callback", "cb")],
            "3", "STEP/Step named 'b'", "CONTEXT/RunInChildContext named 'c'", id="remove",
        ),
        pytest.param(
            [("step", "a"), ("wait", "w"), ("child", "b"), ("child", "c"), ("callback", "cb")],
            "3", "STEP/Step named 'b'", "CONTEXT/RunInChildContext named 'b'", id="type-change",
        ),
    ],
)
def test_incompatible_changes_report_the_first_divergence(
    twin: str, change: list[Call], position: str, recorded: str, new: str
) -> None:
    history = record(V1, twin)
    result = Replayer(program(change, twin)).replay(history)
    assert not result.compatible
    divergence = result.divergence
    assert divergence is not None
    assert (divergence.position, str(divergence.recorded), str(divergence.new)) == (
        position, recorded, new,
    )
    assert str(result) == (
        f"recorded: incompatible: at position {position} the history has {recorded}, "
        f"the code now calls {new}"
    )


def test_removing_the_last_call_of_a_finished_execution_is_reported(twin: str) -> None:
    finished = [("step", "a"), ("wait", "w"), ("step", "b")]
    history = record(finished, twin)
    assert history.status == "SUCCEEDED"
    result = Replayer(program(finished[:2], twin)).replay(history)
    assert result.divergence is not None, str(result)
    assert result.divergence.new is None
    assert str(result.divergence) == (
        "at position 3 the history has STEP/Step named 'b', which the code no longer calls"
    )


def test_a_divergence_inside_a_child_context_has_a_dotted_position(twin: str) -> None:
    def calls(inner: str) -> list[Call]:
        return [("step", "a"), ("child", inner)]

    def nested(inner_name: str) -> Callable[..., Any]:
        if twin == "async":

            async def async_handler(event: Any, ctx: db.AsyncDurableContext) -> None:
                async def body(child: db.AsyncDurableContext) -> None:
                    await child.step(lambda _: 1, name="first")
                    await child.wait_for_callback(lambda _id, _ctx: None, name=inner_name)

                await ctx.step(lambda _: 1, name="a")
                await ctx.run_in_child_context(body, name="c")

            return async_handler

        def handler(event: Any, ctx: db.DurableContext) -> None:
            def body(child: db.DurableContext) -> None:
                child.step(lambda _: 1, name="first")
                child.wait_for_callback(lambda _id, _ctx: None, name=inner_name)

            ctx.step(lambda _: 1, name="a")
            ctx.run_in_child_context(body, name="c")

        return handler

    result = run_workflow(nested("approval"))
    history = History("nested", result.arn, result.operations, result.status.value)
    assert Replayer(nested("approval")).replay(history).compatible
    divergence = Replayer(nested("sign-off")).replay(history).divergence
    assert divergence is not None
    assert divergence.position == "2.2"
    assert (divergence.recorded.name, divergence.new and divergence.new.name) == (
        "approval", "sign-off",
    )


def gathered(order: Sequence[str]) -> Callable[..., Any]:
    async def handler(event: Any, ctx: db.AsyncDurableContext) -> list[str]:
        steps = [ctx.step(lambda _, n=n: n, name=n) for n in order]
        values = await asyncio.gather(*steps)
        await ctx.wait_for_callback(lambda _id, _ctx: None, name="cb")
        return list(values)

    return handler


def test_gather_order_is_part_of_the_history() -> None:
    result = run_workflow(gathered(["x", "y"]))
    history = History("gather", result.arn, result.operations, result.status.value)
    assert Replayer(gathered(["x", "y"])).replay(history).compatible
    divergence = Replayer(gathered(["y", "x"])).replay(history).divergence
    assert divergence is not None
    assert (divergence.position, divergence.recorded.name) == ("1", "x")
    assert divergence.new is not None and divergence.new.name == "y"


def test_step_bodies_do_not_run_on_replay(twin: str) -> None:
    history = record(V1, twin)
    ran: list[str] = []

    def handler(event: Any, ctx: db.DurableContext) -> None:
        ctx.step(lambda _: ran.append("a"), name="a")
        ctx.wait(5, name="w")
        ctx.step(lambda _: ran.append("b"), name="b")
        ctx.run_in_child_context(
            lambda child: child.step(lambda _: ran.append("inner"), name="inner"), name="c"
        )
        ctx.wait_for_callback(lambda _id, _ctx: ran.append("submitter"), name="cb")
        ctx.step(lambda _: ran.append("new work"), name="new")

    assert Replayer(handler).replay(history).compatible
    assert ran == []


def test_code_that_fails_on_recorded_results_is_incompatible() -> None:
    def v1(event: Any, ctx: db.DurableContext) -> int:
        order = ctx.step(lambda _: {"total": 3}, name="load")
        ctx.wait_for_callback(lambda _id, _ctx: None, name="cb")
        return int(order["total"])

    def v2(event: Any, ctx: db.DurableContext) -> int:
        order = ctx.step(lambda _: {"amount": 3}, name="load")
        return int(order["amount"])  # the recorded result has no "amount"

    result = run_workflow(v1)
    history = History("fails", result.arn, result.operations, result.status.value)
    verdict = Replayer(v2).replay(history)
    assert verdict.error == "the code raises KeyError on replay: 'amount'"


def test_strict_replay_reports_clock_reads_in_orchestration_code() -> None:
    history = record(V1, "sync")
    base = program(V1, "sync")

    def reads_clock(event: Any, ctx: db.DurableContext) -> Any:
        if time.time() > 0:
            return base(event, ctx)
        return None

    verdict = Replayer(reads_clock).replay(history)
    assert verdict.error is not None
    assert verdict.error.startswith("time.time() called in orchestration code at ")
    assert f"{__file__}:" in verdict.error
    assert Replayer(reads_clock, strict=False).replay(history).compatible


# --------------------------------------------------------------------------- sources


def test_sqlite_file_histories(tmp_path: Path) -> None:
    path = tmp_path / "local.db"
    with LocalRunner(path) as runner:
        in_flight = runner.run(program(V1, "sync"), {}).arn
        finished = runner.run(program(V1[:3], "sync"), {}).arn
    histories = histories_from_sqlite(path)
    assert {h.arn: h.status for h in histories} == {in_flight: "RUNNING", finished: "SUCCEEDED"}
    results = Replayer(program(V1, "sync")).replay_all(histories)
    assert all(r.compatible for r in results), [str(r) for r in results]
    [only] = histories_from_sqlite(path, [in_flight])
    assert only.arn == in_flight
    verdict = Replayer(program(V1[1:], "sync")).replay(only)
    assert verdict.divergence is not None and verdict.divergence.position == "1"


def _json_default(value: object) -> str:
    assert isinstance(value, datetime)
    return value.astimezone(UTC).isoformat()


def test_state_export_json(tmp_path: Path) -> None:
    result = run_workflow(program(V1, "sync"))
    export = tmp_path / "state.json"
    export.write_text(
        json.dumps({"Operations": [to_wire(op) for op in result.operations]},
                   default=_json_default)
    )
    history = history_from_json(export)
    assert (history.source, history.status) == (str(export), "RUNNING")
    assert Replayer(program(V1, "sync")).replay(history).compatible
    assert not Replayer(program(V1[::-1], "sync")).replay(history).compatible


def test_history_export_json(tmp_path: Path) -> None:
    with LocalRunner(tmp_path / "local.db") as runner:
        arn = runner.run(program(V1, "async"), {}).arn
        events = runner.backend.history_events(arn)
    export = tmp_path / "history.json"
    export.write_text(json.dumps({"Events": events}, default=_json_default))
    history = history_from_json(export)
    assert [op.name for op in history.operations][1:4] == ["a", "w", "b"]
    assert Replayer(program(V1, "async")).replay(history).compatible
    verdict = Replayer(program([*V1[:2], ("step", "renamed")], "async")).replay(history)
    assert verdict.divergence is not None and verdict.divergence.position == "3"


def test_assert_replays_gates_on_a_directory(tmp_path: Path) -> None:
    for index, calls in enumerate([V1, V1[:3]]):
        result = run_workflow(program(calls, "sync"))
        (tmp_path / f"{index}.json").write_text(
            json.dumps({"Operations": [to_wire(op) for op in result.operations]},
                       default=_json_default)
        )
    assert len(assert_replays(program(V1, "sync"), tmp_path)) == 2
    with pytest.raises(ReplayIncompatibleError) as failed:
        assert_replays(program([("step", "a"), ("step", "b")], "sync"), tmp_path)
    message = str(failed.value)
    assert message.startswith("2 recorded histories no longer replay:")
    assert f"{tmp_path / '0.json'}: incompatible: at position 2" in message


def test_assert_replays_refuses_an_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="no histories"):
        assert_replays(program(V1, "sync"), tmp_path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[]", "expected a JSON object"),
        ('{"Items": []}', "expected GetDurableExecutionHistory output"),
        ('{"Events": [{"EventType": "StepExploded", "Id": "x"}]}', "unknown event type"),
        ('{"Operations": [{"Id": "x"}]}', "cannot read operation"),
    ],
)
def test_unreadable_exports_say_what_is_wrong(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(HistoryFormatError, match=message):
        history_from_json(path)

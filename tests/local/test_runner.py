"""LocalRunner: the invoke loop, time skipping, real time, chained invokes, callbacks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

import durable_backend as db
from durable_backend.backend import ErrorObject, ExecutionStatus
from durable_backend.local import LocalBackend, LocalRunner, ManualClock, Reply

Kind = str


def make_workflow(kind: Kind, steps_log: list[str]) -> Callable[..., Any]:
    """step -> 1 h wait -> step, in the requested twin."""
    if kind == "sync":

        def sync_flow(event: dict[str, Any], ctx: db.DurableContext) -> dict[str, Any]:
            a = ctx.step(lambda _: steps_log.append("a") or event["x"] + 1, name="a")
            ctx.wait(3600, name="nap")
            b = ctx.step(lambda _: steps_log.append("b") or a * 2, name="b")
            return {"a": a, "b": b}

        return sync_flow

    async def async_flow(event: dict[str, Any], ctx: db.AsyncDurableContext) -> dict[str, Any]:
        async def step_a(_: db.StepContext) -> int:
            await asyncio.sleep(0)
            steps_log.append("a")
            return int(event["x"]) + 1

        a = await ctx.step(step_a, name="a")
        await ctx.wait(3600, name="nap")
        b = await ctx.step(lambda _: steps_log.append("b") or a * 2, name="b")
        return {"a": a, "b": b}

    return async_flow


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> Kind:
    return str(request.param)


def test_runs_to_completion_skipping_time(kind: Kind) -> None:
    log: list[str] = []
    with LocalRunner() as runner:
        assert runner.clock is not None
        started = runner.clock()
        result = runner.run(db.durable_execution(make_workflow(kind, log)), {"x": 4})
        assert result.status is ExecutionStatus.SUCCEEDED
        assert result.result == {"a": 5, "b": 10}
        assert log == ["a", "b"]
        assert result.invocations == 2
        assert (runner.clock() - started).total_seconds() >= 3600
    assert result.history_types() == [
        "ExecutionStarted", "StepStarted", "StepSucceeded", "WaitStarted", "InvocationCompleted",
        "WaitSucceeded", "StepStarted", "StepSucceeded", "InvocationCompleted",
        "ExecutionSucceeded",
    ]
    assert [c.invocation for c in result.checkpoint_calls()] == sorted(
        c.invocation for c in result.checkpoint_calls()
    )
    assert {c.invocation for c in result.checkpoint_calls()} == {1, 2}


def test_plain_function_is_decorated_with_the_runner_backend(kind: Kind) -> None:
    with LocalRunner() as runner:
        result = runner.run(make_workflow(kind, []), {"x": 1})
    assert result.result == {"a": 2, "b": 4}


async def test_run_async_inside_a_loop(kind: Kind) -> None:
    with LocalRunner() as runner:
        result = await runner.run_async(make_workflow(kind, []), {"x": 2})
    assert result.status is ExecutionStatus.SUCCEEDED
    assert result.result == {"a": 3, "b": 6}


def test_real_time_sleeps_until_the_timer() -> None:
    @db.durable_execution
    def short_wait(event: None, ctx: db.DurableContext) -> str:
        ctx.wait(1)
        return "done"

    with LocalRunner(time_skipping=False) as runner:
        assert runner.clock is None
        began = time.monotonic()
        result = runner.run(short_wait)
    assert result.result == "done"
    assert time.monotonic() - began >= 0.9


def test_retries_are_skipped_and_counted(kind: Kind) -> None:
    attempts: list[int] = []

    def flaky(step: db.StepContext) -> str:
        attempts.append(step.attempt)
        if step.attempt < 3:
            raise RuntimeError("not yet")
        return "ok"

    config = db.StepConfig(retry_strategy=db.RetryPresets.fixed(60))
    if kind == "sync":

        def flow(event: None, ctx: db.DurableContext) -> str:
            return ctx.step(flaky, name="flaky", config=config)

    else:

        async def flow(event: None, ctx: db.AsyncDurableContext) -> str:  # type: ignore[misc]
            return await ctx.step(flaky, name="flaky", config=config)

    with LocalRunner() as runner:
        result = runner.run(flow)
    assert result.result == "ok"
    assert attempts == [1, 2, 3]
    assert result.history_types().count("StepFailed") == 2


def test_chained_invoke_runs_the_registered_target(kind: Kind) -> None:
    @db.durable_execution
    def doubler(event: dict[str, int], ctx: db.DurableContext) -> int:
        ctx.wait(10)
        return ctx.step(lambda _: event["n"] * 2, name="double")

    if kind == "sync":

        def parent(event: None, ctx: db.DurableContext) -> int:
            return int(ctx.invoke("doubler", {"n": 21}, name="call")) + 1

    else:

        async def parent(event: None, ctx: db.AsyncDurableContext) -> int:  # type: ignore[misc]
            return int(await ctx.invoke("doubler", {"n": 21}, name="call")) + 1

    with LocalRunner() as runner:
        runner.register("doubler", doubler)
        result = runner.run(parent)
        children = [
            e for e in runner.backend.list_executions()["DurableExecutions"]
            if e["DurableExecutionArn"] != result.arn
        ]
    assert result.result == 43
    assert "ChainedInvokeSucceeded" in result.history_types()
    assert [c["Status"] for c in children] == ["SUCCEEDED"]


def test_unregistered_target_fails_the_invoke() -> None:
    @db.durable_execution
    def parent(event: None, ctx: db.DurableContext) -> str:
        try:
            ctx.invoke("missing", {}, name="call")
        except db.InvokeError as exc:
            return f"caught {exc}"
        return "no error"

    with LocalRunner() as runner:
        result = runner.run(parent)
    assert "missing" in result.result
    assert "ChainedInvokeFailed" in result.history_types()


def test_on_invoke_replies_without_a_target() -> None:
    @db.durable_execution
    def parent(event: None, ctx: db.DurableContext) -> Any:
        return ctx.invoke("pricing", {"sku": "x"}, name="price")

    seen: list[tuple[str, str | None]] = []

    def on_invoke(request: Any, name: str | None) -> Reply:
        seen.append((request.function_name, name))
        return Reply(result='{"total": 7}')

    with LocalRunner() as runner:
        result = runner.run(parent, on_invoke=on_invoke)
    assert result.result == {"total": 7}
    assert seen == [("pricing", "price")]


def test_callback_suspends_then_resumes(kind: Kind) -> None:
    if kind == "sync":

        def flow(event: None, ctx: db.DurableContext) -> Any:
            return ctx.wait_for_callback(lambda cid, _: None, name="approval")

    else:

        async def flow(event: None, ctx: db.AsyncDurableContext) -> Any:  # type: ignore[misc]
            return await ctx.wait_for_callback(lambda cid, _: None, name="approval")

    with LocalRunner() as runner:
        first = runner.run(flow)
        assert first.status is ExecutionStatus.RUNNING
        assert not first.done
        [pending] = first.pending_callbacks
        assert pending.label == "approval"
        runner.send_callback_success(pending.callback_id, "yes")
        second = runner.resume(first.arn)
    assert second.status is ExecutionStatus.SUCCEEDED
    assert second.result == "yes"
    assert second.pending_callbacks == ()


def test_on_callback_answers_and_failures_propagate() -> None:
    @db.durable_execution
    def flow(event: None, ctx: db.DurableContext) -> str:
        try:
            ctx.wait_for_callback(lambda cid, _: None, name="approval")
        except db.CallbackError as exc:
            return f"failed: {exc}"
        return "ok"

    with LocalRunner() as runner:
        result = runner.run(
            flow, on_callback=lambda p: Reply(error=ErrorObject(error_message="denied"))
        )
    assert result.result.startswith("failed")
    assert "denied" in result.result


def test_handler_that_keeps_raising_fails_the_execution() -> None:
    calls: list[int] = []

    def broken(event: Any, context: Any) -> Any:
        calls.append(1)
        raise RuntimeError("boom")

    with LocalRunner() as runner:
        bound = runner.bind(lambda event, ctx: None)
        arn = runner.start(bound)
        runner._handlers[arn] = broken  # type: ignore[assignment]
        result = runner.resume(arn)
    assert result.status is ExecutionStatus.FAILED
    assert result.error is not None and result.error.error_type == "RuntimeError"
    assert len(calls) == 3
    assert result.history_types().count("InvocationCompleted") == 3


def test_existing_backend_needs_its_clock_to_skip_time() -> None:
    backend = LocalBackend()
    with pytest.raises(ValueError, match="ManualClock"):
        LocalRunner(backend)
    clock = ManualClock()
    skipping = LocalRunner(LocalBackend(clock=clock), clock=clock)
    assert skipping.clock is clock
    backend.close()
    skipping.backend.close()


def test_resume_in_a_new_runner_needs_the_handler(tmp_path: Any) -> None:
    path = tmp_path / "runs.db"

    @db.durable_execution
    def flow(event: None, ctx: db.DurableContext) -> Any:
        return ctx.wait_for_callback(lambda cid, _: None, name="approval")

    with LocalRunner(path) as runner:
        first = runner.run(flow)
        runner.send_callback_success(first.pending_callbacks[0].callback_id, "later")
    with LocalRunner(path) as again:
        with pytest.raises(ValueError, match="no handler known"):
            again.resume(first.arn)
        result = again.resume(first.arn, flow)
    assert result.result == "later"


def test_max_invocations_guards_endless_runs() -> None:
    @db.durable_execution
    def forever(event: None, ctx: db.DurableContext) -> None:
        for _ in range(10):
            ctx.wait(1)

    with LocalRunner(max_invocations=3) as runner, pytest.raises(RuntimeError, match="3"):
        runner.run(forever)

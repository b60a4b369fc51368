"""The testing kit: one-call runs, stubs by name, callbacks, checkpoint and history assertions."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

import durable_backend as db
from durable_backend.backend import ExecutionStatus, OperationAction
from durable_backend.testing import (
    Workflow,
    WorkflowAssertionError,
    run_workflow,
    run_workflow_async,
)

CHARGES: list[str] = []


def real_charge(_: db.StepContext) -> str:
    CHARGES.append("charged")
    return "real-charge"


def sync_order(event: dict[str, Any], ctx: db.DurableContext) -> dict[str, Any]:
    charge = ctx.step(real_charge, name="charge")
    price = ctx.invoke("pricing", {"sku": event["sku"]}, name="price")
    approval = ctx.wait_for_callback(lambda cid, _: None, name="approval")
    ctx.wait(3600, name="an hour")
    child = ctx.run_in_child_context(
        lambda c: c.step(lambda _: "real-nested", name="nested"), name="child"
    )
    return {"charge": charge, "price": price, "approval": approval, "child": child}


async def async_order(event: dict[str, Any], ctx: db.AsyncDurableContext) -> dict[str, Any]:
    async def nested(c: db.AsyncDurableContext) -> str:
        return await c.step(lambda _: "real-nested", name="nested")

    charge = await ctx.step(real_charge, name="charge")
    price = await ctx.invoke("pricing", {"sku": event["sku"]}, name="price")
    approval = await ctx.wait_for_callback(lambda cid, _: None, name="approval")
    await ctx.wait(3600, name="an hour")
    child = await ctx.run_in_child_context(nested, name="child")
    return {"charge": charge, "price": price, "approval": approval, "child": child}


@pytest.fixture(params=["sync", "async"])
def order(request: pytest.FixtureRequest) -> Any:
    return db.durable_execution(sync_order if request.param == "sync" else async_order)


@pytest.fixture(autouse=True)
def _clear() -> None:
    CHARGES.clear()


def test_stubs_and_callbacks_in_one_call(order: Any) -> None:
    result = run_workflow(
        order,
        {"sku": "apple"},
        stubs={
            "charge": "stub-charge",
            "price": lambda payload: {"sku": payload["sku"], "total": 3},
            "nested": lambda step: f"stub-nested-{step.attempt}",
        },
        callbacks={"approval": "yes"},
    )
    assert result.assert_succeeded() == {
        "charge": "stub-charge",
        "price": {"sku": "apple", "total": 3},
        "approval": "yes",
        "child": "stub-nested-1",
    }
    assert CHARGES == []
    assert result.updates("charge") == [OperationAction.START, OperationAction.SUCCEED]
    assert "ChainedInvokeSucceeded" in result.history_types()
    assert result.history_types()[-1] == "ExecutionSucceeded"
    result.assert_pure_replay()


def test_unstubbed_steps_run_for_real(order: Any) -> None:
    result = run_workflow(
        order, {"sku": "x"}, stubs={"pricing": 1}, callbacks={"approval": "ok"}
    )
    assert result.result["charge"] == "real-charge"
    assert result.result["child"] == "real-nested"
    assert result.result["price"] == 1
    assert CHARGES == ["charged"]


def test_stub_exception_fails_the_step() -> None:
    @db.durable_execution
    def flow(event: None, ctx: db.DurableContext) -> str:
        return ctx.step(
            real_charge, name="charge",
            config=db.StepConfig(retry_strategy=db.RetryPresets.none()),
        )

    result = run_workflow(flow, stubs={"charge": RuntimeError("card declined")})
    error = result.assert_failed()
    assert (error.error_type or "").endswith("StepError")
    assert "card declined" in (error.error_message or "")
    with pytest.raises(WorkflowAssertionError, match="expected error type"):
        result.assert_failed("KeyError")
    with pytest.raises(WorkflowAssertionError, match="expected SUCCEEDED"):
        result.assert_succeeded()


def test_callback_failure_and_function_answers(order: Any) -> None:
    result = run_workflow(
        order, {"sku": "x"}, stubs={"pricing": 1},
        callbacks={"approval": ValueError("rejected by ops")},
    )
    assert result.status is ExecutionStatus.FAILED
    assert "rejected by ops" in (result.error.error_message or "")  # type: ignore[union-attr]
    ids: list[str] = []
    answered = run_workflow(
        order, {"sku": "x"}, stubs={"pricing": 1},
        callbacks={"approval": lambda callback_id: ids.append(callback_id) or "fine"},
    )
    assert answered.result["approval"] == "fine"
    assert len(ids) == 1


def test_interactive_callbacks_while_suspended(order: Any) -> None:
    workflow = Workflow(order, stubs={"pricing": 2})
    first = workflow.run({"sku": "x"})
    assert first.status is ExecutionStatus.RUNNING
    assert [c.label for c in first.pending_callbacks] == ["approval"]
    with pytest.raises(WorkflowAssertionError, match="waiting on callbacks"):
        first.assert_succeeded()
    with pytest.raises(LookupError, match="approval"):
        workflow.succeed_callback("nope", "x")
    workflow.heartbeat_callback("approval")
    workflow.succeed_callback("approval", {"by": "ada"})
    done = workflow.resume()
    assert done.result["approval"] == '{"by": "ada"}'
    done.assert_pure_replay()


def test_callback_timeout_by_advancing_the_clock() -> None:
    @db.durable_execution
    def flow(event: None, ctx: db.DurableContext) -> str:
        try:
            ctx.wait_for_callback(
                lambda cid, _: None, name="approval",
                config=db.WaitForCallbackConfig(timeout=db.Duration.from_hours(1)),
            )
        except db.CallbackTimeoutError:
            return "timed out"
        return "answered"

    workflow = Workflow(flow)
    assert workflow.run().status is ExecutionStatus.RUNNING
    workflow.advance(3601)
    assert workflow.resume().result == "timed out"


def test_checkpoint_counts_per_invocation(order: Any) -> None:
    result = run_workflow(
        order, {"sku": "x"}, stubs={"pricing": 1}, callbacks={"approval": "ok"}
    )
    counts = result.checkpoint_counts()
    assert set(counts) <= set(range(1, result.invocations + 1))
    assert sum(counts.values()) == len(result.checkpoint_calls) > 0
    # invoke -> callback -> wait: each suspension is one more invocation
    assert result.invocations == 4
    assert result.history_types().count("InvocationCompleted") == 4


def test_pure_replay_catches_nondeterminism() -> None:
    flips = iter(["first", "second"] * 10)

    @db.durable_execution
    def flaky(event: None, ctx: db.DurableContext) -> str:
        name = next(flips)
        return ctx.step(lambda _: name, name=name)

    result = run_workflow(flaky)
    assert result.result == "first"
    with pytest.raises(WorkflowAssertionError):
        result.assert_pure_replay()


async def test_async_kit_inside_a_loop() -> None:
    @db.durable_execution
    async def flow(event: dict[str, int], ctx: db.AsyncDurableContext) -> int:
        async def io(_: db.StepContext) -> int:
            await asyncio.sleep(0)
            return event["n"] * 3

        await ctx.wait(60)
        return await ctx.step(io, name="io")

    result = await run_workflow_async(flow, {"n": 5})
    assert result.result == 15
    result.assert_pure_replay()
    stubbed = await run_workflow_async(flow, {"n": 5}, stubs={"io": 99})
    assert stubbed.result == 99


def test_map_items_get_stubbed_contexts() -> None:
    @db.durable_execution
    def flow(event: list[int], ctx: db.DurableContext) -> list[Any]:
        batch = ctx.map(
            event, lambda c, item, i, items: c.step(lambda _: item * 10, name="scale")
        )
        return batch.get_results()

    assert run_workflow(flow, [1, 2]).result == [10, 20]
    assert run_workflow(flow, [1, 2], stubs={"scale": -1}).result == [-1, -1]


class Tagged:
    """A result serdes the JSON default would not produce: proves the handler's own is used."""

    def serialize(self, value: Any, serdes_context: db.SerDesContext) -> str:
        return f"tagged:{value}"

    def deserialize(self, data: str, serdes_context: db.SerDesContext) -> Any:
        return data.removeprefix("tagged:")


def tagged_handler(twin: str, logger: Any) -> Any:
    def sync_flow(event: Any, ctx: db.DurableContext) -> str:
        ctx.logger.info("in the workflow")
        return ctx.step(lambda _: "real", name="work")

    async def async_flow(event: Any, ctx: db.AsyncDurableContext) -> str:
        ctx.logger.info("in the workflow")
        return await ctx.step(lambda _: "real", name="work")

    flow = sync_flow if twin == "sync" else async_flow
    return db.durable_execution(logger=logger, result_serdes=Tagged())(flow)


@pytest.mark.parametrize("twin", ["sync", "async"])
@pytest.mark.parametrize("stubs", [None, {"work": "stubbed"}])
def test_the_kit_keeps_the_handlers_own_serdes_and_logger(
    twin: str, stubs: dict[str, object] | None, caplog: pytest.LogCaptureFixture
) -> None:
    logger = logging.getLogger(f"tests.kit.tagged.{twin}")
    handler = tagged_handler(twin, logger)
    with caplog.at_level(logging.INFO, logger=logger.name):
        result = run_workflow(handler, stubs=stubs)
    expected = "stubbed" if stubs else "real"
    assert result.run.raw_result == f"tagged:{expected}"
    assert [r.getMessage() for r in caplog.records if r.name == logger.name] == [
        "in the workflow"
    ]
    result.assert_pure_replay()

"""Each example, run through the testing kit (no AWS)."""

from __future__ import annotations

from durable_backend.backend import ExecutionStatus
from durable_backend.testing import Workflow, run_workflow, run_workflow_async
from examples import async_workflow, chained_invoke, fan_out_map, order_workflow

APPROVE = {"approved": True, "by": "ada"}


def test_small_order_ships_after_a_retry_and_a_wait() -> None:
    result = run_workflow(order_workflow.handler, {"order_id": "o-1", "amount": 10})
    assert result.assert_succeeded() == {
        "order_id": "o-1", "status": "shipped", "reservation": "reservation-o-1",
        "charge": "charge-o-1-10", "shipment": "shipment-o-1",
    }
    types = result.history_types()
    assert types.count("StepFailed") == 1  # the first payment attempt timed out
    assert "WaitSucceeded" in types and "CallbackStarted" not in types
    result.assert_pure_replay()


def test_large_order_waits_for_approval() -> None:
    workflow = Workflow(order_workflow.handler)
    suspended = workflow.run({"order_id": "o-2", "amount": 500})
    assert suspended.status is ExecutionStatus.RUNNING
    assert [c.label for c in suspended.pending_callbacks] == ["approval"]
    workflow.succeed_callback("approval", APPROVE)
    assert workflow.resume().assert_succeeded()["status"] == "shipped"


def test_rejected_order_and_stubbed_payment() -> None:
    rejected = run_workflow(
        order_workflow.handler, {"order_id": "o-3", "amount": 500},
        callbacks={"approval": {"approved": False, "by": "bob"}},
    )
    assert rejected.result == {"order_id": "o-3", "status": "rejected", "by": "bob"}
    stubbed = run_workflow(
        order_workflow.handler, {"order_id": "o-4", "amount": 1},
        stubs={"charge card": "stub-charge"},
    )
    assert stubbed.result["charge"] == "stub-charge"
    assert "StepFailed" not in stubbed.history_types()


def test_async_workflow_sync_entry() -> None:
    result = run_workflow(async_workflow.handler, {"user": "ada"})
    assert result.assert_succeeded() == {
        "user": "ada", "tier": "gold", "total": 33,
        "receipt": "sent to ada: gold customer, total 33",
    }
    result.assert_pure_replay()


async def test_async_workflow_async_entry() -> None:
    result = await run_workflow_async(
        async_workflow.handler, {"user": "bo"}, stubs={"fetch orders": [1, 2]}
    )
    assert result.result["total"] == 3 and result.result["tier"] == "basic"


def test_chained_invoke_runs_both_functions() -> None:
    basket = {"items": [{"sku": "apple", "qty": 3}, {"sku": "pear", "qty": 2}]}
    result = run_workflow(
        chained_invoke.handler, basket, functions={"pricing": chained_invoke.pricing}
    )
    assert result.assert_succeeded() == {"total": 279, "discount": 10}
    assert "ChainedInvokeSucceeded" in result.history_types()
    stubbed = run_workflow(chained_invoke.handler, basket, stubs={"pricing": {"total": 100}})
    assert stubbed.result == {"total": 100, "discount": 0}
    failed = run_workflow(
        chained_invoke.handler, {"items": [{"sku": "kiwi", "qty": 1}]},
        functions={"pricing": chained_invoke.pricing},
    )
    assert "unknown SKUs" in (failed.assert_failed().error_message or "")


def test_fan_out_map_tolerates_a_failed_item() -> None:
    result = run_workflow(
        fan_out_map.handler, {"images": ["a.png", "b.png", "c.png", "broken.png"]}
    )
    assert result.assert_succeeded() == {
        "resized": ["a-small.png", "b-small.png", "c-small.png"],
        "failed": 1,
        "reason": "ALL_COMPLETED",
    }
    result.assert_pure_replay()

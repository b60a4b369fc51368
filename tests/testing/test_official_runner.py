"""Behaviour of the official-style test runner beyond what the porting tests cover."""

from __future__ import annotations

import json
from typing import Any

import pytest

import durable_backend as db
from durable_backend.execution import InvocationStatus
from durable_backend.testing import (
    DurableChildContextTestRunner,
    DurableFunctionsTestError,
    DurableFunctionTestRunner,
)


@db.durable_execution
def waits_for_approval(event: Any, ctx: db.DurableContext) -> str:
    callback = ctx.create_callback("approval")
    return f"got {callback.result()}"


def test_an_unanswered_callback_times_the_wait_out_and_later_answers_finish_it() -> None:
    with DurableFunctionTestRunner(handler=waits_for_approval, poll_interval=0.01) as runner:
        arn = runner.run_async()
        with pytest.raises(TimeoutError, match="did not complete"):
            runner.wait_for_result(arn, timeout=1)
        callback_id = runner.wait_for_callback(arn, "approval", timeout=5)
        runner.send_callback_success(callback_id, b"yes")
        result = runner.wait_for_result(arn, timeout=10)
        assert json.loads(result.result or "null") == "got yes"
        with pytest.raises(DurableFunctionsTestError, match="already completed"):
            runner.wait_for_callback(arn, "approval", timeout=1)


def test_unknown_operation_names_are_errors_that_list_the_known_names() -> None:
    with DurableFunctionTestRunner(handler=waits_for_approval) as runner:
        arn = runner.run_async()
        runner.send_callback_success(runner.wait_for_callback(arn), b"ok")
        result = runner.wait_for_result(arn, timeout=10)
    with pytest.raises(DurableFunctionsTestError, match=r"'nope' not found.*'approval'"):
        result.get_step("nope")
    assert [op.name for op in result.get_all_operations()] == ["approval"]


@db.durable_with_child_context
def priced(ctx: db.DurableContext, quantity: int) -> int:
    return ctx.step(lambda _: quantity * 5, "price")


def test_a_child_context_function_runs_on_its_own() -> None:
    with DurableChildContextTestRunner(priced, 3) as runner:
        result = runner.run(execution_timeout=10)
    assert result.status is InvocationStatus.SUCCEEDED
    assert json.loads(result.result or "null") == 15
    assert json.loads(result.get_step("price").result or "null") == 15


@db.durable_execution
def slow_target(event: Any, ctx: db.DurableContext) -> str:
    ctx.wait(db.Duration.from_seconds(60), "long wait")
    return "done"


def rejects(event: Any, context: Any) -> None:
    raise PermissionError(f"no access to {event['sku']}")


@db.durable_execution
def calls_targets(event: Any, ctx: db.DurableContext) -> dict[str, Any]:
    outcome: dict[str, Any] = {}
    for target in ("slow", "plain"):
        try:
            outcome[target] = ctx.invoke(target, {"sku": "s1"}, target)
        except db.InvokeError as error:
            outcome[target] = [error.error_type, error.message]
    return outcome


@pytest.mark.parametrize("timeout", [10, 120])
def test_registered_targets_keep_their_timeout_and_plain_functions_their_errors(
    timeout: int,
) -> None:
    with DurableFunctionTestRunner(handler=calls_targets) as runner:
        runner.register_durable_function("slow", slow_target, execution_timeout=timeout)
        runner.register_function("plain", rejects)
        result = runner.run(input="{}", execution_timeout=30)
    outcome = json.loads(result.result or "null")
    assert outcome["plain"] == ["PermissionError", "no access to s1"]
    if timeout < 60:
        assert result.get_invoke("slow").status.value == "TIMED_OUT"
    else:
        assert outcome["slow"] == "done"


def test_run_takes_the_deprecated_timeout_with_a_warning() -> None:
    with DurableFunctionTestRunner(handler=slow_target) as runner, pytest.warns(
        DeprecationWarning, match="execution_timeout"
    ):
        result = runner.run(input="{}", timeout=30)
    assert json.loads(result.result or "null") == "done"

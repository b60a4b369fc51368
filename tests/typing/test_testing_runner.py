from typing import Any, assert_type

import durable_backend as db
from durable_backend.execution import InvocationStatus
from durable_backend.testing import (
    CallbackOperation,
    ContextOperation,
    DurableFunctionTestResult,
    DurableFunctionTestRunner,
    StepOperation,
)


@db.durable_execution
def handler(event: Any, ctx: db.DurableContext) -> int:
    return 1


def check(runner: DurableFunctionTestRunner) -> None:
    result = runner.run(input="{}", execution_timeout=10)
    assert_type(result, DurableFunctionTestResult)
    assert_type(result.status, InvocationStatus)
    assert_type(result.result, str | None)
    assert_type(result.get_step("s"), StepOperation)
    assert_type(result.get_context("c").get_step("s").attempt, int)
    assert_type(result.get_callback("cb"), CallbackOperation)
    assert_type(result.get_context("c"), ContextOperation)
    assert_type(runner.run_async("{}"), str)
    assert_type(runner.wait_for_callback("arn", name="x"), str)

    assert_type(DurableFunctionTestRunner(handler=handler), DurableFunctionTestRunner)

# ruff: noqa: E722, SIM105 - bare excepts that swallow suspensions are what these tests try
"""Failures and suspensions that user code cannot make disappear, on both twins (issue 13,
item 13): an exception whose ``__str__`` raises is still recorded, and a bare ``except:`` that
swallows a suspension does not let the code after it run durable operations early.
"""

from __future__ import annotations

from typing import Any

import pytest

import durable_backend as db
from durable_backend._models import OperationAction as A
from durable_backend._models import OperationType as T
from tests.engine.conftest import Twin


class Unprintable(Exception):
    """An error whose message cannot be produced."""

    def __str__(self) -> str:
        raise RuntimeError("__str__ is broken")


def raise_unprintable(_: Any) -> None:
    raise Unprintable


STRATEGIES = {
    "no-retry": db.RetryPresets.none(),
    "retry-by-message": db.create_retry_strategy(
        db.RetryStrategyConfig(max_attempts=3, retryable_errors=["throttled"])
    ),
}


@pytest.mark.parametrize("strategy", STRATEGIES.values(), ids=STRATEGIES.keys())
def test_step_error_with_a_broken_str_is_recorded_as_failed(twin: Twin, strategy: Any) -> None:
    def scenario(event: Any, ctx: Any) -> Any:
        try:
            yield ctx.step(
                raise_unprintable, name="s", config=db.StepConfig(retry_strategy=strategy)
            )
        except db.StepError as error:
            return [error.error_type, error.message]
        return "not raised"

    outcome = twin.run(scenario)
    assert outcome.status == "SUCCEEDED"
    error_type, message = outcome.result
    assert error_type == f"{__name__}.Unprintable"
    assert "Unprintable" in message and "RuntimeError" in message
    step = [u for c in outcome.backend.checkpoint_calls() for u in c.updates if u.type is T.STEP]
    assert [u.action for u in step][-1] is A.FAIL


def test_handler_error_with_a_broken_str_fails_the_execution(twin: Twin) -> None:
    def scenario(event: Any, ctx: Any) -> Any:
        yield ctx.step(lambda _: 1)
        raise Unprintable

    outcome = twin.run(scenario)
    assert outcome.status == "FAILED"
    assert outcome.error["ErrorType"] == f"{__name__}.Unprintable"
    assert "Unprintable" in outcome.error["ErrorMessage"]


# --- a swallowed suspension ----------------------------------------------------------------


def test_operation_after_a_swallowed_wait_does_not_run_early(twin: Twin) -> None:
    invocations: list[int] = []
    charged: list[int] = []

    def scenario(event: Any, ctx: Any) -> Any:
        invocations.append(len(invocations) + 1)
        try:
            yield ctx.wait(3600)
        except:
            pass
        yield ctx.step(lambda _: charged.append(invocations[-1]), name="charge")
        return "charged"

    outcome = twin.run(scenario)
    assert [o["Status"] for o in outcome.outputs] == ["PENDING", "SUCCEEDED"]
    assert outcome.result == "charged"
    assert charged == [2]


def test_return_after_a_swallowed_wait_still_suspends(twin: Twin) -> None:
    def scenario(event: Any, ctx: Any) -> Any:
        try:
            yield ctx.wait(60)
        except BaseException:
            pass
        return "after the wait"

    outcome = twin.run(scenario)
    assert [o["Status"] for o in outcome.outputs] == ["PENDING", "SUCCEEDED"]
    assert outcome.result == "after the wait"


def test_error_raised_instead_of_a_swallowed_wait_still_suspends(twin: Twin) -> None:
    def scenario(event: Any, ctx: Any) -> Any:
        try:
            yield ctx.wait(60)
        except BaseException as error:
            raise RuntimeError("wrapped") from error
        return "resumed"

    outcome = twin.run(scenario)
    assert [o["Status"] for o in outcome.outputs] == ["PENDING", "SUCCEEDED"]


def test_child_context_that_swallows_its_wait_does_not_finish_early(twin: Twin) -> None:
    def child(ctx: Any) -> Any:
        try:
            yield ctx.wait(60)
        except:
            pass
        return "child done"

    def scenario(event: Any, ctx: Any) -> Any:
        value = yield ctx.run_in_child_context(twin.body(child), name="child")
        return value

    outcome = twin.run(scenario)
    assert [o["Status"] for o in outcome.outputs] == ["PENDING", "SUCCEEDED"]
    assert outcome.result == "child done"
    succeeded = [u for c in outcome.backend.checkpoint_calls() for u in c.updates
                 if u.type is T.CONTEXT and u.action is A.SUCCEED]
    assert len(succeeded) == 1


def test_parent_that_swallows_a_child_suspension_does_not_run_on(twin: Twin) -> None:
    invocations: list[int] = []
    steps: list[int] = []

    def child(ctx: Any) -> Any:
        yield ctx.wait(60)
        return "child done"

    def scenario(event: Any, ctx: Any) -> Any:
        invocations.append(len(invocations) + 1)
        try:
            yield ctx.run_in_child_context(twin.body(child), name="child")
        except:
            pass
        yield ctx.step(lambda _: steps.append(invocations[-1]), name="after")
        return "done"

    outcome = twin.run(scenario)
    assert [o["Status"] for o in outcome.outputs] == ["PENDING", "SUCCEEDED"]
    assert steps == [2]


def test_a_branch_that_swallows_its_wait_leaves_its_siblings_running(twin: Twin) -> None:
    ran: list[tuple[int, int]] = []
    invocations: list[int] = []

    def item(ctx: Any, value: int, index: int, items: Any) -> Any:
        if value == 1:
            try:
                yield ctx.wait(60)
            except:
                pass
        yield ctx.step(lambda _: ran.append((value, invocations[-1])), name=f"work-{value}")
        return value * 10

    def scenario(event: Any, ctx: Any) -> Any:
        invocations.append(len(invocations) + 1)
        result = yield ctx.map([0, 1, 2], twin.body(item), name="items")
        return result.get_results()

    outcome = twin.run(scenario)
    assert [o["Status"] for o in outcome.outputs] == ["PENDING", "SUCCEEDED"]
    assert outcome.result == [0, 10, 20]
    assert sorted(ran) == [(0, 1), (1, 2), (2, 1)]

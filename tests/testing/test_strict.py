"""The strict determinism guard: clock and random calls in orchestration code raise, naming
the line; the same calls inside steps (and with a seeded Random of one's own) are fine."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import random
import time
import uuid
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import pytest

import durable_backend as db
from durable_backend.backend import ExecutionStatus
from durable_backend.testing import NondeterministicCallError, run_workflow

CALLS: dict[str, Callable[[], object]] = {
    "time.time()": lambda: time.time(),
    "time.time_ns()": lambda: time.time_ns(),
    "datetime.now()": lambda: datetime.now(),
    "datetime.utcnow()": lambda: datetime.utcnow(),
    "date.today()": lambda: date.today(),
    "random.random()": lambda: random.random(),
    "random.randint()": lambda: random.randint(1, 6),
    "random.choice()": lambda: random.choice("abc"),
    "random.shuffle()": lambda: random.shuffle([1, 2, 3]),
    "random.uniform()": lambda: random.uniform(0, 1),
    "random.getrandbits()": lambda: random.getrandbits(8),
    "uuid.uuid4()": lambda: uuid.uuid4(),
    "uuid.uuid1()": lambda: uuid.uuid1(),
}


def line_of(fn: Callable[..., Any]) -> int:
    return inspect.getsourcelines(fn)[1]


@pytest.fixture(params=["sync", "async"])
def is_async(request: pytest.FixtureRequest) -> bool:
    return request.param == "async"


def in_orchestration(call: Callable[[], object], is_async: bool) -> Callable[..., Any]:
    if is_async:

        async def async_handler(event: Any, ctx: db.AsyncDurableContext) -> str:
            await ctx.step(lambda _: 1, name="before")
            call()
            return "unreachable"

        return async_handler

    def handler(event: Any, ctx: db.DurableContext) -> str:
        ctx.step(lambda _: 1, name="before")
        call()
        return "unreachable"

    return handler


@pytest.mark.parametrize("what", sorted(CALLS))
def test_each_call_in_orchestration_code_raises(what: str, is_async: bool) -> None:
    call = CALLS[what]
    with pytest.raises(NondeterministicCallError) as raised:
        run_workflow(in_orchestration(call, is_async), strict=True)
    message = str(raised.value)
    assert message.startswith(f"{what} called in orchestration code at {__file__}:")
    assert f":{line_of(call)} (in <lambda>)" in message
    assert "use ctx.now(), ctx.random() or ctx.uuid4(), or move the call into a step" in message


@pytest.mark.parametrize("what", sorted(CALLS))
def test_each_call_is_allowed_in_a_step(what: str, is_async: bool) -> None:
    call = CALLS[what]
    if is_async:

        async def body(_: db.StepContext) -> str:
            await asyncio.sleep(0)
            call()
            return "ok"

        async def async_handler(event: Any, ctx: db.AsyncDurableContext) -> list[str]:
            return [await ctx.step(body), await ctx.step(lambda _: str(call()) and "plain")]

        handler: Callable[..., Any] = async_handler
    else:

        def sync_handler(event: Any, ctx: db.DurableContext) -> list[str]:
            return [ctx.step(lambda _: str(call()) and "ok"), "plain"]

        handler = sync_handler
    assert run_workflow(handler, strict=True).assert_succeeded() == ["ok", "plain"]


def test_calls_are_allowed_in_submitters_and_condition_checks() -> None:
    def handler(event: Any, ctx: db.DurableContext) -> int:
        ctx.wait_for_callback(lambda _id, _ctx: time.time(), name="approval")
        return ctx.wait_for_condition(
            lambda state, _ctx: state + int(random.random() >= 0),
            config=db.WaitForConditionConfig(
                initial_state=0,
                wait_strategy=lambda state, attempt: db.WaitForConditionDecision.stop_polling()
                if state >= 2
                else db.WaitForConditionDecision.continue_waiting(db.Duration.from_seconds(1)),
            ),
        )

    result = run_workflow(handler, callbacks={"approval": "yes"}, strict=True)
    assert result.assert_succeeded() == 2


def test_a_seeded_random_of_ones_own_is_deterministic_and_allowed() -> None:
    def handler(event: Any, ctx: db.DurableContext) -> float:
        return random.Random(42).random()

    assert run_workflow(handler, strict=True).assert_succeeded() == random.Random(42).random()


def test_map_branches_are_orchestration_code_too(is_async: bool) -> None:
    def branch(ctx: Any, item: int, index: int, items: Any) -> float:
        return time.time()

    if is_async:

        async def async_handler(event: Any, ctx: db.AsyncDurableContext) -> Any:
            return (await ctx.map([1, 2], branch)).get_results()

        handler: Callable[..., Any] = async_handler
    else:

        def sync_handler(event: Any, ctx: db.DurableContext) -> Any:
            return ctx.map([1, 2], branch).get_results()

        handler = sync_handler
    with pytest.raises(NondeterministicCallError, match=rf":{line_of(branch) + 1} \(in branch\)"):
        run_workflow(handler, strict=True)


def test_a_swallowed_violation_still_fails_the_run() -> None:
    def handler(event: Any, ctx: db.DurableContext) -> str:
        with contextlib.suppress(NondeterministicCallError):
            time.time()
        return "swallowed"

    with pytest.raises(NondeterministicCallError, match=r"time\.time"):
        run_workflow(handler, strict=True)


def test_without_strict_nothing_is_checked_and_the_guard_is_gone_after_a_run() -> None:
    import sys

    before = sys.getprofile()
    assert run_workflow(in_orchestration(time.time, False)).status is ExecutionStatus.SUCCEEDED
    with pytest.raises(NondeterministicCallError):
        run_workflow(in_orchestration(time.time, False), strict=True)
    assert sys.getprofile() is before
    time.time()  # outside a run: no guard


def test_library_code_reading_the_clock_is_not_flagged() -> None:
    def handler(event: Any, ctx: db.DurableContext) -> str:
        ctx.logger.info("logging reads the clock inside the standard library")
        return "ok"

    assert run_workflow(handler, strict=True).assert_succeeded() == "ok"


def test_guarded_handlers_keep_their_own_result_types() -> None:
    """Every guarded handler shares the guard's wrapper code: serdes must come from the
    handler's own annotations, not from the first wrapper seen."""

    def counts(event: Any, ctx: db.DurableContext) -> dict[str, int]:
        return {"n": 1}

    def text(event: Any, ctx: db.DurableContext) -> str:
        return "plain"

    assert run_workflow(counts, strict=True).assert_succeeded() == {"n": 1}
    assert run_workflow(text, strict=True).assert_succeeded() == "plain"

"""The async twin of every porting text: its handlers written as ``async def`` on
``AsyncDurableContext``, run by the text's own tests (the same runner, the same asserts) on
LocalBackend and on AWS's emulator.

Each builder takes the ported module, so a twin shares the text's step functions, configs and
serdes, and returns the async replacements for the text's durable functions by name.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from durable_backend import AsyncDurableContext, StepContext, durable_execution
from durable_backend.concurrency.models import BatchResult, CompletionReason
from durable_backend.config import (
    CallbackConfig,
    CompletionConfig,
    Duration,
    MapConfig,
    NestingType,
    ParallelConfig,
    StepConfig,
    StepSemantics,
    WaitForCallbackConfig,
)
from durable_backend.context import (
    durable_parallel_branch,
    durable_step,
    durable_with_child_context,
)
from durable_backend.exceptions import ExecutionError, InvokeError, StepError
from durable_backend.retries import (
    RetryPresets,
    RetryStrategyConfig,
    WithRetryConfig,
    create_retry_strategy,
    with_retry,
)
from durable_backend.types import WaitForConditionCheckContext
from durable_backend.waits import (
    WaitForConditionConfig,
    WaitStrategyConfig,
    create_wait_strategy,
)
from tests.porting._porting import (
    SOURCES,
    WHERE,
    bind_emulator,
    expect_difference,
    load_ported,
    run_tests,
)

Twins = dict[str, Any]


def p01(m: ModuleType) -> Twins:
    @durable_execution
    async def handler(event: dict[str, int], context: AsyncDurableContext) -> int:
        first = await context.step(m.add_numbers(event["a"], event["b"]))
        return await context.step(m.add_numbers(first, 10), "add ten")

    return {"handler": handler}


def p02(m: ModuleType) -> Twins:
    @durable_execution
    async def handler(event: Any, context: AsyncDurableContext) -> str:
        return await context.step(m.flaky, "flaky call", m.RETRY)

    return {"handler": handler}


def p03(m: ModuleType) -> Twins:
    @durable_execution
    async def handler(event: Any, context: AsyncDurableContext) -> None:
        await context.step(m.always_fails, name="charge",
                           config=StepConfig(retry_strategy=RetryPresets.none()))

    return {"handler": handler}


def p04(m: ModuleType) -> Twins:
    @durable_execution
    async def handler(event: Any, context: AsyncDurableContext) -> str:
        await context.wait(Duration.from_seconds(30), "short pause")
        await context.wait(Duration.from_minutes(5), name="long pause")
        return await context.step(lambda _: "woke up", "after waits")

    return {"handler": handler}


def p05(m: ModuleType) -> Twins:
    @durable_execution
    async def handler(event: Any, context: AsyncDurableContext) -> dict[str, Any]:
        callback = await context.create_callback(
            "approval", CallbackConfig(timeout=Duration.from_hours(1)))
        await context.step(lambda _: callback.callback_id, "notify approver")
        return {"answer": await callback.result()}

    return {"handler": handler}


def p06(m: ModuleType) -> Twins:
    @durable_execution
    async def handler(event: Any, context: AsyncDurableContext) -> Any:
        return await context.wait_for_callback(m.submit, "review", WaitForCallbackConfig())

    return {"handler": handler}


def p07(m: ModuleType) -> Twins:
    @durable_with_child_context
    async def checkout(ctx: AsyncDurableContext, order_id: str) -> str:
        reserved = await ctx.step(lambda _: f"reserved-{order_id}", "reserve")
        return await ctx.step(lambda _: f"{reserved}-charged", "charge")

    @durable_execution
    async def handler(event: dict[str, str], context: AsyncDurableContext) -> str:
        return await context.run_in_child_context(checkout(event["order_id"]), "checkout")

    return {"handler": handler}


def p08(m: ModuleType) -> Twins:
    async def square(ctx: AsyncDurableContext, item: int, index: int, items: Any) -> int:
        if item == 3:
            raise ValueError("three is unlucky")
        return await ctx.step(lambda _: item * item, f"square {item}")

    @durable_execution
    async def handler(event: dict[str, Any], context: AsyncDurableContext) -> dict[str, Any]:
        config: MapConfig[int] = MapConfig(max_concurrency=2,
                                           completion_config=CompletionConfig(
                                               tolerated_failure_count=1))
        batch: BatchResult[int] = await context.map(event["items"], square, "squares", config)
        return {"results": batch.get_results(), "failed": batch.failure_count,
                "reason": batch.completion_reason.value}

    return {"handler": handler}


def p09(m: ModuleType) -> Twins:
    async def a(ctx: AsyncDurableContext) -> str:
        return await ctx.step(lambda _: "from a", "a")

    async def b(ctx: AsyncDurableContext) -> str:
        return await ctx.step(lambda _: "from b", "b")

    @durable_execution
    async def handler(event: Any, context: AsyncDurableContext) -> list[str]:
        batch = await context.parallel([a, b], "both", ParallelConfig(
            completion_config=CompletionConfig.all_successful()))
        return sorted(batch.get_results())

    return {"handler": handler}


def p10(m: ModuleType) -> Twins:
    @durable_execution
    async def handler(event: Any, context: AsyncDurableContext) -> dict[str, int]:
        strategy = create_wait_strategy(WaitStrategyConfig[dict[str, int]](
            should_continue_polling=lambda state: state["polls"] < 3,
            initial_delay=Duration.from_seconds(5), max_attempts=10))
        config = WaitForConditionConfig(wait_strategy=strategy, initial_state={"polls": 0})
        return await context.wait_for_condition(m.check, config, "poll job")

    return {"handler": handler}


def p11(m: ModuleType) -> Twins:
    @durable_execution
    async def handler(event: Any, context: AsyncDurableContext) -> str:
        return await context.step(lambda _: "hello", "greet", StepConfig(serdes=m.UpperSerDes()))

    return {"handler": handler}


def p12(m: ModuleType) -> Twins:
    @durable_execution
    async def pricing(event: dict[str, int], context: AsyncDurableContext) -> dict[str, int]:
        return {"price": await context.step(lambda _: event["qty"] * 3, "price")}

    @durable_execution
    async def handler(event: dict[str, int], context: AsyncDurableContext) -> dict[str, int]:
        quote: Any = await context.invoke("pricing", {"qty": event["qty"]}, "get quote")
        return {"total": quote["price"]}

    return {"handler": handler, "pricing": pricing}


def p13(m: ModuleType) -> Twins:
    @durable_execution
    async def handler(event: Any, context: AsyncDurableContext) -> dict[str, int]:
        return {name: await context.step(m.fails_once, name, StepConfig(retry_strategy=strategy))
                for name, strategy in m.STRATEGIES.items()}

    return {"handler": handler}


def p14(m: ModuleType) -> Twins:
    @durable_execution
    async def handler(event: Any, context: AsyncDurableContext) -> dict[str, Any]:
        reached = await context.step(m.timed_out_twice, "call remote", m.ONLY_TIMEOUTS)
        try:
            await context.step(m.bad_input, "validate", m.ONLY_TIMEOUTS)
        except StepError as error:
            return {"reached": reached, "error": error.error_type, "message": error.message}
        return {"reached": reached}

    return {"handler": handler}


def p15(m: ModuleType) -> Twins:
    @durable_execution
    async def handler(event: dict[str, str], context: AsyncDurableContext) -> dict[str, Any]:
        config: WaitForCallbackConfig[Any] = WaitForCallbackConfig(timeout=Duration.from_hours(2))
        answer = json.loads(await context.wait_for_callback(
            m.open_ticket(event["queue"], priority=2), "ticket", config))
        return {"resolution": answer["resolution"]}

    return {"handler": handler}


def p16(m: ModuleType) -> Twins:
    @durable_parallel_branch(name="primary region")
    async def primary(ctx: AsyncDurableContext, key: str) -> str:
        return await ctx.step(lambda _: f"{key} from primary", "read primary")

    @durable_parallel_branch(name="replica region")
    async def replica(ctx: AsyncDurableContext, key: str) -> str:
        return await ctx.step(lambda _: f"{key} from replica", "read replica")

    @durable_execution
    async def handler(event: dict[str, str], context: AsyncDurableContext) -> dict[str, Any]:
        config = ParallelConfig(max_concurrency=1,
                                completion_config=CompletionConfig.first_successful())
        batch = await context.parallel(
            [primary(event["key"]), replica(event["key"])], "read", config)
        return {"results": batch.get_results(),
                "reached": batch.completion_reason is CompletionReason.MIN_SUCCESSFUL_REACHED}

    return {"handler": handler}


def p17(m: ModuleType) -> Twins:
    async def price(ctx: AsyncDurableContext, sku: str, index: int, skus: Any) -> int:
        return await ctx.step(lambda _: len(sku) * 10, f"price {sku}")

    @durable_execution
    async def handler(event: dict[str, Any], context: AsyncDurableContext) -> int:
        batch = await context.map(event["skus"], price, "prices",
                                  MapConfig(nesting_type=NestingType.FLAT))
        return sum(batch.get_results())

    return {"handler": handler}


def p18(m: ModuleType) -> Twins:
    async def quote(ctx: AsyncDurableContext, vendor: str, index: int, vendors: Any) -> str:
        if vendor == "broken":
            raise ConnectionError("vendor down")
        return await ctx.step(lambda _: f"quote from {vendor}", vendor)

    @durable_execution
    async def handler(event: Any, context: AsyncDurableContext) -> dict[str, Any]:
        config: MapConfig[str] = MapConfig(
            max_concurrency=1, completion_config=CompletionConfig(should_complete=m.two_quotes))
        good = await context.map(["a", "b", "c", "d"], quote, "good", config)
        bad = await context.map(["a", "broken", "c"], quote, "bad", config)
        return {"good": good.get_results(),
                "good_custom": good.completion_reason
                is CompletionReason.CUSTOM_COMPLETION_SUCCEEDED,
                "bad_custom": bad.completion_reason is CompletionReason.CUSTOM_COMPLETION_FAILED,
                "bad_failed": bad.failure_count}

    return {"handler": handler}


def p19(m: ModuleType) -> Twins:
    async def fail(ctx: AsyncDurableContext) -> str:
        raise RuntimeError("this branch always fails")

    def answer(value: str) -> Callable[[AsyncDurableContext], Any]:
        async def branch(ctx: AsyncDurableContext) -> str:
            return value

        return branch

    async def check(ctx: AsyncDurableContext, n: int, index: int, items: Any) -> int:
        if n % 2:
            raise ValueError(f"{n} is odd")
        return n

    @durable_execution
    async def handler(event: Any, context: AsyncDurableContext) -> dict[str, Any]:
        tolerant = await context.parallel(
            [answer("a"), fail, answer("c"), answer("d")], "tolerant",
            ParallelConfig(completion_config=CompletionConfig(tolerated_failure_percentage=25)))
        strict = await context.map([2, 1, 3, 4, 6], check, "strict", MapConfig(
            max_concurrency=1, completion_config=CompletionConfig(tolerated_failure_count=1)))
        try:
            strict.throw_if_error()
            raised = None
        except Exception as error:
            raised = str(error)
        return {
            "tolerant": [tolerant.success_count, tolerant.failure_count,
                         tolerant.completion_reason.value],
            "strict": [strict.success_count, strict.failure_count,
                       strict.completion_reason is CompletionReason.FAILURE_TOLERANCE_EXCEEDED],
            "raised": raised,
        }

    return {"handler": handler}


def p20(m: ModuleType) -> Twins:
    async def with_tax(ctx: AsyncDurableContext, amount: float, index: int, amounts: Any) -> float:
        return round(amount * 1.25, 2)

    @durable_execution
    async def handler(event: dict[str, Any], context: AsyncDurableContext) -> list[float]:
        batch: BatchResult[float] = await context.map(
            event["amounts"], with_tax, "taxed", MapConfig(item_serdes=m.CentsSerDes()))
        return batch.get_results()

    return {"handler": handler}


def p21(m: ModuleType) -> Twins:
    async def check_job(state: dict[str, int], check_context: WaitForConditionCheckContext
                        ) -> dict[str, int]:
        return m.check_job(state, check_context)  # type: ignore[no-any-return]

    @durable_execution
    async def handler(event: Any, context: AsyncDurableContext) -> dict[str, int]:
        config = WaitForConditionConfig(wait_strategy=m.until_done, initial_state={"progress": 0})
        return await context.wait_for_condition(check_job, config, "job finished")

    return {"handler": handler}


def p22(m: ModuleType) -> Twins:
    @durable_step
    def reserve(step_context: StepContext, sku: str, quantity: int) -> str:
        return f"{quantity}x{sku}"

    @durable_with_child_context
    async def fulfil(ctx: AsyncDurableContext, sku: str, quantity: int) -> dict[str, Any]:
        reservation = await ctx.step(reserve(sku, quantity))
        await ctx.wait(Duration.from_seconds(10), "settle")
        return {"reservation": reservation, "shipped": await ctx.step(lambda _: True, "ship")}

    return {"fulfil": fulfil}


def p23(m: ModuleType) -> Twins:
    @durable_execution
    async def process_payment(event: dict[str, Any], context: AsyncDurableContext
                              ) -> dict[str, Any]:
        return {"charged": await context.step(lambda _: event["amount"], "charge")}

    @durable_execution
    async def place_order(event: dict[str, Any], context: AsyncDurableContext) -> dict[str, Any]:
        price: Any = await context.invoke("lookup-price", {"sku": event["sku"]}, name="price")
        payment: Any = await context.invoke("process-payment", {"amount": price["price"]},
                                       name="payment")
        return {"sku": event["sku"], "charged": payment["charged"]}

    return {"place_order": place_order, "process_payment": process_payment}


def p24(m: ModuleType) -> Twins:
    async def book(ctx: AsyncDurableContext, attempt: int) -> dict[str, Any]:
        seat = await ctx.step(lambda _: f"seat-{attempt}", f"hold seat {attempt}")
        if attempt < 2:
            raise RuntimeError("the hold expired")
        return {"seat": seat, "attempt": attempt}

    @durable_execution
    async def handler(event: Any, context: AsyncDurableContext) -> dict[str, Any]:
        config: WithRetryConfig[dict[str, Any]] = WithRetryConfig(
            retry_strategy=create_retry_strategy(
                RetryStrategyConfig(max_attempts=3, initial_delay=Duration.from_seconds(2))))
        return await with_retry(context, book, config, name="booking")

    return {"handler": handler}


def p25(m: ModuleType) -> Twins:
    @durable_execution
    async def handler(event: dict[str, int], context: AsyncDurableContext) -> None:
        amount = await context.step(
            m.charge, "charge", StepConfig(step_semantics=StepSemantics.AT_MOST_ONCE_PER_RETRY))
        context.logger.info("charged", extra={"amount": amount})
        if amount > event["limit"]:
            raise ExecutionError(f"amount {amount} is over the limit {event['limit']}")

    return {"handler": handler}


def p26(m: ModuleType) -> Twins:
    @durable_execution
    async def process_payment(event: dict[str, str], context: AsyncDurableContext) -> None:
        await context.step(lambda _: event["card"], "check card")
        raise ValueError(f"card {event['card']} was declined")

    @durable_execution
    async def handler(event: dict[str, str], context: AsyncDurableContext) -> Any:
        try:
            return await context.invoke("process-payment", {"card": event["card"]}, "pay")
        except InvokeError as error:
            return {"declined": True, "reason": error.message, "type": error.error_type}

    return {"handler": handler, "process_payment": process_payment}


def p27(m: ModuleType) -> Twins:
    async def double(ctx: AsyncDurableContext, n: int, index: int, items: Any) -> int:
        return n * 2

    @durable_execution
    async def handler(event: dict[str, Any], context: AsyncDurableContext) -> dict[str, Any]:
        config: MapConfig[int] = MapConfig(serdes=m.BatchSerDes(), item_serdes=m.ItemSerDes())
        batch: BatchResult[int] = await context.map(event["items"], double, "doubled", config)
        return {"results": batch.get_results(), "succeeded": batch.success_count}

    return {"handler": handler}


def p28(m: ModuleType) -> Twins:
    @durable_execution
    async def handler(event: Any, context: AsyncDurableContext) -> None:
        try:
            await context.step(m.decline, "charge", m.NO_RETRY)
        except StepError as error:
            raise ExecutionError(f"payment failed: {error.error_type}") from error

    return {"handler": handler}


def p29(m: ModuleType) -> Twins:
    @durable_execution(plugins=[m.AuditPluginFactory()])
    async def handler(event: Any, context: AsyncDurableContext) -> int:
        one = await context.step(lambda _: 1, "one")
        await context.wait(Duration.from_seconds(5), "pause")
        return await context.step(lambda _: one + 1, "two")

    return {"handler": handler}


BUILDERS: dict[str, Callable[[ModuleType], Twins]] = {
    name: builder for name, builder in globals().items()
    if name[:1] == "p" and name[1:].isdigit() and callable(builder)
}


def test_every_text_has_an_async_twin() -> None:
    assert sorted(BUILDERS) == sorted(path.stem.split("_", 1)[0] for path in SOURCES)


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("path", SOURCES, ids=[p.stem for p in SOURCES])
def test_async_twin_passes_the_texts_tests(
    path: Path, where: str, tmp_path: Path, request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expect_difference(path, request)
    module = load_ported(path, tmp_path, prefix=f"async_{where}")
    for name, twin in BUILDERS[path.stem.split("_", 1)[0]](module).items():
        assert callable(getattr(module, name)), f"{path.stem} has no {name} to replace"
        setattr(module, name, twin)
    if where == "emulator":
        bind_emulator(module, request.getfixturevalue("emulator"), monkeypatch)
    assert run_tests(module) >= 1

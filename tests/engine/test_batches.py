"""map, parallel and wait_for_condition through both twins, over the rule-enforcing fake."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from typing import Any

import pytest

import durable_backend as db
from tests.engine.conftest import Twin
from tests.support.service import MemoryBackend

NO_RETRY = db.StepConfig(retry_strategy=db.RetryPresets.none())


def item_body(twin: Twin, runs: Counter[int], fail: set[int], wait_on: set[int]) -> Any:
    """A map item: one step (failing for ``fail``), plus a durable wait for ``wait_on``."""

    def scenario(ctx: Any, item: int, index: int, items: Any) -> Any:
        def work(_: db.StepContext) -> int:
            runs[item] += 1
            if item in fail:
                raise ValueError(f"item {item} failed")
            return item * 10

        value = yield ctx.step(work, name="work", config=NO_RETRY)
        if item in wait_on:
            yield ctx.wait(5, name="pause")
        return value

    return twin.body(scenario)


def map_scenario(twin: Twin, items: list[int], config: db.MapConfig[Any], **kw: Any) -> Any:
    runs: Counter[int] = Counter()
    body = item_body(twin, runs, kw.get("fail", set()), kw.get("wait_on", set()))

    def scenario(event: Any, ctx: Any) -> Any:
        batch = yield ctx.map(items, body, name="fan-out", config=config)
        return {
            "reason": batch.completion_reason.value,
            "results": batch.get_results(),
            "statuses": [(i.index, i.status.value) for i in batch.all],
        }

    return scenario, runs


def test_map_runs_every_item_and_replays_without_rerunning(twin: Twin) -> None:
    scenario, runs = map_scenario(twin, [1, 2, 3], db.MapConfig(max_concurrency=2), wait_on={2})
    outcome = twin.run(scenario)
    assert outcome.status == "SUCCEEDED"
    assert outcome.result["results"] == [10, 20, 30]
    assert outcome.result["reason"] == "ALL_COMPLETED"
    assert len(outcome.outputs) == 2, "the item that waits suspends the whole map once"
    assert runs == Counter({1: 1, 2: 1, 3: 1}), "a completed item ran again on replay"
    names = [op.name for op in outcome.backend.operations(outcome.arn)
             if op.sub_type == "MapIteration"]
    assert names == ["map-item-0", "map-item-1", "map-item-2"]


@pytest.mark.parametrize("count", [0, 1])
def test_map_of_zero_and_one_items(twin: Twin, count: int) -> None:
    scenario, _ = map_scenario(twin, list(range(count)), db.MapConfig())
    outcome = twin.run(scenario)
    assert outcome.status == "SUCCEEDED"
    assert outcome.result["results"] == [i * 10 for i in range(count)]
    assert outcome.result["reason"] == "ALL_COMPLETED"


def test_map_default_stops_at_first_failure(twin: Twin) -> None:
    scenario, runs = map_scenario(twin, [1, 2, 3, 4], db.MapConfig(max_concurrency=1), fail={2})
    outcome = twin.run(scenario)
    assert outcome.result["reason"] == "FAILURE_TOLERANCE_EXCEEDED"
    assert outcome.result["statuses"] == [[0, "SUCCEEDED"], [1, "FAILED"]]
    assert runs[3] == 0 and runs[4] == 0, "items after the failure were started"


@pytest.mark.parametrize(
    ("completion", "reason", "started"),
    [
        (db.CompletionConfig(tolerated_failure_count=1), "ALL_COMPLETED", 4),
        (db.CompletionConfig(tolerated_failure_count=0), "FAILURE_TOLERANCE_EXCEEDED", 2),
        (db.CompletionConfig(min_successful=1), "MIN_SUCCESSFUL_REACHED", 1),
        (db.CompletionConfig.all_completed(), "ALL_COMPLETED", 4),
    ],
)
def test_completion_policies_at_their_boundaries(
    twin: Twin, completion: db.CompletionConfig, reason: str, started: int
) -> None:
    config = db.MapConfig(max_concurrency=1, completion_config=completion)
    scenario, runs = map_scenario(twin, [1, 2, 3, 4], config, fail={2})
    outcome = twin.run(scenario)
    assert outcome.result["reason"] == reason
    assert sum(runs.values()) == started


def test_invalid_completion_is_rejected_before_any_checkpoint(twin: Twin) -> None:
    config = db.MapConfig(completion_config=db.CompletionConfig(min_successful=5))
    scenario, _ = map_scenario(twin, [1, 2], config)
    outcome = twin.run(scenario)
    assert outcome.status == "FAILED"
    assert "min_successful (5) cannot exceed the number of items (2)" in outcome.error[
        "ErrorMessage"
    ]
    assert outcome.backend.checkpoint_calls() == []


def test_parallel_keeps_branch_names_and_order(twin: Twin) -> None:
    def first(ctx: Any) -> Any:
        return (yield ctx.step(lambda _: "a", name="a"))

    def second(ctx: Any) -> Any:
        yield ctx.wait(3)
        return "b"

    branches = [twin.body(first), db.ParallelBranch(twin.body(second), name="slow one")]

    def scenario(event: Any, ctx: Any) -> Any:
        batch = yield ctx.parallel(branches, name="both")
        return batch.get_results()

    outcome = twin.run(scenario)
    assert outcome.status == "SUCCEEDED"
    assert outcome.result == ["a", "b"]
    names = [op.name for op in outcome.backend.operations(outcome.arn)
             if op.sub_type == "ParallelBranch"]
    assert names == ["parallel-branch-0", "slow one"]


def test_wait_for_condition_polls_with_retries_carrying_the_state(twin: Twin) -> None:
    def check(state: int, _: db.StepContext) -> int:
        return state + 1

    config = db.WaitForConditionConfig(
        wait_strategy=lambda state, attempt: (
            db.WaitForConditionDecision.stop_polling()
            if state >= 3
            else db.WaitForConditionDecision.continue_waiting(2)
        ),
        initial_state=0,
    )

    def scenario(event: Any, ctx: Any) -> Any:
        return (yield ctx.wait_for_condition(check, config=config, name="poll"))

    outcome = twin.run(scenario)
    assert outcome.status == "SUCCEEDED" and outcome.result == 3
    actions = [
        u.action.value
        for call in outcome.backend.checkpoint_calls()
        for u in call.updates
        if u.name == "poll"
    ]
    assert actions == ["START", "RETRY", "START", "RETRY", "START", "SUCCEED"]


def test_wait_for_condition_exhaustion_fails_clearly(twin: Twin) -> None:
    config = db.WaitForConditionConfig(
        wait_strategy=db.create_wait_strategy(
            db.WaitStrategyConfig(should_continue_polling=lambda s: True, max_attempts=2)
        ),
        initial_state=0,
    )

    def scenario(event: Any, ctx: Any) -> Any:
        return (yield ctx.wait_for_condition(lambda s, _: s, config=config, name="poll"))

    outcome = twin.run(scenario)
    assert outcome.status == "FAILED"
    assert "exhausted 2 attempts" in outcome.error["ErrorMessage"]


def test_sync_map_threads_never_exceed_max_concurrency() -> None:
    backend = MemoryBackend()
    threads: set[int] = set()

    @db.durable_execution(backend=backend)
    def handler(event: Any, ctx: db.DurableContext) -> int:
        def item(c: db.DurableContext, x: int, i: int, items: Any) -> int:
            threads.add(threading.get_ident())
            return c.step(lambda _: x)

        batch = ctx.map(list(range(1000)), item, config=db.MapConfig(max_concurrency=4))
        return sum(batch.get_results())

    arn = backend.run(handler)
    end = backend.execution_end(arn)
    assert end is not None and json.loads(end.result or "0") == sum(range(1000))
    assert 1 < len(threads) <= 4


def test_sync_map_without_max_concurrency_runs_every_blocking_item_at_once() -> None:
    """The official SDK's default: no bound. Twenty items meet at a barrier, which only
    opens if all twenty block at the same time."""
    backend = MemoryBackend()
    barrier = threading.Barrier(20, timeout=10)

    @db.durable_execution(backend=backend)
    def handler(event: Any, ctx: db.DurableContext) -> int:
        def item(c: db.DurableContext, x: int, i: int, items: Any) -> int:
            return c.step(lambda _: barrier.wait() * 0 + x)

        return sum(ctx.map(list(range(20)), item).get_results())

    arn = backend.run(handler)
    end = backend.execution_end(arn)
    assert end is not None and json.loads(end.result or "0") == sum(range(20)), end


def test_async_map_with_async_bodies_creates_no_threads() -> None:
    backend = MemoryBackend()
    seen: set[int] = set()
    before = {thread.ident for thread in threading.enumerate()}

    @db.durable_execution(backend=backend.async_)
    async def handler(event: Any, ctx: db.AsyncDurableContext) -> int:
        async def item(c: db.AsyncDurableContext, x: int, i: int, items: Any) -> int:
            seen.add(threading.get_ident())

            async def body(_: db.StepContext) -> int:
                return x

            return await c.step(body)

        batch = await ctx.map(list(range(1000)), item)
        started = {thread.ident for thread in threading.enumerate()} - before
        assert not started, f"the async map started threads {started}"
        return sum(batch.get_results())

    arn = backend.run(lambda event, context: asyncio.run(handler.run_async(event, context)))
    end = backend.execution_end(arn)
    assert end is not None and json.loads(end.result or "0") == sum(range(1000))
    assert len(seen) == 1


@pytest.mark.parametrize("twin_kind", ["sync", "async"])
def test_blocking_items_run_max_concurrency_at_once(twin_kind: str) -> None:
    """Items that block (I/O, sleeps) get every allowed worker, not one at a time."""
    backend = MemoryBackend()
    guard = threading.Lock()
    active = peak = 0

    def enter() -> None:
        nonlocal active, peak
        with guard:
            active += 1
            peak = max(peak, active)

    def leave() -> None:
        nonlocal active
        with guard:
            active -= 1

    config = db.MapConfig(max_concurrency=4)
    if twin_kind == "sync":

        @db.durable_execution(backend=backend)
        def handler(event: Any, ctx: db.DurableContext) -> int:
            def item(c: db.DurableContext, x: int, i: int, items: Any) -> int:
                enter()
                time.sleep(0.05)
                leave()
                return x

            return sum(ctx.map(list(range(12)), item, config=config).get_results())

        arn = backend.run(handler)
    else:

        @db.durable_execution(backend=backend.async_)
        async def async_handler(event: Any, ctx: db.AsyncDurableContext) -> int:
            async def item(c: db.AsyncDurableContext, x: int, i: int, items: Any) -> int:
                enter()
                await asyncio.sleep(0.05)
                leave()
                return x

            batch = await ctx.map(list(range(12)), item, config=config)
            return sum(batch.get_results())

        arn = backend.run(lambda e, c: asyncio.run(async_handler.run_async(e, c)))
    end = backend.execution_end(arn)
    assert end is not None and json.loads(end.result or "0") == sum(range(12))
    assert peak == 4


def test_wide_async_map_still_starts_every_blocking_item() -> None:
    """The async twin stops starting branches while commits lag, never while items block:
    600 items that each wait for all the others still finish."""
    backend = MemoryBackend()
    started = 0
    everyone: asyncio.Event | None = None

    @db.durable_execution(backend=backend.async_)
    async def handler(event: Any, ctx: db.AsyncDurableContext) -> int:
        nonlocal everyone
        everyone = asyncio.Event()

        async def item(c: db.AsyncDurableContext, x: int, i: int, items: Any) -> int:
            nonlocal started
            value = await c.step(lambda _: x, name="before")
            started += 1
            if started == len(items):
                everyone.set()
            await asyncio.wait_for(everyone.wait(), timeout=10)
            return value

        return sum((await ctx.map(list(range(600)), item)).get_results())

    arn = backend.run(lambda e, c: asyncio.run(handler.run_async(e, c)))
    end = backend.execution_end(arn)
    assert end is not None and json.loads(end.result or "0") == sum(range(600))


def test_wide_async_map_holds_a_bounded_number_of_waiting_items() -> None:
    """Quick items wait only for their commits: a 5000-item map never has every item
    suspended at once (one task per item would cost memory and GC time)."""
    backend = MemoryBackend()
    active = peak = 0

    @db.durable_execution(backend=backend.async_)
    async def handler(event: Any, ctx: db.AsyncDurableContext) -> int:
        async def item(c: db.AsyncDurableContext, x: int, i: int, items: Any) -> int:
            nonlocal active, peak
            active += 1
            peak = max(peak, active)
            try:
                return await c.step(lambda _: x)
            finally:
                active -= 1

        return sum((await ctx.map(list(range(5000)), item)).get_results())

    arn = backend.run(lambda e, c: asyncio.run(handler.run_async(e, c)))
    end = backend.execution_end(arn)
    assert end is not None and json.loads(end.result or "0") == sum(range(5000))
    assert 1 < peak <= 1000

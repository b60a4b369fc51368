"""The community async fork ``async-durable-execution`` (async only) over the suite.

Injection: the fork's ``durable_execution(service_client=...)`` takes an async
``DurableServiceClient`` (model objects in and out), documented for tests and local tooling.
The event dict goes through the fork's own decoding, as on Lambda; the sync handler call runs
the fork's event loop, which is reused across invocations as it would be in a warm Lambda.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from async_durable_execution import (
    BatchResult,
    durable_execution,
    map,
    parallel,
    run_in_child_context,
    step,
    wait_for_callback,
)
from async_durable_execution.__about__ import __version__
from async_durable_execution._core import models as fm

from benchmarks._common import (
    ARN,
    FakeLambdaContext,
    FakeStore,
    Variant,
    Workload,
    async_bare_calls,
    main,
    step_name,
)
from benchmarks._peer import peer_store, step_updates

MODULE = "benchmarks.run_fork"


class FakeServiceClient:
    """The fork's async ``DurableServiceClient`` Protocol over the shared fake store."""

    def __init__(self, store: FakeStore) -> None:
        self._store = store

    async def _delay(self) -> None:
        if self._store.latency_s:
            await asyncio.sleep(self._store.latency_s)

    async def checkpoint(
        self,
        durable_execution_arn: str,
        checkpoint_token: str,
        updates: list[fm.OperationUpdate],
        client_token: str | None,
    ) -> fm.CheckpointOutput:
        await self._delay()
        token, operations = self._store.checkpoint(checkpoint_token, updates)
        return fm.CheckpointOutput(
            checkpoint_token=token,
            new_execution_state=fm.CheckpointUpdatedExecutionState(operations=operations),
        )

    async def get_execution_state(
        self,
        durable_execution_arn: str,
        checkpoint_token: str,
        next_marker: str,
        max_items: int = 1000,
    ) -> fm.StateOutput:
        await self._delay()
        operations, marker = self._store.page(checkpoint_token, next_marker, max_items)
        return fm.StateOutput(operations=operations, next_marker=marker)


def fork_variant() -> Variant:
    store = peer_store(fm)
    client = FakeServiceClient(store)
    lambda_context = FakeLambdaContext()

    def body(i: int, sleep_s: float) -> Callable[[], Awaitable[int]]:
        async def run() -> int:
            store.counters.body_threads.add(threading.get_ident())
            if sleep_s:
                await asyncio.sleep(sleep_s)
            return i

        return run

    @durable_execution(service_client=client)
    async def sequential(event: dict[str, Any]) -> int:
        total = 0
        for i in range(1, event["n"] + 1):
            total += await step(body(i, event["sleep"]), name=step_name(i))
        return total

    @durable_execution(service_client=client)
    async def mapped(event: dict[str, Any]) -> int:
        async def item(value: int) -> int:
            return await step(body(value * 2, event["sleep"]), name="double")

        batch: BatchResult[int] = await map(
            item, list(range(event["n"])), max_concurrency=event["concurrency"]
        )
        return sum(batch.get_results())

    @durable_execution(service_client=client)
    async def parallel_branches(event: dict[str, Any]) -> int:
        def branch(i: int) -> Callable[[], Awaitable[int]]:
            async def run() -> int:
                return await step(body(i * 2, 0), name="double")

            return run

        batch: BatchResult[int] = await parallel([branch(i) for i in range(event["n"])])
        return sum(batch.get_results())

    @durable_execution(service_client=client)
    async def child(event: dict[str, Any]) -> int:
        async def steps() -> int:
            total = 0
            for i in range(1, event["n"] + 1):
                total += await step(body(i, 0), name=step_name(i))
            return total

        result: int = await run_in_child_context(steps, name="child")
        return result

    @durable_execution(service_client=client)
    async def callback(event: dict[str, Any]) -> int:
        async def submit() -> None:
            store.counters.body_threads.add(threading.get_ident())

        return int(await wait_for_callback(submit, name="approval"))

    handlers = {
        "map": mapped,
        "parallel": parallel_branches,
        "child": child,
        "callback": callback,
    }

    def invoke(workload: Workload, event: dict[str, Any]) -> Mapping[str, Any]:
        handler = handlers.get(workload.kind, sequential)
        output: Mapping[str, Any] = handler(event, lambda_context)
        return output

    async def call(token: str, updates: Sequence[fm.OperationUpdate]) -> str:
        output = await client.checkpoint(ARN, token, list(updates), None)
        return output.checkpoint_token

    return Variant(
        name="fork",
        store=store,
        invoke=invoke,
        bare=async_bare_calls(call, step_updates(fm)),
    )


if __name__ == "__main__":
    sys.exit(main("fork", MODULE, __version__, lambda: [fork_variant()]))

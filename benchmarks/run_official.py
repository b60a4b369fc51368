"""The official ``aws-durable-execution-sdk-python`` (sync, threads) over the suite.

Injection: the official wrapper accepts a ``DurableExecutionInvocationInputWithClient`` in
place of the event dict, carrying any ``DurableServiceClient`` (its documented test seam).
The timed call first decodes the event JSON with the SDK's own ``from_json_dict``, exactly
as the wrapper does for a dict event, so the work matches a real invocation's.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aws_durable_execution_sdk_python import (
    BatchResult,
    DurableContext,
    durable_execution,
)
from aws_durable_execution_sdk_python import lambda_service as ls
from aws_durable_execution_sdk_python.__about__ import __version__
from aws_durable_execution_sdk_python.config import MapConfig
from aws_durable_execution_sdk_python.execution import (
    DurableExecutionInvocationInput,
    DurableExecutionInvocationInputWithClient,
)

from benchmarks._common import (
    ARN,
    Counters,
    FakeLambdaContext,
    FakeStore,
    Variant,
    Workload,
    bare_calls,
    body,
    main,
    step_name,
)
from benchmarks._peer import peer_store, step_updates

MODULE = "benchmarks.run_official"


class FakeServiceClient:
    """The official ``DurableServiceClient`` Protocol over the shared fake store."""

    def __init__(self, store: FakeStore) -> None:
        self._store = store

    def checkpoint(
        self,
        durable_execution_arn: str,
        checkpoint_token: str,
        updates: list[ls.OperationUpdate],
        client_token: str | None,
    ) -> ls.CheckpointOutput:
        self._store.delay()
        token, operations = self._store.checkpoint(checkpoint_token, updates)
        return ls.CheckpointOutput(
            checkpoint_token=token,
            new_execution_state=ls.CheckpointUpdatedExecutionState(operations=operations),
        )

    def get_execution_state(
        self,
        durable_execution_arn: str,
        checkpoint_token: str,
        next_marker: str,
        max_items: int = 1000,
    ) -> ls.StateOutput:
        self._store.delay()
        operations, marker = self._store.page(checkpoint_token, next_marker, max_items)
        return ls.StateOutput(operations=operations, next_marker=marker)


def official_variant() -> Variant:
    store = peer_store(ls)
    client = FakeServiceClient(store)
    lambda_context = FakeLambdaContext()

    def counters() -> Counters:
        return store.counters

    @durable_execution
    def sequential(event: dict[str, Any], context: DurableContext) -> int:
        total = 0
        for i in range(1, event["n"] + 1):
            total += context.step(body(i, event["sleep"], counters), name=step_name(i))
        return total

    @durable_execution
    def mapped(event: dict[str, Any], context: DurableContext) -> int:
        def item(ctx: DurableContext, value: int, index: int, items: Sequence[int]) -> int:
            return ctx.step(body(value * 2, event["sleep"], counters), name="double")

        config = MapConfig(max_concurrency=event["concurrency"])
        batch: BatchResult[int] = context.map(list(range(event["n"])), item, config=config)
        return sum(batch.get_results())

    @durable_execution
    def parallel(event: dict[str, Any], context: DurableContext) -> int:
        def branch(i: int) -> Callable[[DurableContext], int]:
            return lambda child: child.step(body(i * 2, 0, counters), name="double")

        batch: BatchResult[int] = context.parallel([branch(i) for i in range(event["n"])])
        return sum(batch.get_results())

    @durable_execution
    def child(event: dict[str, Any], context: DurableContext) -> int:
        def steps(child: DurableContext) -> int:
            return sum(
                child.step(body(i, 0, counters), name=step_name(i))
                for i in range(1, event["n"] + 1)
            )

        return context.run_in_child_context(steps, name="child")

    @durable_execution
    def callback(event: dict[str, Any], context: DurableContext) -> int:
        def submit(callback_id: str, _: Any) -> None:
            counters().body_threads.add(threading.get_ident())

        return int(context.wait_for_callback(submit, name="approval"))

    handlers = {"map": mapped, "parallel": parallel, "child": child, "callback": callback}

    def invoke(workload: Workload, event: dict[str, Any]) -> Mapping[str, Any]:
        decoded = DurableExecutionInvocationInput.from_json_dict(event)
        with_client = DurableExecutionInvocationInputWithClient
        injected = with_client.from_durable_execution_invocation_input(decoded, client)
        handler = handlers.get(workload.kind, sequential)
        output: Mapping[str, Any] = handler(injected, lambda_context)
        return output

    def call(token: str, updates: Sequence[ls.OperationUpdate]) -> str:
        return client.checkpoint(ARN, token, list(updates), None).checkpoint_token

    return Variant(
        name="official",
        store=store,
        invoke=invoke,
        bare=bare_calls(call, step_updates(ls)),
    )


if __name__ == "__main__":
    sys.exit(main("official", MODULE, __version__, lambda: [official_variant()]))

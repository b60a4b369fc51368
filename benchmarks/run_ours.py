"""durable_backend over the suite, through both twins (sync ``def`` and ``async def``).

Injection: ``@db.durable_execution(backend=...)`` with a zero-latency backend written against
the public ``DurableBackend`` / ``AsyncDurableBackend`` Protocols over the shared fake store.
The handler is called with the plain event dict, as on Lambda; the async twin runs its loop
inside that call, like the fork.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import attrs

import durable_backend as db
from benchmarks._common import (
    ARN,
    CALLBACK_RESULT,
    BenchmarkError,
    Counters,
    FakeLambdaContext,
    FakeStore,
    Variant,
    Workload,
    async_bare_calls,
    bare_calls,
    body,
    callback_id_for,
    main,
    operation_id,
    status_for,
    step_name,
)
from durable_backend._backend import (
    DEFAULT_MAX_ITEMS,
    AsyncDurableBackend,
    DurableBackend,
)
from durable_backend._codec import boto_converter
from durable_backend._models import (
    CallbackDetails,
    CheckpointDurableExecutionOutput,
    CheckpointUpdatedExecutionState,
    ContextDetails,
    GetDurableExecutionStateOutput,
    Operation,
    OperationAction,
    OperationStatus,
    OperationType,
    OperationUpdate,
    StepDetails,
    WaitDetails,
)

MODULE = "benchmarks.run_ours"


def _transition(previous: Operation | None, update: OperationUpdate, now: datetime) -> Operation:
    action = update.action.value
    status = OperationStatus(status_for(action))
    step_details = context_details = wait_details = callback_details = None
    if update.type is OperationType.STEP:
        attempt = (previous.step_details.attempt or 0) if previous and previous.step_details else 0
        if action in ("SUCCEED", "FAIL", "RETRY"):
            attempt += 1
        delay = update.step_options.next_attempt_delay_seconds if update.step_options else None
        retry_at = now + timedelta(seconds=delay or 0) if action == "RETRY" else None
        step_details = StepDetails(
            attempt=attempt,
            next_attempt_timestamp=retry_at,
            result=update.payload,
            error=update.error,
        )
    elif update.type is OperationType.CONTEXT:
        options = update.context_options
        context_details = ContextDetails(
            replay_children=bool(options and options.replay_children),
            result=update.payload,
            error=update.error,
        )
    elif update.type is OperationType.WAIT:
        seconds = update.wait_options.wait_seconds if update.wait_options else None
        wait_details = WaitDetails(scheduled_end_timestamp=now + timedelta(seconds=seconds or 0))
    elif update.type is OperationType.CALLBACK:
        callback_details = CallbackDetails(callback_id=callback_id_for(update.id))
    return Operation(
        id=update.id,
        type=update.type,
        status=status,
        parent_id=update.parent_id,
        name=update.name,
        sub_type=update.sub_type,
        start_timestamp=previous.start_timestamp if previous else now,
        end_timestamp=now if status.is_terminal else None,
        execution_details=previous.execution_details if previous else None,
        context_details=context_details,
        step_details=step_details,
        wait_details=wait_details,
        callback_details=callback_details,
    )


def _answer(op: Operation, now: datetime) -> Operation | None:
    if op.type is not OperationType.CALLBACK or op.status is not OperationStatus.STARTED:
        return None
    callback_id = op.callback_details.callback_id if op.callback_details else None
    return attrs.evolve(
        op,
        status=OperationStatus.SUCCEEDED,
        end_timestamp=now,
        callback_details=CallbackDetails(callback_id=callback_id, result=CALLBACK_RESULT),
    )


_STRUCTURE_OPERATION = boto_converter.get_structure_hook(Operation)
"""How the real client decodes each operation of a page (``_real`` structures the whole
response, and its tuple hook calls this per operation), without a converter dispatch each."""


def ours_store() -> FakeStore:
    return FakeStore(
        _transition,
        lambda op: str(op.id),
        lambda op: op.type is OperationType.STEP and op.status is OperationStatus.SUCCEEDED,
        _answer,
        lambda op: _STRUCTURE_OPERATION(op, Operation),
    )


class FakeBackend:
    """Zero-latency ``DurableBackend``: the shared fake store, our models in and out."""

    def __init__(self, store: FakeStore) -> None:
        self._store = store

    def checkpoint(
        self,
        arn: str,
        checkpoint_token: str,
        updates: Sequence[OperationUpdate],
        client_token: str | None = None,
    ) -> CheckpointDurableExecutionOutput:
        self._store.delay()
        return _checkpoint(self._store, checkpoint_token, updates)

    def get_execution_state(
        self,
        arn: str,
        checkpoint_token: str,
        next_marker: str,
        max_items: int = DEFAULT_MAX_ITEMS,
    ) -> GetDurableExecutionStateOutput:
        self._store.delay()
        return _page(self._store, checkpoint_token, next_marker, max_items)

    def batch_checkpoint(
        self,
        arn: str,
        checkpoint_token: str,
        updates: Sequence[OperationUpdate],
        client_token: str | None = None,
    ) -> CheckpointDurableExecutionOutput:
        return self.checkpoint(arn, checkpoint_token, updates, client_token)


class AsyncFakeBackend:
    """The async twin of ``FakeBackend`` over the same store: its round trips are awaited."""

    def __init__(self, store: FakeStore) -> None:
        self._store = store

    async def _delay(self) -> None:
        if self._store.latency_s:
            await asyncio.sleep(self._store.latency_s)

    async def checkpoint(
        self,
        arn: str,
        checkpoint_token: str,
        updates: Sequence[OperationUpdate],
        client_token: str | None = None,
    ) -> CheckpointDurableExecutionOutput:
        await self._delay()
        return _checkpoint(self._store, checkpoint_token, updates)

    async def get_execution_state(
        self,
        arn: str,
        checkpoint_token: str,
        next_marker: str,
        max_items: int = DEFAULT_MAX_ITEMS,
    ) -> GetDurableExecutionStateOutput:
        await self._delay()
        return _page(self._store, checkpoint_token, next_marker, max_items)

    async def batch_checkpoint(
        self,
        arn: str,
        checkpoint_token: str,
        updates: Sequence[OperationUpdate],
        client_token: str | None = None,
    ) -> CheckpointDurableExecutionOutput:
        return await self.checkpoint(arn, checkpoint_token, updates, client_token)


def _checkpoint(
    store: FakeStore, token: str, updates: Sequence[OperationUpdate]
) -> CheckpointDurableExecutionOutput:
    next_token, operations = store.checkpoint(token, updates)
    return CheckpointDurableExecutionOutput(
        checkpoint_token=next_token,
        new_execution_state=CheckpointUpdatedExecutionState(operations=tuple(operations)),
    )


def _page(
    store: FakeStore, token: str, marker: str, max_items: int
) -> GetDurableExecutionStateOutput:
    operations, next_marker = store.page(token, marker, max_items)
    return GetDurableExecutionStateOutput(operations=tuple(operations), next_marker=next_marker)


def _step_updates(i: int) -> tuple[OperationUpdate, OperationUpdate]:
    """Step ``i``'s START and SUCCEED, as one fast step sends them (the bare calls' load)."""
    start = OperationUpdate(
        id=operation_id(i),
        type=OperationType.STEP,
        action=OperationAction.START,
        name=step_name(i),
        sub_type="Step",
    )
    return start, attrs.evolve(start, action=OperationAction.SUCCEED, payload=str(i))


def _next_token(output: CheckpointDurableExecutionOutput) -> str:
    if output.checkpoint_token is None:
        raise BenchmarkError("the fake checkpoint returned no next token")
    return output.checkpoint_token


def _conforms(store: FakeStore) -> tuple[DurableBackend, AsyncDurableBackend]:
    """Static conformance of both fakes to the Protocols (checked by the type checkers)."""
    return FakeBackend(store), AsyncFakeBackend(store)


def sync_variant() -> Variant:
    store = ours_store()
    backend, _ = _conforms(store)
    lambda_context = FakeLambdaContext()

    def counters() -> Counters:
        return store.counters

    @db.durable_execution(backend=backend)
    def sequential(event: dict[str, Any], ctx: db.DurableContext) -> int:
        total = 0
        for i in range(1, event["n"] + 1):
            total += ctx.step(body(i, event["sleep"], counters), name=step_name(i))
        return total

    @db.durable_execution(backend=backend)
    def mapped(event: dict[str, Any], ctx: db.DurableContext) -> int:
        def item(child: db.DurableContext, value: int, index: int, items: Sequence[int]) -> int:
            return child.step(body(value * 2, event["sleep"], counters), name="double")

        config = db.MapConfig(max_concurrency=event["concurrency"])
        batch = ctx.map(list(range(event["n"])), item, config=config)
        return sum(batch.get_results())

    @db.durable_execution(backend=backend)
    def parallel(event: dict[str, Any], ctx: db.DurableContext) -> int:
        def branch(i: int) -> Callable[[db.DurableContext], int]:
            return lambda child: child.step(body(i * 2, 0, counters), name="double")

        batch = ctx.parallel([branch(i) for i in range(event["n"])])
        return sum(batch.get_results())

    @db.durable_execution(backend=backend)
    def child(event: dict[str, Any], ctx: db.DurableContext) -> int:
        def steps(child: db.DurableContext) -> int:
            return sum(
                child.step(body(i, 0, counters), name=step_name(i))
                for i in range(1, event["n"] + 1)
            )

        return ctx.run_in_child_context(steps, name="child")

    @db.durable_execution(backend=backend)
    def callback(event: dict[str, Any], ctx: db.DurableContext) -> int:
        def submit(callback_id: str, _: Any) -> None:
            counters().body_threads.add(threading.get_ident())

        return int(ctx.wait_for_callback(submit, name="approval"))

    handlers = {"map": mapped, "parallel": parallel, "child": child, "callback": callback}

    def invoke(workload: Workload, event: dict[str, Any]) -> Mapping[str, Any]:
        handler = handlers.get(workload.kind, sequential)
        output: Mapping[str, Any] = handler(event, lambda_context)
        return output

    def call(token: str, updates: Sequence[OperationUpdate]) -> str:
        return _next_token(backend.batch_checkpoint(ARN, token, updates))

    return Variant("ours-sync", store, invoke, bare_calls(call, _step_updates))


def async_variant() -> Variant:
    store = ours_store()
    _, backend = _conforms(store)
    lambda_context = FakeLambdaContext()

    def body_async(i: int, sleep_s: float) -> Callable[[Any], Awaitable[int]]:
        async def run(_step_context: Any) -> int:
            store.counters.body_threads.add(threading.get_ident())
            if sleep_s:
                await asyncio.sleep(sleep_s)
            return i

        return run

    @db.durable_execution(backend=backend)
    async def sequential(event: dict[str, Any], ctx: db.AsyncDurableContext) -> int:
        total = 0
        for i in range(1, event["n"] + 1):
            total += await ctx.step(body_async(i, event["sleep"]), name=step_name(i))
        return total

    @db.durable_execution(backend=backend)
    async def mapped(event: dict[str, Any], ctx: db.AsyncDurableContext) -> int:
        async def item(
            child: db.AsyncDurableContext, value: int, index: int, items: Sequence[int]
        ) -> int:
            return await child.step(body_async(value * 2, event["sleep"]), name="double")

        config = db.MapConfig(max_concurrency=event["concurrency"])
        batch = await ctx.map(list(range(event["n"])), item, config=config)
        return sum(batch.get_results())

    @db.durable_execution(backend=backend)
    async def parallel(event: dict[str, Any], ctx: db.AsyncDurableContext) -> int:
        def branch(i: int) -> Callable[[db.AsyncDurableContext], Awaitable[int]]:
            async def run(child: db.AsyncDurableContext) -> int:
                return await child.step(body_async(i * 2, 0), name="double")

            return run

        batch = await ctx.parallel([branch(i) for i in range(event["n"])])
        return sum(batch.get_results())

    @db.durable_execution(backend=backend)
    async def child(event: dict[str, Any], ctx: db.AsyncDurableContext) -> int:
        async def steps(child: db.AsyncDurableContext) -> int:
            total = 0
            for i in range(1, event["n"] + 1):
                total += await child.step(body_async(i, 0), name=step_name(i))
            return total

        return await ctx.run_in_child_context(steps, name="child")

    @db.durable_execution(backend=backend)
    async def callback(event: dict[str, Any], ctx: db.AsyncDurableContext) -> int:
        async def submit(callback_id: str, _: Any) -> None:
            store.counters.body_threads.add(threading.get_ident())

        return int(await ctx.wait_for_callback(submit, name="approval"))

    handlers = {"map": mapped, "parallel": parallel, "child": child, "callback": callback}

    def invoke(workload: Workload, event: dict[str, Any]) -> Mapping[str, Any]:
        handler = handlers.get(workload.kind, sequential)
        output: Mapping[str, Any] = handler(event, lambda_context)
        return output

    async def call(token: str, updates: Sequence[OperationUpdate]) -> str:
        return _next_token(await backend.batch_checkpoint(ARN, token, updates))

    return Variant("ours-async", store, invoke, async_bare_calls(call, _step_updates))


def engine_missing() -> str | None:
    """Why ours cannot run yet, or None once the engine's entry point exists."""
    if not hasattr(db, "durable_execution"):
        return "durable_backend.durable_execution is not available yet"
    return None


def _version() -> str:
    try:
        return version("durable_backend")
    except PackageNotFoundError:
        return "unknown"


def run(argv: Sequence[str] | None = None) -> int:
    return main(
        "ours",
        MODULE,
        _version(),
        lambda: [sync_variant(), async_variant()],
        argv,
        skipped=engine_missing(),
    )


if __name__ == "__main__":
    sys.exit(run())

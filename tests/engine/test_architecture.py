"""Structural promises of design.md §2: a pure engine, twin shells that match, group commit."""

from __future__ import annotations

import ast
import asyncio
import inspect
import json
import threading
import time
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

import durable_backend as db
from durable_backend._engine import operation_id
from durable_backend._models import OperationAction as A
from durable_backend.backend import ExecutionStatus, OperationStatus
from tests.engine.conftest import Twin
from tests.support.service import AsyncMemoryBackend, MemoryBackend

PACKAGE = Path(db.__file__).parent
ENGINE = PACKAGE / "_engine"
BANNED = {"asyncio", "threading", "concurrent", "boto3", "botocore", "sqlite3"}
STEP_1 = operation_id(None, 1)


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def module_path(name: str) -> Path:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def test_engine_imports_no_io_or_concurrency() -> None:
    """Nor does any module of ours the engine reaches through its imports."""
    files = sorted(ENGINE.glob("*.py"))
    assert len(files) >= 5
    seen: set[Path] = set()
    while files:
        path = files.pop()
        if path in seen:
            continue
        seen.add(path)
        imported = imported_modules(path)
        roots = {name.split(".")[0] for name in imported}
        assert not roots & BANNED, f"{path.name} imports {sorted(roots & BANNED)}"
        files.extend(
            module_path(name) for name in imported if name.startswith("durable_backend.")
        )
    assert PACKAGE / "_body_roles.py" in seen


def public_methods(cls: type) -> dict[str, Any]:
    return {name: member for name, member in inspect.getmembers(cls) if not name.startswith("_")}


def test_twin_contexts_have_the_same_public_names() -> None:
    assert public_methods(db.DurableContext).keys() == public_methods(db.AsyncDurableContext).keys()


def parameters(fn: Any) -> list[tuple[str, Any, Any]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


def returns(fn: Any) -> set[str]:
    """Return annotations of every public signature (overloads, else the implementation)."""
    signatures: Sequence[Any] = typing.get_overloads(fn) or [fn]
    found = set()
    for signature in signatures:
        annotation = inspect.signature(signature).return_annotation
        text = annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)
        found.add(text.replace("AsyncCallback", "Callback"))
    return found


# Plain methods answer at once on both twins; every other method is an operation.
NOT_OPERATIONS = {"is_replaying", "set_logger"}


@pytest.mark.parametrize(
    "name",
    sorted(
        name
        for name, member in public_methods(db.DurableContext).items()
        if inspect.isfunction(member) and name not in NOT_OPERATIONS
    ),
)
def test_twin_methods_take_the_same_parameters(name: str) -> None:
    sync = getattr(db.DurableContext, name)
    async_ = getattr(db.AsyncDurableContext, name)
    assert parameters(sync) == parameters(async_)
    for sync_overload, async_overload in zip(
        typing.get_overloads(sync), typing.get_overloads(async_), strict=False
    ):
        assert parameters(sync_overload) == parameters(async_overload)
    sync_returns, async_returns = returns(sync), returns(async_)
    # Coroutines, not bare Awaitables: type checkers flag a dropped one (a missing await).
    assert all(r.startswith("Coroutine[Any, Any, ") for r in async_returns), async_returns
    assert {f"Coroutine[Any, Any, {r}]" for r in sync_returns} <= async_returns


def test_twin_properties_match() -> None:
    for name in ("logger", "execution_arn", "execution_context"):
        assert isinstance(getattr(db.DurableContext, name), property)
        assert isinstance(getattr(db.AsyncDurableContext, name), property)


@pytest.mark.parametrize("name", sorted(NOT_OPERATIONS))
def test_twin_plain_methods_match(name: str) -> None:
    sync, async_ = getattr(db.DurableContext, name), getattr(db.AsyncDurableContext, name)
    assert parameters(sync) == parameters(async_)
    assert not inspect.iscoroutinefunction(async_)
    assert returns(sync) == returns(async_)


# --- group commit -----------------------------------------------------------------------------


class Crash(BaseException):
    pass


def test_slow_step_start_is_sent_on_its_own_before_success(twin: Twin) -> None:
    backend = MemoryBackend()
    seen: list[Any] = []

    def body(step_ctx: db.StepContext) -> str:
        seen.append(backend.operation(arn, STEP_1).status)
        return "slow"

    def scenario(event: Any, ctx: Any) -> Any:
        return (yield ctx.step(twin.slow(body, 0.2)))

    arn, _ = backend.start_execution()
    assert twin.invoke(scenario, backend, arn)["Status"] == "SUCCEEDED"
    assert seen == [OperationStatus.STARTED]
    actions = [[u.action for u in c.updates] for c in backend.checkpoint_calls()]
    assert actions == [[A.START], [A.SUCCEED]]


def test_slow_step_that_dies_leaves_step_started(twin: Twin) -> None:
    def dies(step_ctx: db.StepContext) -> None:
        raise Crash

    def scenario(event: Any, ctx: Any) -> Any:
        yield ctx.step(twin.slow(dies, 0.2))

    backend = MemoryBackend()
    arn, _ = backend.start_execution()
    with pytest.raises(Crash):
        twin.invoke(scenario, backend, arn)
    assert backend.history_types(arn)[-1] == "StepStarted"


def test_fast_step_is_one_call(twin: Twin) -> None:
    def scenario(event: Any, ctx: Any) -> Any:
        return (yield ctx.step(lambda _: 1))

    backend = MemoryBackend()
    arn, _ = backend.start_execution()
    twin.invoke(scenario, backend, arn)
    time.sleep(0.1)  # a late flusher must find nothing left to send
    actions = [[u.action for u in c.updates] for c in backend.checkpoint_calls()]
    assert actions == [[A.START, A.SUCCEED]]


def test_slow_sync_body_in_the_async_twin_still_sends_start_first() -> None:
    """A plain body runs off the loop, so the loop's 50 ms timer sends its START meanwhile."""
    backend = MemoryBackend()

    def blocking(step_ctx: db.StepContext) -> str:
        time.sleep(0.2)
        return "done"

    async def handler(event: Any, ctx: db.AsyncDurableContext) -> str:
        return await ctx.step(blocking)

    durable = db.durable_execution(backend=backend.async_)(handler)
    _, event = backend.start_execution()
    asyncio.run(durable.run_async(event, None))
    actions = [[u.action for u in c.updates] for c in backend.checkpoint_calls()]
    assert actions == [[A.START], [A.SUCCEED]]


def test_plain_bodies_in_the_async_twin_run_concurrently_off_the_loop() -> None:
    """Three blocking bodies meet at a barrier: only possible if they run at the same time,
    and none of them on the loop's thread."""
    backend = MemoryBackend()
    barrier = threading.Barrier(3, timeout=5)
    body_threads: set[int] = set()
    loop_thread: list[int] = []

    def blocking(step_ctx: db.StepContext) -> int:
        body_threads.add(threading.get_ident())
        return barrier.wait()

    async def handler(event: Any, ctx: db.AsyncDurableContext) -> list[int]:
        loop_thread.append(threading.get_ident())
        return sorted(await asyncio.gather(*(ctx.step(blocking) for _ in range(3))))

    durable = db.durable_execution(backend=backend.async_)(handler)
    arn = backend.run(lambda e, c: asyncio.run(durable.run_async(e, c)))
    end = backend.execution_end(arn)
    assert end is not None and end.status is ExecutionStatus.SUCCEEDED, end
    assert json.loads(end.result or "null") == [0, 1, 2]
    assert len(body_threads) == 3 and loop_thread[0] not in body_threads


class SlowAsyncBackend(AsyncMemoryBackend):
    """A backend whose calls take a while, as a real network round trip does."""

    async def batch_checkpoint(self, *args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(0.02)
        return await super().batch_checkpoint(*args, **kwargs)


def test_concurrent_async_steps_share_checkpoint_calls() -> None:
    backend = MemoryBackend()

    async def body(step_ctx: db.StepContext) -> str:
        await asyncio.sleep(0.005)
        return step_ctx.operation_id[:8]

    async def handler(event: Any, ctx: db.AsyncDurableContext) -> list[str]:
        return await asyncio.gather(*(ctx.step(body) for _ in range(4)))

    durable = db.durable_execution(backend=SlowAsyncBackend(backend))(handler)
    arn = backend.run(lambda e, c: asyncio.run(durable.run_async(e, c)))
    assert backend.execution_end(arn).status is ExecutionStatus.SUCCEEDED
    calls = backend.checkpoint_calls()
    assert sum(len(c.updates) for c in calls) == 8
    # Four START+SUCCEED pairs, sequentially, would be four calls; sharing needs fewer.
    assert len(calls) <= 2, [[u.action.value for u in c.updates] for c in calls]


class SlowMemoryBackend(MemoryBackend):
    """Checkpoint calls that take a while, so another branch's START is queued during one."""

    def batch_checkpoint(self, *args: Any, **kwargs: Any) -> Any:
        time.sleep(0.15)
        return super().batch_checkpoint(*args, **kwargs)


class SlowerAsyncBackend(AsyncMemoryBackend):
    async def batch_checkpoint(self, *args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(0.15)
        return await super().batch_checkpoint(*args, **kwargs)


@pytest.mark.parametrize("twin_kind", ["sync", "async"])
def test_slow_start_queued_during_a_call_in_flight_is_sent_after_it(twin_kind: str) -> None:
    """A slow step's START must not wait for its body just because another branch's call
    was in flight when its 50 ms came."""
    backend = SlowMemoryBackend() if twin_kind == "sync" else MemoryBackend()
    sent_before_body_ended: list[bool] = []

    def start_sent() -> None:
        sent_before_body_ended.append(
            any(
                u.name == "slow" and u.action is A.START
                for call in backend.checkpoint_calls()
                for u in call.updates
            )
        )

    if twin_kind == "sync":

        def slow_sync(_: db.StepContext) -> str:
            time.sleep(0.5)
            start_sent()
            return "slow"

        def late_sync(c: db.DurableContext) -> str:
            time.sleep(0.03)  # the fast branch's call is in flight by now
            return c.step(slow_sync, name="slow")

        @db.durable_execution(backend=backend)
        def handler(event: Any, ctx: db.DurableContext) -> Any:
            fast = [lambda c: c.step(lambda _: "fast", name="fast"), late_sync]
            return ctx.parallel(fast).get_results()

        arn = backend.run(handler)
    else:

        async def slow_async(_: db.StepContext) -> str:
            await asyncio.sleep(0.5)
            start_sent()
            return "slow"

        async def fast_async(c: db.AsyncDurableContext) -> str:
            return await c.step(lambda _: "fast", name="fast")

        async def late_async(c: db.AsyncDurableContext) -> str:
            await asyncio.sleep(0.03)
            return await c.step(slow_async, name="slow")

        @db.durable_execution(backend=SlowerAsyncBackend(backend))
        async def async_handler(event: Any, ctx: db.AsyncDurableContext) -> Any:
            return (await ctx.parallel([fast_async, late_async])).get_results()

        arn = backend.run(lambda e, c: asyncio.run(async_handler.run_async(e, c)))
    assert backend.execution_end(arn).status is ExecutionStatus.SUCCEEDED
    assert sent_before_body_ended == [True]


@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning")
def test_an_operation_called_but_never_awaited_fails_the_invocation_naming_it() -> None:
    backend = MemoryBackend()
    ran: list[str] = []

    async def handler(event: Any, ctx: db.AsyncDurableContext) -> str:
        ctx.step(lambda _: ran.append("forgotten"), name="forgotten")  # type: ignore[unused-coroutine]
        await ctx.step(lambda _: ran.append("kept"), name="kept")
        return "done"

    durable = db.durable_execution(backend=backend.async_)(handler)
    arn = backend.run(lambda e, c: asyncio.run(durable.run_async(e, c)))
    end = backend.execution_end(arn)
    assert end is not None and end.status is ExecutionStatus.FAILED
    assert end.error is not None
    assert end.error.error_type == "durable_backend.exceptions.OperationNotAwaitedError"
    assert "ctx.step(name='forgotten')" in (end.error.error_message or "")
    assert "kept" not in (end.error.error_message or "")
    assert ran == ["kept"]


def test_operations_awaited_through_gather_and_task_groups_are_not_flagged() -> None:
    backend = MemoryBackend()

    async def handler(event: Any, ctx: db.AsyncDurableContext) -> list[int]:
        pair = await asyncio.gather(ctx.step(lambda _: 1), ctx.step(lambda _: 2))
        async with asyncio.TaskGroup() as group:
            third = group.create_task(ctx.step(lambda _: 3))
        return [*pair, third.result()]

    durable = db.durable_execution(backend=backend.async_)(handler)
    arn = backend.run(lambda e, c: asyncio.run(durable.run_async(e, c)))
    end = backend.execution_end(arn)
    assert end is not None and end.status is ExecutionStatus.SUCCEEDED, end
    assert json.loads(end.result or "null") == [1, 2, 3]


class RoundTripBackend(MemoryBackend):
    """Checkpoint calls that take ``latency`` seconds, as a network round trip does: the
    sync view sleeps through it, the async view awaits it."""

    def __init__(self, latency: float) -> None:
        super().__init__()
        self.latency = latency
        self.async_ = _AsyncRoundTrips(self)

    def checkpoint(self, *args: Any, **kwargs: Any) -> Any:
        time.sleep(self.latency)
        return super().checkpoint(*args, **kwargs)


class _AsyncRoundTrips(AsyncMemoryBackend):
    backend: RoundTripBackend

    async def batch_checkpoint(self, *args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(self.backend.latency)
        return MemoryBackend.checkpoint(self.backend, *args, **kwargs)


@pytest.mark.parametrize("latency", [0.0, 0.02], ids=["no-latency", "20ms"])
def test_group_commit_sends_a_wide_map_in_nearly_full_batches(twin: Twin, latency: float) -> None:
    """300 fast items queue 1202 updates (a START and a SUCCEED for each item's context and
    step, and the map's own). Each item waits for its SUCCEED to be durable, so one call per
    item would be 300 calls; group commit packs them into calls of up to 250 updates."""
    backend = RoundTripBackend(latency)

    def item(ctx: Any, value: int, index: int, items: Any) -> Any:
        return (yield ctx.step(lambda _: value, name="double"))

    def scenario(event: Any, ctx: Any) -> Any:
        batch = yield ctx.map(list(range(300)), twin.body(item))
        return sum(batch.get_results())

    outcome = twin.run(scenario, backend=backend)
    assert outcome.result == sum(range(300))
    sizes = [len(call.updates) for call in backend.checkpoint_calls()]
    assert sum(sizes) == 1202
    assert len(sizes) <= 2 * -(-1202 // 250) + 1, sizes

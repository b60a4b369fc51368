"""The two drivers, side by side: the only code that runs user code and calls a backend.

Each runs the engine's flows (generators of effects) and performs their effects: ``Runtime``
with plain calls, a lock and a condition; ``AsyncRuntime`` with awaits. Checkpoints use group
commit: whoever needs durability and finds no call in flight sends everything queued, and
everyone else waits for that call. Nothing lingers: a flush happens when someone needs it.
"""

from __future__ import annotations

import asyncio
import heapq
import inspect
import itertools
import threading
import time
from collections.abc import Callable
from types import FunctionType
from typing import TYPE_CHECKING, Any, NoReturn

from durable_backend._backend import (
    AsyncDurableBackend,
    DurableBackend,
    async_fetch_all_operations,
    fetch_all_operations,
)
from durable_backend._engine import (
    Commit,
    Execution,
    Flow,
    RunBranches,
    RunInContext,
    RunUserCode,
    Scope,
    SuspendExecution,
)
from durable_backend._protocol import MAX_BATCH_UPDATES
from durable_backend._threads import (
    SLOW_BODY_SECONDS,
    BranchPool,
    flusher,
    ran_quick,
    start_spare,
)

if TYPE_CHECKING:
    from durable_backend._context import AsyncDurableContext, DurableContext

DEFAULT_BRANCH_THREADS = 8
COMMIT_BACKLOG = 4 * MAX_BATCH_UPDATES  # uncommitted updates before async branches stop starting
_SPAWN_BURST = 64  # async branches started between looks at that backlog


class Runtime:
    """Drives flows with plain calls; safe to share between the threads of a batch."""

    __slots__ = ("backend", "condition", "execution", "lock", "make_context")

    def __init__(
        self,
        execution: Execution,
        backend: DurableBackend,
        make_context: Callable[[Runtime, Scope], DurableContext],
    ) -> None:
        self.execution = execution
        self.backend = backend
        self.make_context = make_context
        self.lock = threading.Lock()
        self.condition = threading.Condition(self.lock)

    def drive(self, flow: Flow) -> Any:
        answer: Any = None
        error: BaseException | None = None
        while True:
            try:
                effect = flow.send(answer) if error is None else flow.throw(error)
            except StopIteration as stop:
                return stop.value
            answer = error = None
            kind = type(effect)
            if kind is Commit:
                try:
                    self.commit(effect.updates, effect.durable)  # type: ignore[union-attr]
                except (Exception, SuspendExecution) as exc:
                    error = exc
            elif kind is RunUserCode:
                try:
                    answer = self._run_body(effect)  # type: ignore[arg-type]
                except Exception as exc:
                    error = exc
                else:
                    _reject_awaitable(effect.fn, answer)  # type: ignore[union-attr]
            elif kind is RunInContext:
                scope = Scope(self.execution, effect.ids, effect.in_branch)  # type: ignore[union-attr]
                try:
                    answer = effect.fn(self.make_context(self, scope))  # type: ignore[union-attr]
                except (Exception, SuspendExecution) as exc:
                    error = exc
            elif kind is RunBranches:
                self._run_branches(effect)  # type: ignore[arg-type]
            else:
                raise SuspendExecution(effect.reason)  # type: ignore[union-attr]

    def _run_branches(self, effect: RunBranches) -> None:
        """Run branches on at most ``max_concurrency`` threads (never one per item).

        ``BranchPool`` says when threads start and park. Threads are joined in start order:
        each was started by an earlier one, so none is missed.
        """
        run = effect.run
        size = min(run.count, effect.max_concurrency or DEFAULT_BRANCH_THREADS)
        if size <= 1:
            self._branch_worker(effect, None)
            return

        def work() -> None:
            self._branch_worker(effect, pool)

        pool = BranchPool(run, size, self.lock, work)
        with self.lock:
            first = pool.spawn()
        first.start()
        threads = pool.threads
        joined = 0
        while joined < len(threads):
            thread = threads[joined]
            if thread.ident is not None:  # None: the OS refused to start it
                thread.join()
            joined += 1
        failure = self.execution.queue.failure or self.execution.fatal
        if failure is not None:
            raise failure

    def _branch_worker(self, effect: RunBranches, pool: BranchPool | None) -> None:
        """Claim and run branches until none is left (in a pool: start or park threads)."""
        run = effect.run
        lock = self.lock
        if pool is not None:
            with lock:
                pool.awake += 1
        try:
            while True:
                spare = None
                with lock:
                    index = run.claim()
                    if index is not None and pool is not None:
                        spare = pool.claimed()
                if index is None:
                    return
                started, cpu = time.monotonic(), time.thread_time()
                value: Any = None
                failure: BaseException | None = None
                flow = effect.make_flow(index)
                try:
                    value = self.drive(flow if spare is None else start_spare(flow, spare))
                except (Exception, SuspendExecution) as exc:
                    failure = exc
                except BaseException as exc:
                    with lock:
                        self.execution.fatal = self.execution.fatal or exc
                        run.reason = run.reason or run.tracker.reason()
                    return
                quick = pool is not None and ran_quick(started, cpu)
                with lock:
                    if failure is None:
                        run.succeeded(index, value)
                    elif isinstance(failure, SuspendExecution):
                        run.suspend(index)
                    else:
                        run.failed(index, failure)
                    if pool is not None:
                        pool.finished(quick)
        finally:
            if pool is not None:
                with lock:
                    pool.awake -= 1
                    pool.wake(pool.parked)

    def _run_body(self, effect: RunUserCode) -> Any:
        execution = self.execution
        queue = execution.queue
        if effect.body and queue.has_pending:
            flusher.schedule(self, queue.queued)
        return effect.fn(*effect.args)

    def commit(self, updates: tuple[Any, ...], durable: bool = True) -> None:
        with self.lock:
            ticket = self.execution.queue.add(updates)
            if durable:
                self._commit_locked(ticket)

    def settled(self, ticket: int) -> bool:
        """Whether ``ticket`` needs no flush: committed, or never committable. Lock-free: the
        counters only grow and the flags only get set, so a stale read just answers False."""
        queue = self.execution.queue
        return queue.committed >= ticket or queue.failure is not None or queue.revoked

    def overdue(self, ticket: int) -> None:
        """A body ran ``SLOW_BODY_SECONDS`` with its START queued: send what is queued.

        With another call in flight, look again later rather than block the shared flusher
        thread on it (or forget the START until the body ends).
        """
        with self.lock:
            queue = self.execution.queue
            if queue.failure is not None or queue.revoked or queue.is_committed(ticket):
                return
            if queue.in_flight:
                flusher.schedule(self, ticket)
            else:
                self._commit_locked(ticket)

    def _commit_locked(self, ticket: int) -> None:
        execution = self.execution
        queue = execution.queue
        while not queue.is_committed(ticket):
            if queue.in_flight:
                self.condition.wait()
                continue
            batch = queue.take()
            self.lock.release()
            try:
                output = self.backend.batch_checkpoint(execution.arn, batch.token, batch.updates)
                operations, marker = output_operations(output)
                if marker:
                    operations += tuple(
                        fetch_all_operations(
                            self.backend, execution.arn, output.checkpoint_token or "", marker
                        )
                    )
            except BaseException as exc:
                self.lock.acquire()
                queue.fail(exc)
                self.condition.notify_all()
                raise
            self.lock.acquire()
            queue.finish(batch, output)
            execution.apply(operations)
            self.condition.notify_all()


class AsyncRuntime:
    """Drives flows with awaits on one event loop; no threads of its own.

    While branches run concurrently, a committer yields to the loop once before it leads a
    call, so branches that are ready to commit join the same batch (no timer, no linger).
    """

    __slots__ = (
        "_background",
        "_branches",
        "_idle",
        "_order",
        "_waiters",
        "backend",
        "execution",
        "make_context",
    )

    def __init__(
        self,
        execution: Execution,
        backend: AsyncDurableBackend,
        make_context: Callable[[AsyncRuntime, Scope], AsyncDurableContext],
    ) -> None:
        self.execution = execution
        self.backend = backend
        self.make_context = make_context
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._idle: asyncio.Future[None] | None = None
        self._background: set[asyncio.Future[None]] = set()
        self._branches = 0

    async def drive(self, flow: Flow) -> Any:
        answer: Any = None
        error: BaseException | None = None
        while True:
            try:
                effect = flow.send(answer) if error is None else flow.throw(error)
            except StopIteration as stop:
                return stop.value
            answer = error = None
            kind = type(effect)
            if kind is Commit:
                try:
                    await self.commit(effect.updates, effect.durable)  # type: ignore[union-attr]
                except (Exception, SuspendExecution) as exc:
                    error = exc
            elif kind is RunUserCode:
                try:
                    answer = await self._run_body(effect)  # type: ignore[arg-type]
                except Exception as exc:
                    error = exc
            elif kind is RunInContext:
                scope = Scope(self.execution, effect.ids, effect.in_branch)  # type: ignore[union-attr]
                try:
                    answer = effect.fn(self.make_context(self, scope))  # type: ignore[union-attr]
                    if inspect.isawaitable(answer):
                        answer = await answer
                except (Exception, SuspendExecution) as exc:
                    error = exc
            elif kind is RunBranches:
                await self._run_branches(effect)  # type: ignore[arg-type]
            else:
                await self._wait_idle()
                raise SuspendExecution(effect.reason)  # type: ignore[union-attr]

    async def _run_branches(self, effect: RunBranches) -> None:
        """Run branches as tasks on this loop, started in index order: at most
        ``max_concurrency`` at a time, and none while a few calls' worth of updates wait to
        be committed. So a wide map holds a bounded set of waiting branches (memory, and the
        garbage collector's time), not one suspended task per item.
        """
        run = effect.run
        limit = effect.max_concurrency or run.count
        if min(limit, run.count) <= 1:
            while (index := run.claim()) is not None:
                await self._run_branch(effect, index)
            return
        loop = asyncio.get_running_loop()
        queue = self.execution.queue
        running: set[asyncio.Task[None]] = set()
        slot: list[asyncio.Future[None]] = []

        def finished(task: asyncio.Task[None]) -> None:
            running.discard(task)
            self._branches -= 1
            if slot and not slot[0].done():
                slot[0].set_result(None)

        try:
            while True:
                while queue.queued - queue.committed >= COMMIT_BACKLOG:
                    await self.commit((), True)
                while len(running) >= limit:
                    slot[:] = [loop.create_future()]
                    await slot[0]
                if (index := run.claim()) is None:
                    break
                task = loop.create_task(self._run_branch(effect, index))
                self._branches += 1
                running.add(task)
                task.add_done_callback(finished)
                if index % _SPAWN_BURST == _SPAWN_BURST - 1:
                    await asyncio.sleep(0)  # let the burst run up to its commits
        except BaseException:
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
            raise
        await asyncio.gather(*running)

    async def _run_branch(self, effect: RunBranches, index: int) -> None:
        run = effect.run
        try:
            value = await self.drive(effect.make_flow(index))
        except SuspendExecution:
            run.suspend(index)
        except Exception as exc:
            run.failed(index, exc)
        else:
            run.succeeded(index, value)

    async def _run_body(self, effect: RunUserCode) -> Any:
        execution = self.execution
        if not effect.body:
            result = effect.fn(*effect.args)
            return (await result) if inspect.isawaitable(result) else result
        queue = execution.queue
        timer = None
        execution.active_bodies += 1
        try:
            result = effect.fn(*effect.args)
            if inspect.isawaitable(result):
                # Only an awaiting body lets the loop run a timer; a plain one has finished.
                if queue.has_pending:
                    timer = asyncio.get_running_loop().call_later(
                        SLOW_BODY_SECONDS, self._flush_soon, queue.queued
                    )
                result = await result
            return result
        finally:
            execution.active_bodies -= 1
            if timer is not None:
                timer.cancel()
            self._maybe_idle()

    def _flush_soon(self, ticket: int) -> None:
        """A body ran ``SLOW_BODY_SECONDS`` with its START queued: send it, after the call in
        flight if there is one."""
        queue = self.execution.queue
        if queue.failure is None and not queue.revoked and not queue.is_committed(ticket):
            flush = asyncio.ensure_future(self._flush_quietly(ticket))
            self._background.add(flush)
            flush.add_done_callback(self._background.discard)

    async def _flush_quietly(self, ticket: int) -> None:
        try:
            await self.commit((), True, ticket)
        except BaseException:
            return

    async def commit(
        self, updates: tuple[Any, ...], durable: bool = True, ticket: int | None = None
    ) -> None:
        execution = self.execution
        queue = execution.queue
        added = queue.add(updates)
        if not durable:
            return
        target = added if ticket is None else ticket
        while not queue.is_committed(target):
            if queue.in_flight:
                await self._after_flight(target)
                continue
            if self._branches > 1:
                await asyncio.sleep(0)
                if queue.in_flight or queue.is_committed(target):
                    continue
            batch = queue.take()
            try:
                output = await self.backend.batch_checkpoint(
                    execution.arn, batch.token, batch.updates
                )
                operations, marker = output_operations(output)
                if marker:
                    operations += tuple(
                        await async_fetch_all_operations(
                            self.backend, execution.arn, output.checkpoint_token or "", marker
                        )
                    )
            except BaseException as exc:
                queue.fail(exc)
                self._landed()
                raise
            queue.finish(batch, output)
            execution.apply(operations)
            self._landed()

    def _after_flight(self, target: int) -> asyncio.Future[None]:
        """Resolves once a call lands that commits ``target``, or leaves this waiter to lead
        the next call. Waking every waiter on every landing would make a wide map quadratic.
        """
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (target, next(self._order), waiter))
        return waiter

    def _landed(self) -> None:
        """A call landed: release the waiters it committed (all of them if nothing more can
        be committed), then wake the lowest remaining one to lead the next call."""
        queue = self.execution.queue
        waiters = self._waiters
        finished = queue.failure is not None or queue.revoked
        while waiters and (finished or waiters[0][0] <= queue.committed):
            _resolve(heapq.heappop(waiters)[2])
        while waiters:
            if _resolve(heapq.heappop(waiters)[2]):
                break
        self._maybe_idle()

    async def _wait_idle(self) -> None:
        """Let concurrently running operations of this invocation finish before suspending."""
        execution = self.execution
        while execution.active_bodies or execution.queue.in_flight:
            if self._idle is None or self._idle.done():
                self._idle = asyncio.get_running_loop().create_future()
            await self._idle

    def _maybe_idle(self) -> None:
        idle = self._idle
        if idle is not None and not idle.done():
            execution = self.execution
            if not execution.active_bodies and not execution.queue.in_flight:
                idle.set_result(None)


def _resolve(waiter: asyncio.Future[None]) -> bool:
    """Wake ``waiter``; False if it was already cancelled."""
    if waiter.done():
        return False
    waiter.set_result(None)
    return True


def output_operations(output: Any) -> tuple[tuple[Any, ...], str]:
    state = output.new_execution_state
    if state is None:
        return (), ""
    return tuple(state.operations), state.next_marker or ""


def _reject_awaitable(fn: Callable[..., Any], result: Any) -> None:
    """A sync body that returns an awaitable is a programming error, not a failed attempt."""
    if inspect.isawaitable(result):
        if inspect.iscoroutine(result):
            result.close()
        raise TypeError(
            f"{_name(fn)} returned an awaitable in a sync durable context. Use an async "
            "handler (AsyncDurableContext) for async code, or call it synchronously."
        )


def _name(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)


def reject_coroutine_function(fn: Callable[..., Any], what: str) -> None:
    """The sync twin refuses ``async def`` bodies up front instead of retrying a TypeError."""
    if fn.__class__ is FunctionType and "_is_coroutine_marker" not in fn.__dict__:
        # A plain function (the usual lambda or closure): its code flags say it all, and
        # reading them is a tenth of what ``inspect`` costs on every step.
        if fn.__code__.co_flags & inspect.CO_COROUTINE:
            _refuse_async(fn, what)
        return
    if inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004
    ):
        _refuse_async(fn, what)


def _refuse_async(fn: Callable[..., Any], what: str) -> NoReturn:
    raise TypeError(
        f"{what} got the async function {_name(fn)} in a sync DurableContext. Use a plain "
        "function here, or write the handler as `async def` to get an AsyncDurableContext."
    )


"""The two drivers, side by side: the only code that runs user code and calls a backend.

Each steps the engine's flows and performs their effects: ``Runtime`` with plain calls,
threads, a lock and a condition; ``AsyncRuntime`` with tasks and awaits. Every decision (group
commit, tokens, paging, deltas, when a slow body's START goes out, how wide a batch runs, who
leads the next call) is the engine's: the drivers make the calls it asks for and wait where it
says.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import threading
import time
import types
from collections.abc import Awaitable, Callable, Coroutine, Generator
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from functools import partial
from types import CoroutineType
from typing import TYPE_CHECKING, Any

from durable_backend._annotations import is_coroutine_function
from durable_backend._async_bodies import BodyWatch
from durable_backend._backend import AsyncDurableBackend, DurableBackend
from durable_backend._engine import (
    SLOW_BODY_SECONDS,
    AwaitLanding,
    BatchRun,
    BodyTimedOut,
    CallCheckpoint,
    Commit,
    Execution,
    FetchState,
    Flow,
    Landed,
    LetOthersJoin,
    RunBranches,
    RunInContext,
    RunUserCode,
    Scope,
    SendApart,
    Suspend,
    SuspendExecution,
    apart_flow,
    commit_flow,
)
from durable_backend._engine._batch_flows import after_first_effect
from durable_backend._engine._commits import CallFlow
from durable_backend._engine._flows import FailedAttempt
from durable_backend._threads import call_with_timeout, timers

if TYPE_CHECKING:
    from durable_backend._context import AsyncDurableContext, DurableContext

_SPAWN_BURST = 16  # async branches started between looks at that backlog
_BODY_THREADS = 32  # the async twin's executor for plain (sync) step bodies


class Runtime:
    """Drives flows with plain calls; safe to share between the threads of a batch."""

    __slots__ = ("_condition", "backend", "lock", "make_context")

    def __init__(
        self, backend: DurableBackend, make_context: Callable[[Runtime, Scope], DurableContext]
    ) -> None:
        self.backend = backend
        self.make_context = make_context
        self.lock = threading.Lock()
        self._condition: threading.Condition | None = None

    def _waiting_room(self) -> threading.Condition:
        """Where a call's leader lets other branches join (``LetOthersJoin``), made (under the
        lock) by the first to gather: an invocation without concurrent branches, most of
        them, never builds it."""
        if self._condition is None:
            self._condition = threading.Condition(self.lock)
        return self._condition

    def drive(self, flow: Flow) -> Any:
        return _run(flow, self._perform)

    def _perform(self, effect: Any) -> Any:
        return _SYNC[type(effect)](self, effect)

    def _commit(self, effect: Commit) -> None:
        self._protocol(commit_flow(effect.execution, effect.updates, effect.durable))

    def _protocol(self, flow: CallFlow) -> Any:
        with self.lock:
            return _run(flow, self._locked)

    def _locked(self, effect: Any) -> Any:
        """Perform a protocol effect holding the lock; release it only for the calls."""
        kind = type(effect)
        if kind is AwaitLanding:
            landings = effect.execution.queue.landings
            landings.wait(effect.ticket, _Wakeup(self.lock)).wait()
        elif kind is Landed:
            queue = effect.execution.queue
            queue.landings.landed(queue, _Wakeup.wake)
        elif kind is LetOthersJoin:
            self._waiting_room().wait(effect.seconds)
        elif kind is SendApart:
            send = partial(self._protocol, apart_flow(effect.execution))
            timers.at(time.monotonic(), _always, send)
        else:
            self.lock.release()
            try:
                return self._call(effect)
            finally:
                self.lock.acquire()
        return None

    def _call(self, effect: CallCheckpoint | FetchState) -> Any:
        if type(effect) is CallCheckpoint:
            return self.backend.batch_checkpoint(effect.arn, effect.token, effect.updates)
        return self.backend.get_execution_state(effect.arn, effect.token, effect.marker)  # type: ignore[union-attr]

    def _run_user_code(self, effect: RunUserCode) -> Any:
        ticket = effect.execution.queue.slow_body_ticket()
        deadline, on_deadline = effect.deadline, effect.on_deadline
        if effect.timeout is None and deadline is not None and on_deadline is not None:
            return self._before_deadline(effect, on_deadline, deadline, ticket)
        if ticket is not None:
            self._flush_if_slow(effect.execution, ticket)
        if effect.timeout is not None:
            return call_with_timeout(effect.fn, effect.args, effect.timeout)
        return effect.fn(*effect.args)

    def _before_deadline(
        self, effect: RunUserCode, attempt: FailedAttempt, seconds: float, ticket: int | None
    ) -> Any:
        """Run the body here. If it still runs at the deadline, checkpoint its attempt as cut
        off meanwhile (under the lock the body's end takes, so the flow's flush carries it).

        One timer entry per body, not two: a body that ends within ``SLOW_BODY_SECONDS`` (most
        do) never needs the deadline's, so that one is armed by the slow-body flush."""
        execution = effect.execution
        start = time.monotonic()
        deadline = start + seconds

        def passed() -> None:
            with self.lock, suppress(BaseException):  # a failed call: the flow's flush says so
                if updates := attempt.cut_off(seconds):
                    _run(commit_flow(execution, updates, True), self._locked)

        if ticket is None or seconds <= SLOW_BODY_SECONDS:
            if ticket is not None:
                self._flush_if_slow(execution, ticket)
            if seconds <= 0:
                raise BodyTimedOut(seconds)
            timers.at(deadline, attempt.running, passed)
        else:

            def slow() -> None:
                if _unsettled(execution, ticket):
                    self._overdue(execution, ticket)
                if attempt.running():
                    timers.at(deadline, attempt.running, passed)

            timers.at(
                start + SLOW_BODY_SECONDS,
                lambda: attempt.running() or _unsettled(execution, ticket),
                slow,
            )
        try:
            value = effect.fn(*effect.args)
        except BaseException:
            if not self._cut_off(attempt):
                raise
            raise BodyTimedOut(seconds, recorded=True) from None
        if self._cut_off(attempt):
            raise BodyTimedOut(seconds, recorded=True)
        return value

    def _cut_off(self, attempt: FailedAttempt) -> bool:
        with self.lock:
            return attempt.body_ended()

    def _flush_if_slow(self, execution: Execution, ticket: int) -> None:
        due = time.monotonic() + SLOW_BODY_SECONDS
        overdue = partial(self._overdue, execution, ticket)
        timers.at(due, partial(_unsettled, execution, ticket), overdue)

    def _overdue(self, execution: Execution, ticket: int) -> None:
        with self.lock:
            due = execution.queue.flush_apart(ticket)
        if due:
            self._protocol(apart_flow(execution))

    def _run_in_context(self, effect: RunInContext) -> Any:
        return effect.fn(self.make_context(self, effect.scope))

    def _run_branches(self, effect: RunBranches) -> None:
        """Run branches on a standard executor of ``effect.width`` threads. Each branch is
        submitted once the one before it queued its START, so branches start in index order,
        quick ones reuse an idle thread and only blocking ones make the executor start more."""
        run, lock, size = effect.run, self.lock, effect.width
        if size <= 1:
            while (index := self._claim(run)) is not None:
                self._branch(effect, index)
            return
        idle = threading.Condition(lock)
        with ThreadPoolExecutor(size, thread_name_prefix="durable-backend-branch") as pool:

            def submit() -> None:
                if (index := self._claim(run)) is not None:
                    try:
                        pool.submit(self._branch, effect, index, submit, idle)
                    except RuntimeError as error:  # the OS refused a thread: that branch fails
                        self._report(run, index, None, error, idle)

            submit()
            with lock:
                while run.running:
                    idle.wait()

    def _claim(self, run: BatchRun) -> int | None:
        with self.lock:
            return run.claim()

    def _branch(
        self,
        effect: RunBranches,
        index: int,
        then: Callable[[], None] | None = None,
        idle: threading.Condition | None = None,
    ) -> None:
        value: Any = None
        error: BaseException | None = None
        flow = effect.make_flow(index)
        try:
            value = self.drive(flow if then is None else after_first_effect(flow, then))
        except BaseException as exc:
            error = exc
        self._report(effect.run, index, value, error, idle)

    def _report(
        self,
        run: BatchRun,
        index: int,
        value: Any,
        error: BaseException | None,
        idle: threading.Condition | None = None,
    ) -> None:
        with self.lock:
            run.report(index, value, error)
            if idle is not None and not run.running:
                idle.notify()

    def _suspend(self, effect: Suspend) -> None:
        raise SuspendExecution(effect.reason)


class _Wakeup:
    """A thread waiting for a landing under the runtime's lock, woken on its own."""

    __slots__ = ("condition", "gone", "woken")

    def __init__(self, lock: threading.Lock) -> None:
        self.condition = threading.Condition(lock)
        self.woken = self.gone = False

    def wait(self) -> None:
        try:
            while not self.woken:
                self.condition.wait()
        finally:
            self.gone = not self.woken  # interrupted: a landing must wake someone else

    def wake(self) -> bool:
        if self.gone:
            return False
        self.woken = True
        self.condition.notify()
        return True


_SYNC: dict[type, Callable[[Runtime, Any], Any]] = {
    Commit: Runtime._commit,
    RunUserCode: Runtime._run_user_code,
    RunInContext: Runtime._run_in_context,
    RunBranches: Runtime._run_branches,
    Suspend: Runtime._suspend,
    FetchState: Runtime._call,
}


class AsyncRuntime:
    """Drives flows with awaits on one event loop. Plain (sync) step bodies run on a small
    shared executor, so they neither block the loop nor hide their START; async ones run here.
    """

    __slots__ = ("_background", "_bodies", "_busy", "_idle", "backend", "make_context")

    def __init__(
        self,
        backend: AsyncDurableBackend,
        make_context: Callable[[AsyncRuntime, Scope], AsyncDurableContext],
    ) -> None:
        self.backend = backend
        self.make_context = make_context
        self._idle: asyncio.Future[None] | None = None
        self._background: set[asyncio.Future[Any]] = set()
        self._busy = 0  # bodies running and calls in flight: a suspension waits for none
        self._bodies = BodyWatch()

    def drive(self, flow: Flow) -> Coroutine[Any, Any, Any]:
        return _run_async(flow, self._perform)

    def _perform(self, effect: Any) -> Awaitable[Any] | None:
        return _ASYNC[type(effect)](self, effect)  # type: ignore[no-any-return]

    def _commit(self, effect: Commit) -> Awaitable[None] | None:
        return self._io(commit_flow(effect.execution, effect.updates, effect.durable))

    def _io(self, flow: CallFlow) -> Awaitable[None] | None:
        """Step a protocol flow here while it asks for nothing to wait on, as a commit that
        needs no durability does; from its first wait on, it goes on as a coroutine, returned
        to be awaited (None: it has ended)."""
        pending, _ = _advance(flow, self._protocol, None, None)
        return None if pending is None else _run_async(flow, self._protocol, pending)

    def _protocol(self, effect: Any) -> Awaitable[Any] | None:
        """Perform a protocol effect: at once (None), or as what to await for its answer."""
        kind = type(effect)
        if kind is AwaitLanding:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            effect.execution.queue.landings.wait(effect.ticket, waiter)
            return waiter
        if kind is Landed:
            queue = effect.execution.queue
            queue.landings.landed(queue, _resolve)
        elif kind is LetOthersJoin:
            return asyncio.sleep(0)
        elif kind is SendApart:
            self._apart(apart_flow(effect.execution))
        else:
            return self._call(effect)
        return None

    async def _call(self, effect: CallCheckpoint | FetchState) -> Any:
        self._busy += 1
        try:
            if type(effect) is CallCheckpoint:
                return await self.backend.batch_checkpoint(effect.arn, effect.token, effect.updates)
            return await self.backend.get_execution_state(effect.arn, effect.token, effect.marker)  # type: ignore[union-attr]
        finally:
            self._busy -= 1
            self._maybe_idle()

    async def _run_user_code(self, effect: RunUserCode) -> Any:
        """Await the body, under its timeout or the invocation's deadline (``seconds``).

        A body that ends without waiting (most async ones) can neither run long nor outrun the
        deadline meanwhile: the loop does nothing else until it ends. So its first part runs
        here, and only a body that waits joins ``BodyWatch``, which sends its queued START
        once it has run ``SLOW_BODY_SECONDS`` and only then arms its deadline."""
        execution, limit, seconds = effect.execution, effect.timeout, effect.deadline
        if limit is None and seconds is not None and seconds <= 0:
            raise BodyTimedOut(seconds)
        deadline = seconds if limit is None else None
        ticket = execution.queue.slow_body_ticket()
        watched = None
        self._busy += 1
        try:
            body = self._body(effect.fn, effect.args)
            if limit is not None:
                body = _within(body, limit)
            if ticket is not None or deadline is not None:
                loop = asyncio.get_running_loop()
                started = loop.time()
                try:
                    waiting_for = body.send(None)
                except StopIteration as ended:
                    return ended.value
                flush = None if ticket is None else partial(self._flush_soon, execution, ticket)
                watched = self._bodies.start(loop, started, flush, deadline)
                body = _go_on(body, waiting_for)
            value = await body
        except BaseException as error:
            if watched is not None and self._bodies.end(watched, error):
                raise BodyTimedOut(seconds or 0.0) from None
            raise
        else:
            if watched is not None and self._bodies.end(watched, None):
                raise BodyTimedOut(seconds or 0.0)
            return value
        finally:
            self._busy -= 1
            self._maybe_idle()

    @staticmethod
    def _body(fn: Callable[..., Any], args: tuple[Any, ...]) -> Coroutine[Any, Any, Any]:
        """An ``async def`` body's own coroutine, or a plain one's run on the executor."""
        if is_coroutine_function(fn):
            return fn(*args)  # type: ignore[no-any-return]
        return _in_executor(fn, args)

    def _flush_soon(self, execution: Execution, ticket: int) -> None:
        """A body ran ``SLOW_BODY_SECONDS`` with its START queued: send it (``flush_apart``)."""
        if execution.queue.flush_apart(ticket):
            self._apart(apart_flow(execution))

    def _apart(self, flow: CallFlow) -> None:
        """Run ``flow`` as a task of its own, which nobody awaits."""
        task = asyncio.ensure_future(self._quietly(flow))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _quietly(self, flow: CallFlow) -> None:
        try:
            if (pending := self._io(flow)) is not None:
                await pending
        except BaseException:
            return  # the queue records a failure; whoever needs durability sees it

    def _run_in_context(self, effect: RunInContext) -> Awaitable[Any]:
        """The body's own awaitable, awaited by the flow's runner with no coroutine between;
        a plain body's value, as an awaitable that has it."""
        answer = effect.fn(self.make_context(self, effect.scope))
        if type(answer) is CoroutineType or inspect.isawaitable(answer):
            return answer
        done = asyncio.get_running_loop().create_future()
        done.set_result(answer)
        return done

    async def _run_branches(self, effect: RunBranches) -> None:
        """Run branches as tasks on this loop, started in index order: at most
        ``effect.width`` at a time, and none while ``run.backlog()`` waits to land."""
        run, limit = effect.run, effect.width
        loop = asyncio.get_running_loop()
        running: set[asyncio.Task[None]] = set()
        slot: list[asyncio.Future[None]] = []

        def finished(task: asyncio.Task[None]) -> None:
            running.discard(task)
            if slot and not slot[0].done():
                slot[0].set_result(None)

        if limit <= 1:
            while (index := run.claim()) is not None:
                await self._run_branch(effect, index)
            return
        try:
            while True:
                while (ticket := run.backlog()) is not None:
                    pending = self._io(commit_flow(run.execution, (), True, ticket))
                    if pending is not None:
                        await pending
                while len(running) >= limit:
                    slot[:] = [loop.create_future()]
                    await slot[0]
                if (index := run.claim()) is None:
                    break
                task = loop.create_task(self._run_branch(effect, index))
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
        value: Any = None
        error: BaseException | None = None
        try:
            value = await self.drive(effect.make_flow(index))
        except BaseException as exc:
            error = exc
        effect.run.report(index, value, error)

    async def _suspend(self, effect: Suspend) -> None:
        """Let concurrently running work of this invocation finish, then suspend."""
        while self._busy:
            if self._idle is None or self._idle.done():
                self._idle = asyncio.get_running_loop().create_future()
            await self._idle
        raise SuspendExecution(effect.reason)

    def _maybe_idle(self) -> None:
        if not self._busy and self._idle is not None and not self._idle.done():
            self._idle.set_result(None)


_ASYNC: dict[type, Callable[[AsyncRuntime, Any], Any]] = {
    Commit: AsyncRuntime._commit,
    RunUserCode: AsyncRuntime._run_user_code,
    RunInContext: AsyncRuntime._run_in_context,
    RunBranches: AsyncRuntime._run_branches,
    Suspend: AsyncRuntime._suspend,
    FetchState: AsyncRuntime._call,
}


def _run(flow: Generator[Any, Any, Any], perform: Callable[[Any], Any]) -> Any:
    """Step ``flow`` to its end, answering each effect with ``perform(effect)`` or throwing
    what it raised (the flow decides what an error means)."""
    answer: Any = None
    error: BaseException | None = None
    while True:
        try:
            effect = flow.send(answer) if error is None else flow.throw(error)
        except StopIteration as stop:
            return stop.value
        try:
            answer, error = perform(effect), None
        except BaseException as exc:
            answer, error = None, exc


async def _run_async(
    flow: Generator[Any, Any, Any],
    perform: Callable[[Any], Awaitable[Any] | None],
    pending: Awaitable[Any] | None = None,
) -> Any:
    """``_run`` for the async twin: what ``perform`` returns is awaited for the answer
    (``_advance``); ``pending`` answers the flow's effect in hand, if it has one."""
    answer: Any = None
    error: BaseException | None = None
    while True:
        if pending is not None:
            try:
                answer, error = await pending, None
            except BaseException as exc:
                answer, error = None, exc
        pending, value = _advance(flow, perform, answer, error)
        if pending is None:
            return value
        answer = error = None


def _advance(
    flow: Generator[Any, Any, Any],
    perform: Callable[[Any], Awaitable[Any] | None],
    answer: Any,
    error: BaseException | None,
) -> tuple[Awaitable[Any] | None, Any]:
    """Step ``flow`` from ``answer`` (or ``error``), performing in place each effect that
    ``perform`` does at once (it returns None; the answer is None), up to the first whose
    answer must be awaited: ``(that awaitable, None)``, or ``(None, result)`` once it ends."""
    while True:
        try:
            effect = flow.send(answer) if error is None else flow.throw(error)
        except StopIteration as stop:
            return None, stop.value
        try:
            pending = perform(effect)
        except BaseException as exc:
            answer, error = None, exc
            continue
        if pending is not None:
            return pending, None
        answer = error = None


def _always() -> bool:
    return True


def _unsettled(execution: Execution, ticket: int) -> bool:
    return not execution.queue.settled(ticket)


def _resolve(waiter: asyncio.Future[None]) -> bool:
    """Wake ``waiter``; False if it was already cancelled."""
    if waiter.done():
        return False
    waiter.set_result(None)
    return True


async def _within(body: Coroutine[Any, Any, Any], seconds: float) -> Any:
    """Await ``body`` for at most ``seconds``, then cancel it and throw ``BodyTimedOut``. A
    plain body on the executor keeps its thread until it returns: only the wait is cancelled.
    (Not ``asyncio.wait_for``: a body's own ``TimeoutError`` must stay the body's.)"""
    if seconds <= 0:
        body.close()
        raise BodyTimedOut(seconds)
    task = asyncio.ensure_future(body)
    done, _ = await asyncio.wait((task,), timeout=seconds)
    if not done:
        task.cancel()
        task.add_done_callback(_retrieve)
        raise BodyTimedOut(seconds)
    return task.result()


async def _in_executor(fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    """A plain body on the async twin's executor, in a copy of this context."""
    context = contextvars.copy_context()
    result = await asyncio.get_running_loop().run_in_executor(
        _body_executor(), partial(context.run, fn, *args)
    )
    return (await result) if inspect.isawaitable(result) else result


@types.coroutine
def _go_on(body: Coroutine[Any, Any, Any], waiting_for: Any) -> Generator[Any, Any, Any]:
    """Await ``body`` from where its first part left it, waiting for ``waiting_for``: what
    ``await`` does, by hand, once the first part has run outside it."""
    while True:
        try:
            sent = yield waiting_for
        except BaseException as error:  # a cancellation, thrown in by the task
            try:
                waiting_for = body.throw(error)
            except StopIteration as ended:
                return ended.value
        else:
            try:
                waiting_for = body.send(sent)
            except StopIteration as ended:
                return ended.value


def _retrieve(task: asyncio.Future[Any]) -> None:
    """Read an abandoned body's outcome so asyncio does not log it as never retrieved."""
    if not task.cancelled():
        task.exception()


_executor: list[ThreadPoolExecutor] = []


def _body_executor() -> ThreadPoolExecutor:
    """The async twin's bounded pool for plain step bodies, made on first use."""
    if not _executor:
        _executor.append(
            ThreadPoolExecutor(_BODY_THREADS, thread_name_prefix="durable-backend-body")
        )
    return _executor[0]

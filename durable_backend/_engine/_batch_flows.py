"""``map``, ``parallel`` and ``wait_for_condition`` as flows.

A batch is a child context (its whole ``BatchResult`` goes through the batch serdes) whose
items are child contexts too, with ids taken in index order before anything runs, so ids never
depend on completion order. FLAT nesting makes the items virtual: they checkpoint nothing and
their operations report the batch. The driver runs the items (threads or tasks) through
``RunBranches`` and reports each outcome to a ``BatchRun``, whose bookkeeping is O(1) per
completion.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from attrs import frozen

from durable_backend._batch import (
    BatchItem,
    BatchResult,
    CompletionReason,
    CompletionRecord,
    CompletionTracker,
    batch_summary,
)
from durable_backend._body_roles import orchestration_body, step_body
from durable_backend._config import (
    BatchItemStatus,
    CompletionConfig,
    MapConfig,
    NestingType,
    ParallelBranch,
    ParallelConfig,
    SummaryGenerator,
)
from durable_backend._engine._checkpoints import SuspendExecution
from durable_backend._engine._effects import Commit, RunBranches, RunUserCode
from durable_backend._engine._execution import Execution
from durable_backend._engine._flows import (
    Child,
    Flow,
    Scope,
    child_flow,
    error_object,
    reject_awaitable,
    resolved_name,
)
from durable_backend._engine._ids import IdSequence, operation_id
from durable_backend._engine._instrumentation import reported
from durable_backend._engine._requests import (
    MapRequest,
    ParallelRequest,
    WaitForConditionRequest,
)
from durable_backend._errors import WaitForConditionError
from durable_backend._models import (
    ErrorObject,
    OperationAction,
    OperationStatus,
    OperationSubType,
    OperationType,
    StepOptions,
)
from durable_backend._protocol import MAX_BATCH_UPDATES
from durable_backend._serdes import BATCH_SERDES, JSON_SERDES, SerDes

COMMIT_BACKLOG = 8 * MAX_BATCH_UPDATES
"""Uncommitted updates past which a batch starts no more branches until a call lands: room
for the two STARTs of 1000 items whose bodies all block, so all of them run at once."""

Branch = tuple[str | None, Callable[..., Any]]
"""An item's own name (None: the default ``{prefix}{index}``) and its body."""


@frozen
class Batch:
    """What a map or parallel runs and how. ``branch(index)`` makes an item's name and body
    when it is claimed, so a wide map holds nothing per item that has not started."""

    sub_type: str
    item_sub_type: str
    name_prefix: str
    count: int
    branch: Callable[[int], Branch]
    completion: CompletionConfig
    max_concurrency: int | None
    nesting: NestingType
    serdes: SerDes[Any]
    item_serdes: SerDes[Any]
    summary: SummaryGenerator | None

    @classmethod
    def of(
        cls,
        config: MapConfig[Any] | ParallelConfig,
        kind: OperationSubType,
        count: int,
        branch: Callable[[int], Branch],
    ) -> Batch:
        """A map's or parallel's batch: ``serdes`` writes the whole BatchResult and, without
        ``item_serdes``, each item."""
        is_map = kind is OperationSubType.MAP
        return cls(
            sub_type=kind.value,
            item_sub_type=(
                OperationSubType.MAP_ITERATION if is_map else OperationSubType.PARALLEL_BRANCH
            ).value,
            name_prefix="map-item-" if is_map else "parallel-branch-",
            count=count,
            branch=branch,
            completion=config.completion_config,
            max_concurrency=config.max_concurrency,
            nesting=config.nesting_type,
            serdes=config.serdes or BATCH_SERDES,
            item_serdes=config.item_serdes or config.serdes or JSON_SERDES,
            summary=config.summary_generator,
        )


_DEFAULT_PARALLEL = ParallelConfig()


def map_flow(scope: Scope, op_id: str, request: MapRequest) -> Flow:
    """``map``: ``func(ctx, item, index, items)`` per item, each named by ``item_namer``."""
    config: MapConfig[Any] = request.config or MapConfig()
    items, namer = request.items, config.item_namer
    func = orchestration_body(request.func)

    def branch(index: int) -> Branch:
        item = items[index]
        own_name = namer(item, index) if namer is not None else None
        return own_name, lambda ctx: func(ctx, item, index, items)

    batch = Batch.of(config, OperationSubType.MAP, len(items), branch)
    return batch_flow(scope, op_id, resolved_name(request.name, func), batch)


def parallel_flow(scope: Scope, op_id: str, request: ParallelRequest) -> Flow:
    """``parallel``: each branch ``branch(ctx)``; a ``ParallelBranch`` names its own."""
    named = [
        (branch.name if isinstance(branch, ParallelBranch) else None, orchestration_body(branch))
        for branch in request.branches
    ]
    batch = Batch.of(
        request.config or _DEFAULT_PARALLEL, OperationSubType.PARALLEL, len(named),
        named.__getitem__,
    )
    return batch_flow(scope, op_id, request.name, batch)


class BatchRun:
    """Which branch runs next, what each produced, and whether the batch is complete.

    The driver claims a branch, runs its flow and reports exactly one outcome for it:
    ``succeeded``, ``failed``, ``suspend``, or ``abort`` when the branch ended the whole
    invocation (a failed checkpoint, a crash). Counts running branches on the execution, so
    the checkpoint protocol knows when a call is worth sharing. A ``should_complete``
    predicate that raises ends the batch; its error is kept in ``error`` for the flow to raise
    (the drivers call these methods from their workers). Given the ``record`` of a finished
    batch, it replays exactly the items that finished and decides nothing.
    """

    __slots__ = (
        "count",
        "error",
        "execution",
        "fatal",
        "next_index",
        "outcomes",
        "reason",
        "record",
        "running",
        "suspended",
        "tracker",
    )

    def __init__(
        self,
        execution: Execution,
        count: int,
        completion: CompletionConfig,
        names: Callable[[int], str | None] | None = None,
        record: CompletionRecord | None = None,
    ) -> None:
        self.execution = execution
        self.record = record
        self.count = count if record is None else min(count, record.started_total)
        self.tracker = CompletionTracker(count, completion, names)
        self.next_index = 0
        self.running = 0
        """Branches claimed and not reported yet."""
        self.outcomes: dict[int, tuple[BatchItemStatus, Any, ErrorObject | None]] = {}
        self.suspended = 0
        self.fatal: BaseException | None = None
        self.error: Exception | None = None
        self.reason: CompletionReason | None = None
        self._decide()

    def _decide(self) -> None:
        if self.record is not None:
            return
        try:
            self.reason = self.tracker.decision()
        except Exception as error:
            self.error = error
            self.reason = CompletionReason.ALL_COMPLETED  # stop claiming; the flow raises

    def claim(self) -> int | None:
        """The next branch to start, or None once complete or when all have started."""
        if self.record is not None:
            while (
                self.next_index < self.count and self.next_index in self.record.started_indexes
            ):
                self.outcomes[self.next_index] = (BatchItemStatus.STARTED, None, None)
                self.next_index += 1
        if self.reason is not None or self.next_index >= self.count:
            return None
        index = self.next_index
        self.next_index += 1
        self.execution.branches += 1
        self.running += 1
        if self.tracker.watches_starts:
            self.tracker.record(index, BatchItemStatus.STARTED)
        return index

    def backlog(self) -> int | None:
        """While too many updates wait to be committed to start another branch (so a wide map
        holds a bounded set of waiting branches: memory, and the garbage collector's time),
        the ticket whose landing brings the wait under the limit; else None."""
        queue = self.execution.queue
        if queue.queued - queue.committed < COMMIT_BACKLOG:
            return None
        return queue.queued - COMMIT_BACKLOG + 1

    def succeeded(self, index: int, value: Any) -> None:
        self._finished(index, BatchItemStatus.SUCCEEDED, value, None)

    def failed(self, index: int, error: BaseException) -> None:
        self._finished(index, BatchItemStatus.FAILED, None, error_object(error))

    def _finished(
        self, index: int, status: BatchItemStatus, value: Any, error: ErrorObject | None
    ) -> None:
        self.execution.branches -= 1
        self.running -= 1
        self.outcomes[index] = (status, value, error)
        if self.reason is None:
            self.tracker.record(index, status)
            self._decide()

    def suspend(self, index: int) -> None:
        self.execution.branches -= 1
        self.running -= 1
        self.outcomes[index] = (BatchItemStatus.STARTED, None, None)
        self.suspended += 1
        if self.reason is None and self.tracker.watches_starts:
            self._decide()

    def abort(self, error: BaseException) -> None:
        """A branch ended the invocation: start no more; the driver re-raises ``fatal``."""
        self.execution.branches -= 1
        self.running -= 1
        self.fatal = self.fatal or error
        self.reason = self.reason or CompletionReason.ALL_COMPLETED

    def report(self, index: int, value: Any, error: BaseException | None) -> None:
        """Record a finished branch's outcome, whichever it was."""
        if error is None:
            self.succeeded(index, value)
        elif isinstance(error, SuspendExecution):
            self.suspend(index)
        elif isinstance(error, Exception):
            self.failed(index, error)
        else:
            self.abort(error)

    def result(self) -> BatchResult[Any]:
        assert self.reason is not None
        items = [
            BatchItem(index, status, value, error)
            for index, (status, value, error) in sorted(self.outcomes.items())
        ]
        return BatchResult(items, self.reason)


def after_first_effect(flow: Flow, then: Callable[[], None]) -> Flow:
    """``flow``, calling ``then()`` once the flow's first effect is performed (or as it ends).

    A fresh branch's first effect queues its START, so the next branch is claimed only after
    that: branches start in index order, as they would on one thread.
    """
    pending: Callable[[], None] | None = then
    answer: Any = None
    error: BaseException | None = None
    try:
        while True:
            try:
                effect = flow.send(answer) if error is None else flow.throw(error)
            except StopIteration as stop:
                return stop.value
            if pending is not None and type(effect) is not Commit:
                call, pending = pending, None
                call()
            answer = error = None
            try:
                answer = yield effect
            except BaseException as exc:
                error = exc
            if pending is not None:
                call, pending = pending, None
                call()
    finally:
        if pending is not None:
            pending()


def batch_flow(scope: Scope, op_id: str, name: str | None, batch: Batch) -> Flow:
    """A map or parallel: run its items, then checkpoint the BatchResult as a child context."""
    batch.completion.validate_for_total(batch.count)
    summary = batch_summary(
        "MapResult" if batch.sub_type == OperationSubType.MAP.value else "ParallelResult",
        batch.summary,
    )

    def body(ids: IdSequence) -> Flow:
        return _run_items(scope.execution, ids, name or op_id, batch)

    child = Child(name, batch.sub_type, body, batch.serdes, summary, internal=True)
    return (yield from child_flow(scope, op_id, child))


def _run_items(execution: Execution, ids: IdSequence, label: str, batch: Batch) -> Flow:
    # Item i's id derives from its index, from 0, as the official SDK's does (not from a
    # call count), so histories recorded by either SDK replay on the other.
    item_ids = [operation_id(ids.prefix, index) for index in range(batch.count)]
    # Items report to the batch, but their suspensions are the BatchRun's business: they mark
    # a scope of their own, so a batch that completed while an item waits is not suspended.
    inner = Scope(execution, IdSequence(ids.prefix), in_branch=True)
    virtual = batch.nesting is NestingType.FLAT
    prefix = batch.name_prefix

    def make_flow(index: int) -> Flow:
        own_name, body = batch.branch(index)
        child = Child(
            own_name if own_name is not None else f"{prefix}{index}",
            batch.item_sub_type,
            body,
            batch.item_serdes,
            in_branch=True,
            virtual=virtual,
        )
        return child_flow(inner, item_ids[index], child)

    names = None
    if batch.completion.should_complete is not None:
        names = lambda index: batch.branch(index)[0]  # noqa: E731
    record = None
    recorded = execution.operations.get(ids.prefix or "")
    if recorded is not None and recorded.context_details is not None:
        record = CompletionRecord.from_summary(recorded.context_details.result)
    run = BatchRun(execution, batch.count, batch.completion, names, record)
    yield RunBranches(make_flow, run, batch.max_concurrency)
    if run.fatal is not None:
        raise run.fatal
    if run.error is not None:
        raise run.error
    if record is not None:
        run.reason = record.completion_reason
    if run.reason is None:
        yield from Scope(execution, ids).suspend(
            f"{batch.sub_type} {label} waits for {run.suspended} item(s)"
        )
    return run.result()


@reported
def wait_for_condition_flow(scope: Scope, op_id: str, request: WaitForConditionRequest) -> Flow:
    """Poll ``check(state, ctx)``; each poll that must continue is a RETRY carrying the state."""
    name, config, check = request.name, request.config, step_body(request.check)
    sub_type = OperationSubType.WAIT_FOR_CONDITION.value
    serdes = config.serdes or JSON_SERDES
    op = scope.execution.lookup(op_id, OperationType.STEP, sub_type, name)
    attempts = 0
    state_payload: str | None = None
    started = False
    if op is not None:
        details = op.step_details
        if op.status is OperationStatus.SUCCEEDED:
            return scope.decode(serdes, details.result if details else None, op_id)
        if op.status is OperationStatus.FAILED:
            raise WaitForConditionError.from_error_object(details.error if details else None)
        if op.status is OperationStatus.PENDING:
            yield from scope.suspend(
                f"wait_for_condition {name or op_id} waits for its next poll"
            )
        attempts = (details.attempt or 0) if details else 0
        state_payload = details.result if details else None
        started = op.status is OperationStatus.STARTED

    def update(action: OperationAction, **fields: Any) -> Any:
        return scope.update(op_id, OperationType.STEP, action, sub_type, name, **fields)

    if state_payload is None:
        state_payload = scope.encode(
            serdes, config.initial_state, op_id, "wait_for_condition", name
        )
    state = scope.decode(serdes, state_payload, op_id)
    if not started:
        yield scope.commit((update(OperationAction.START),), durable=False)
    attempt = attempts + 1
    if scope.execution.hooks is not None:
        check = scope.execution.hooks.user_function(check, update(OperationAction.START), attempt)
    failure: Exception | None = None
    new_state: Any = None
    try:
        new_state = yield RunUserCode(
            check, (state, request.context(op_id, name, attempt)), scope.execution
        )
    except Exception as error:
        failure = error
    else:
        reject_awaitable(check, new_state)
    try:
        if failure is not None:
            raise failure
        payload = scope.encode(serdes, new_state, op_id, "wait_for_condition", name)
        decision = config.wait_strategy(scope.decode(serdes, payload, op_id), attempt)
    except Exception as error:
        yield scope.commit((update(OperationAction.FAIL, error=error_object(error)),))
        raise WaitForConditionError.from_error_object(error_object(error)) from error
    if decision.should_continue:
        delay = max(1, decision.delay_seconds)
        yield scope.commit(
            (
                update(
                    OperationAction.RETRY,
                    payload=payload,
                    step_options=StepOptions(next_attempt_delay_seconds=delay),
                ),
            )
        )
        yield from scope.suspend(f"wait_for_condition {name or op_id} polls again in {delay} s")
    yield scope.commit((update(OperationAction.SUCCEED, payload=payload),))
    return scope.decode(serdes, payload, op_id)

"""``map``, ``parallel`` and ``wait_for_condition`` as flows.

A batch is a CONTEXT whose branches are child CONTEXTs with ids taken in index order before
anything runs, so ids never depend on completion order. The driver runs the branches (threads
or tasks) through ``RunBranches`` and reports each outcome to a ``BatchRun``, whose bookkeeping
is O(1) per completion.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from durable_backend._batch import BatchItem, BatchItemStatus, BatchResult, CompletionTracker
from durable_backend._config import CompletionConfig, WaitForConditionConfig
from durable_backend._engine._checkpoints import SuspendExecution
from durable_backend._engine._effects import RunBranches, RunUserCode
from durable_backend._engine._execution import Execution
from durable_backend._engine._flows import (
    Flow,
    Scope,
    child_error,
    child_flow,
    context_success,
    error_object,
    reject_awaitable,
)
from durable_backend._engine._ids import IdSequence
from durable_backend._errors import WaitForConditionError
from durable_backend._models import (
    ErrorObject,
    OperationAction,
    OperationStatus,
    OperationSubType,
    OperationType,
    StepOptions,
)
from durable_backend._serdes import JSON_SERDES, SerDes

Branch = tuple[str, Callable[..., Any]]


class BatchRun:
    """Which branch runs next, what each produced, and whether the batch is complete.

    The driver claims a branch, runs its flow and reports exactly one outcome for it:
    ``succeeded``, ``failed``, ``suspend``, or ``abort`` when the branch ended the whole
    invocation (a failed checkpoint, a crash). Counts running branches on the execution, so
    the checkpoint protocol knows when a call is worth sharing.
    """

    __slots__ = (
        "count",
        "execution",
        "fatal",
        "next_index",
        "outcomes",
        "reason",
        "suspended",
        "tracker",
    )

    def __init__(self, execution: Execution, count: int, completion: CompletionConfig) -> None:
        self.execution = execution
        self.count = count
        self.tracker = CompletionTracker(count, completion)
        self.next_index = 0
        self.outcomes: dict[int, tuple[BatchItemStatus, Any, ErrorObject | None]] = {}
        self.suspended = 0
        self.reason = self.tracker.decision() if count == 0 else None
        self.fatal: BaseException | None = None

    def claim(self) -> int | None:
        """The next branch to start, or None once complete or when all have started."""
        if self.reason is not None or self.next_index >= self.count:
            return None
        index = self.next_index
        self.next_index += 1
        self.execution.branches += 1
        return index

    def succeeded(self, index: int, value: Any) -> None:
        self.execution.branches -= 1
        self.outcomes[index] = (BatchItemStatus.SUCCEEDED, value, None)
        if self.reason is None:
            self.tracker.record_success()
            self.reason = self.tracker.decision()

    def failed(self, index: int, error: BaseException) -> None:
        self.execution.branches -= 1
        self.outcomes[index] = (BatchItemStatus.FAILED, None, error_object(error))
        if self.reason is None:
            self.tracker.record_failure()
            self.reason = self.tracker.decision()

    def suspend(self, index: int) -> None:
        self.execution.branches -= 1
        self.outcomes[index] = (BatchItemStatus.STARTED, None, None)
        self.suspended += 1

    def abort(self, error: BaseException) -> None:
        """A branch ended the invocation: start no more; the driver re-raises ``fatal``."""
        self.execution.branches -= 1
        self.fatal = self.fatal or error
        self.reason = self.reason or self.tracker.reason()

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


def batch_flow(
    scope: Scope,
    op_id: str,
    name: str | None,
    sub_type: str,
    branch_sub_type: str,
    count: int,
    branch: Callable[[int], Branch],
    completion: CompletionConfig,
    max_concurrency: int | None,
    item_serdes: SerDes[Any],
    summary: Callable[[Any], str] | None,
) -> Flow:
    """A map or parallel: run ``count`` branches as child contexts and checkpoint a
    BatchResult. ``branch(index)`` makes a branch's name and body when it is claimed, so a
    wide map holds nothing per item that has not started.
    """
    execution = scope.execution
    op = execution.lookup(op_id, OperationType.CONTEXT, sub_type, name)
    completion.validate_for_total(count)
    if op is not None:
        details = op.context_details
        replay_children = bool(details and details.replay_children)
        if op.status is OperationStatus.SUCCEEDED and not replay_children:
            return _batch_result(details.result if details else None)
        if op.status is OperationStatus.FAILED:
            raise child_error(details.error if details else None)
    else:
        yield scope.commit(
            (scope.update(op_id, OperationType.CONTEXT, OperationAction.START, sub_type, name),),
            durable=False,
        )
    ids = IdSequence(op_id)
    inner = Scope(execution, ids, in_branch=True)
    branch_ids = [ids.next() for _ in range(count)]

    def make_flow(index: int) -> Flow:
        branch_name, body = branch(index)
        return child_flow(
            inner,
            branch_ids[index],
            branch_name,
            branch_sub_type,
            body,
            item_serdes,
            None,
            in_branch=True,
        )

    run = BatchRun(execution, count, completion)
    yield RunBranches(make_flow, run, max_concurrency)
    if run.fatal is not None:
        raise run.fatal
    if run.reason is None:
        yield from scope.suspend(
            f"{sub_type} {name or op_id} waits for {run.suspended} branch(es)"
        )
    result = run.result()
    if op is not None and op.status.is_terminal:
        return result
    payload = json.dumps(result.to_dict(), separators=(",", ":"))
    succeed = context_success(scope, op_id, sub_type, name, result, payload, summary)
    yield scope.commit((succeed,), durable=False)
    return result if succeed.context_options is not None else _batch_result(payload)


def _batch_result(payload: str | None) -> BatchResult[Any]:
    return BatchResult.from_dict(json.loads(payload or '{"all": []}'))


def wait_for_condition_flow(
    scope: Scope,
    op_id: str,
    name: str | None,
    check: Callable[..., Any],
    config: WaitForConditionConfig[Any],
    make_check_context: Callable[[str, str | None, int], Any],
) -> Flow:
    """Poll ``check(state, ctx)``; each poll that must continue is a RETRY carrying the state."""
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
        state_payload = scope.encode(serdes, config.initial_state, op_id, "wait_for_condition")
    state = scope.decode(serdes, state_payload, op_id)
    if not started:
        yield scope.commit((update(OperationAction.START),), durable=False)
    attempt = attempts + 1
    failure: Exception | None = None
    new_state: Any = None
    try:
        new_state = yield RunUserCode(
            check, (state, make_check_context(op_id, name, attempt)), scope.execution
        )
    except Exception as error:
        failure = error
    else:
        reject_awaitable(check, new_state)
    try:
        if failure is not None:
            raise failure
        payload = scope.encode(serdes, new_state, op_id, "wait_for_condition")
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

"""Recorded histories for the Replayer, from the local SQLite file, JSON exports, or AWS.

Each source ends as the operation log the service hands a handler on replay. JSON exports may
be a ``GetDurableExecutionState`` response (``{"Operations": [...]}``), a durable invocation
event (``{"InitialExecutionState": {"Operations": [...]}}``) or a
``GetDurableExecutionHistory`` response (``{"Events": [...]}``), whose events are folded back
into operations. Export with data included, or the replayed results are all empty::

    aws lambda get-durable-execution-history --durable-execution-arn "$ARN" \\
        --include-execution-data > histories/order-1.json
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attrs import evolve, frozen

from durable_backend._codec import event_converter
from durable_backend._models import (
    CallbackDetails,
    ChainedInvokeDetails,
    ContextDetails,
    ErrorObject,
    ExecutionDetails,
    ExecutionStatus,
    Operation,
    OperationStatus,
    OperationType,
    StepDetails,
    WaitDetails,
)
from durable_backend.local._backend import LocalBackend

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

    from durable_backend._aws_executions import AwsExecutions

_structure_operation = event_converter.get_structure_hook(Operation)
_structure_error = event_converter.get_structure_hook(ErrorObject)

_EVENT_TYPES: dict[str, OperationType] = {
    "Execution": OperationType.EXECUTION,
    "Context": OperationType.CONTEXT,
    "Step": OperationType.STEP,
    "Wait": OperationType.WAIT,
    "Callback": OperationType.CALLBACK,
    "ChainedInvoke": OperationType.CHAINED_INVOKE,
}
_EVENT_STATUSES: dict[str, OperationStatus] = {
    "Started": OperationStatus.STARTED,
    "Succeeded": OperationStatus.SUCCEEDED,
    "Failed": OperationStatus.FAILED,
    "TimedOut": OperationStatus.TIMED_OUT,
    "Stopped": OperationStatus.STOPPED,
    "Cancelled": OperationStatus.CANCELLED,
}


class HistoryFormatError(ValueError):
    """A history file or record is not one of the formats the Replayer reads."""


@frozen
class History:
    """One recorded execution: where it came from, its status and its operations in order."""

    source: str
    arn: str
    operations: tuple[Operation, ...]
    status: str | None = None

    def __str__(self) -> str:
        return self.source


def _execution_arn(source: str, operations: Sequence[Operation]) -> str:
    """An ARN whose last segment is the EXECUTION operation's id (what the engine reads)."""
    execution = next((op for op in operations if op.type is OperationType.EXECUTION), None)
    return f"replay:{source}/{execution.id if execution else 'execution'}"


# --------------------------------------------------------------------------- local SQLite


def histories_from_sqlite(path: str | Path, arns: Iterable[str] = ()) -> list[History]:
    """The executions in a local SQLite file (``durable-backend run --db``), newest first;
    only ``arns`` when given."""
    if not Path(path).exists():
        raise FileNotFoundError(f"no local database at {str(path)!r}")
    with LocalBackend(str(path)) as backend:
        wanted = list(arns)
        if not wanted:
            marker = ""
            while True:
                page = backend.list_executions(marker=marker, max_items=1000)
                wanted += [row["DurableExecutionArn"] for row in page["DurableExecutions"]]
                if not (marker := page.get("NextMarker") or ""):
                    break
        return [
            History(
                source=f"{path}:{arn}",
                arn=arn,
                operations=tuple(backend.operations(arn)),
                status=backend.get_execution(arn)["Status"],
            )
            for arn in wanted
        ]


# --------------------------------------------------------------------------- JSON exports


def history_from_json(data: str | Path | Mapping[str, Any], source: str | None = None) -> History:
    """A history from a JSON export: a file path, JSON text, or the parsed object."""
    if isinstance(data, Path) or (isinstance(data, str) and not data.lstrip().startswith("{")):
        path = Path(data)
        source = source or str(path)
        try:
            data = json.loads(path.read_text())
        except ValueError as error:
            raise HistoryFormatError(f"{path} is not valid JSON: {error}") from None
    elif isinstance(data, str):
        data = json.loads(data)
    source = source or "json"
    if not isinstance(data, Mapping):
        raise HistoryFormatError(f"{source}: expected a JSON object, got {type(data).__name__}")
    if "Events" in data:
        operations = operations_from_events(data["Events"], source)
    else:
        state = data.get("InitialExecutionState", data)
        raw = state.get("Operations") if isinstance(state, Mapping) else None
        if not isinstance(raw, list):
            raise HistoryFormatError(
                f"{source}: expected GetDurableExecutionHistory output ({{'Events': [...]}}), "
                "GetDurableExecutionState output ({'Operations': [...]}) or a durable "
                f"invocation event; found keys {sorted(data)}"
            )
        operations = tuple(_operation(item, source) for item in raw)
    arn = data.get("DurableExecutionArn")
    status = next(
        (op.status.value for op in operations if op.type is OperationType.EXECUTION), None
    )
    return History(
        source=source,
        arn=arn if isinstance(arn, str) else _execution_arn(source, operations),
        operations=operations,
        status=_execution_status(status),
    )


def _execution_status(status: str | None) -> str | None:
    return "RUNNING" if status == OperationStatus.STARTED.value else status


def _operation(item: object, source: str) -> Operation:
    if not isinstance(item, Mapping):
        raise HistoryFormatError(f"{source}: an operation is not an object: {item!r}")
    try:
        op: Operation = _structure_operation(item, Operation)
        return op
    except Exception as error:
        raise HistoryFormatError(f"{source}: cannot read operation {item!r}: {error}") from None


def _payload(details: Mapping[str, Any], key: str) -> str | None:
    wrapped = details.get(key)
    if isinstance(wrapped, Mapping):
        payload = wrapped.get("Payload")
        return payload if isinstance(payload, str) else None
    return None


def _error(details: Mapping[str, Any]) -> ErrorObject | None:
    wrapped = details.get("Error")
    payload = wrapped.get("Payload") if isinstance(wrapped, Mapping) else None
    return _structure_error(payload, ErrorObject) if isinstance(payload, Mapping) else None


def operations_from_events(events: object, source: str = "events") -> tuple[Operation, ...]:
    """Fold ``GetDurableExecutionHistory`` events back into operations, in start order.

    Each operation takes the status of its last event; a step whose last event carries a
    retry delay is PENDING (its next attempt is due), with that attempt's payload.
    """
    if not isinstance(events, list):
        raise HistoryFormatError(f"{source}: 'Events' must be a list")
    found: dict[str, Operation] = {}
    for event in events:
        if not isinstance(event, Mapping) or not isinstance(event.get("EventType"), str):
            raise HistoryFormatError(f"{source}: not a history event: {event!r}")
        event_type: str = event["EventType"]
        kind = next((k for k in _EVENT_TYPES if event_type.startswith(k)), None)
        if kind is None:
            continue  # InvocationCompleted, ExecutionPaused/Resumed: no operation state
        status = _EVENT_STATUSES.get(event_type[len(kind):])
        if status is None:
            raise HistoryFormatError(f"{source}: unknown event type {event_type!r}")
        details = event.get(f"{event_type}Details") or {}
        op = found.get(event["Id"]) or Operation(
            id=event["Id"],
            type=_EVENT_TYPES[kind],
            status=status,
            parent_id=event.get("ParentId"),
            name=event.get("Name"),
            sub_type=event.get("SubType"),
        )
        found[op.id] = _apply_event(op, status, details)
    return tuple(found.values())


def _apply_event(
    op: Operation, status: OperationStatus, details: Mapping[str, Any]
) -> Operation:
    result, error = _payload(details, "Result"), _error(details)
    match op.type:
        case OperationType.EXECUTION:
            input_payload = _payload(details, "Input")
            if input_payload is not None:
                return evolve(op, status=status, execution_details=ExecutionDetails(input_payload))
        case OperationType.STEP:
            retry = details.get("RetryDetails") or {}
            attempt = retry.get("CurrentAttempt")
            previous = (op.step_details.attempt if op.step_details else None) or 0
            if attempt is None and op.status is OperationStatus.PENDING:
                attempt = previous + 1  # the retry's own events may not repeat its number
            if retry.get("NextAttemptDelaySeconds"):
                status = OperationStatus.PENDING
            return evolve(
                op,
                status=status,
                step_details=StepDetails(
                    attempt=attempt if attempt is not None else previous,
                    result=result,
                    error=error,
                ),
            )
        case OperationType.CONTEXT:
            return evolve(op, status=status, context_details=ContextDetails(result=result,
                                                                           error=error))
        case OperationType.WAIT:
            end = details.get("ScheduledEndTimestamp")
            if end is not None:
                return evolve(op, status=status, wait_details=WaitDetails(
                    scheduled_end_timestamp=event_converter.structure(end, datetime)))
            return evolve(op, status=status, wait_details=op.wait_details or WaitDetails())
        case OperationType.CALLBACK:
            callback_id = details.get("CallbackId") or (
                op.callback_details.callback_id if op.callback_details else None
            )
            return evolve(
                op,
                status=status,
                callback_details=CallbackDetails(
                    callback_id=callback_id, result=result, error=error
                ),
            )
        case OperationType.CHAINED_INVOKE:
            return evolve(
                op, status=status, chained_invoke_details=ChainedInvokeDetails(result, error)
            )
    return evolve(op, status=status)


def histories_from_directory(directory: str | Path) -> list[History]:
    """Every ``*.json`` export in ``directory`` (sorted by name)."""
    root = Path(directory)
    if not root.is_dir():
        raise FileNotFoundError(f"no history directory at {str(root)!r}")
    return [history_from_json(path) for path in sorted(root.glob("*.json"))]


# --------------------------------------------------------------------------- AWS


def histories_from_aws(
    arns: Iterable[str] = (),
    *,
    function_name: str | None = None,
    status: str | None = "RUNNING",
    client: LambdaClient | None = None,
) -> list[History]:
    """Histories read from AWS with ``GetDurableExecutionHistory`` (execution data included):
    the given ``arns``, plus ``function_name``'s executions in ``status`` (None: all)."""
    from durable_backend._aws_executions import AwsExecutions

    service = AwsExecutions(client)
    wanted = list(arns)
    if function_name is not None:
        wanted += _list_executions(service, function_name, status)
    return [
        evolve(
            history_from_json({"Events": service.history_events(arn)}, source=f"aws:{arn}"),
            arn=arn,
        )
        for arn in wanted
    ]


def _list_executions(service: AwsExecutions, function_name: str, status: str | None) -> list[str]:
    arns: list[str] = []
    marker = ""
    wanted = ExecutionStatus(status) if status is not None else None
    while True:
        page = service.list_executions(function_name, status=wanted, marker=marker)
        # Filtered here too: AWS's emulator ignores the Statuses filter.
        arns += [
            row["DurableExecutionArn"]
            for row in page["DurableExecutions"]
            if wanted is None or row.get("Status") == wanted.value
        ]
        if not (marker := page["NextMarker"]):
            return arns

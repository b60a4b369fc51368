"""The service's rules for one execution, as pure functions (protocol.md §3, §4, §6, §7).

Everything here is data in, data out: no SQLite, no clock, no randomness. The in-memory test
fake and ``LocalBackend`` both call these functions, so they can never disagree about what the
service accepts, how an operation moves, or which history events a call writes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs
from attrs import frozen

from durable_backend._codec import to_wire
from durable_backend._errors import (
    CallbackNotOpenError,
    InvalidRequestError,
    StaleCheckpointTokenError,
)
from durable_backend._models import (
    CallbackDetails,
    ChainedInvokeDetails,
    ContextDetails,
    ErrorObject,
    ExecutionDetails,
    ExecutionStatus,
    Operation,
    OperationAction,
    OperationStatus,
    OperationType,
    OperationUpdate,
    StepDetails,
    WaitDetails,
)
from durable_backend._protocol import (
    CALLBACK_TIMEOUT,
    CLIENT_TOKEN_TTL,
    INVALID_PARAMETER,
    MAX_CALLBACK_RESULT_BYTES,
    MAX_CLIENT_TOKEN_LENGTH,
    MAX_DURATION_SECONDS,
    MAX_ERROR_BYTES,
    MAX_EXECUTION_RESULT_BYTES,
    MAX_ID_LENGTH,
    MAX_NAME_LENGTH,
    MAX_PAYLOAD_BYTES,
    MAX_STATE_PAGE,
    MAX_SUB_TYPE_LENGTH,
    STALE_TOKEN_PREFIX,
    execution_id,
)

_ID_PATTERN = re.compile(r"[a-zA-Z0-9_-]+")
_NAME_PATTERN = re.compile(r"[\x20-\x7E]+")

_ACTIONS: Mapping[OperationType, frozenset[OperationAction]] = {
    OperationType.STEP: frozenset(
        {OperationAction.START, OperationAction.SUCCEED, OperationAction.FAIL,
         OperationAction.RETRY}
    ),
    OperationType.CONTEXT: frozenset(
        {OperationAction.START, OperationAction.SUCCEED, OperationAction.FAIL}
    ),
    OperationType.WAIT: frozenset({OperationAction.START, OperationAction.CANCEL}),
    OperationType.CALLBACK: frozenset({OperationAction.START}),
    OperationType.CHAINED_INVOKE: frozenset({OperationAction.START}),
    OperationType.EXECUTION: frozenset({OperationAction.SUCCEED, OperationAction.FAIL}),
}
_FINISHING = frozenset({OperationAction.SUCCEED, OperationAction.FAIL, OperationAction.RETRY})
_STEP_CAN_START = frozenset({OperationStatus.READY})
_STEP_CAN_FINISH = frozenset({OperationStatus.STARTED, OperationStatus.READY})

CALLBACK_TIMEOUT_ERROR = ErrorObject(
    error_message="The callback timed out before a result arrived.",
    error_type="Callback.Timeout",
)
CALLBACK_HEARTBEAT_ERROR = ErrorObject(
    error_message="The callback missed its heartbeat deadline.",
    error_type="Callback.Heartbeat",
)


# --------------------------------------------------------------------------- errors


def invalid(message: str, call: str = "CheckpointDurableExecution") -> InvalidRequestError:
    """The service's 400 ``InvalidParameterValueException``."""
    return InvalidRequestError(message, call=call, code=INVALID_PARAMETER, http_status=400)


def stale_token(reason: str, call: str = "CheckpointDurableExecution") -> StaleCheckpointTokenError:
    return StaleCheckpointTokenError(
        f"{STALE_TOKEN_PREFIX}: {reason}", call=call, code=INVALID_PARAMETER, http_status=400
    )


def callback_not_open(callback_id: str, status: str, call: str) -> CallbackNotOpenError:
    return CallbackNotOpenError(
        f"callback {callback_id!r} is not open (its status is {status})",
        call=call,
        code=CALLBACK_TIMEOUT,
        http_status=400,
    )


# --------------------------------------------------------------------------- history events


_NO_DETAILS: Mapping[str, Any] = {}


@frozen
class HistoryEvent:
    """One history event without its ``EventId``: the store numbers events as it appends them.

    ``details`` is the wire body of the ``<EventType>Details`` member (boto3 flavour: datetimes).
    """

    event_type: str
    timestamp: datetime
    id: str
    name: str | None = None
    parent_id: str | None = None
    sub_type: str | None = None
    details: Mapping[str, Any] = attrs.field(factory=lambda: _NO_DETAILS)

    def to_wire(self, event_id: int, include_execution_data: bool = True) -> dict[str, Any]:
        """The ``Event`` dict of ``GetDurableExecutionHistory``."""
        event: dict[str, Any] = {
            "EventType": self.event_type,
            "EventId": event_id,
            "EventTimestamp": self.timestamp,
            "Id": self.id,
        }
        if self.name is not None:
            event["Name"] = self.name
        if self.parent_id is not None:
            event["ParentId"] = self.parent_id
        if self.sub_type is not None:
            event["SubType"] = self.sub_type
        details = dict(self.details)
        if not include_execution_data:
            for key in ("Result", "Input"):
                if key in details:
                    details[key] = {k: v for k, v in details[key].items() if k != "Payload"}
        event[f"{self.event_type}Details"] = details
        return event


def wrap_payload(payload: str | None) -> dict[str, Any]:
    """``{Payload, Truncated}``, the wrapper history uses for results and inputs."""
    if payload is None:
        return {"Truncated": False}
    return {"Payload": payload, "Truncated": False}


def wrap_error(error: ErrorObject | None) -> dict[str, Any]:
    if error is None:
        return {"Truncated": False}
    return {"Payload": to_wire(error), "Truncated": False}


def _event(op: Operation, event_type: str, at: datetime, **details: Any) -> HistoryEvent:
    return HistoryEvent(
        event_type=event_type,
        timestamp=at,
        id=op.id,
        name=op.name,
        parent_id=op.parent_id,
        sub_type=op.sub_type,
        details=details,
    )


# --------------------------------------------------------------------------- executions


@frozen
class ExecutionEnd:
    """How an execution ended: the data ``GetDurableExecution`` reports."""

    status: ExecutionStatus
    result: str | None = None
    error: ErrorObject | None = None


def start_execution(
    arn: str, name: str, input_payload: str | None, now: datetime, timeout_seconds: int
) -> tuple[Operation, HistoryEvent]:
    """The EXECUTION operation and ``ExecutionStarted`` event of a new execution."""
    check_payload_size(input_payload, MAX_EXECUTION_RESULT_BYTES, "the execution input")
    op = Operation(
        id=execution_id(arn),
        type=OperationType.EXECUTION,
        status=OperationStatus.STARTED,
        name=name,
        start_timestamp=now,
        execution_details=ExecutionDetails(input_payload=input_payload),
    )
    event = _event(
        op,
        "ExecutionStarted",
        now,
        Input=wrap_payload(input_payload),
        ExecutionTimeout=timeout_seconds,
    )
    return op, event


_EXECUTION_END_EVENTS: Mapping[ExecutionStatus, tuple[str, OperationStatus]] = {
    ExecutionStatus.SUCCEEDED: ("ExecutionSucceeded", OperationStatus.SUCCEEDED),
    ExecutionStatus.FAILED: ("ExecutionFailed", OperationStatus.FAILED),
    ExecutionStatus.TIMED_OUT: ("ExecutionTimedOut", OperationStatus.TIMED_OUT),
    ExecutionStatus.STOPPED: ("ExecutionStopped", OperationStatus.STOPPED),
}


def finish_execution(
    execution_op: Operation, end: ExecutionEnd, now: datetime
) -> tuple[Operation, HistoryEvent]:
    """Close the EXECUTION operation: a handler's return, an EXECUTION update, stop or timeout."""
    event_type, op_status = _EXECUTION_END_EVENTS[end.status]
    op = attrs.evolve(execution_op, status=op_status, end_timestamp=now)
    if end.status is ExecutionStatus.SUCCEEDED:
        event = _event(op, event_type, now, Result=wrap_payload(end.result))
    elif end.status is ExecutionStatus.TIMED_OUT and end.error is None:
        event = _event(op, event_type, now)
    else:
        event = _event(op, event_type, now, Error=wrap_error(end.error))
    return op, event


# --------------------------------------------------------------------------- tokens


def mint_token(arn: str, sequence: int) -> str:
    """The checkpoint token number ``sequence`` of the execution's chain."""
    raw = json.dumps([arn, sequence], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode()


def check_token(
    arn: str, current: int | None, token: str, call: str = "CheckpointDurableExecution"
) -> None:
    """Accept only the execution's current token; ``current`` is ``None`` once it has ended."""
    try:
        token_arn, sequence = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, binascii.Error, TypeError):
        raise stale_token("the token is malformed", call) from None
    if token_arn != arn:
        raise stale_token("the token belongs to another execution", call)
    if current is None:
        raise stale_token("the execution has ended and accepts no more checkpoints", call)
    if sequence != current:
        raise stale_token(
            "the token was already consumed or belongs to an earlier invocation", call
        )


# --------------------------------------------------------------------------- client tokens


@frozen
class ClientTokenEntry:
    """What one ``ClientToken`` was first used for; a repeat within the TTL gets the same answer."""

    fingerprint: str
    expires_at: datetime


def request_fingerprint(checkpoint_token: str, updates: Sequence[OperationUpdate]) -> str:
    body = json.dumps(
        [checkpoint_token, [to_wire(u) for u in updates]], sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(body.encode()).hexdigest()


def check_client_token(client_token: str) -> None:
    if not 1 <= len(client_token) <= MAX_CLIENT_TOKEN_LENGTH:
        raise invalid(
            f"ClientToken must be 1-{MAX_CLIENT_TOKEN_LENGTH} characters, got {len(client_token)}"
        )


def is_repeat(
    entry: ClientTokenEntry | None, client_token: str, fingerprint: str, now: datetime
) -> bool:
    """True when this call repeats an applied one, so the stored answer is returned as is.

    The same ``ClientToken`` for a different request within the TTL is a caller bug.
    """
    if entry is None or entry.expires_at <= now:
        return False
    if entry.fingerprint != fingerprint:
        raise invalid(
            f"ClientToken {client_token!r} was already used for a different checkpoint request "
            "in the last 15 minutes; use a new ClientToken for each distinct request"
        )
    return True


def client_token_entry(fingerprint: str, now: datetime) -> ClientTokenEntry:
    return ClientTokenEntry(fingerprint=fingerprint, expires_at=now + CLIENT_TOKEN_TTL)


# --------------------------------------------------------------------------- callbacks


@frozen
class CallbackTimer:
    """Service-side deadlines of one open callback (not part of the wire ``Operation``)."""

    timeout_at: datetime | None = None
    heartbeat_seconds: int | None = None
    heartbeat_at: datetime | None = None


def mint_callback_id(arn: str, op_id: str) -> str:
    """A callback id that names its execution and operation (standard base64, as the service)."""
    return base64.b64encode(json.dumps([arn, op_id], separators=(",", ":")).encode()).decode()


def parse_callback_id(callback_id: str, call: str) -> tuple[str, str]:
    """``(arn, op_id)`` of a callback id minted by ``mint_callback_id``."""
    try:
        arn, op_id = json.loads(base64.b64decode(callback_id.encode(), validate=True))
        if isinstance(arn, str) and isinstance(op_id, str):
            return arn, op_id
    except (ValueError, binascii.Error, TypeError):
        pass
    raise invalid(f"CallbackId {callback_id!r} is not a callback id this backend issued", call)


def heartbeat(timer: CallbackTimer, now: datetime) -> CallbackTimer:
    if timer.heartbeat_seconds is None:
        return timer
    return attrs.evolve(timer, heartbeat_at=now + timedelta(seconds=timer.heartbeat_seconds))


def complete_callback(
    op: Operation,
    now: datetime,
    *,
    result: str | None = None,
    error: ErrorObject | None = None,
    failed: bool = False,
    call: str,
) -> tuple[Operation, HistoryEvent]:
    """A ``SendDurableExecutionCallbackSuccess`` (``failed=False``) or ``...Failure``."""
    details = op.callback_details or CallbackDetails()
    if op.status is not OperationStatus.STARTED:
        raise callback_not_open(details.callback_id or op.id, op.status.value, call)
    if failed:
        check_error_size(error, "the callback error")
        new = attrs.evolve(
            op,
            status=OperationStatus.FAILED,
            end_timestamp=now,
            callback_details=attrs.evolve(details, error=error),
        )
        return new, _event(new, "CallbackFailed", now, Error=wrap_error(error))
    check_payload_size(result, MAX_CALLBACK_RESULT_BYTES, "the callback result", call)
    new = attrs.evolve(
        op,
        status=OperationStatus.SUCCEEDED,
        end_timestamp=now,
        callback_details=attrs.evolve(details, result=result),
    )
    return new, _event(new, "CallbackSucceeded", now, Result=wrap_payload(result))


# --------------------------------------------------------------------------- chained invokes

_CHAINED_END: Mapping[OperationStatus, str] = {
    OperationStatus.SUCCEEDED: "ChainedInvokeSucceeded",
    OperationStatus.FAILED: "ChainedInvokeFailed",
    OperationStatus.TIMED_OUT: "ChainedInvokeTimedOut",
    OperationStatus.STOPPED: "ChainedInvokeStopped",
}


def chained_invoke_target_arn(parent_arn: str, op_id: str, function_name: str) -> str:
    """The deterministic ARN of the execution a CHAINED_INVOKE starts."""
    parts = parent_arn.split(":")
    region, account = (parts[3], parts[4]) if len(parts) > 5 else ("us-east-1", "000000000000")
    short = function_name.split(":function:", 1)[-1].split(":", 1)[0]
    digest = hashlib.blake2b(f"{parent_arn}|{op_id}".encode(), digest_size=16).hexdigest()
    return (
        f"arn:aws:lambda:{region}:{account}:function:{short}:$LATEST"
        f"/durable-execution/{op_id[:MAX_ID_LENGTH]}/{digest}"
    )


def complete_chained_invoke(
    op: Operation,
    status: OperationStatus,
    now: datetime,
    *,
    result: str | None = None,
    error: ErrorObject | None = None,
) -> tuple[Operation, HistoryEvent]:
    """The target execution ended: SUCCEEDED, FAILED, TIMED_OUT or STOPPED."""
    event_type = _CHAINED_END.get(status)
    if event_type is None:
        raise ValueError(f"a chained invoke cannot end as {status.value}")
    if op.status is not OperationStatus.STARTED:
        raise invalid(
            f"chained invoke {op.id!r} is {op.status.value}, not STARTED", "CompleteChainedInvoke"
        )
    new = attrs.evolve(
        op,
        status=status,
        end_timestamp=now,
        chained_invoke_details=ChainedInvokeDetails(result=result, error=error),
    )
    if status is OperationStatus.SUCCEEDED:
        return new, _event(new, event_type, now, Result=wrap_payload(result))
    return new, _event(new, event_type, now, Error=wrap_error(error))


# --------------------------------------------------------------------------- size checks


def payload_bytes(payload: str) -> int:
    return len(payload.encode("utf-8"))


def check_payload_size(
    payload: str | None, limit: int, what: str, call: str = "CheckpointDurableExecution"
) -> None:
    if payload is not None and (size := payload_bytes(payload)) > limit:
        raise invalid(f"{what} is {size} bytes; the limit is {limit} bytes", call)


def check_error_size(
    error: ErrorObject | None, what: str, call: str = "CheckpointDurableExecution"
) -> None:
    if error is None:
        return
    size = payload_bytes(json.dumps(to_wire(error), separators=(",", ":")))
    if size > MAX_ERROR_BYTES:
        raise invalid(
            f"{what} serializes to {size} bytes; an Error must be at most {MAX_ERROR_BYTES} bytes",
            call,
        )


# --------------------------------------------------------------------------- checkpoint batches


@frozen
class BatchOutcome:
    """The effect of one accepted checkpoint batch.

    ``operations`` holds every touched operation in its final state, in first-touch order (the
    rows to upsert and the response delta); ``events`` are the history events to append.
    """

    operations: tuple[Operation, ...]
    events: tuple[HistoryEvent, ...]
    callback_timers: Mapping[str, CallbackTimer]
    execution_end: ExecutionEnd | None


class _Rejected(Exception):
    pass


def apply_batch(
    arn: str,
    existing: Mapping[str, Operation],
    updates: Sequence[OperationUpdate],
    now: datetime,
) -> BatchOutcome:
    """Validate ``updates`` against ``existing`` and compute the result, all or nothing.

    ``existing`` needs to answer ``get`` only for the Ids and ParentIds the batch names and
    for the EXECUTION operation (see ``referenced_ids``). Raises ``InvalidRequestError`` naming
    the first offending update.
    """
    _check_execution_updates(updates)
    changed: dict[str, Operation] = {}
    events: list[HistoryEvent] = []
    timers: dict[str, CallbackTimer] = {}
    end: ExecutionEnd | None = None

    def lookup(op_id: str) -> Operation | None:
        op = changed.get(op_id)
        return op if op is not None else existing.get(op_id)

    for index, update in enumerate(updates):
        try:
            _check_fields(update)
            _check_repeat(updates, index)
            current = lookup(update.id) if update.type is not OperationType.EXECUTION else None
            _check_parent(update, lookup)
            if current is not None:
                _check_identity(update, current)
            _check_sizes(update)
            if update.type is OperationType.EXECUTION:
                exec_op = existing.get(execution_id(arn))
                if exec_op is None:
                    raise _Rejected(f"execution {arn!r} has no EXECUTION operation")
                end = (
                    ExecutionEnd(ExecutionStatus.SUCCEEDED, result=update.payload)
                    if update.action is OperationAction.SUCCEED
                    else ExecutionEnd(ExecutionStatus.FAILED, error=update.error)
                )
                new, event = finish_execution(exec_op, end, now)
                changed[new.id] = new
                events.append(event)
                continue
            new, event = _transition(arn, update, current, now)
        except _Rejected as rejected:
            raise invalid(
                f"update {index} (Id {update.id!r}, {update.type.value} {update.action.value}) "
                f"is rejected: {rejected}"
            ) from None
        if update.type is OperationType.CALLBACK:
            timers[update.id] = _callback_timer(update, now)
        changed[new.id] = new
        events.append(event)
    return BatchOutcome(
        operations=tuple(changed.values()),
        events=tuple(events),
        callback_timers=timers,
        execution_end=end,
    )


def referenced_ids(arn: str, updates: Iterable[OperationUpdate]) -> set[str]:
    """The operation Ids ``apply_batch`` may look up: what a store must load first."""
    ids = {execution_id(arn)}
    for update in updates:
        ids.add(update.id)
        if update.parent_id is not None:
            ids.add(update.parent_id)
    return ids


def _check_execution_updates(updates: Sequence[OperationUpdate]) -> None:
    positions = [i for i, u in enumerate(updates) if u.type is OperationType.EXECUTION]
    if len(positions) > 1:
        raise invalid(
            f"updates {positions} are all EXECUTION updates; a batch may hold at most one"
        )
    if positions and positions[0] != len(updates) - 1:
        i = positions[0]
        raise invalid(
            f"update {i} (Id {updates[i].id!r}, EXECUTION {updates[i].action.value}) is "
            f"rejected: the EXECUTION update must be the last of the batch "
            f"({len(updates)} updates)"
        )


def _check_id(value: str, field: str) -> None:
    if not 1 <= len(value) <= MAX_ID_LENGTH or not _ID_PATTERN.fullmatch(value):
        raise _Rejected(
            f"{field} {value!r} must be 1-{MAX_ID_LENGTH} characters of [a-zA-Z0-9-_]"
        )


def _check_fields(update: OperationUpdate) -> None:
    _check_id(update.id, "Id")
    if update.parent_id is not None:
        _check_id(update.parent_id, "ParentId")
    if update.name is not None and (
        not 1 <= len(update.name) <= MAX_NAME_LENGTH or not _NAME_PATTERN.fullmatch(update.name)
    ):
        raise _Rejected(
            f"Name must be 1-{MAX_NAME_LENGTH} printable ASCII characters, got "
            f"{update.name[:80]!r} ({len(update.name)} characters)"
        )
    if update.sub_type is not None and (
        not 1 <= len(update.sub_type) <= MAX_SUB_TYPE_LENGTH
        or not _ID_PATTERN.fullmatch(update.sub_type)
    ):
        raise _Rejected(
            f"SubType {update.sub_type!r} must be 1-{MAX_SUB_TYPE_LENGTH} characters of "
            "[a-zA-Z0-9-_]"
        )
    if update.action not in _ACTIONS[update.type]:
        allowed = ", ".join(sorted(a.value for a in _ACTIONS[update.type]))
        raise _Rejected(f"{update.type.value} accepts only {allowed}")


def _check_repeat(updates: Sequence[OperationUpdate], index: int) -> None:
    """Only a STEP/CONTEXT START may be followed, later in the batch, by one finishing action.

    Updates of other operations may sit between the two (a child context's children do), as
    in AWS's emulator; protocol.md's "immediately" reads as "with no other update of this Id".
    """
    update = updates[index]
    earlier = [i for i in range(index) if updates[i].id == update.id]
    if not earlier:
        return
    previous = updates[earlier[-1]]
    allowed = (
        len(earlier) == 1
        and previous.type in (OperationType.STEP, OperationType.CONTEXT)
        and previous.action is OperationAction.START
        and update.action in _FINISHING
    )
    if not allowed:
        raise _Rejected(
            f"update {earlier[-1]} already names this Id; only a STEP/CONTEXT START followed by "
            "one SUCCEED, FAIL or RETRY may share an Id in one batch"
        )


def _check_parent(update: OperationUpdate, lookup: Callable[[str], Operation | None]) -> None:
    """The parent must exist already or be started by an earlier update of this batch: both
    are visible through ``lookup``, which sees the batch's earlier effects."""
    if update.parent_id is None or update.type is OperationType.EXECUTION:
        return
    parent = lookup(update.parent_id)
    if parent is None:
        raise _Rejected(
            f"ParentId {update.parent_id!r} names no operation (it must be a CONTEXT that "
            "exists or is started earlier in the batch)"
        )
    if parent.type is not OperationType.CONTEXT:
        raise _Rejected(
            f"ParentId {update.parent_id!r} is a {parent.type.value}; a parent must be a CONTEXT"
        )


def _check_identity(update: OperationUpdate, current: Operation) -> None:
    mismatches = [
        f"{field} {given!r} differs from the stored {stored!r}"
        for field, given, stored in (
            ("Type", update.type.value, current.type.value),
            ("SubType", update.sub_type, current.sub_type),
            ("Name", update.name, current.name),
            ("ParentId", update.parent_id, current.parent_id),
        )
        if given is not None and given != stored
    ]
    if mismatches:
        raise _Rejected("; ".join(mismatches))


def _check_sizes(update: OperationUpdate) -> None:
    if update.error is not None:
        size = payload_bytes(json.dumps(to_wire(update.error), separators=(",", ":")))
        if size > MAX_ERROR_BYTES:
            raise _Rejected(
                f"Error serializes to {size} bytes; the limit is {MAX_ERROR_BYTES} bytes"
            )
    if update.payload is not None:
        limit = (
            MAX_EXECUTION_RESULT_BYTES
            if update.type is OperationType.EXECUTION
            else MAX_PAYLOAD_BYTES
        )
        if (size := payload_bytes(update.payload)) > limit:
            raise _Rejected(f"Payload is {size} bytes; the limit is {limit} bytes")


def _check_seconds(value: int | None, field: str) -> int:
    if value is None or not 1 <= value <= MAX_DURATION_SECONDS:
        raise _Rejected(f"{field} must be 1-{MAX_DURATION_SECONDS} seconds, got {value!r}")
    return value


def _check_outcome_fields(update: OperationUpdate) -> None:
    if update.action is OperationAction.SUCCEED and update.error is not None:
        raise _Rejected("SUCCEED cannot carry an Error")
    if update.action is OperationAction.FAIL and update.payload is not None:
        raise _Rejected("FAIL cannot carry a Payload")


def _status_error(current: Operation, allowed: str) -> _Rejected:
    return _Rejected(f"the operation is {current.status.value}; {allowed}")


def _new_op(update: OperationUpdate, status: OperationStatus, now: datetime) -> Operation:
    return Operation(
        id=update.id,
        type=update.type,
        status=status,
        parent_id=update.parent_id,
        name=update.name,
        sub_type=update.sub_type,
        start_timestamp=now,
    )


def _transition(
    arn: str, update: OperationUpdate, current: Operation | None, now: datetime
) -> tuple[Operation, HistoryEvent]:
    match update.type:
        case OperationType.STEP:
            return _step(update, current, now)
        case OperationType.CONTEXT:
            return _context(update, current, now)
        case OperationType.WAIT:
            return _wait(update, current, now)
        case OperationType.CALLBACK:
            return _callback(arn, update, current, now)
        case OperationType.CHAINED_INVOKE:
            return _chained_invoke(arn, update, current, now)
        case OperationType.EXECUTION:  # pragma: no cover - handled by the caller
            raise _Rejected("EXECUTION updates are applied to the execution")


def _step(
    update: OperationUpdate, current: Operation | None, now: datetime
) -> tuple[Operation, HistoryEvent]:
    _check_outcome_fields(update)
    base = current if current is not None else _new_op(update, OperationStatus.STARTED, now)
    details = base.step_details or StepDetails(attempt=0)
    attempt = details.attempt or 0
    match update.action:
        case OperationAction.START:
            if current is not None and current.status not in _STEP_CAN_START:
                raise _status_error(current, "a STEP can be started only when absent or READY")
            new = attrs.evolve(
                base,
                status=OperationStatus.STARTED,
                step_details=attrs.evolve(details, attempt=attempt, next_attempt_timestamp=None),
            )
            return new, _event(new, "StepStarted", now)
        case OperationAction.RETRY:
            if current is not None and current.status not in _STEP_CAN_FINISH:
                raise _status_error(current, "a STEP can be retried only when STARTED or READY")
            if update.step_options is None:
                raise _Rejected("RETRY needs StepOptions.NextAttemptDelaySeconds")
            if update.payload is not None and update.error is not None:
                raise _Rejected("RETRY carries either a Payload or an Error, not both")
            delay = _check_seconds(
                update.step_options.next_attempt_delay_seconds,
                "StepOptions.NextAttemptDelaySeconds",
            )
            new = attrs.evolve(
                base,
                status=OperationStatus.PENDING,
                step_details=StepDetails(
                    attempt=attempt + 1,
                    next_attempt_timestamp=now + timedelta(seconds=delay),
                    result=update.payload,
                    error=update.error,
                ),
            )
            retry = {"CurrentAttempt": attempt + 1, "NextAttemptDelaySeconds": delay}
            if update.error is not None:
                event = _event(
                    new, "StepFailed", now, Error=wrap_error(update.error), RetryDetails=retry
                )
            else:
                event = _event(
                    new, "StepSucceeded", now, Result=wrap_payload(update.payload),
                    RetryDetails=retry,
                )
            return new, event
        case _:
            if current is not None and current.status not in _STEP_CAN_FINISH:
                raise _status_error(
                    current, "a STEP can finish only when absent, STARTED or READY"
                )
            succeeded = update.action is OperationAction.SUCCEED
            new = attrs.evolve(
                base,
                status=OperationStatus.SUCCEEDED if succeeded else OperationStatus.FAILED,
                end_timestamp=now,
                step_details=StepDetails(
                    attempt=attempt + 1, result=update.payload, error=update.error
                ),
            )
            retry = {"CurrentAttempt": attempt + 1}
            if succeeded:
                event = _event(
                    new, "StepSucceeded", now, Result=wrap_payload(update.payload),
                    RetryDetails=retry,
                )
            else:
                event = _event(
                    new, "StepFailed", now, Error=wrap_error(update.error), RetryDetails=retry
                )
            return new, event


def _context(
    update: OperationUpdate, current: Operation | None, now: datetime
) -> tuple[Operation, HistoryEvent]:
    _check_outcome_fields(update)
    replay = update.context_options.replay_children if update.context_options else None
    if update.action is OperationAction.START:
        if current is not None:
            raise _status_error(current, "a CONTEXT can be started only when absent")
        new = attrs.evolve(
            _new_op(update, OperationStatus.STARTED, now),
            context_details=ContextDetails(replay_children=replay),
        )
        return new, _event(new, "ContextStarted", now)
    if current is not None and current.status is not OperationStatus.STARTED:
        raise _status_error(current, "a CONTEXT can finish only when absent or STARTED")
    base = current if current is not None else _new_op(update, OperationStatus.STARTED, now)
    details = base.context_details or ContextDetails()
    if replay is not None:
        details = attrs.evolve(details, replay_children=replay)
    succeeded = update.action is OperationAction.SUCCEED
    new = attrs.evolve(
        base,
        status=OperationStatus.SUCCEEDED if succeeded else OperationStatus.FAILED,
        end_timestamp=now,
        context_details=attrs.evolve(details, result=update.payload, error=update.error),
    )
    if succeeded:
        return new, _event(new, "ContextSucceeded", now, Result=wrap_payload(update.payload))
    return new, _event(new, "ContextFailed", now, Error=wrap_error(update.error))


def _wait(
    update: OperationUpdate, current: Operation | None, now: datetime
) -> tuple[Operation, HistoryEvent]:
    if update.action is OperationAction.START:
        if current is not None:
            raise _status_error(current, "a WAIT can be started only when absent")
        seconds = _check_seconds(
            update.wait_options.wait_seconds if update.wait_options else None,
            "WaitOptions.WaitSeconds",
        )
        end = now + timedelta(seconds=seconds)
        new = attrs.evolve(
            _new_op(update, OperationStatus.STARTED, now),
            wait_details=WaitDetails(scheduled_end_timestamp=end),
        )
        return new, _event(new, "WaitStarted", now, Duration=seconds, ScheduledEndTimestamp=end)
    if current is None or current.status is not OperationStatus.STARTED:
        status = current.status.value if current is not None else "absent"
        raise _Rejected(f"the operation is {status}; a WAIT can be cancelled only while STARTED")
    new = attrs.evolve(current, status=OperationStatus.CANCELLED, end_timestamp=now)
    return new, _event(new, "WaitCancelled", now, Error=wrap_error(update.error))


def _callback_timer(update: OperationUpdate, now: datetime) -> CallbackTimer:
    options = update.callback_options
    timeout = options.timeout_seconds if options else None
    beat = options.heartbeat_timeout_seconds if options else None
    return CallbackTimer(
        timeout_at=now + timedelta(seconds=timeout) if timeout else None,
        heartbeat_seconds=beat or None,
        heartbeat_at=now + timedelta(seconds=beat) if beat else None,
    )


def _callback(
    arn: str, update: OperationUpdate, current: Operation | None, now: datetime
) -> tuple[Operation, HistoryEvent]:
    if current is not None:
        raise _status_error(current, "a CALLBACK can be started only when absent")
    options = update.callback_options
    for field, value in (
        ("CallbackOptions.TimeoutSeconds", options.timeout_seconds if options else None),
        ("CallbackOptions.HeartbeatTimeoutSeconds",
         options.heartbeat_timeout_seconds if options else None),
    ):
        if value is not None and not 0 <= value <= MAX_DURATION_SECONDS:
            raise _Rejected(f"{field} must be 0-{MAX_DURATION_SECONDS} (0 = none), got {value}")
    callback_id = mint_callback_id(arn, update.id)
    new = attrs.evolve(
        _new_op(update, OperationStatus.STARTED, now),
        callback_details=CallbackDetails(callback_id=callback_id),
    )
    details: dict[str, Any] = {"CallbackId": callback_id}
    if options is not None and options.timeout_seconds:
        details["Timeout"] = options.timeout_seconds
    if options is not None and options.heartbeat_timeout_seconds:
        details["HeartbeatTimeout"] = options.heartbeat_timeout_seconds
    return new, _event(new, "CallbackStarted", now, **details)


def _chained_invoke(
    arn: str, update: OperationUpdate, current: Operation | None, now: datetime
) -> tuple[Operation, HistoryEvent]:
    if current is not None:
        raise _status_error(current, "a CHAINED_INVOKE can be started only when absent")
    options = update.chained_invoke_options
    if options is None or not options.function_name:
        raise _Rejected("START needs ChainedInvokeOptions.FunctionName")
    new = attrs.evolve(
        _new_op(update, OperationStatus.STARTED, now),
        chained_invoke_details=ChainedInvokeDetails(),
    )
    details: dict[str, Any] = {
        "FunctionName": options.function_name,
        "Input": wrap_payload(update.payload),
        "DurableExecutionArn": chained_invoke_target_arn(arn, update.id, options.function_name),
    }
    if options.tenant_id:
        details["TenantId"] = options.tenant_id
    return new, _event(new, "ChainedInvokeStarted", now, **details)


# --------------------------------------------------------------------------- time


@frozen
class TimeOutcome:
    """Service-side transitions that came due; ``operations`` are the changed ones."""

    operations: tuple[Operation, ...]
    events: tuple[HistoryEvent, ...]


def next_due(op: Operation, timer: CallbackTimer | None = None) -> datetime | None:
    """When the service will next move ``op`` on its own, or ``None``."""
    if op.type is OperationType.STEP and op.status is OperationStatus.PENDING:
        return op.step_details.next_attempt_timestamp if op.step_details else None
    if op.type is OperationType.WAIT and op.status is OperationStatus.STARTED:
        return op.wait_details.scheduled_end_timestamp if op.wait_details else None
    if op.type is OperationType.CALLBACK and op.status is OperationStatus.STARTED and timer:
        deadlines = [d for d in (timer.timeout_at, timer.heartbeat_at) if d is not None]
        return min(deadlines, default=None)
    return None


def advance_time(
    ops: Iterable[Operation], now: datetime, timers: Mapping[str, CallbackTimer] | None = None
) -> TimeOutcome:
    """Apply every service-side transition due by ``now``, in due order.

    A due PENDING step becomes READY (no event), a due WAIT SUCCEEDED, an expired callback
    TIMED_OUT. Transitions are stamped with the time they came due, not with ``now``, so a
    time-skipping test writes the same history as real time.
    """
    timers = timers or {}
    due: list[tuple[datetime, Operation]] = []
    for op in ops:
        at = next_due(op, timers.get(op.id))
        if at is not None and at <= now:
            due.append((at, op))
    due.sort(key=lambda item: item[0])
    changed: list[Operation] = []
    events: list[HistoryEvent] = []
    for at, op in due:
        if op.type is OperationType.STEP:
            changed.append(attrs.evolve(op, status=OperationStatus.READY))
        elif op.type is OperationType.WAIT:
            new = attrs.evolve(op, status=OperationStatus.SUCCEEDED, end_timestamp=at)
            changed.append(new)
            start = op.start_timestamp or at
            events.append(
                _event(new, "WaitSucceeded", at, Duration=round((at - start).total_seconds()))
            )
        else:
            timer = timers[op.id]
            error = (
                CALLBACK_TIMEOUT_ERROR if timer.timeout_at == at else CALLBACK_HEARTBEAT_ERROR
            )
            details = op.callback_details or CallbackDetails()
            new = attrs.evolve(
                op,
                status=OperationStatus.TIMED_OUT,
                end_timestamp=at,
                callback_details=attrs.evolve(details, error=error),
            )
            changed.append(new)
            events.append(_event(new, "CallbackTimedOut", at, Error=wrap_error(error)))
    return TimeOutcome(operations=tuple(changed), events=tuple(events))


# --------------------------------------------------------------------------- visibility


def is_visible(op: Operation, lookup: Callable[[str], Operation | None]) -> bool:
    """False for a descendant of a completed CONTEXT without ``ReplayChildren`` (the service
    omits those from state and deltas)."""
    parent_id = op.parent_id
    while parent_id is not None:
        parent = lookup(parent_id)
        if parent is None:
            return True
        if (
            parent.status in (OperationStatus.SUCCEEDED, OperationStatus.FAILED)
            and not (parent.context_details and parent.context_details.replay_children)
        ):
            return False
        parent_id = parent.parent_id
    return True


def visible_operations(
    ops: Iterable[Operation], lookup: Callable[[str], Operation | None]
) -> list[Operation]:
    return [op for op in ops if is_visible(op, lookup)]


def state_page(
    ops: Sequence[Operation], marker: str, max_items: int, call: str = "GetDurableExecutionState"
) -> tuple[tuple[Operation, ...], str]:
    """One page of ``ops`` at the opaque ``marker`` (``""`` = first) and the next marker."""
    if not 1 <= max_items <= MAX_STATE_PAGE:
        raise invalid(f"MaxItems must be 1-{MAX_STATE_PAGE}, got {max_items}", call)
    start = parse_marker(marker, call)
    end = start + max_items
    return tuple(ops[start:end]), str(end) if end < len(ops) else ""


def parse_marker(marker: str, call: str) -> int:
    if not marker:
        return 0
    if not marker.isdigit():
        raise invalid(f"Marker {marker!r} is not a marker this backend returned", call)
    return int(marker)

"""``LocalBackend``: the durable execution service, over a store.

The service is pure: the rules (``_rules``), scheduling (whether an invocation is due, stored
with the change that causes it), timers and leases live here; records live in a ``Store``,
SQLite (``_sqlite``) or plain memory (``_store``). Each public call is one store transaction,
so a crash never leaves half a batch and several driver threads can share one backend.

Service-side transitions (timers, retries, callback deadlines, the execution timeout) happen
lazily, at the start of a call that changes the execution, against the injected clock; a call
that only reads never moves anything.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
from attrs import frozen

from durable_backend._backend import (
    DEFAULT_MAX_ITEMS,
    AsyncDurableBackend,
    DurableBackend,
    InlineAsyncBackend,
)
from durable_backend._codec import event_converter, from_wire, to_wire
from durable_backend._errors import DurableError, InvalidRequestError, NotFoundError
from durable_backend._models import (
    CheckpointDurableExecutionOutput,
    CheckpointUpdatedExecutionState,
    DurableInvocationInput,
    DurableInvocationOutput,
    ErrorObject,
    ExecutionStatus,
    GetDurableExecutionStateOutput,
    InitialExecutionState,
    Operation,
    OperationAction,
    OperationStatus,
    OperationType,
    OperationUpdate,
)
from durable_backend._protocol import (
    ALREADY_STARTED,
    MAX_DURATION_SECONDS,
    MAX_EXECUTION_RESULT_BYTES,
    MAX_ID_LENGTH,
    MAX_PAYLOAD_BYTES,
    MAX_STATE_PAGE,
    RESOURCE_NOT_FOUND,
    execution_id,
)
from durable_backend.local import _rules as rules
from durable_backend.local._clock import Clock, system_clock
from durable_backend.local._sqlite import MEMORY, SqliteStore
from durable_backend.local._store import ChainedInvokeRequest as ChainedInvokeRequest
from durable_backend.local._store import (
    ExecutionRecord,
    Store,
    StoredOp,
    StoredToken,
    Transaction,
)

DEFAULT_EXECUTION_TIMEOUT_SECONDS = 86_400
DEFAULT_LEASE_SECONDS = 900.0
"""How long an invocation holds its execution without a checkpoint (Lambda's longest
timeout); a runner that dies on this host loses the lease at once."""
INVOCATION_ATTEMPTS = 3
"""Failed invocations in a row (the handler raised) before the execution FAILS, as the
service retries a failed invocation a few times."""
ACCOUNT_ARN = "arn:aws:lambda:us-east-1:000000000000:function"
_CHECKPOINT = "CheckpointDurableExecution"
_STATE = "GetDurableExecutionState"



@frozen
class InvocationClaim:
    """The answer to ``claim_invocation``: the execution's status, and the invocation ``event``
    to run now, or the ``holder`` of the lease on it, or the ``next_wake`` of its timers."""

    status: ExecutionStatus
    event: dict[str, Any] | None = None
    holder: str | None = None
    next_wake: datetime | None = None


def lease_owner() -> str:
    """A new lease owner id: this host and process, and a unique part per runner."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def _lease_alive(owner: str, execution: ExecutionRecord) -> bool:
    """Whether ``owner`` still holds its lease: not expired, and not a dead process here."""
    expires = execution.lease_expires_ms
    if expires is None or expires <= time.time() * 1000:
        return False
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return True
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class DurableExecutionAlreadyStartedError(DurableError):
    """An execution with this name exists with a different input."""

    advice = "Use a new execution name, or the same input to get the existing execution."


# --------------------------------------------------------------------------- serialization


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _from_ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, tz=UTC)


def _dump_error(error: ErrorObject | None) -> str | None:
    return None if error is None else json.dumps(to_wire(error))


# --------------------------------------------------------------------------- the backend


class LocalBackend:
    """The durable execution service; implements ``DurableBackend``.

    ``path`` is a SQLite database file (created on first use, shared safely across processes
    and reopens) or ``":memory:"``; ``store`` puts the service over another store instead
    (``store=MemoryStore()`` keeps plain dicts, no SQL at all). ``clock`` returns the current
    timezone-aware time; inject a ``ManualClock`` to skip time. ``read_only`` opens the file
    for reading only. ``lease_seconds`` bounds how long an invocation holds its execution
    without a checkpoint. ``async_`` is the ``AsyncDurableBackend`` view over the same state.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = MEMORY,
        *,
        store: Store | None = None,
        clock: Clock = system_clock,
        execution_timeout_seconds: int = DEFAULT_EXECUTION_TIMEOUT_SECONDS,
        read_only: bool = False,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
    ) -> None:
        self._clock = clock
        self.execution_timeout_seconds = execution_timeout_seconds
        self.lease_seconds = lease_seconds
        self.path = os.fspath(path)
        if read_only and (self.path == MEMORY or store is not None):
            raise ValueError("a read-only backend needs a database file, not ':memory:'")
        if store is not None and self.path != MEMORY:
            raise ValueError("pass a database path or a store, not both")
        self.store: Store = store or SqliteStore(self.path, read_only=read_only)
        self.async_ = AsyncLocalBackend(self)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> LocalBackend:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # ------------------------------------------------------------------ plumbing

    def _now(self) -> datetime:
        """The clock, truncated to the millisecond the store keeps."""
        now = self._clock()
        return now.replace(microsecond=now.microsecond // 1000 * 1000)

    def _reading(self) -> AbstractContextManager[Transaction]:
        return self.store.transaction(write=False)

    def _writing(self) -> AbstractContextManager[Transaction]:
        return self.store.transaction(write=True)

    @staticmethod
    def _execution(tx: Transaction, arn: str, call: str) -> ExecutionRecord:
        record = tx.execution(arn)
        if record is None:
            raise NotFoundError(
                f"no durable execution {arn!r}", call=call, code=RESOURCE_NOT_FOUND,
                http_status=404,
            )
        return record

    @staticmethod
    def _load_ops(tx: Transaction, arn: str, ids: Iterable[str]) -> dict[str, Operation]:
        return {op_id: stored.op for op_id, stored in tx.operations(arn, list(ids)).items()}

    @staticmethod
    def _store_op(
        tx: Transaction,
        execution: ExecutionRecord,
        op: Operation,
        *,
        timer: rules.CallbackTimer | None = None,
        service_change: bool = False,
    ) -> None:
        """Store ``op``; a change the service made (not the invocation) marks it for the next
        delta and the next invocation's updated ids, and makes an invocation due."""
        arn = execution.arn
        previous = tx.operations(arn, [op.id]).get(op.id)
        if timer is None and previous is not None and op.type is OperationType.CALLBACK:
            timer = previous.timer
        due = rules.next_due(op, timer)
        if previous is None:
            execution.next_seq += 1
        if service_change:
            execution.invocation_due = True
        tx.put_execution(execution)
        tx.put_operation(arn, StoredOp(
            op,
            previous.seq if previous is not None else execution.next_seq,
            None if due is None else _ms(due),
            timer,
            in_delta=service_change or (previous is not None and previous.in_delta),
            updated=service_change or (previous is not None and previous.updated),
        ))

    @staticmethod
    def _append_events(
        tx: Transaction, execution: ExecutionRecord, events: Sequence[rules.HistoryEvent]
    ) -> None:
        if not events:
            return
        first = execution.event_count + 1
        execution.event_count += len(events)
        tx.put_execution(execution)
        tx.append_events(execution.arn, first, events)

    def _finish(
        self, tx: Transaction, execution: ExecutionRecord, end: rules.ExecutionEnd,
        now: datetime,
    ) -> None:
        arn = execution.arn
        exec_op = self._load_ops(tx, arn, [execution_id(arn)])[execution_id(arn)]
        op, event = rules.finish_execution(exec_op, end, now)
        self._store_op(tx, execution, op)
        self._append_events(tx, execution, [event])
        self._record_end(tx, execution, end, now)

    @staticmethod
    def _record_end(
        tx: Transaction, execution: ExecutionRecord, end: rules.ExecutionEnd, now: datetime
    ) -> None:
        execution.status = end.status.value
        execution.end_ms = _ms(now)
        execution.result = end.result
        execution.error = _dump_error(end.error)
        execution.token_sequence = None
        execution.invocation_due = False
        tx.put_execution(execution)

    def _advance(self, tx: Transaction, execution: ExecutionRecord, now: datetime) -> None:
        """Apply the service-side transitions due by ``now``: only calls that change the
        execution do this, never one that reads it."""
        if execution.status != ExecutionStatus.RUNNING.value:
            return
        deadline = _from_ms(execution.start_ms) + timedelta(seconds=execution.timeout_seconds)
        due = tx.due_operations(execution.arn, _ms(min(now, deadline)))
        if due:
            timers = {s.op.id: s.timer for s in due if s.timer is not None}
            outcome = rules.advance_time([s.op for s in due], now, timers)
            for op in outcome.operations:
                self._store_op(tx, execution, op, timer=timers.get(op.id), service_change=True)
            self._append_events(tx, execution, outcome.events)
        if deadline <= now:
            self._finish(tx, execution, rules.ExecutionEnd(ExecutionStatus.TIMED_OUT), deadline)

    def _visible(
        self, tx: Transaction, arn: str, ops: Iterable[Operation], known: dict[str, Operation],
    ) -> list[Operation]:
        def lookup(op_id: str) -> Operation | None:
            if op_id not in known:
                known.update(self._load_ops(tx, arn, [op_id]))
            return known.get(op_id)

        return rules.visible_operations(ops, lookup)

    # ------------------------------------------------------------------ data plane

    def checkpoint(
        self,
        arn: str,
        checkpoint_token: str,
        updates: Sequence[OperationUpdate],
        client_token: str | None = None,
    ) -> CheckpointDurableExecutionOutput:
        now = self._now()
        fingerprint = ""
        with self._writing() as tx:
            execution = self._execution(tx, arn, _CHECKPOINT)
            if client_token is not None:
                rules.check_client_token(client_token)
                fingerprint = rules.request_fingerprint(checkpoint_token, updates)
                seen = tx.client_token(arn, client_token)
                if seen is not None and rules.is_repeat(
                    rules.ClientTokenEntry(seen.fingerprint, _from_ms(seen.expires_ms)),
                    client_token, fingerprint, now,
                ):
                    return from_wire(
                        json.loads(seen.response), CheckpointDurableExecutionOutput,
                        event_converter,
                    )
            rules.check_token(arn, execution.token_sequence, checkpoint_token)
            self._advance(tx, execution, now)
            rules.check_token(arn, execution.token_sequence, checkpoint_token)
            existing = self._load_ops(tx, arn, rules.referenced_ids(arn, updates))
            outcome = rules.apply_batch(arn, existing, updates, now)
            for op in outcome.operations:
                self._store_op(tx, execution, op, timer=outcome.callback_timers.get(op.id))
            self._append_events(tx, execution, outcome.events)
            self._record_chained_invokes(tx, arn, updates)
            token: str | None = None
            if outcome.execution_end is not None:
                self._record_end(tx, execution, outcome.execution_end, now)
            else:
                execution.token_sequence = (execution.token_sequence or 0) + 1
                if execution.lease_owner is not None:
                    execution.lease_expires_ms = self._lease_expiry()
                tx.put_execution(execution)
                token = rules.mint_token(arn, execution.token_sequence)
            delta = {s.op.id: s.op for s in tx.flagged_operations(arn, updated=False)}
            delta.update((op.id, op) for op in outcome.operations)
            tx.clear_flags(arn, updated=False)
            known = {**existing, **delta}
            response = CheckpointDurableExecutionOutput(
                checkpoint_token=token,
                new_execution_state=CheckpointUpdatedExecutionState(
                    operations=tuple(self._visible(tx, arn, delta.values(), known)),
                    next_marker="",
                ),
            )
            if client_token is not None:
                tx.put_client_token(arn, client_token, StoredToken(
                    fingerprint,
                    _ms(rules.client_token_entry(fingerprint, now).expires_at),
                    json.dumps(to_wire(response, event_converter)),
                ))
            return response

    def batch_checkpoint(
        self,
        arn: str,
        checkpoint_token: str,
        updates: Sequence[OperationUpdate],
        client_token: str | None = None,
    ) -> CheckpointDurableExecutionOutput:
        return self.checkpoint(arn, checkpoint_token, updates, client_token)

    def get_execution_state(
        self,
        arn: str,
        checkpoint_token: str,
        next_marker: str,
        max_items: int = DEFAULT_MAX_ITEMS,
    ) -> GetDurableExecutionStateOutput:
        now = self._now()
        with self._writing() as tx:
            execution = self._execution(tx, arn, _STATE)
            rules.check_token(arn, execution.token_sequence, checkpoint_token, _STATE)
            self._advance(tx, execution, now)
            page, marker = self._state_page(tx, arn, next_marker, max_items, _STATE)
            return GetDurableExecutionStateOutput(operations=page, next_marker=marker)

    def _state_page(
        self, tx: Transaction, arn: str, marker: str, max_items: int, call: str
    ) -> tuple[tuple[Operation, ...], str]:
        ops = tx.all_operations(arn)
        known = {op.id: op for op in ops}
        return rules.state_page(self._visible(tx, arn, ops, known), marker, max_items, call)

    @staticmethod
    def _record_chained_invokes(
        tx: Transaction, arn: str, updates: Sequence[OperationUpdate]
    ) -> None:
        for update in updates:
            options = update.chained_invoke_options
            if (
                update.type is OperationType.CHAINED_INVOKE
                and update.action is OperationAction.START
                and options is not None
                and options.function_name
            ):
                tx.add_chained_invoke(ChainedInvokeRequest(
                    arn, update.id, options.function_name, update.payload,
                    rules.chained_invoke_target_arn(arn, update.id, options.function_name),
                    options.tenant_id,
                ))

    # ------------------------------------------------------------------ executions

    def start_execution(
        self,
        function_name: str,
        input_payload: str | None = None,
        *,
        name: str | None = None,
        arn: str | None = None,
        timeout_seconds: int | None = None,
    ) -> str:
        """Create an execution (Lambda ``Invoke`` with a durable execution name); its ARN.

        Idempotent: the same function, name and input return the existing execution; the same
        name with another input raises ``DurableExecutionAlreadyStartedError``. The first
        invocation is due at once.
        """
        call = "Invoke"
        now = self._now()
        timeout = timeout_seconds or self.execution_timeout_seconds
        if not 1 <= timeout <= MAX_DURATION_SECONDS:
            raise rules.invalid(
                f"ExecutionTimeout must be 1-{MAX_DURATION_SECONDS} seconds, got {timeout}",
                call,
            )
        with self._writing() as tx:
            count = tx.count_executions()
            name = name or f"execution-{count + 1}"
            if len(name) > MAX_ID_LENGTH or not name or not all(
                c.isascii() and (c.isalnum() or c in "-_") for c in name
            ):
                raise rules.invalid(
                    f"execution name {name!r} must be 1-64 characters of [a-zA-Z0-9-_]", call
                )
            existing = tx.execution_by_name(function_name, name)
            if existing is not None:
                if existing.input_payload != input_payload:
                    raise DurableExecutionAlreadyStartedError(
                        f"execution {name!r} of {function_name!r} already exists with a"
                        " different input",
                        call=call, code=ALREADY_STARTED, http_status=409,
                    )
                return existing.arn
            short = function_name.split(":function:", 1)[-1].split(":", 1)[0]
            number = f"{count + 1:08d}"
            arn = arn or f"{ACCOUNT_ARN}:{short}:$LATEST/durable-execution/{name}/{number}"
            op, event = rules.start_execution(arn, name, input_payload, now, timeout)
            execution = ExecutionRecord(
                arn, name, function_name, input_payload, ExecutionStatus.RUNNING.value,
                _ms(now), timeout, invocation_due=True,
            )
            tx.put_execution(execution)
            self._store_op(tx, execution, op)
            self._append_events(tx, execution, [event])
            return arn

    def next_invocation_event(self, arn: str, max_items: int = DEFAULT_MAX_ITEMS) -> dict[str, Any]:
        """Begin the next invocation whether or not one is due or leased: the Lambda event
        dict (epoch-ms flavour). Rotates the token, so the previous invocation's goes stale.
        Runners use ``claim_invocation``; this is for tests that play the service by hand."""
        now = self._now()
        with self._writing() as tx:
            execution = self._execution(tx, arn, "Invoke")
            self._advance(tx, execution, now)
            return self._begin_invocation(tx, execution, now, max_items, owner=None)

    def claim_invocation(
        self, arn: str, owner: str, max_items: int = DEFAULT_MAX_ITEMS
    ) -> InvocationClaim:
        """Fire due timers, then take the due invocation of ``arn`` for ``owner``, if any.

        One transaction: the answer is the stored state, so it cannot be stale by the time the
        caller acts on it. The invocation is leased to ``owner`` until it completes, is
        released, or the lease expires (a checkpoint renews it; an owner process found dead on
        this host loses it at once). While another owner holds it, the claim names that owner.
        """
        now = self._now()
        with self._writing() as tx:
            execution = self._execution(tx, arn, "Invoke")
            self._advance(tx, execution, now)
            status = ExecutionStatus(execution.status)
            if status is not ExecutionStatus.RUNNING:
                return InvocationClaim(status)
            holder = execution.lease_owner
            if holder is not None and holder != owner and _lease_alive(holder, execution):
                return InvocationClaim(status, holder=holder)
            if not execution.invocation_due:
                return InvocationClaim(status, next_wake=self._next_wake(tx, arn))
            event = self._begin_invocation(tx, execution, now, max_items, owner=owner)
            return InvocationClaim(status, event=event)

    def release_invocation(self, arn: str, owner: str) -> None:
        """Give up ``owner``'s lease without completing the invocation (it stays due)."""
        with self._writing() as tx:
            execution = self._execution(tx, arn, "Invoke")
            if execution.lease_owner == owner:
                execution.lease_owner = execution.lease_expires_ms = None
                tx.put_execution(execution)

    def _lease_expiry(self) -> int:
        return int((time.time() + self.lease_seconds) * 1000)

    def _begin_invocation(
        self, tx: Transaction, execution: ExecutionRecord, now: datetime, max_items: int,
        owner: str | None,
    ) -> dict[str, Any]:
        arn = execution.arn
        if execution.token_sequence is None:
            raise rules.invalid(f"execution {arn!r} has ended; there is nothing to invoke",
                                "Invoke")
        execution.token_sequence += 1
        execution.invocations += 1
        execution.invocation_start_ms = _ms(now)
        execution.lease_owner = owner
        execution.lease_expires_ms = None if owner is None else self._lease_expiry()
        tx.put_execution(execution)
        page, marker = self._state_page(tx, arn, "", max_items, "Invoke")
        updated = [s.op.id for s in tx.flagged_operations(arn, updated=True)]
        tx.clear_flags(arn, updated=True)
        event = DurableInvocationInput(
            durable_execution_arn=arn,
            checkpoint_token=rules.mint_token(arn, execution.token_sequence),
            initial_execution_state=InitialExecutionState(operations=page, next_marker=marker),
            updated_operation_ids=tuple(updated),
        )
        return to_wire(event, event_converter)

    def record_invocation_completed(
        self,
        arn: str,
        output: Mapping[str, Any] | None,
        *,
        function_error: ErrorObject | None = None,
        request_id: str | None = None,
        owner: str | None = None,
        counts: bool = True,
    ) -> bool:
        """Record the end of an invocation and apply the handler's output, in one transaction
        that also decides whether another invocation is due.

        ``output`` is the handler's return dict (SUCCEEDED / FAILED end the execution, PENDING
        suspends it), or ``None`` when the invocation failed with ``function_error``: the
        service invokes again, and after ``INVOCATION_ATTEMPTS`` failures in a row that
        ``counts`` (a stale token or a transient error does not) the execution FAILS.
        With ``owner``, an invocation that lost its lease records nothing (its token is stale,
        another one took over) and the answer is False.
        """
        now = self._now()
        with self._writing() as tx:
            execution = self._execution(tx, arn, "Invoke")
            if owner is not None and execution.lease_owner != owner:
                return False
            execution.lease_owner = execution.lease_expires_ms = None
            details: dict[str, Any] = {
                "StartTimestamp": _from_ms(execution.invocation_start_ms or _ms(now)),
                "EndTimestamp": now,
                "RequestId": request_id or f"{arn.rsplit('/', 1)[-1]}-{execution.invocations}",
            }
            if function_error is not None:
                details["Error"] = rules.wrap_error(function_error)
            self._append_events(tx, execution, [rules.HistoryEvent(
                "InvocationCompleted", now, execution_id(arn), details=details)])
            if execution.status != ExecutionStatus.RUNNING.value:
                return True
            if output is None:
                execution.failed_invocations += int(counts)
                execution.invocation_due = True
                tx.put_execution(execution)
                if execution.failed_invocations >= INVOCATION_ATTEMPTS:
                    self._finish(tx, execution, rules.ExecutionEnd(
                        ExecutionStatus.FAILED, error=function_error or ErrorObject()), now)
                return True
            result = from_wire(output, DurableInvocationOutput, event_converter)
            if result.status == "SUCCEEDED":
                rules.check_payload_size(
                    result.result, MAX_EXECUTION_RESULT_BYTES, "the execution result", "Invoke",
                )
                end = rules.ExecutionEnd(ExecutionStatus.SUCCEEDED, result=result.result)
            elif result.status == "FAILED":
                rules.check_error_size(result.error, "the execution error", "Invoke")
                end = rules.ExecutionEnd(ExecutionStatus.FAILED, error=result.error)
            elif result.status == "PENDING":
                execution.failed_invocations = 0
                execution.invocation_due = bool(tx.flagged_operations(arn, updated=True))
                tx.put_execution(execution)
                return True
            else:
                raise rules.invalid(f"the handler returned an unknown Status {result.status!r}",
                                    "Invoke")
            self._finish(tx, execution, end, now)
            return True

    def needs_invocation(self, arn: str) -> bool:
        """Whether an invocation is due now (after firing due timers)."""
        now = self._now()
        with self._writing() as tx:
            execution = self._execution(tx, arn, "Invoke")
            self._advance(tx, execution, now)
            return execution.status == ExecutionStatus.RUNNING.value and execution.invocation_due

    def next_wake(self, arn: str, *, callbacks: bool = True) -> datetime | None:
        """When the service will next move an operation of ``arn`` on its own (timers, retries,
        and with ``callbacks`` callback deadlines), or ``None``."""
        with self._reading() as tx:
            self._execution(tx, arn, "Invoke")
            return self._next_wake(tx, arn, callbacks=callbacks)

    @staticmethod
    def _next_wake(tx: Transaction, arn: str, *, callbacks: bool = True) -> datetime | None:
        for stored in tx.timed_operations(arn):
            if stored.due_ms is not None and (
                callbacks or stored.op.type is not OperationType.CALLBACK
            ):
                return _from_ms(stored.due_ms)
        return None

    def get_execution(self, arn: str) -> dict[str, Any]:
        """``GetDurableExecution``: status, input, result or error (boto3 flavour)."""
        with self._reading() as tx:
            execution = self._execution(tx, arn, "GetDurableExecution")
        out = self._summary(execution)
        if execution.input_payload is not None:
            out["InputPayload"] = execution.input_payload
        if execution.result is not None:
            out["Result"] = execution.result
        if execution.error is not None:
            out["Error"] = json.loads(execution.error)
        return out

    @staticmethod
    def _summary(execution: ExecutionRecord) -> dict[str, Any]:
        arn = execution.arn
        out: dict[str, Any] = {
            "DurableExecutionArn": arn,
            "DurableExecutionName": execution.name,
            "FunctionArn": arn.split("/durable-execution/", 1)[0],
            "Status": execution.status,
            "StartTimestamp": _from_ms(execution.start_ms),
        }
        if execution.end_ms is not None:
            out["EndTimestamp"] = _from_ms(execution.end_ms)
        return out

    def list_executions(
        self,
        function_name: str | None = None,
        *,
        status: ExecutionStatus | None = None,
        marker: str = "",
        max_items: int = 50,
    ) -> dict[str, Any]:
        """``ListDurableExecutionsByFunction``: newest first, paged by ``NextMarker``."""
        call = "ListDurableExecutionsByFunction"
        if not 1 <= max_items <= MAX_STATE_PAGE:
            raise rules.invalid(f"MaxItems must be 1-{MAX_STATE_PAGE}, got {max_items}", call)
        offset = rules.parse_marker(marker, call)
        with self._reading() as tx:
            rows = tx.list_executions(
                function_name, status.value if status else None, offset, max_items + 1
            )
        page = [self._summary(row) for row in rows[:max_items]]
        next_marker = str(offset + max_items) if len(rows) > max_items else ""
        return {"DurableExecutions": page, "NextMarker": next_marker}

    def get_history(
        self,
        arn: str,
        *,
        include_execution_data: bool = True,
        marker: str = "",
        max_items: int = 100,
        reverse_order: bool = False,
    ) -> dict[str, Any]:
        """``GetDurableExecutionHistory``: ``{Events, NextMarker}`` (boto3 flavour)."""
        call = "GetDurableExecutionHistory"
        if not 1 <= max_items <= MAX_STATE_PAGE:
            raise rules.invalid(f"MaxItems must be 1-{MAX_STATE_PAGE}, got {max_items}", call)
        offset = rules.parse_marker(marker, call)
        with self._reading() as tx:
            self._execution(tx, arn, call)
            rows = tx.events(arn, offset, max_items + 1, reverse=reverse_order)
        events = [
            event.to_wire(event_id, include_execution_data) for event_id, event in rows[:max_items]
        ]
        next_marker = str(offset + max_items) if len(rows) > max_items else ""
        return {"Events": events, "NextMarker": next_marker}

    def history_events(self, arn: str) -> list[dict[str, Any]]:
        """Every history event, all pages."""
        events: list[dict[str, Any]] = []
        marker = ""
        while True:
            page = self.get_history(arn, marker=marker, max_items=MAX_STATE_PAGE)
            events.extend(page["Events"])
            marker = page["NextMarker"]
            if not marker:
                return events

    def operations(self, arn: str) -> list[Operation]:
        """Every operation, children of completed contexts included, in start order."""
        with self._reading() as tx:
            self._execution(tx, arn, _STATE)
            return tx.all_operations(arn)

    def stop_execution(self, arn: str, error: ErrorObject | None = None) -> dict[str, Any]:
        """``StopDurableExecution``: a running execution becomes STOPPED."""
        call = "StopDurableExecution"
        now = self._now()
        with self._writing() as tx:
            execution = self._execution(tx, arn, call)
            self._advance(tx, execution, now)
            if execution.status != ExecutionStatus.RUNNING.value:
                raise InvalidRequestError(
                    f"execution {arn!r} is {execution.status}, not RUNNING", call=call,
                    code="ResourceConflictException", http_status=409,
                )
            rules.check_error_size(error, "the stop error", call)
            self._finish(tx, execution, rules.ExecutionEnd(ExecutionStatus.STOPPED, error=error),
                         now)
            return {"StopTimestamp": now}

    # ------------------------------------------------------------------ callbacks

    def send_callback_success(self, callback_id: str, result: str | bytes | None = None) -> None:
        """``SendDurableExecutionCallbackSuccess``; the result is the raw body the caller sent."""
        text = result.decode() if isinstance(result, bytes) else result
        self._complete_callback(callback_id, "SendDurableExecutionCallbackSuccess", text, None)

    def send_callback_failure(self, callback_id: str, error: ErrorObject | None = None) -> None:
        self._complete_callback(
            callback_id, "SendDurableExecutionCallbackFailure", None, error or ErrorObject()
        )

    def send_callback_heartbeat(self, callback_id: str) -> None:
        call = "SendDurableExecutionCallbackHeartbeat"
        now = self._now()
        with self._writing() as tx:
            execution, stored = self._callback(tx, callback_id, call, now)
            if stored.timer is not None:
                timer = rules.heartbeat(stored.timer, now)
                due = rules.next_due(stored.op, timer)
                tx.put_operation(execution.arn, attrs.evolve(
                    stored, timer=timer, due_ms=None if due is None else _ms(due)
                ))

    def _complete_callback(
        self, callback_id: str, call: str, result: str | None, error: ErrorObject | None
    ) -> None:
        now = self._now()
        with self._writing() as tx:
            execution, stored = self._callback(tx, callback_id, call, now)
            new, event = rules.complete_callback(
                stored.op, now, result=result, error=error, failed=error is not None, call=call
            )
            self._store_op(tx, execution, new, service_change=True)
            self._append_events(tx, execution, [event])

    def _callback(
        self, tx: Transaction, callback_id: str, call: str, now: datetime
    ) -> tuple[ExecutionRecord, StoredOp]:
        """The open callback's execution and operation, after due timers ran."""
        arn, op_id = rules.parse_callback_id(callback_id, call)
        execution = tx.execution(arn)
        stored = tx.operations(arn, [op_id]).get(op_id) if execution else None
        if execution is None or stored is None or stored.op.type is not OperationType.CALLBACK:
            raise NotFoundError(
                f"no callback {callback_id!r}", call=call, code=RESOURCE_NOT_FOUND,
                http_status=404,
            )
        self._advance(tx, execution, now)
        if execution.status != ExecutionStatus.RUNNING.value:
            raise rules.callback_not_open(callback_id, "closed with its execution", call)
        stored = tx.operations(arn, [op_id])[op_id]
        if stored.op.status is not OperationStatus.STARTED:
            raise rules.callback_not_open(callback_id, stored.op.status.value, call)
        return execution, stored

    # ------------------------------------------------------------------ chained invokes

    def pending_chained_invokes(self, arn: str | None = None) -> list[ChainedInvokeRequest]:
        """STARTED chained invokes (of ``arn``, or of every running execution) to run."""
        with self._reading() as tx:
            rows = tx.chained_invokes(arn) if arn is None or tx.execution(arn) else []
        return [request for request, op in rows if op.status is OperationStatus.STARTED]

    def complete_chained_invoke(
        self,
        arn: str,
        op_id: str,
        result: str | None = None,
        *,
        error: ErrorObject | None = None,
        status: OperationStatus | None = None,
    ) -> None:
        """The target of a chained invoke ended; ``status`` defaults from ``error``."""
        call = "CompleteChainedInvoke"
        now = self._now()
        final = status or (OperationStatus.FAILED if error else OperationStatus.SUCCEEDED)
        with self._writing() as tx:
            execution = self._execution(tx, arn, call)
            self._advance(tx, execution, now)
            op = self._load_ops(tx, arn, [op_id]).get(op_id)
            if op is None or op.type is not OperationType.CHAINED_INVOKE:
                raise NotFoundError(
                    f"{op_id!r} is not a chained invoke of {arn!r}", call=call,
                    code=RESOURCE_NOT_FOUND, http_status=404,
                )
            rules.check_payload_size(result, MAX_PAYLOAD_BYTES, "the chained result", call)
            rules.check_error_size(error, "the chained error", call)
            new, event = rules.complete_chained_invoke(op, final, now, result=result, error=error)
            self._store_op(tx, execution, new, service_change=True)
            self._append_events(tx, execution, [event])


class AsyncLocalBackend(InlineAsyncBackend):
    """The ``AsyncDurableBackend`` view of a ``LocalBackend``: same database, awaitable calls.

    It calls the sync methods directly on the event loop instead of hopping to a thread: a
    local SQLite transaction (WAL, no fsync per commit) takes tens of microseconds, less than
    an executor round trip, and the call cannot be half-cancelled.
    """

    backend: LocalBackend

_sync_check: type[DurableBackend] = LocalBackend
_async_check: type[AsyncDurableBackend] = AsyncLocalBackend

"""``LocalBackend``: the durable execution service embedded on stdlib ``sqlite3``.

Every rule comes from ``_rules`` (shared with the test fake); this module only stores. Each
public call is one ``BEGIN IMMEDIATE`` transaction under one lock, so a crash never leaves half
a batch and several driver threads can share one backend. Opening the file (schema version,
WAL, read-only mode) and turning sqlite3 errors into typed ones is ``_sqlite``'s job.

Service-side transitions (timers, retries, callback deadlines, the execution timeout) happen
lazily, at the start of any call that looks at the execution, against the injected clock.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
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
from durable_backend.local._sqlite import MEMORY, connect, translate

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


def _lease_alive(owner: str, execution: sqlite3.Row) -> bool:
    """Whether ``owner`` still holds its lease: not expired, and not a dead process here."""
    if execution["lease_expires_ms"] is None or execution["lease_expires_ms"] <= time.time() * 1000:
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


@frozen
class ChainedInvokeRequest:
    """A CHAINED_INVOKE the runner must run: start ``target_arn`` with ``input_payload``."""

    arn: str
    op_id: str
    function_name: str
    input_payload: str | None
    target_arn: str
    tenant_id: str | None = None


# --------------------------------------------------------------------------- serialization


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _from_ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, tz=UTC)


def _dump_op(op: Operation) -> str:
    return json.dumps(to_wire(op, event_converter), separators=(",", ":"))


def _load_op(data: str) -> Operation:
    return from_wire(json.loads(data), Operation, event_converter)


def _dump_error(error: ErrorObject | None) -> str | None:
    return None if error is None else json.dumps(to_wire(error))


def _load_error(data: str | None) -> ErrorObject | None:
    return None if data is None else from_wire(json.loads(data), ErrorObject)


def _json_default(value: object) -> object:
    if isinstance(value, datetime):
        return {"$ms": _ms(value)}
    raise TypeError(f"cannot store {type(value).__name__} in a history event")


def _json_hook(obj: dict[str, Any]) -> object:
    return _from_ms(obj["$ms"]) if obj.keys() == {"$ms"} else obj


def _dump_event(event: rules.HistoryEvent) -> str:
    return json.dumps(attrs.asdict(event), default=_json_default, separators=(",", ":"))


def _load_event(data: str) -> rules.HistoryEvent:
    raw = json.loads(data, object_hook=_json_hook)
    return rules.HistoryEvent(**raw)


def _dump_timer(timer: rules.CallbackTimer | None) -> str | None:
    if timer is None:
        return None
    return json.dumps(attrs.asdict(timer), default=_json_default)


def _load_timer(data: str | None) -> rules.CallbackTimer | None:
    return None if data is None else rules.CallbackTimer(**json.loads(data, object_hook=_json_hook))


# --------------------------------------------------------------------------- the backend


class LocalBackend:
    """The durable execution service on SQLite; implements ``DurableBackend``.

    ``path`` is a database file (created on first use, shared safely across reopen) or
    ``":memory:"``. ``clock`` returns the current timezone-aware time; inject a ``ManualClock``
    to skip time. ``async_`` is the ``AsyncDurableBackend`` view over the same database.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = ":memory:",
        *,
        clock: Clock = system_clock,
        execution_timeout_seconds: int = DEFAULT_EXECUTION_TIMEOUT_SECONDS,
        read_only: bool = False,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
    ) -> None:
        self._clock = clock
        self.execution_timeout_seconds = execution_timeout_seconds
        self.lease_seconds = lease_seconds
        self.path = os.fspath(path)
        if read_only and self.path == MEMORY:
            raise ValueError("a read-only backend needs a database file, not ':memory:'")
        self.read_only = read_only
        self._lock = threading.RLock()
        self._conn = connect(self.path, read_only=read_only)
        self.async_ = AsyncLocalBackend(self)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> LocalBackend:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # ------------------------------------------------------------------ plumbing

    def _now(self) -> datetime:
        """The clock, truncated to the millisecond the store keeps."""
        now = self._clock()
        return now.replace(microsecond=now.microsecond // 1000 * 1000)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One transaction; a read-only backend reads, the others take the write lock first."""
        with self._lock, translate(self.path):
            self._conn.execute("BEGIN" if self.read_only else "BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _execution(self, db: sqlite3.Connection, arn: str, call: str) -> sqlite3.Row:
        row: sqlite3.Row | None = db.execute(
            "SELECT * FROM executions WHERE arn = ?", (arn,)
        ).fetchone()
        if row is None:
            raise NotFoundError(
                f"no durable execution {arn!r}", call=call, code=RESOURCE_NOT_FOUND,
                http_status=404,
            )
        return row

    def _load_ops(
        self, db: sqlite3.Connection, arn: str, ids: Iterable[str]
    ) -> dict[str, Operation]:
        wanted = list(ids)
        marks = ",".join("?" * len(wanted))
        rows = db.execute(
            f"SELECT data FROM operations WHERE arn = ? AND id IN ({marks})", (arn, *wanted)
        )
        ops = (_load_op(data) for (data,) in rows)
        return {op.id: op for op in ops}

    def _all_ops(self, db: sqlite3.Connection, arn: str) -> list[Operation]:
        rows = db.execute("SELECT data FROM operations WHERE arn = ? ORDER BY seq", (arn,))
        return [_load_op(data) for (data,) in rows]

    def _store_op(
        self,
        db: sqlite3.Connection,
        arn: str,
        op: Operation,
        *,
        timer: rules.CallbackTimer | None = None,
        service_change: bool = False,
    ) -> None:
        if timer is None and op.type is OperationType.CALLBACK:
            row = db.execute(
                "SELECT timer FROM operations WHERE arn = ? AND id = ?", (arn, op.id)
            ).fetchone()
            timer = _load_timer(row[0]) if row else None
        due = rules.next_due(op, timer)
        (seq,) = db.execute(
            "UPDATE executions SET next_seq = next_seq + 1 WHERE arn = ? RETURNING next_seq",
            (arn,),
        ).fetchone()
        flag = int(service_change)
        if service_change:
            db.execute("UPDATE executions SET invocation_due = 1 WHERE arn = ?", (arn,))
        db.execute(
            "INSERT INTO operations (arn, id, seq, data, due_ms, timer, in_delta, updated)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (arn, id) DO UPDATE SET data = excluded.data,"
            " due_ms = excluded.due_ms, timer = excluded.timer,"
            " in_delta = max(in_delta, excluded.in_delta),"
            " updated = max(updated, excluded.updated)",
            (arn, op.id, seq, _dump_op(op), None if due is None else _ms(due),
             _dump_timer(timer), flag, flag),
        )

    def _append_events(
        self, db: sqlite3.Connection, arn: str, events: Sequence[rules.HistoryEvent]
    ) -> None:
        if not events:
            return
        (last,) = db.execute(
            "UPDATE executions SET event_count = event_count + ? WHERE arn = ?"
            " RETURNING event_count",
            (len(events), arn),
        ).fetchone()
        first = last - len(events) + 1
        db.executemany(
            "INSERT INTO events (arn, event_id, data) VALUES (?, ?, ?)",
            [(arn, first + i, _dump_event(e)) for i, e in enumerate(events)],
        )

    def _finish(
        self, db: sqlite3.Connection, arn: str, end: rules.ExecutionEnd, now: datetime
    ) -> None:
        exec_op = self._load_ops(db, arn, [execution_id(arn)])[execution_id(arn)]
        op, event = rules.finish_execution(exec_op, end, now)
        self._store_op(db, arn, op)
        self._append_events(db, arn, [event])
        self._record_end(db, arn, end, now)

    def _record_end(
        self, db: sqlite3.Connection, arn: str, end: rules.ExecutionEnd, now: datetime
    ) -> None:
        db.execute(
            "UPDATE executions SET status = ?, end_ms = ?, result = ?, error = ?,"
            " token_sequence = NULL, invocation_due = 0 WHERE arn = ?",
            (end.status.value, _ms(now), end.result, _dump_error(end.error), arn),
        )

    def _advance(self, db: sqlite3.Connection, execution: sqlite3.Row, now: datetime) -> None:
        """Apply the service-side transitions due by ``now``: only calls that change the
        execution do this, never one that reads it."""
        if execution["status"] != ExecutionStatus.RUNNING.value:
            return
        arn: str = execution["arn"]
        deadline = _from_ms(execution["start_ms"]) + timedelta(
            seconds=execution["timeout_seconds"]
        )
        rows = db.execute(
            "SELECT data, timer FROM operations WHERE arn = ? AND due_ms <= ?",
            (arn, _ms(min(now, deadline))),
        ).fetchall()
        if rows:
            ops = [_load_op(data) for data, _ in rows]
            timers = {
                op.id: timer
                for op, (_, raw) in zip(ops, rows, strict=True)
                if (timer := _load_timer(raw)) is not None
            }
            outcome = rules.advance_time(ops, now, timers)
            for op in outcome.operations:
                self._store_op(db, arn, op, timer=timers.get(op.id), service_change=True)
            self._append_events(db, arn, outcome.events)
        if deadline <= now:
            self._finish(db, arn, rules.ExecutionEnd(ExecutionStatus.TIMED_OUT), deadline)

    def _visible(
        self, db: sqlite3.Connection, arn: str, ops: Iterable[Operation],
        known: dict[str, Operation],
    ) -> list[Operation]:
        def lookup(op_id: str) -> Operation | None:
            if op_id not in known:
                known.update(self._load_ops(db, arn, [op_id]))
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
        with self._transaction() as db:
            execution = self._execution(db, arn, _CHECKPOINT)
            if client_token is not None:
                rules.check_client_token(client_token)
                fingerprint = rules.request_fingerprint(checkpoint_token, updates)
                row = db.execute(
                    "SELECT fingerprint, expires_ms, response FROM client_tokens"
                    " WHERE arn = ? AND client_token = ?",
                    (arn, client_token),
                ).fetchone()
                if row is not None and rules.is_repeat(
                    rules.ClientTokenEntry(row[0], _from_ms(row[1])), client_token, fingerprint,
                    now,
                ):
                    return from_wire(
                        json.loads(row[2]), CheckpointDurableExecutionOutput, event_converter
                    )
            rules.check_token(arn, execution["token_sequence"], checkpoint_token)
            self._advance(db, execution, now)
            execution = self._execution(db, arn, _CHECKPOINT)
            rules.check_token(arn, execution["token_sequence"], checkpoint_token)
            existing = self._load_ops(db, arn, rules.referenced_ids(arn, updates))
            outcome = rules.apply_batch(arn, existing, updates, now)
            for op in outcome.operations:
                self._store_op(db, arn, op, timer=outcome.callback_timers.get(op.id))
            self._append_events(db, arn, outcome.events)
            self._record_chained_invokes(db, arn, updates)
            if outcome.execution_end is not None:
                self._record_end(db, arn, outcome.execution_end, now)
                token = None
            else:
                (sequence,) = db.execute(
                    "UPDATE executions SET token_sequence = token_sequence + 1,"
                    " lease_expires_ms = CASE WHEN lease_owner IS NULL THEN NULL ELSE ? END"
                    " WHERE arn = ? RETURNING token_sequence",
                    (self._lease_expiry(), arn),
                ).fetchone()
                token = rules.mint_token(arn, sequence)
            touched = {op.id: op for op in outcome.operations}
            delta_rows = db.execute(
                "SELECT id, data FROM operations WHERE arn = ? AND in_delta = 1 ORDER BY seq",
                (arn,),
            ).fetchall()
            delta = {op_id: _load_op(data) for op_id, data in delta_rows}
            delta.update(touched)
            db.execute("UPDATE operations SET in_delta = 0 WHERE arn = ? AND in_delta = 1", (arn,))
            known = {**existing, **delta}
            response = CheckpointDurableExecutionOutput(
                checkpoint_token=token,
                new_execution_state=CheckpointUpdatedExecutionState(
                    operations=tuple(self._visible(db, arn, delta.values(), known)),
                    next_marker="",
                ),
            )
            if client_token is not None:
                db.execute(
                    "INSERT OR REPLACE INTO client_tokens VALUES (?, ?, ?, ?, ?)",
                    (arn, client_token, fingerprint,
                     _ms(rules.client_token_entry(fingerprint, now).expires_at),
                     json.dumps(to_wire(response, event_converter))),
                )
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
        with self._transaction() as db:
            execution = self._execution(db, arn, _STATE)
            rules.check_token(arn, execution["token_sequence"], checkpoint_token, _STATE)
            self._advance(db, execution, now)
            page, marker = self._state_page(db, arn, next_marker, max_items, _STATE)
            return GetDurableExecutionStateOutput(operations=page, next_marker=marker)

    def _state_page(
        self, db: sqlite3.Connection, arn: str, marker: str, max_items: int, call: str
    ) -> tuple[tuple[Operation, ...], str]:
        ops = self._all_ops(db, arn)
        known = {op.id: op for op in ops}
        return rules.state_page(self._visible(db, arn, ops, known), marker, max_items, call)

    def _record_chained_invokes(
        self, db: sqlite3.Connection, arn: str, updates: Sequence[OperationUpdate]
    ) -> None:
        for update in updates:
            options = update.chained_invoke_options
            if (
                update.type is OperationType.CHAINED_INVOKE
                and update.action is OperationAction.START
                and options is not None
                and options.function_name
            ):
                db.execute(
                    "INSERT INTO chained_invokes VALUES (?, ?, ?, ?, ?, ?)",
                    (arn, update.id, options.function_name, options.tenant_id, update.payload,
                     rules.chained_invoke_target_arn(arn, update.id, options.function_name)),
                )

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
        name with another input raises ``DurableExecutionAlreadyStartedError``.
        """
        call = "Invoke"
        now = self._now()
        timeout = timeout_seconds or self.execution_timeout_seconds
        if not 1 <= timeout <= MAX_DURATION_SECONDS:
            raise rules.invalid(
                f"ExecutionTimeout must be 1-{MAX_DURATION_SECONDS} seconds, got {timeout}",
                call,
            )
        with self._transaction() as db:
            (count,) = db.execute("SELECT count(*) FROM executions").fetchone()
            name = name or f"execution-{count + 1}"
            if len(name) > MAX_ID_LENGTH or not name or not all(
                c.isascii() and (c.isalnum() or c in "-_") for c in name
            ):
                raise rules.invalid(
                    f"execution name {name!r} must be 1-64 characters of [a-zA-Z0-9-_]", call
                )
            row = db.execute(
                "SELECT arn, input_payload FROM executions WHERE function_name = ? AND name = ?",
                (function_name, name),
            ).fetchone()
            if row is not None:
                if row[1] != input_payload:
                    raise DurableExecutionAlreadyStartedError(
                        f"execution {name!r} of {function_name!r} already exists with a"
                        " different input",
                        call=call, code=ALREADY_STARTED, http_status=409,
                    )
                existing_arn: str = row[0]
                return existing_arn
            short = function_name.split(":function:", 1)[-1].split(":", 1)[0]
            number = f"{count + 1:08d}"
            arn = arn or f"{ACCOUNT_ARN}:{short}:$LATEST/durable-execution/{name}/{number}"
            op, event = rules.start_execution(arn, name, input_payload, now, timeout)
            db.execute(
                "INSERT INTO executions (arn, name, function_name, input_payload, status,"
                " start_ms, timeout_seconds, token_sequence, invocation_due)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, 0, 1)",
                (arn, name, function_name, input_payload, ExecutionStatus.RUNNING.value,
                 _ms(now), timeout),
            )
            self._store_op(db, arn, op)
            self._append_events(db, arn, [event])
            return arn

    def next_invocation_event(self, arn: str, max_items: int = DEFAULT_MAX_ITEMS) -> dict[str, Any]:
        """Begin the next invocation whether or not one is due or leased: the Lambda event
        dict (epoch-ms flavour). Rotates the token, so the previous invocation's goes stale.
        Runners use ``claim_invocation``; this is for tests that play the service by hand."""
        now = self._now()
        with self._transaction() as db:
            self._advance(db, self._execution(db, arn, "Invoke"), now)
            return self._begin_invocation(db, arn, now, max_items, owner=None)

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
        with self._transaction() as db:
            self._advance(db, self._execution(db, arn, "Invoke"), now)
            row = self._execution(db, arn, "Invoke")
            status = ExecutionStatus(row["status"])
            if status is not ExecutionStatus.RUNNING:
                return InvocationClaim(status)
            holder = row["lease_owner"]
            if holder is not None and holder != owner and _lease_alive(holder, row):
                return InvocationClaim(status, holder=holder)
            if not row["invocation_due"]:
                return InvocationClaim(status, next_wake=self._next_wake(db, arn))
            event = self._begin_invocation(db, arn, now, max_items, owner=owner)
            return InvocationClaim(status, event=event)

    def release_invocation(self, arn: str, owner: str) -> None:
        """Give up ``owner``'s lease without completing the invocation (it stays due)."""
        with self._transaction() as db:
            db.execute(
                "UPDATE executions SET lease_owner = NULL, lease_expires_ms = NULL"
                " WHERE arn = ? AND lease_owner = ?",
                (arn, owner),
            )

    def _lease_expiry(self) -> int:
        return int((time.time() + self.lease_seconds) * 1000)

    def _begin_invocation(
        self, db: sqlite3.Connection, arn: str, now: datetime, max_items: int, owner: str | None
    ) -> dict[str, Any]:
        (sequence,) = db.execute(
            "UPDATE executions SET token_sequence = token_sequence + 1,"
            " invocations = invocations + 1, invocation_start_ms = ?, lease_owner = ?,"
            " lease_expires_ms = ? WHERE arn = ? AND token_sequence IS NOT NULL"
            " RETURNING token_sequence",
            (_ms(now), owner, None if owner is None else self._lease_expiry(), arn),
        ).fetchone() or (None,)
        if sequence is None:
            raise rules.invalid(f"execution {arn!r} has ended; there is nothing to invoke",
                                "Invoke")
        page, marker = self._state_page(db, arn, "", max_items, "Invoke")
        updated = [
            op_id for (op_id,) in db.execute(
                "SELECT id FROM operations WHERE arn = ? AND updated = 1 ORDER BY seq", (arn,)
            )
        ]
        db.execute(
            "UPDATE operations SET updated = 0, in_delta = 0"
            " WHERE arn = ? AND (updated = 1 OR in_delta = 1)",
            (arn,),
        )
        event = DurableInvocationInput(
            durable_execution_arn=arn,
            checkpoint_token=rules.mint_token(arn, sequence),
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
        with self._transaction() as db:
            execution = self._execution(db, arn, "Invoke")
            if owner is not None and execution["lease_owner"] != owner:
                return False
            db.execute(
                "UPDATE executions SET lease_owner = NULL, lease_expires_ms = NULL WHERE arn = ?",
                (arn,),
            )
            details: dict[str, Any] = {
                "StartTimestamp": _from_ms(execution["invocation_start_ms"] or _ms(now)),
                "EndTimestamp": now,
                "RequestId": request_id or f"{arn.rsplit('/', 1)[-1]}-{execution['invocations']}",
            }
            if function_error is not None:
                details["Error"] = rules.wrap_error(function_error)
            self._append_events(db, arn, [rules.HistoryEvent(
                "InvocationCompleted", now, execution_id(arn), details=details)])
            if execution["status"] != ExecutionStatus.RUNNING.value:
                return True
            if output is None:
                failed = execution["failed_invocations"] + int(counts)
                db.execute(
                    "UPDATE executions SET failed_invocations = ?, invocation_due = 1"
                    " WHERE arn = ?", (failed, arn),
                )
                if failed >= INVOCATION_ATTEMPTS:
                    self._finish(db, arn, rules.ExecutionEnd(
                        ExecutionStatus.FAILED, error=function_error or ErrorObject()), now)
                return True
            result = from_wire(output, DurableInvocationOutput, event_converter)
            if result.status == "SUCCEEDED":
                rules.check_payload_size(
                    result.result, MAX_EXECUTION_RESULT_BYTES, "the execution result",
                    "Invoke",
                )
                end = rules.ExecutionEnd(ExecutionStatus.SUCCEEDED, result=result.result)
            elif result.status == "FAILED":
                rules.check_error_size(result.error, "the execution error", "Invoke")
                end = rules.ExecutionEnd(ExecutionStatus.FAILED, error=result.error)
            elif result.status == "PENDING":
                db.execute(
                    "UPDATE executions SET failed_invocations = 0, invocation_due = EXISTS ("
                    "SELECT 1 FROM operations WHERE arn = ?1 AND updated = 1) WHERE arn = ?1",
                    (arn,),
                )
                return True
            else:
                raise rules.invalid(f"the handler returned an unknown Status {result.status!r}",
                                    "Invoke")
            self._finish(db, arn, end, now)
            return True

    def needs_invocation(self, arn: str) -> bool:
        """Whether an invocation is due now (after firing due timers)."""
        now = self._now()
        with self._transaction() as db:
            self._advance(db, self._execution(db, arn, "Invoke"), now)
            row = self._execution(db, arn, "Invoke")
            return row["status"] == ExecutionStatus.RUNNING.value and bool(row["invocation_due"])

    def next_wake(self, arn: str, *, callbacks: bool = True) -> datetime | None:
        """When the service will next move an operation of ``arn`` on its own (timers, retries,
        and with ``callbacks`` callback deadlines), or ``None``."""
        with self._transaction() as db:
            self._execution(db, arn, "Invoke")
            return self._next_wake(db, arn, callbacks=callbacks)

    def _next_wake(
        self, db: sqlite3.Connection, arn: str, *, callbacks: bool = True
    ) -> datetime | None:
        rows = db.execute(
            "SELECT due_ms, data FROM operations WHERE arn = ? AND due_ms IS NOT NULL"
            " ORDER BY due_ms", (arn,)
        )
        for due_ms, data in rows:
            if callbacks or _load_op(data).type is not OperationType.CALLBACK:
                return _from_ms(due_ms)
        return None

    def get_execution(self, arn: str) -> dict[str, Any]:
        """``GetDurableExecution``: status, input, result or error (boto3 flavour)."""
        with self._transaction() as db:
            row = self._execution(db, arn, "GetDurableExecution")
            out = self._summary(row)
            if row["input_payload"] is not None:
                out["InputPayload"] = row["input_payload"]
            if row["result"] is not None:
                out["Result"] = row["result"]
            if row["error"] is not None:
                out["Error"] = json.loads(row["error"])
            return out

    @staticmethod
    def _summary(row: sqlite3.Row) -> dict[str, Any]:
        arn: str = row["arn"]
        out: dict[str, Any] = {
            "DurableExecutionArn": arn,
            "DurableExecutionName": row["name"],
            "FunctionArn": arn.split("/durable-execution/", 1)[0],
            "Status": row["status"],
            "StartTimestamp": _from_ms(row["start_ms"]),
        }
        if row["end_ms"] is not None:
            out["EndTimestamp"] = _from_ms(row["end_ms"])
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
        with self._transaction() as db:
            rows = db.execute(
                "SELECT * FROM executions WHERE (?1 IS NULL OR function_name = ?1)"
                " AND (?2 IS NULL OR status = ?2) ORDER BY start_ms DESC, rowid DESC"
                " LIMIT ?3 OFFSET ?4",
                (function_name, status.value if status else None, max_items + 1, offset),
            ).fetchall()
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
        with self._transaction() as db:
            self._execution(db, arn, call)
            order = "DESC" if reverse_order else "ASC"
            rows = db.execute(
                f"SELECT event_id, data FROM events WHERE arn = ? ORDER BY event_id {order}"
                " LIMIT ? OFFSET ?",
                (arn, max_items + 1, offset),
            ).fetchall()
        events = [
            _load_event(data).to_wire(event_id, include_execution_data)
            for event_id, data in rows[:max_items]
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
        with self._transaction() as db:
            self._execution(db, arn, _STATE)
            return self._all_ops(db, arn)

    def stop_execution(self, arn: str, error: ErrorObject | None = None) -> dict[str, Any]:
        """``StopDurableExecution``: a running execution becomes STOPPED."""
        call = "StopDurableExecution"
        now = self._now()
        with self._transaction() as db:
            execution = self._execution(db, arn, call)
            self._advance(db, execution, now)
            status = self._execution(db, arn, call)["status"]
            if status != ExecutionStatus.RUNNING.value:
                raise InvalidRequestError(
                    f"execution {arn!r} is {status}, not RUNNING", call=call,
                    code="ResourceConflictException", http_status=409,
                )
            rules.check_error_size(error, "the stop error", call)
            self._finish(db, arn, rules.ExecutionEnd(ExecutionStatus.STOPPED, error=error), now)
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
        with self._transaction() as db:
            arn, op = self._callback(db, callback_id, call, now)
            row = db.execute(
                "SELECT timer FROM operations WHERE arn = ? AND id = ?", (arn, op.id)
            ).fetchone()
            timer = _load_timer(row[0])
            if timer is not None:
                timer = rules.heartbeat(timer, now)
                due = rules.next_due(op, timer)
                db.execute(
                    "UPDATE operations SET timer = ?, due_ms = ? WHERE arn = ? AND id = ?",
                    (_dump_timer(timer), None if due is None else _ms(due), arn, op.id),
                )

    def _complete_callback(
        self, callback_id: str, call: str, result: str | None, error: ErrorObject | None
    ) -> None:
        now = self._now()
        with self._transaction() as db:
            arn, op = self._callback(db, callback_id, call, now)
            new, event = rules.complete_callback(
                op, now, result=result, error=error, failed=error is not None, call=call
            )
            self._store_op(db, arn, new, service_change=True)
            self._append_events(db, arn, [event])

    def _callback(
        self, db: sqlite3.Connection, callback_id: str, call: str, now: datetime
    ) -> tuple[str, Operation]:
        """The open callback's execution and operation, after due timers ran."""
        arn, op_id = rules.parse_callback_id(callback_id, call)
        row = db.execute("SELECT 1 FROM executions WHERE arn = ?", (arn,)).fetchone()
        op = self._load_ops(db, arn, [op_id]).get(op_id) if row else None
        if op is None or op.type is not OperationType.CALLBACK:
            raise NotFoundError(
                f"no callback {callback_id!r}", call=call, code=RESOURCE_NOT_FOUND,
                http_status=404,
            )
        execution = self._execution(db, arn, call)
        self._advance(db, execution, now)
        if self._execution(db, arn, call)["status"] != ExecutionStatus.RUNNING.value:
            raise rules.callback_not_open(callback_id, "closed with its execution", call)
        op = self._load_ops(db, arn, [op_id])[op_id]
        if op.status is not OperationStatus.STARTED:
            raise rules.callback_not_open(callback_id, op.status.value, call)
        return arn, op

    # ------------------------------------------------------------------ chained invokes

    def pending_chained_invokes(self, arn: str | None = None) -> list[ChainedInvokeRequest]:
        """STARTED chained invokes (of ``arn``, or of every running execution) to run."""
        with self._transaction() as db:
            rows = db.execute(
                "SELECT c.arn, c.op_id, c.function_name, c.input_payload, c.target_arn,"
                " c.tenant_id, o.data FROM chained_invokes c"
                " JOIN operations o ON o.arn = c.arn AND o.id = c.op_id"
                " JOIN executions e ON e.arn = c.arn"
                " WHERE (?1 IS NULL OR c.arn = ?1) AND e.status = 'RUNNING' ORDER BY o.seq",
                (arn,),
            ).fetchall()
        return [
            ChainedInvokeRequest(*row[:6])
            for row in rows
            if _load_op(row[6]).status is OperationStatus.STARTED
        ]

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
        with self._transaction() as db:
            self._advance(db, self._execution(db, arn, call), now)
            op = self._load_ops(db, arn, [op_id]).get(op_id)
            if op is None or op.type is not OperationType.CHAINED_INVOKE:
                raise NotFoundError(
                    f"{op_id!r} is not a chained invoke of {arn!r}", call=call,
                    code=RESOURCE_NOT_FOUND, http_status=404,
                )
            rules.check_payload_size(result, MAX_PAYLOAD_BYTES, "the chained result", call)
            rules.check_error_size(error, "the chained error", call)
            new, event = rules.complete_chained_invoke(op, final, now, result=result, error=error)
            self._store_op(db, arn, new, service_change=True)
            self._append_events(db, arn, [event])


class AsyncLocalBackend(InlineAsyncBackend):
    """The ``AsyncDurableBackend`` view of a ``LocalBackend``: same database, awaitable calls.

    It calls the sync methods directly on the event loop instead of hopping to a thread: a
    local SQLite transaction (WAL, no fsync per commit) takes tens of microseconds, less than
    an executor round trip, and the call cannot be half-cancelled.
    """

    backend: LocalBackend

_sync_check: type[DurableBackend] = LocalBackend
_async_check: type[AsyncDurableBackend] = AsyncLocalBackend

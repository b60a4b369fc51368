"""The store interface under the local service, and the in-memory store.

The service (``LocalBackend``) keeps every rule, transition, timer, schedule and lease; a store
only keeps records, inside transactions that commit whole or not at all. Two stores implement
``Store``: ``SqliteStore`` (a file, or SQLite in memory) and ``MemoryStore`` (plain dicts,
for tests that want no SQL at all). Records are handed out as values: a transaction changes
the store only through its ``put_*`` / ``add_*`` / ``clear_*`` calls.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

import attrs
from attrs import define, frozen

from durable_backend._models import Operation
from durable_backend.local import _rules as rules


@define
class ExecutionRecord:
    """One execution's row; the service changes a copy and puts it back."""

    arn: str
    name: str
    function_name: str
    input_payload: str | None
    status: str
    start_ms: int
    timeout_seconds: int
    end_ms: int | None = None
    result: str | None = None
    error: str | None = None
    token_sequence: int | None = 0
    invocations: int = 0
    invocation_start_ms: int | None = None
    next_seq: int = 0
    event_count: int = 0
    invocation_due: bool = False
    failed_invocations: int = 0
    lease_owner: str | None = None
    lease_expires_ms: int | None = None


@frozen
class StoredOp:
    """An operation as stored: with its start order, when a timer moves it next, its callback
    deadlines, and whether it belongs in the next checkpoint's delta (``in_delta``) or the
    next invocation's updated ids (``updated``)."""

    op: Operation
    seq: int
    due_ms: int | None = None
    timer: rules.CallbackTimer | None = None
    in_delta: bool = False
    updated: bool = False


@frozen
class StoredToken:
    """A ``ClientToken`` seen on a checkpoint, and the response it got (JSON)."""

    fingerprint: str
    expires_ms: int
    response: str


@frozen
class ChainedInvokeRequest:
    """A CHAINED_INVOKE the runner must run: start ``target_arn`` with ``input_payload``."""

    arn: str
    op_id: str
    function_name: str
    input_payload: str | None
    target_arn: str
    tenant_id: str | None = None


class Transaction(Protocol):
    """What the service reads and writes inside one transaction."""

    def execution(self, arn: str) -> ExecutionRecord | None: ...
    def execution_by_name(self, function_name: str, name: str) -> ExecutionRecord | None: ...
    def count_executions(self) -> int: ...
    def list_executions(
        self, function_name: str | None, status: str | None, offset: int, limit: int
    ) -> list[ExecutionRecord]: ...
    def put_execution(self, record: ExecutionRecord) -> None: ...

    def operations(self, arn: str, ids: Sequence[str]) -> dict[str, StoredOp]: ...
    def all_operations(self, arn: str) -> list[Operation]: ...
    def due_operations(self, arn: str, until_ms: int) -> list[StoredOp]: ...
    def timed_operations(self, arn: str) -> list[StoredOp]:
        """Operations with a ``due_ms``, soonest first."""
        ...
    def flagged_operations(self, arn: str, *, updated: bool) -> list[StoredOp]:
        """``in_delta`` (or with ``updated``, ``updated``) operations, in start order."""
        ...
    def put_operation(self, arn: str, stored: StoredOp) -> None: ...
    def clear_flags(self, arn: str, *, updated: bool) -> None:
        """Clear ``in_delta`` (and with ``updated``, ``updated`` too) on every operation."""
        ...

    def append_events(
        self, arn: str, first_id: int, events: Sequence[rules.HistoryEvent]
    ) -> None: ...
    def events(
        self, arn: str, offset: int, limit: int, *, reverse: bool
    ) -> list[tuple[int, rules.HistoryEvent]]: ...

    def client_token(self, arn: str, token: str) -> StoredToken | None: ...
    def put_client_token(self, arn: str, token: str, stored: StoredToken) -> None: ...

    def add_chained_invoke(self, request: ChainedInvokeRequest) -> None: ...
    def chained_invokes(self, arn: str | None) -> list[tuple[ChainedInvokeRequest, Operation]]:
        """The chained invokes of ``arn`` (or of every RUNNING execution), in start order."""
        ...


class Store(Protocol):
    """Records in transactions: ``transaction(write=True)`` takes the write lock first."""

    def transaction(self, *, write: bool) -> AbstractContextManager[Transaction]: ...
    def close(self) -> None: ...


# --------------------------------------------------------------------------- in memory


class _Executions:
    """One execution's records in memory."""

    def __init__(self, record: ExecutionRecord) -> None:
        self.record = record
        self.ops: dict[str, StoredOp] = {}
        self.events: list[rules.HistoryEvent] = []
        self.tokens: dict[str, StoredToken] = {}
        self.chained: dict[str, ChainedInvokeRequest] = {}


class MemoryStore:
    """The store as plain dicts under one lock; a failed transaction is undone step by step."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._executions: dict[str, _Executions] = {}

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[Transaction]:
        with self._lock:
            undo: list[Callable[[], object]] = []
            try:
                yield _MemoryTransaction(self._executions, undo)
            except BaseException:
                for step in reversed(undo):
                    step()
                raise

    def close(self) -> None:
        pass


class _MemoryTransaction:
    def __init__(
        self, executions: dict[str, _Executions], undo: list[Callable[[], object]]
    ) -> None:
        self._all = executions
        self._undo = undo

    def _get(self, arn: str) -> _Executions:
        return self._all[arn]

    def execution(self, arn: str) -> ExecutionRecord | None:
        found = self._all.get(arn)
        return None if found is None else attrs.evolve(found.record)

    def execution_by_name(self, function_name: str, name: str) -> ExecutionRecord | None:
        for found in self._all.values():
            if found.record.function_name == function_name and found.record.name == name:
                return attrs.evolve(found.record)
        return None

    def count_executions(self) -> int:
        return len(self._all)

    def list_executions(
        self, function_name: str | None, status: str | None, offset: int, limit: int
    ) -> list[ExecutionRecord]:
        rows = [
            (found.record.start_ms, index, found.record)
            for index, found in enumerate(self._all.values())
            if function_name in (None, found.record.function_name)
            and status in (None, found.record.status)
        ]
        rows.sort(key=lambda row: (row[0], row[1]), reverse=True)
        return [attrs.evolve(record) for _, _, record in rows[offset : offset + limit]]

    def put_execution(self, record: ExecutionRecord) -> None:
        found = self._all.get(record.arn)
        if found is None:
            self._all[record.arn] = _Executions(attrs.evolve(record))
            self._undo.append(lambda: self._all.pop(record.arn))
            return
        previous = found.record
        found.record = attrs.evolve(record)
        self._undo.append(lambda: setattr(found, "record", previous))

    def operations(self, arn: str, ids: Sequence[str]) -> dict[str, StoredOp]:
        ops = self._get(arn).ops
        return {op_id: ops[op_id] for op_id in ids if op_id in ops}

    def all_operations(self, arn: str) -> list[Operation]:
        return [stored.op for stored in self._get(arn).ops.values()]

    def due_operations(self, arn: str, until_ms: int) -> list[StoredOp]:
        return [
            stored for stored in self._get(arn).ops.values()
            if stored.due_ms is not None and stored.due_ms <= until_ms
        ]

    def timed_operations(self, arn: str) -> list[StoredOp]:
        timed = [stored for stored in self._get(arn).ops.values() if stored.due_ms is not None]
        return sorted(timed, key=lambda stored: stored.due_ms or 0)

    def flagged_operations(self, arn: str, *, updated: bool) -> list[StoredOp]:
        return [
            stored for stored in self._get(arn).ops.values()
            if (stored.updated if updated else stored.in_delta)
        ]

    def put_operation(self, arn: str, stored: StoredOp) -> None:
        ops = self._get(arn).ops
        previous = ops.get(stored.op.id)
        ops[stored.op.id] = stored  # dicts keep insertion order: the start order
        if previous is None:
            self._undo.append(lambda: ops.pop(stored.op.id))
        else:
            self._undo.append(lambda: ops.__setitem__(stored.op.id, previous))

    def clear_flags(self, arn: str, *, updated: bool) -> None:
        for stored in self.flagged_operations(arn, updated=False) + (
            self.flagged_operations(arn, updated=True) if updated else []
        ):
            self.put_operation(arn, attrs.evolve(
                stored, in_delta=False, updated=stored.updated and not updated
            ))

    def append_events(
        self, arn: str, first_id: int, events: Sequence[rules.HistoryEvent]
    ) -> None:
        stored = self._get(arn).events
        size = len(stored)
        stored.extend(events)
        self._undo.append(lambda: stored.__delitem__(slice(size, None)))

    def events(
        self, arn: str, offset: int, limit: int, *, reverse: bool
    ) -> list[tuple[int, rules.HistoryEvent]]:
        numbered = list(enumerate(self._get(arn).events, start=1))
        if reverse:
            numbered.reverse()
        return numbered[offset : offset + limit]

    def client_token(self, arn: str, token: str) -> StoredToken | None:
        return self._get(arn).tokens.get(token)

    def put_client_token(self, arn: str, token: str, stored: StoredToken) -> None:
        tokens = self._get(arn).tokens
        previous = tokens.get(token)
        tokens[token] = stored
        if previous is None:
            self._undo.append(lambda: tokens.pop(token))
        else:
            self._undo.append(lambda: tokens.__setitem__(token, previous))

    def add_chained_invoke(self, request: ChainedInvokeRequest) -> None:
        chained = self._get(request.arn).chained
        chained[request.op_id] = request
        self._undo.append(lambda: chained.pop(request.op_id))

    def chained_invokes(self, arn: str | None) -> list[tuple[ChainedInvokeRequest, Operation]]:
        found: list[tuple[int, ChainedInvokeRequest, Operation]] = []
        for execution in ([self._get(arn)] if arn is not None else self._all.values()):
            if execution.record.status != "RUNNING":
                continue
            for request in execution.chained.values():
                stored = execution.ops[request.op_id]
                found.append((stored.seq, request, stored.op))
        found.sort(key=lambda row: row[0])
        return [(request, op) for _, request, op in found]


_store_check: type[Store] = MemoryStore

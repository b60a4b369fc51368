"""The SQLite store: opening the file (schema version, read-only mode), sqlite3 errors made
typed, and the records in tables.

A file is ours when its ``application_id`` says so (or, written before versioning, when it
holds our tables); ``user_version`` is its schema version, migrated forward on open and refused
when newer than this code. Every sqlite3 error goes through ``translate`` so the caller sees a
``LocalStoreError`` naming the file and what to do, never a raw traceback.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs

from durable_backend._codec import event_converter, from_wire, to_wire
from durable_backend._models import Operation
from durable_backend.local import _rules as rules
from durable_backend.local._errors import (
    DatabaseBusyError,
    DatabaseCorruptError,
    DatabaseReadOnlyError,
    DatabaseUnavailableError,
    ForeignDatabaseError,
    LocalStoreError,
    SchemaVersionError,
    StorageFullError,
)
from durable_backend.local._store import (
    ChainedInvokeRequest,
    ExecutionRecord,
    Store,
    StoredOp,
    StoredToken,
    Transaction,
)

MEMORY = ":memory:"
APPLICATION_ID = int.from_bytes(b"dbak", "big")
SCHEMA_VERSION = 2
BUSY_TIMEOUT_SECONDS = 30.0

SCHEMA = """
CREATE TABLE executions (
    arn TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    function_name TEXT NOT NULL,
    input_payload TEXT,
    status TEXT NOT NULL,
    start_ms INTEGER NOT NULL,
    end_ms INTEGER,
    result TEXT,
    error TEXT,
    timeout_seconds INTEGER NOT NULL,
    token_sequence INTEGER,
    invocations INTEGER NOT NULL DEFAULT 0,
    invocation_start_ms INTEGER,
    next_seq INTEGER NOT NULL DEFAULT 0,
    event_count INTEGER NOT NULL DEFAULT 0,
    invocation_due INTEGER NOT NULL DEFAULT 0,
    failed_invocations INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_expires_ms INTEGER
);
CREATE UNIQUE INDEX executions_by_name ON executions (function_name, name);
CREATE TABLE operations (
    arn TEXT NOT NULL,
    id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    data TEXT NOT NULL,
    due_ms INTEGER,
    timer TEXT,
    in_delta INTEGER NOT NULL DEFAULT 0,
    updated INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (arn, id)
);
CREATE INDEX operations_by_seq ON operations (arn, seq);
CREATE INDEX operations_by_due ON operations (arn, due_ms) WHERE due_ms IS NOT NULL;
CREATE TABLE events (
    arn TEXT NOT NULL,
    event_id INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (arn, event_id)
);
CREATE TABLE client_tokens (
    arn TEXT NOT NULL,
    client_token TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    expires_ms INTEGER NOT NULL,
    response TEXT NOT NULL,
    PRIMARY KEY (arn, client_token)
);
CREATE TABLE chained_invokes (
    arn TEXT NOT NULL,
    op_id TEXT NOT NULL,
    function_name TEXT NOT NULL,
    tenant_id TEXT,
    input_payload TEXT,
    target_arn TEXT NOT NULL,
    PRIMARY KEY (arn, op_id)
);
"""

MIGRATIONS: dict[int, str] = {
    2: """
    ALTER TABLE executions ADD COLUMN invocation_due INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE executions ADD COLUMN failed_invocations INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE executions ADD COLUMN lease_owner TEXT;
    ALTER TABLE executions ADD COLUMN lease_expires_ms INTEGER;
    UPDATE executions SET invocation_due = 1 WHERE status = 'RUNNING';
    """,
}
"""SQL that takes a file from schema version ``n - 1`` to ``n``. Version 2 stores invocation
scheduling: whether an invocation is due, failed attempts, and the lease of the one in flight
(a running execution from version 1 is due, so ``resume`` picks it up)."""

_OUR_TABLES = {"executions", "operations", "events", "client_tokens", "chained_invokes"}


def _primary(error: sqlite3.Error) -> int:
    return getattr(error, "sqlite_errorcode", 0) & 0xFF


def store_error(path: str, error: sqlite3.Error) -> LocalStoreError:
    """The typed error for a sqlite3 failure on ``path``."""
    code = _primary(error)
    text = str(error)
    if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
        return DatabaseCorruptError(path, f"not a readable SQLite database ({text})")
    if code == sqlite3.SQLITE_FULL or getattr(error, "sqlite_errorname", "") in (
        "SQLITE_IOERR_WRITE", "SQLITE_IOERR_FSYNC", "SQLITE_IOERR_TRUNCATE",
    ):
        return StorageFullError(
            path, f"cannot write: the disk is full or the file too large ({text})"
        )
    if code == sqlite3.SQLITE_READONLY:
        return DatabaseReadOnlyError(path, f"the database is read-only ({text})")
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return DatabaseBusyError(path, f"the database stayed locked ({text})")
    if code in (sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM, sqlite3.SQLITE_AUTH):
        return DatabaseUnavailableError(path, f"cannot open the database ({text})")
    if code == sqlite3.SQLITE_IOERR:
        return StorageFullError(path, f"reading or writing failed ({text})")
    return DatabaseCorruptError(path, f"unexpected database error ({text})")


@contextmanager
def translate(path: str) -> Iterator[None]:
    """Turn a sqlite3 error raised inside into the ``LocalStoreError`` for ``path``."""
    try:
        yield
    except sqlite3.Error as error:
        raise store_error(path, error) from error


def _check_path(path: str, *, read_only: bool) -> None:
    target = Path(path)
    if target.is_dir():
        raise DatabaseUnavailableError(path, "is a directory, not a database file")
    if read_only:
        if not target.exists():
            raise DatabaseUnavailableError(path, "no database here yet; run a workflow first")
        return
    parent = target.parent
    if not parent.is_dir():
        raise DatabaseUnavailableError(path, f"the directory {os.fspath(parent)!r} does not exist")
    if not target.exists() and not os.access(parent, os.W_OK):
        raise DatabaseUnavailableError(
            path, f"cannot create the database: the directory {os.fspath(parent)!r} is not writable"
        )


def connect(path: str, *, read_only: bool = False) -> sqlite3.Connection:
    """An open connection to ``path`` with a checked (and if needed created) schema."""
    if path != MEMORY:
        _check_path(path, read_only=read_only)
    with translate(path):
        if read_only:
            conn = _connect_read_only(path)
        else:
            conn = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_SECONDS
            )
        try:
            _prepare(conn, path, read_only=read_only)
        except BaseException:
            conn.close()
            raise
    conn.row_factory = sqlite3.Row
    return conn


def _connect_read_only(path: str) -> sqlite3.Connection:
    """Read-only; on a read-only mount a WAL file cannot get its shared-memory index, so fall
    back to ``immutable`` (nothing can write there anyway)."""
    uri = Path(os.path.abspath(path)).as_uri()

    def open_uri(query: str) -> sqlite3.Connection:
        return sqlite3.connect(
            f"{uri}?{query}", timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None,
            check_same_thread=False, uri=True,
        )

    conn = open_uri("mode=ro")
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError as error:
        conn.close()
        if _primary(error) not in (sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY):
            raise
        conn = open_uri("immutable=1")
    return conn


def _prepare(conn: sqlite3.Connection, path: str, *, read_only: bool) -> None:
    with _read(conn):
        version, stamped = _schema_version(conn, path)
    if read_only:
        if version == 0:
            raise DatabaseUnavailableError(path, "holds no executions yet; run a workflow first")
        if version < SCHEMA_VERSION:
            raise SchemaVersionError(
                path, f"has schema version {version}; this durable_backend writes "
                f"{SCHEMA_VERSION} and must migrate it first (run any writing command on it)",
            )
        return
    if path != MEMORY:
        _enable_wal(conn)
    if version < SCHEMA_VERSION or not stamped:
        _migrate(conn, path)


@contextmanager
def _read(conn: sqlite3.Connection) -> Iterator[None]:
    """One read transaction, so the checks see one committed state."""
    conn.execute("BEGIN")
    try:
        yield
    finally:
        conn.execute("COMMIT")


def _schema_version(conn: sqlite3.Connection, path: str) -> tuple[int, bool]:
    """This file's schema version (0 when empty) and whether it carries our stamp; raises
    for a file that is not ours or is newer than this code."""
    (app_id,) = conn.execute("PRAGMA application_id").fetchone()
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if app_id == APPLICATION_ID:
        if version > SCHEMA_VERSION:
            raise SchemaVersionError(
                path, f"was written by a newer durable_backend (schema version {version}; this "
                f"one reads up to {SCHEMA_VERSION})",
            )
        return int(version), True
    if app_id == 0 and version == 0 and (not tables or tables >= _OUR_TABLES):
        return (1 if tables else 0), False  # files from before versioning are version 1
    raise ForeignDatabaseError(
        path, "is a SQLite database, but not a durable_backend one"
        + (f" (tables: {', '.join(sorted(tables))})" if tables else ""),
    )


def _enable_wal(conn: sqlite3.Connection) -> None:
    """WAL with ``synchronous=NORMAL``: a commit costs no fsync, readers never block the
    writer. Switching a new file to WAL takes a lock that SQLite does not wait for, so two
    processes opening the same new file retry here instead of failing."""
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL").fetchone()
            break
        except sqlite3.OperationalError as error:
            if _primary(error) != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
    conn.execute("PRAGMA synchronous=NORMAL")


def _migrate(conn: sqlite3.Connection, path: str) -> None:
    """Create or migrate the schema in one transaction (re-checked under the write lock, as
    another process may have done it first)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        version, _ = _schema_version(conn, path)
        for statement in _statements(version):
            conn.execute(statement)
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _statements(version: int) -> list[str]:
    script = SCHEMA if version == 0 else "".join(
        MIGRATIONS[step] for step in range(version + 1, SCHEMA_VERSION + 1)
    )
    return [s.strip() for s in script.split(";") if s.strip()]


# --------------------------------------------------------------------------- the store


def _dump_op(op: Operation) -> str:
    return json.dumps(to_wire(op, event_converter), separators=(",", ":"))


def _load_op(data: str) -> Operation:
    return from_wire(json.loads(data), Operation, event_converter)


def _json_default(value: object) -> object:
    if isinstance(value, datetime):
        return {"$ms": int(value.timestamp() * 1000)}
    raise TypeError(f"cannot store {type(value).__name__} in a history event")


def _json_hook(obj: dict[str, Any]) -> object:
    if obj.keys() == {"$ms"}:
        return datetime.fromtimestamp(obj["$ms"] / 1000, tz=UTC)
    return obj


def _dump_event(event: rules.HistoryEvent) -> str:
    return json.dumps(attrs.asdict(event), default=_json_default, separators=(",", ":"))


def _load_event(data: str) -> rules.HistoryEvent:
    return rules.HistoryEvent(**json.loads(data, object_hook=_json_hook))


def _dump_timer(timer: rules.CallbackTimer | None) -> str | None:
    if timer is None:
        return None
    return json.dumps(attrs.asdict(timer), default=_json_default)


def _load_timer(data: str | None) -> rules.CallbackTimer | None:
    return None if data is None else rules.CallbackTimer(**json.loads(data, object_hook=_json_hook))


_EXECUTION_COLUMNS = [field.name for field in attrs.fields(ExecutionRecord)]


def _execution(row: sqlite3.Row | None) -> ExecutionRecord | None:
    if row is None:
        return None
    values = {name: row[name] for name in _EXECUTION_COLUMNS}
    values["invocation_due"] = bool(values["invocation_due"])
    return ExecutionRecord(**values)


def _stored(row: sqlite3.Row) -> StoredOp:
    return StoredOp(
        _load_op(row["data"]), row["seq"], row["due_ms"], _load_timer(row["timer"]),
        bool(row["in_delta"]), bool(row["updated"]),
    )


class SqliteStore:
    """The store in a SQLite file (or in SQLite's memory): each transaction is one
    ``BEGIN IMMEDIATE`` (``BEGIN`` when read-only) under one lock, so a crash never leaves half
    a batch and several driver threads can share one connection."""

    def __init__(self, path: str, *, read_only: bool = False) -> None:
        self.path = path
        self.read_only = read_only
        self._lock = threading.RLock()
        self.connection = connect(path, read_only=read_only)

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[Transaction]:
        conn = self.connection
        with self._lock, translate(self.path):
            conn.execute("BEGIN IMMEDIATE" if write and not self.read_only else "BEGIN")
            try:
                yield _SqliteTransaction(conn)
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self.connection.close()


class _SqliteTransaction:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._db = conn

    def execution(self, arn: str) -> ExecutionRecord | None:
        return _execution(self._db.execute("SELECT * FROM executions WHERE arn = ?", (arn,))
                          .fetchone())

    def execution_by_name(self, function_name: str, name: str) -> ExecutionRecord | None:
        return _execution(self._db.execute(
            "SELECT * FROM executions WHERE function_name = ? AND name = ?", (function_name, name)
        ).fetchone())

    def count_executions(self) -> int:
        (count,) = self._db.execute("SELECT count(*) FROM executions").fetchone()
        return int(count)

    def list_executions(
        self, function_name: str | None, status: str | None, offset: int, limit: int
    ) -> list[ExecutionRecord]:
        rows = self._db.execute(
            "SELECT * FROM executions WHERE (?1 IS NULL OR function_name = ?1)"
            " AND (?2 IS NULL OR status = ?2) ORDER BY start_ms DESC, rowid DESC"
            " LIMIT ?3 OFFSET ?4",
            (function_name, status, limit, offset),
        )
        return [record for row in rows if (record := _execution(row)) is not None]

    def put_execution(self, record: ExecutionRecord) -> None:
        values = attrs.asdict(record)
        columns = ", ".join(values)
        marks = ", ".join(f":{name}" for name in values)
        updates = ", ".join(f"{name} = excluded.{name}" for name in values if name != "arn")
        self._db.execute(
            f"INSERT INTO executions ({columns}) VALUES ({marks})"
            f" ON CONFLICT (arn) DO UPDATE SET {updates}",
            {**values, "invocation_due": int(record.invocation_due)},
        )

    def operations(self, arn: str, ids: Sequence[str]) -> dict[str, StoredOp]:
        marks = ",".join("?" * len(ids))
        rows = self._db.execute(
            f"SELECT * FROM operations WHERE arn = ? AND id IN ({marks})", (arn, *ids)
        )
        return {stored.op.id: stored for stored in map(_stored, rows)}

    def all_operations(self, arn: str) -> list[Operation]:
        rows = self._db.execute("SELECT data FROM operations WHERE arn = ? ORDER BY seq", (arn,))
        return [_load_op(data) for (data,) in rows]

    def due_operations(self, arn: str, until_ms: int) -> list[StoredOp]:
        rows = self._db.execute(
            "SELECT * FROM operations WHERE arn = ? AND due_ms <= ?", (arn, until_ms)
        )
        return [_stored(row) for row in rows]

    def timed_operations(self, arn: str) -> list[StoredOp]:
        rows = self._db.execute(
            "SELECT * FROM operations WHERE arn = ? AND due_ms IS NOT NULL ORDER BY due_ms",
            (arn,),
        )
        return [_stored(row) for row in rows]

    def flagged_operations(self, arn: str, *, updated: bool) -> list[StoredOp]:
        flag = "updated" if updated else "in_delta"
        rows = self._db.execute(
            f"SELECT * FROM operations WHERE arn = ? AND {flag} = 1 ORDER BY seq", (arn,)
        )
        return [_stored(row) for row in rows]

    def put_operation(self, arn: str, stored: StoredOp) -> None:
        self._db.execute(
            "INSERT INTO operations (arn, id, seq, data, due_ms, timer, in_delta, updated)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (arn, id) DO UPDATE SET data = excluded.data,"
            " due_ms = excluded.due_ms, timer = excluded.timer,"
            " in_delta = excluded.in_delta, updated = excluded.updated",
            (arn, stored.op.id, stored.seq, _dump_op(stored.op), stored.due_ms,
             _dump_timer(stored.timer), int(stored.in_delta), int(stored.updated)),
        )

    def clear_flags(self, arn: str, *, updated: bool) -> None:
        if updated:
            self._db.execute(
                "UPDATE operations SET updated = 0, in_delta = 0"
                " WHERE arn = ? AND (updated = 1 OR in_delta = 1)", (arn,),
            )
        else:
            self._db.execute(
                "UPDATE operations SET in_delta = 0 WHERE arn = ? AND in_delta = 1", (arn,)
            )

    def append_events(
        self, arn: str, first_id: int, events: Sequence[rules.HistoryEvent]
    ) -> None:
        self._db.executemany(
            "INSERT INTO events (arn, event_id, data) VALUES (?, ?, ?)",
            [(arn, first_id + i, _dump_event(e)) for i, e in enumerate(events)],
        )

    def events(
        self, arn: str, offset: int, limit: int, *, reverse: bool
    ) -> list[tuple[int, rules.HistoryEvent]]:
        order = "DESC" if reverse else "ASC"
        rows = self._db.execute(
            f"SELECT event_id, data FROM events WHERE arn = ? ORDER BY event_id {order}"
            " LIMIT ? OFFSET ?",
            (arn, limit, offset),
        )
        return [(event_id, _load_event(data)) for event_id, data in rows]

    def client_token(self, arn: str, token: str) -> StoredToken | None:
        row = self._db.execute(
            "SELECT fingerprint, expires_ms, response FROM client_tokens"
            " WHERE arn = ? AND client_token = ?",
            (arn, token),
        ).fetchone()
        return None if row is None else StoredToken(row[0], row[1], row[2])

    def put_client_token(self, arn: str, token: str, stored: StoredToken) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO client_tokens VALUES (?, ?, ?, ?, ?)",
            (arn, token, stored.fingerprint, stored.expires_ms, stored.response),
        )

    def add_chained_invoke(self, request: ChainedInvokeRequest) -> None:
        self._db.execute(
            "INSERT INTO chained_invokes (arn, op_id, function_name, tenant_id, input_payload,"
            " target_arn) VALUES (?, ?, ?, ?, ?, ?)",
            (request.arn, request.op_id, request.function_name, request.tenant_id,
             request.input_payload, request.target_arn),
        )

    def chained_invokes(self, arn: str | None) -> list[tuple[ChainedInvokeRequest, Operation]]:
        rows = self._db.execute(
            "SELECT c.arn, c.op_id, c.function_name, c.input_payload, c.target_arn,"
            " c.tenant_id, o.data FROM chained_invokes c"
            " JOIN operations o ON o.arn = c.arn AND o.id = c.op_id"
            " JOIN executions e ON e.arn = c.arn"
            " WHERE (?1 IS NULL OR c.arn = ?1) AND e.status = 'RUNNING' ORDER BY o.seq",
            (arn,),
        )
        return [(ChainedInvokeRequest(*row[:6]), _load_op(row[6])) for row in rows]


_store_check: type[Store] = SqliteStore

"""Opening the SQLite file: schema version, read-only mode, and sqlite3 errors made typed.

A file is ours when its ``application_id`` says so (or, written before versioning, when it
holds our tables); ``user_version`` is its schema version, migrated forward on open and refused
when newer than this code. Every sqlite3 error goes through ``translate`` so the caller sees a
``LocalStoreError`` naming the file and what to do, never a raw traceback.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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

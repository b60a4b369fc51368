"""Typed errors for the local store: what went wrong with the file, and what to do about it.

Each is a ``DurableError`` with ``retry_invocation`` set, so a handler whose checkpoint hits one
raises out instead of trying to write a FAILED execution to a store that cannot take it; the
execution stays as it was committed and ``resume`` continues it once the cause is fixed.
"""

from __future__ import annotations

import os

from durable_backend._errors import DurableError


class LocalStoreError(DurableError):
    """The local database file could not be opened, read or written."""

    retry_invocation = True
    advice = "Nothing committed was lost; fix the cause and resume."

    def __init__(self, path: str | os.PathLike[str], message: str) -> None:
        self.path = os.fspath(path)
        self.message = message
        self.call = ""
        self.code = None
        self.http_status = None
        Exception.__init__(self, f"{self.path}: {message}. {self.advice}")


class DatabaseCorruptError(LocalStoreError):
    advice = (
        "The file is damaged or truncated: restore it from a copy, or move it away and pass "
        "another --db to start afresh"
    )


class ForeignDatabaseError(LocalStoreError):
    advice = "It belongs to another program: pass another --db (a new path is created)"


class SchemaVersionError(LocalStoreError):
    advice = "Upgrade durable_backend to read it, or pass another --db"


class DatabaseReadOnlyError(LocalStoreError):
    advice = (
        "`list` and `history` can still read it; to run or resume, make the file and its "
        "directory writable, or copy it somewhere writable and pass that --db"
    )


class DatabaseUnavailableError(LocalStoreError):
    advice = "Pass a --db path to a file in a directory you can write (it is created)"


class StorageFullError(LocalStoreError):
    advice = (
        "Free some space (or raise the file size limit), then resume: nothing committed was lost"
    )


class DatabaseBusyError(LocalStoreError):
    advice = "Another process holds the database locked; wait for it to finish and try again"

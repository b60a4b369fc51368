"""Storage faults through the API and the CLI: a typed error or one line, and nothing lost.

Read-only and unwritable cases run in a subprocess that file modes bind (as root, one without
the capabilities that override them). Disk full is a real file-size limit
(``RLIMIT_FSIZE``) on the CLI process, and SQLite's own page limit on the API.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from durable_backend.cli import main
from durable_backend.local import (
    DatabaseCorruptError,
    DatabaseReadOnlyError,
    DatabaseUnavailableError,
    ForeignDatabaseError,
    LocalBackend,
    LocalRunner,
    LocalStoreError,
    SchemaVersionError,
    StorageFullError,
)
from durable_backend.local._sqlite import SCHEMA_VERSION
from tests.local import _fault_workflow

ROOT = Path(__file__).parents[2]
WORKFLOW = "tests.local._fault_workflow:handler"


def python(
    *argv: str, preexec: Callable[[], None] | None = None, bound_by_modes: bool = False
) -> subprocess.CompletedProcess[str]:
    """``python ARGV`` in a subprocess; ``bound_by_modes`` drops root's power to ignore modes."""
    prefix: list[str] = []
    if bound_by_modes and os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: file modes cannot be enforced")
        prefix = [setpriv, "--bounding-set=-dac_override,-dac_read_search,-fowner", "--"]
    return subprocess.run(
        [*prefix, sys.executable, *argv], cwd=ROOT, capture_output=True, text=True, timeout=60,
        check=False, preexec_fn=preexec, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def cli(
    *argv: str, preexec: Callable[[], None] | None = None, bound_by_modes: bool = False
) -> subprocess.CompletedProcess[str]:
    return python("-m", "durable_backend", *argv, preexec=preexec, bound_by_modes=bound_by_modes)


def cli_here(capsys: pytest.CaptureFixture[str], *argv: str) -> subprocess.CompletedProcess[str]:
    """The CLI in this process (cheaper than a subprocess where no process limits matter)."""
    code = main(list(argv))
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(argv, code, captured.out, captured.err)


def one_line(proc: subprocess.CompletedProcess[str], *words: str) -> str:
    """The process failed with exit 2 and one stderr line holding ``words``; that line."""
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for word in words:
        assert word in lines[0]
    return lines[0]


@pytest.fixture
def locked_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory made read-only by the test (writable again afterwards, for clean-up)."""
    path = tmp_path / "locked"
    path.mkdir()
    yield path
    path.chmod(0o755)


def make_db(path: Path, steps: int = 2) -> str:
    """A database with one finished execution; its ARN."""
    with LocalRunner(str(path)) as runner:
        result = runner.run(
            _fault_workflow.handler, {"log": str(path.with_suffix(".log")), "steps": steps,
                                      "size": 10},
        )
    assert result.status.value == "SUCCEEDED"
    return result.arn


def snapshot(path: Path) -> bytes:
    return path.read_bytes()


# ----------------------------------------------------------------------------- bad files


def test_corrupt_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "local.db"
    db.write_bytes(b"not a database at all " * 500)
    before = snapshot(db)
    with pytest.raises(DatabaseCorruptError) as info:
        LocalBackend(db)
    assert str(db) in str(info.value) and "restore" in str(info.value)
    one_line(cli_here(capsys, "list", "--db", str(db)), str(db), "not a readable SQLite database")
    one_line(cli_here(capsys, "run", WORKFLOW, "--db", str(db)), "damaged or truncated")
    assert snapshot(db) == before


def test_truncated_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "local.db"
    make_db(db, steps=60)
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2])
    before = snapshot(db)
    with pytest.raises(DatabaseCorruptError):
        LocalBackend(db, read_only=True).list_executions()
    one_line(cli_here(capsys, "list", "--db", str(db)), "malformed")
    assert snapshot(db) == before


def test_future_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "local.db"
    make_db(db)
    with sqlite3.connect(db) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    before = snapshot(db)
    for read_only in (False, True):
        with pytest.raises(SchemaVersionError, match="newer durable_backend"):
            LocalBackend(db, read_only=read_only)
    one_line(cli_here(capsys, "list", "--db", str(db)), "newer durable_backend", "Upgrade")
    one_line(cli_here(capsys, "run", WORKFLOW, "--db", str(db)), "newer durable_backend")
    assert snapshot(db) == before


def test_foreign_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "app.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("INSERT INTO users (name) VALUES ('ada')")
    conn.close()
    before = snapshot(db)
    with pytest.raises(ForeignDatabaseError, match="tables: users"):
        LocalBackend(db)
    one_line(cli_here(capsys, "run", WORKFLOW, "--input", "{}", "--db", str(db)),
             "not a durable_backend one", "another --db")
    one_line(cli_here(capsys, "list", "--db", str(db)), "not a durable_backend one")
    assert snapshot(db) == before


def test_file_from_before_versioning_is_migrated(tmp_path: Path) -> None:
    """A file written before schema versions (no stamp, no scheduling columns) is adopted, and
    its running execution is due, so ``resume`` finishes it."""
    db = tmp_path / "local.db"
    log = tmp_path / "steps.log"
    with LocalRunner(str(db)) as runner:
        arn = runner.start(_fault_workflow.handler, {"log": str(log), "steps": 2, "size": 1})
    with sqlite3.connect(db) as conn:
        for column in ("invocation_due", "failed_invocations", "lease_owner", "lease_expires_ms"):
            conn.execute(f"ALTER TABLE executions DROP COLUMN {column}")
        conn.execute("PRAGMA application_id = 0")
        conn.execute("PRAGMA user_version = 0")
    conn.close()
    with pytest.raises(SchemaVersionError, match="must migrate it first"):
        LocalBackend(db, read_only=True)
    with LocalRunner(str(db)) as runner:
        result = runner.resume(arn, _fault_workflow.handler)
    assert result.status.value == "SUCCEEDED" and result.result == 2
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    conn.close()


def test_directory_given_as_db(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for read_only in (False, True):
        with pytest.raises(DatabaseUnavailableError, match="is a directory"):
            LocalBackend(tmp_path, read_only=read_only)
    for command in (["list"], ["run", WORKFLOW]):
        one_line(cli_here(capsys, *command, "--db", str(tmp_path)), "is a directory", "--db")


def test_read_only_file_and_directory(locked_dir: Path) -> None:
    db = locked_dir / "local.db"
    arn = make_db(db)
    db.chmod(0o444)
    locked_dir.chmod(0o555)  # like a read-only mount: no -wal or -shm file can be created
    before = snapshot(db)

    listing = cli("list", "--db", str(db), bound_by_modes=True)
    assert listing.returncode == 0, listing.stderr
    assert "SUCCEEDED" in listing.stdout
    history = cli("history", arn, "--db", str(db), bound_by_modes=True)
    assert history.returncode == 0, history.stderr
    assert "✓ SUCCEEDED" in history.stdout and "s1" in history.stdout

    line = one_line(cli("run", WORKFLOW, "--input", "{}", "--db", str(db), bound_by_modes=True),
                    "read-only")
    assert "`list` and `history` can still read it" in line
    api = python(
        "-c",
        "import sys; from durable_backend.local import LocalBackend, DatabaseReadOnlyError\n"
        "try:\n"
        "    LocalBackend(sys.argv[1]).start_execution('fn', '1')\n"
        "except DatabaseReadOnlyError as e:\n"
        "    print('typed', e)\n",
        str(db), bound_by_modes=True,
    )
    assert api.stdout.startswith("typed "), api.stderr
    assert snapshot(db) == before


def test_unwritable_directory(locked_dir: Path) -> None:
    locked_dir.chmod(0o555)
    db = locked_dir / "new.db"
    line = one_line(cli("run", WORKFLOW, "--db", str(db), bound_by_modes=True), "not writable")
    assert "--db" in line
    assert not db.exists()
    nested = locked_dir / "sub" / "new.db"
    one_line(cli("run", WORKFLOW, "--db", str(nested), bound_by_modes=True),
             "cannot create its directory")


def test_read_only_backend_never_writes(tmp_path: Path) -> None:
    db = tmp_path / "local.db"
    make_db(db)
    with LocalBackend(db, read_only=True) as backend, pytest.raises(DatabaseReadOnlyError):
        backend.start_execution("fn", "1")
    with pytest.raises(ValueError, match="needs a database file"):
        LocalBackend(":memory:", read_only=True)


# ----------------------------------------------------------------------------- disk full


def fsize_limit(limit: int) -> Callable[[], None]:
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_disk_full_through_the_cli_then_resume(tmp_path: Path) -> None:
    db = tmp_path / "local.db"
    log = tmp_path / "steps.log"
    payload = json.dumps({"log": str(log), "steps": 30, "size": 20_000})
    full = cli("run", WORKFLOW, "--input", payload, "--name", "big", "--db", str(db),
               preexec=fsize_limit(256 * 1024))
    one_line(full, "disk is full", "resume")
    ran = log.read_text().split()
    assert 0 < len(ran) < 30  # it stopped part way

    with LocalBackend(db, read_only=True) as backend:
        [execution] = backend.list_executions()["DurableExecutions"]
        arn = execution["DurableExecutionArn"]
        kept = [op.name for op in backend.operations(arn) if op.status.value == "SUCCEEDED"]
    assert execution["Status"] == "RUNNING"

    done = cli("run", WORKFLOW, "--resume", arn, "--db", str(db))
    assert done.returncode == 0, done.stderr
    assert "SUCCEEDED" in done.stdout and str(30 * 20_000) in done.stdout
    runs = log.read_text().split()
    for name in kept:  # committed before the disk filled: never run again
        assert runs.count(name.removeprefix("s")) == 1
    assert sorted(set(runs), key=int) == [str(i) for i in range(30)]


def test_disk_full_through_the_api_then_resume(tmp_path: Path) -> None:
    db = tmp_path / "local.db"
    log = tmp_path / "steps.log"
    backend = LocalBackend(db)
    (pages,) = backend.store.connection.execute("PRAGMA page_count").fetchone()
    # SQLite's own page limit: writes past it fail with SQLITE_FULL, as on a full disk.
    backend.store.connection.execute(f"PRAGMA max_page_count = {pages + 40}")
    runner = LocalRunner(backend, time_skipping=False)
    event = {"log": str(log), "steps": 30, "size": 20_000}
    with pytest.raises(StorageFullError, match="disk is full"):
        runner.run(_fault_workflow.handler, event, name="api")
    backend.close()
    ran_before = log.read_text().split()
    assert 0 < len(ran_before) < 30

    with LocalRunner(str(db)) as again:
        [execution] = again.backend.list_executions()["DurableExecutions"]
        result = again.resume(execution["DurableExecutionArn"], _fault_workflow.handler)
    assert result.status.value == "SUCCEEDED" and result.result == 30 * 20_000
    runs = log.read_text().split()
    assert sorted(set(runs), key=int) == [str(i) for i in range(30)]
    assert all(runs.count(i) <= 2 for i in runs)  # at most the one cut short re-ran


# ----------------------------------------------------------------------------- races


def test_two_openers_on_a_new_file(tmp_path: Path) -> None:
    """Opening a new file switches it to WAL, which takes a lock SQLite does not wait for."""
    failures: list[BaseException] = []
    for trial in range(15):
        path = tmp_path / f"race-{trial}.db"
        barrier = threading.Barrier(4)

        def open_it(path: Path = path, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            try:
                LocalBackend(path).close()
            except BaseException as exc:
                failures.append(exc)

        threads = [threading.Thread(target=open_it) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failures == []


def test_store_errors_are_durable_errors() -> None:
    error: Any = StorageFullError("x.db", "cannot write")
    assert isinstance(error, LocalStoreError) and error.retry_invocation
    assert str(error).startswith("x.db: cannot write. Free some space")

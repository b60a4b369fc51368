"""``durable-backend replay``: local database and JSON exports (AWS: tests/e2e), a changed
copy of the example workflow, and one-line usage errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from durable_backend.cli import main
from durable_backend.local import LocalBackend
from tests.cli.test_cli import ORDER, columns, run_cli, suspend

__all__ = ["columns"]  # the CLI tests' 80-column terminal applies here too

EXAMPLE = Path(__file__).parents[2] / "examples" / "order_workflow.py"


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "state" / "local.db")


@pytest.fixture
def changed_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A copy of the order workflow whose first step got a new name, importable by the CLI."""
    source = EXAMPLE.read_text().replace('name="reserve stock"', 'name="reserve items"')
    (tmp_path / "changed_order.py").write_text(source)
    monkeypatch.chdir(tmp_path)
    yield "changed_order:handler"
    sys.modules.pop("changed_order", None)


def suspended_order(capsys: pytest.CaptureFixture[str], db: str) -> str:
    """Run a large order until it waits for approval; its ARN."""
    suspend(capsys, db)
    with LocalBackend(db) as backend:
        [execution] = backend.list_executions()["DurableExecutions"]
    arn: str = execution["DurableExecutionArn"]
    return arn


def test_replay_the_local_database(
    capsys: pytest.CaptureFixture[str], db: str, changed_order: str
) -> None:
    arn = suspended_order(capsys, db)
    code, out, err = run_cli(capsys, "replay", ORDER, "--db", db)
    assert (code, err) == (0, "")
    assert f"compatible   {db}:{arn} (4 of 4 operations)" in out
    assert "1 replayed: 1 compatible, 0 incompatible" in out

    code, out, err = run_cli(capsys, "replay", changed_order, "--db", db, "--arn", arn)
    assert (code, err) == (1, "")
    assert (
        f"incompatible {db}:{arn}: at position 1 the history has STEP/Step named "
        "'reserve stock', the code now calls STEP/Step named 'reserve items'"
    ) in out
    assert "1 replayed: 0 compatible, 1 incompatible" in out


def test_replay_json_exports(
    capsys: pytest.CaptureFixture[str], db: str, tmp_path: Path, changed_order: str
) -> None:
    arn = suspended_order(capsys, db)
    with LocalBackend(db) as backend:
        events = backend.history_events(arn)
    exports = tmp_path / "histories"
    exports.mkdir()
    (exports / "order.json").write_text(json.dumps({"Events": events}, default=str))

    code, out, _ = run_cli(capsys, "replay", ORDER, "--history", str(exports))
    assert code == 0 and f"compatible   {exports / 'order.json'}" in out
    code, out, _ = run_cli(capsys, "replay", changed_order, "--history",
                           str(exports / "order.json"))
    assert code == 1 and "named 'reserve items'" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--aws"], "--aws needs --arn ARN or --function NAME"),
        (["--function", "orders"], "--function reads from AWS: add --aws"),
        (["--history", "missing.json"], "no history file or directory at 'missing.json'"),
        (["--db", "missing.db"], "no local database at 'missing.db'"),
    ],
)
def test_usage_errors_are_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    argv: list[str], message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    code = main(["replay", ORDER, *argv])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert captured.err == f"durable-backend: error: {message}\n"

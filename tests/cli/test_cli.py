"""The CLI, in process: run, resume, list, history, callbacks, and one-line usage errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from durable_backend.cli import main

ORDER = "examples.order_workflow:handler"


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "state" / "local.db")


def test_run_small_order_to_completion(capsys: pytest.CaptureFixture[str], db: str) -> None:
    code, out, err = run_cli(
        capsys, "run", ORDER, "--input", '{"order_id": "o-9", "amount": 5}', "--db", db
    )
    assert (code, err) == (0, "")
    assert "StepFailed" in out and "charge card" in out  # the retry shows live
    assert "WaitSucceeded" in out
    assert "SUCCEEDED" in out and '"shipment":"shipment-o-9"' in out


def test_callback_round_trip(capsys: pytest.CaptureFixture[str], db: str) -> None:
    code, out, _ = run_cli(
        capsys, "run", ORDER, "--input", '{"order_id": "o-1", "amount": 500}', "--db", db
    )
    assert code == 0 and "SUSPENDED" in out
    succeed = re.search(r"callback succeed (\S+) --result", out)
    resume = re.search(r"--resume '([^']+)'", out)
    assert succeed and resume
    callback_id, arn = succeed.group(1), resume.group(1)

    code, out, _ = run_cli(
        capsys, "callback", "succeed", callback_id, "--result",
        json.dumps({"approved": True, "by": "ada"}), "--db", db,
    )
    assert code == 0
    code, out, _ = run_cli(capsys, "run", ORDER, "--resume", arn, "--db", db)
    assert code == 0 and "SUCCEEDED" in out and "shipped" in out

    code, out, err = run_cli(capsys, "callback", "succeed", callback_id, "--db", db)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "not open" in err

    code, out, _ = run_cli(capsys, "list", "--db", db)
    assert code == 0 and "SUCCEEDED" in out and "order_workflow" in out
    code, out, _ = run_cli(capsys, "history", arn, "--db", db)
    assert code == 0
    for expected in ("CallbackSucceeded", "approval", "WaitForCallback", "ExecutionSucceeded"):
        assert expected in out


def test_failed_callback_and_failed_execution_exit_1(
    capsys: pytest.CaptureFixture[str], db: str
) -> None:
    _, out, _ = run_cli(
        capsys, "run", ORDER, "--input", '{"order_id": "o-2", "amount": 500}', "--db", db
    )
    callback_id = re.search(r"callback fail (\S+) --error", out).group(1)  # type: ignore[union-attr]
    arn = re.search(r"--resume '([^']+)'", out).group(1)  # type: ignore[union-attr]
    assert run_cli(capsys, "callback", "heartbeat", callback_id, "--db", db)[0] == 0
    assert run_cli(capsys, "callback", "fail", callback_id, "--error", "no", "--db", db)[0] == 0
    code, out, _ = run_cli(capsys, "run", ORDER, "--resume", arn, "--db", db)
    assert code == 1 and "FAILED" in out


def test_chained_invoke_example_registers_module_handlers(
    capsys: pytest.CaptureFixture[str], db: str
) -> None:
    items = [{"sku": "apple", "qty": 1}]
    code, out, _ = run_cli(
        capsys, "run", "examples.chained_invoke:handler", "--input",
        json.dumps({"items": items}), "--db", db,
    )
    assert code == 0 and "ChainedInvokeSucceeded" in out and '"total":50' in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "nosuch_module_xyz:handler"], "cannot import module"),
        (["run", "examples.order_workflow"], "expected MODULE:HANDLER"),
        (["run", "examples.order_workflow:missing"], "has no attribute"),
        (["run", "examples.order_workflow:APPROVAL_LIMIT"], "is not a handler"),
        (["run", "examples.order_workflow:reserve_stock"], "not decorated"),
        (["run", ORDER, "--input", "{bad"], "--input is not valid JSON"),
        (["run", ORDER, "--function", "oops"], "--function expects"),
        (["run", ORDER, "--resume", "arn:nope"], "no durable execution"),
        (["history", "arn:nope"], "no durable execution"),
        (["callback", "succeed", "not-a-callback-id"], "not a callback id"),
        (["run"], "required"),
        (["frobnicate"], "invalid choice"),
        (["callback", "fail", "x"], "required: --error"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], db: str, argv: list[str], message: str
) -> None:
    # Make the database exist so commands that need one get to their own check.
    run_cli(capsys, "run", ORDER, "--input", '{"order_id": "o", "amount": 1}', "--db", db)
    try:
        code, out, err = run_cli(capsys, *argv, "--db", db)
    except SystemExit as exit_:
        captured = capsys.readouterr()
        code, out, err = int(exit_.code or 0), captured.out, captured.err
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err + out


def test_missing_database_is_a_usage_error(capsys: pytest.CaptureFixture[str], db: str) -> None:
    code, _, err = run_cli(capsys, "list", "--db", db)
    assert code == 2 and "no local database" in err


def test_help_everywhere(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--help"], ["run", "--help"], ["callback", "succeed", "--help"],
                 ["history", "--help"], ["list", "--help"]):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 0
        assert "usage:" in capsys.readouterr().out


def test_python_dash_m_entry_point(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "durable_backend", "run", "examples.async_workflow:handler",
         "--input", '{"user": "ada"}', "--db", str(tmp_path / "x.db")],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "SUCCEEDED" in proc.stdout and "gold" in proc.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "durable_backend", "history", "arn:x", "--db",
         str(tmp_path / "x.db")],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1

"""The CLI, in process: run, resume, list, history, callbacks, and one-line usage errors."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from durable_backend.cli import command_prefix, main

ORDER = "examples.order_workflow:handler"
LARGE = '{"order_id": "o-1", "amount": 500}'


@pytest.fixture(autouse=True)
def columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "state" / "local.db")


def suspend(capsys: pytest.CaptureFixture[str], db: str) -> tuple[str, str]:
    """Run a large order until it waits for approval: (callback id, resume reference)."""
    code, out, _ = run_cli(capsys, "run", ORDER, "--input", LARGE, "--db", db)
    assert code == 0 and "RUNNING  suspended, waiting for callback approval" in out
    succeed = re.search(r"callback succeed (\S+) --result", out)
    resume = re.search(r"--resume (\S+)", out)
    assert succeed and resume
    return succeed.group(1), resume.group(1)


def test_run_small_order_to_completion(capsys: pytest.CaptureFixture[str], db: str) -> None:
    code, out, err = run_cli(
        capsys, "run", ORDER, "--input", '{"order_id": "o-9", "amount": 5}', "--db", db
    )
    assert (code, err) == (0, "")
    # The retried step shows its attempts and the first attempt's error under it.
    assert re.search(r"✓ charge card .* step +2x", out)
    assert "attempt 1: TimeoutError: payment gateway timed out" in out
    assert re.search(r"✓ cooling-off period .* wait 1h00m +1h00m", out)
    assert "✓ SUCCEEDED  result: " in out and '"shipment":"shipment-o-9"' in out
    assert all(len(line) <= 80 for line in out.splitlines() if "arn:" not in line
               and "result:" not in line)


def test_callback_round_trip(capsys: pytest.CaptureFixture[str], db: str) -> None:
    callback_id, ref = suspend(capsys, db)
    assert ref == "execution-1"  # the name, which --resume and history accept

    code, out, _ = run_cli(capsys, "callbacks", "--db", db)
    assert code == 0 and f"id: {callback_id}\n" in out and "approval in execution" in out

    code, out, _ = run_cli(
        capsys, "callback", "succeed", callback_id, "--result",
        json.dumps({"approved": True, "by": "ada"}), "--db", db,
    )
    assert code == 0 and "callback succeeded for execution execution-1" in out
    code, out, _ = run_cli(capsys, "run", ORDER, "--resume", ref, "--db", db)
    assert code == 0 and "SUCCEEDED" in out and "shipped" in out

    code, out, err = run_cli(capsys, "callback", "succeed", callback_id, "--db", db)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "not open" in err
    assert run_cli(capsys, "callbacks", "--db", db)[1] == "no callback is waiting for an answer\n"

    code, out, _ = run_cli(capsys, "list", "--db", db)
    assert code == 0 and "✓ SUCCEEDED" in out and "order_workflow" in out
    assert "execution-1" in out
    code, out, _ = run_cli(capsys, "history", "execution-1", "--db", db)
    assert code == 0
    assert re.search(r"├─ ✓ approval +.*callback", out)
    assert re.search(r"│  ├─ ✓ approval create callback id +→ \{\"approved\": tru", out)
    assert "✓ SUCCEEDED  result:" in out


def test_history_json_is_the_timeline_and_events(
    capsys: pytest.CaptureFixture[str], db: str
) -> None:
    callback_id, _ = suspend(capsys, db)
    code, out, _ = run_cli(capsys, "history", "execution-1", "--json", "--db", db)
    assert code == 0
    data = json.loads(out)
    assert data["status"] == "RUNNING" and data["name"] == "execution-1"
    assert data["pending_callbacks"][0]["callback_id"] == callback_id
    approval = data["operations"][1]
    assert (approval["name"], approval["sub_type"]) == ("approval", "WaitForCallback")
    assert [c["kind"] for c in approval["children"]] == ["Callback", "Step"]
    assert [e["EventId"] for e in data["events"]] == list(range(1, len(data["events"]) + 1))
    code, out, _ = run_cli(capsys, "callbacks", "--json", "--db", db)
    assert json.loads(out)[0]["callback_id"] == callback_id
    code, out, _ = run_cli(capsys, "list", "--json", "--db", db)
    assert json.loads(out)[0]["DurableExecutionArn"].startswith("arn:aws:lambda:")


def test_callback_results_are_raw_text(capsys: pytest.CaptureFixture[str], db: str) -> None:
    """``--result`` reaches the handler as the text sent (as with the kit's string answers);
    without it the handler gets None."""
    for result, expected in ((["--result", "yes"], '"yes"'), ([], "null")):
        code, out, _ = run_cli(capsys, "run", "tests.cli.callback_echo:handler", "--db", db)
        callback_id = re.search(r"callback succeed (\S+)", out).group(1)  # type: ignore[union-attr]
        resume = re.search(r"--resume (\S+)", out).group(1)  # type: ignore[union-attr]
        code, out, _ = run_cli(capsys, "callback", "succeed", callback_id, *result, "--db", db)
        assert code == 0 and ("no result" in out) is (not result)
        code, out, _ = run_cli(
            capsys, "run", "tests.cli.callback_echo:handler", "--resume", resume, "--db", db
        )
        assert f"result: {expected}\n" in out


def test_failed_callback_and_failed_execution_exit_1(
    capsys: pytest.CaptureFixture[str], db: str
) -> None:
    callback_id, ref = suspend(capsys, db)
    assert run_cli(capsys, "callback", "heartbeat", callback_id, "--db", db)[0] == 0
    assert run_cli(capsys, "callback", "fail", callback_id, "--error", "no", "--db", db)[0] == 0
    code, out, _ = run_cli(capsys, "run", ORDER, "--resume", ref, "--db", db)
    assert code == 1 and "✗ FAILED  " in out and "no" in out


def test_quiet_prints_only_the_outcome(capsys: pytest.CaptureFixture[str], db: str) -> None:
    code, out, _ = run_cli(
        capsys, "run", ORDER, "--input", '{"order_id": "o", "amount": 1}', "--quiet", "--db", db
    )
    assert code == 0 and out.startswith("✓ SUCCEEDED  result: ") and len(out.splitlines()) == 1
    code, out, _ = run_cli(capsys, "run", ORDER, "--input", LARGE, "-q", "--db", db)
    assert out.startswith("… RUNNING") and "callback succeed" in out and "├─" not in out


def test_resume_refuses_finished_executions_and_other_handlers(
    capsys: pytest.CaptureFixture[str], db: str
) -> None:
    _, ref = suspend(capsys, db)
    code, _, err = run_cli(capsys, "run", "examples.saga_trip:handler", "--resume", ref, "--db", db)
    assert code == 2 and "belongs to function 'order_workflow', not 'saga_trip'" in err
    run_cli(capsys, "run", ORDER, "--input", '{"order_id": "o", "amount": 1}', "--name", "done",
            "--db", db)
    code, _, err = run_cli(capsys, "run", ORDER, "--resume", "done", "--db", db)
    assert code == 2 and "has already ended (SUCCEEDED); `history done` shows it" in err


def test_function_names_derive_the_same_way_for_every_handler(
    capsys: pytest.CaptureFixture[str], db: str
) -> None:
    for target in ("examples.saga_trip:handler", "examples.saga_trip:async_handler"):
        assert run_cli(capsys, "run", target, "--input", "{}", "--db", db)[0] == 0
    functions = [row["FunctionArn"].rsplit(":function:", 1)[1].split(":")[0]
                 for row in json.loads(run_cli(capsys, "list", "--json", "--db", db)[1])]
    assert functions == ["saga_trip-async_handler", "saga_trip"]


def test_list_is_readable_at_80_columns(capsys: pytest.CaptureFixture[str], db: str) -> None:
    name = "a-rather-long-execution-name-42"
    run_cli(capsys, "run", ORDER, "--input", '{"order_id": "o", "amount": 1}', "--name", name,
            "--db", db)
    run_cli(capsys, "run", ORDER, "--input", LARGE, "--db", db)
    code, out, _ = run_cli(capsys, "list", "--db", db)
    assert code == 0
    table = out.splitlines()
    assert all(len(line) <= 80 for line in table[:-1])
    assert any(line.startswith(name) and "✓ SUCCEEDED" in line for line in table)
    assert any(line.startswith("execution-2") and "… RUNNING" in line for line in table)
    assert "arn:" not in out


def test_chained_invoke_example_registers_module_handlers(
    capsys: pytest.CaptureFixture[str], db: str
) -> None:
    items = [{"sku": "apple", "qty": 1}]
    code, out, _ = run_cli(
        capsys, "run", "examples.chained_invoke:handler", "--input",
        json.dumps({"items": items}), "--db", db,
    )
    assert code == 0 and re.search(r"✓ .* invoke ", out) and '"total":50' in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "nosuch_module_xyz:handler"], "cannot import module"),
        (["run", "examples.order_workflow"], "expected MODULE:HANDLER"),
        (["run", "examples.order_workflow:missing"], "has no attribute"),
        (["run", "examples.order_workflow:APPROVAL_LIMIT"], "is not a handler (it is an int)"),
        (["run", "examples.order_workflow:reserve_stock"], "not decorated"),
        (["run", ORDER], "takes an input event: pass it as JSON with --input"),
        (["run", ORDER, "--input", "{bad"], "--input is not valid JSON"),
        (["run", ORDER, "--input", "{}", "--function", "oops"], "--function expects"),
        (["run", ORDER, "--resume", "arn:nope"], "no durable execution"),
        (["run", ORDER, "--resume", "nope"], "no execution named 'nope'"),
        (["run", ORDER, "--resume", "x", "--input", "{}"], "pass only one of them"),
        (["history", "arn:nope"], "no durable execution"),
        (["history", "nope"], "no execution named 'nope'; `list` shows the executions"),
        (["callbacks", "nope"], "no execution named 'nope'"),
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
    for command in ("list", "callbacks"):
        code, _, err = run_cli(capsys, command, "--db", db)
        assert code == 2 and "no local database" in err


def test_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--help"], ["run", "--help"], ["callback", "succeed", "--help"],
                 ["history", "--help"], ["list", "--help"], ["callbacks", "--help"]):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 0
        assert "usage:" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert re.fullmatch(r"durable-backend \d+\.\d+\.\d+\S*\n", capsys.readouterr().out)


def test_hints_name_the_command_the_user_ran(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    venv_bin = tmp_path / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    script = venv_bin / "durable-backend"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", "/nonexistent")
    assert command_prefix(str(script)) == ".venv/bin/durable-backend"
    assert command_prefix("-m") == f"{sys.executable} -m durable_backend"
    monkeypatch.setenv("PATH", str(venv_bin))
    assert command_prefix(str(script)) == "durable-backend"
    assert command_prefix(".venv/bin/durable-backend") == "durable-backend"
    monkeypatch.setattr(sys, "executable", str(venv_bin / "python"))
    assert command_prefix("-m") == ".venv/bin/python -m durable_backend"


def _cli(*argv: str, columns: str | None = None, cwd: Path | None = None
         ) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    if columns is not None:
        env["COLUMNS"] = columns
    env["PYTHONPATH"] = os.getcwd()
    return subprocess.run(
        [sys.executable, "-m", "durable_backend", *argv], capture_output=True, text=True,
        timeout=60, check=False, env=env, cwd=cwd,
    )


def test_python_dash_m_entry_point_honours_columns_when_piped(tmp_path: Path) -> None:
    db = str(tmp_path / "x.db")
    proc = _cli("run", "examples.async_workflow:handler", "--input", '{"user": "ada"}',
                "--db", db, columns="60")
    assert proc.returncode == 0, proc.stderr
    assert "SUCCEEDED" in proc.stdout and "gold" in proc.stdout
    tree = [line for line in proc.stdout.splitlines() if "─" in line]
    assert tree and all(len(line) == 60 for line in tree)
    wide = _cli("history", "execution-1", "--db", db, columns="120")
    assert {len(line) for line in wide.stdout.splitlines() if "─" in line} == {120}
    bad = _cli("history", "arn:x", "--db", db)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1


def test_suspended_hint_runs_as_printed(tmp_path: Path) -> None:
    """The printed next step is a command that works, here ``<this python> -m ...``."""
    db = str(tmp_path / "x.db")
    proc = _cli("run", ORDER, "--input", LARGE, "--db", db, columns="200")
    hint = next(line for line in proc.stdout.splitlines() if "callback succeed" in line)
    command = shlex.split(hint)
    # A bare `python` runs from PATH (under nox the session's own), as the shell would find it.
    program = shutil.which(command[0]) or command[0]
    assert Path(program).resolve() == Path(sys.executable).resolve()
    assert command[1:5] == ["-m", "durable_backend", "callback", "succeed"]
    command[command.index("--result") + 1] = '{"approved": true}'
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    answer = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False,
                            env=env)
    assert answer.returncode == 0, answer.stderr
    assert "callback succeeded" in answer.stdout

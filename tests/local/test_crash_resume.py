"""A process killed (SIGKILL) in the middle of a step resumes from the SQLite file: completed
steps do not run again, and the execution completes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from durable_backend.local import LocalBackend

SCRIPT = Path(__file__).with_name("_crash_workflow.py")
ROOT = Path(__file__).parents[2]


def launch(db: Path, work: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), str(db), str(work)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_killed_run_resumes_without_repeating_completed_steps(tmp_path: Path) -> None:
    db = tmp_path / "local.db"
    marker = tmp_path / "slow.marker"
    log = tmp_path / "steps.log"

    victim = launch(db, tmp_path)
    deadline = time.monotonic() + 30
    while not marker.exists():
        assert victim.poll() is None, victim.communicate()
        assert time.monotonic() < deadline, "the workflow never reached the slow step"
        time.sleep(0.02)
    time.sleep(0.2)  # let the slow step's START reach the database (flushed after ~50 ms)
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    assert victim.returncode == -signal.SIGKILL
    assert log.read_text().splitlines() == ["first", "slow-start"]

    with LocalBackend(db) as backend:
        [execution] = backend.list_executions()["DurableExecutions"]
        assert execution["Status"] == "RUNNING"
        types = [e["EventType"] for e in backend.history_events(execution["DurableExecutionArn"])]
    assert types[-1] == "StepStarted"  # the killed attempt is visible, as on the service

    survivor = launch(db, tmp_path)
    out, err = survivor.communicate(timeout=60)
    assert survivor.returncode == 0, err
    assert out.split() == ["SUCCEEDED", '["one","two","three"]']

    lines = log.read_text().splitlines()
    assert lines.count("first") == 1  # completed before the kill: replayed, not re-run
    assert lines.count("slow-start") == 2  # at-least-once: the killed attempt runs again
    assert lines.count("slow-done") == 1
    assert lines.count("last") == 1

    with LocalBackend(db) as backend:
        [execution] = backend.list_executions()["DurableExecutions"]
        assert execution["Status"] == "SUCCEEDED"
        types = [e["EventType"] for e in backend.history_events(execution["DurableExecutionArn"])]
    assert types.count("WaitSucceeded") == 1
    assert types.count("StepSucceeded") == 3
    assert types[-1] == "ExecutionSucceeded"

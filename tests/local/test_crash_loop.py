"""Crash anywhere, resume, repeat: the local service is never stuck and loses nothing.

A workflow with steps, waits, a callback and a map runs in a subprocess that is SIGKILLed at a
random moment, at least 50 times per twin; each kill is followed by another process resuming
the same file. After every kill the file passes ``PRAGMA integrity_check``, the history
committed before it is still there unchanged, and every operation that had SUCCEEDED still has
its result. No step body ever runs after its own success was committed. When an execution
finishes the loop starts the next one, and the last one is resumed without a kill: it and every
earlier one SUCCEEDED with the expected result.

Separately, 2 and 4 processes resume the same execution at once: one runs each invocation, the
others wait for its lease, and all of them see it SUCCEED with every step body run once.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from durable_backend.local import LocalBackend, LocalRunner
from tests.local import _crash_loop_workflow as workflow

SCRIPT = Path(__file__).with_name("_crash_loop_workflow.py")
ROOT = Path(__file__).parents[2]
KILLS = 50

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork and SIGKILL")


def launch(db: Path, twin: str, name: str, log: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), str(db), twin, name, str(log)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def committed(db: Path) -> tuple[dict[str, list[dict[str, Any]]], dict[tuple[str, str], Any]]:
    """Every execution's history, and every SUCCEEDED operation's result."""
    histories: dict[str, list[dict[str, Any]]] = {}
    results: dict[tuple[str, str], Any] = {}
    with LocalBackend(db, read_only=True) as backend:
        for execution in backend.list_executions(max_items=1000)["DurableExecutions"]:
            arn = execution["DurableExecutionArn"]
            histories[arn] = backend.history_events(arn)
            for op in backend.operations(arn):
                if op.status.value == "SUCCEEDED":
                    details = op.step_details or op.context_details or op.callback_details
                    results[arn, op.id] = getattr(details, "result", None)
    return histories, results


def integrity(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        (verdict,) = conn.execute("PRAGMA integrity_check").fetchone()
    finally:
        conn.close()
    return str(verdict)


class Zygote:
    """A process that has imported everything once and forks one run of the workflow per
    request (so 50 kills take seconds, not 50 interpreter start-ups); the test kills runs."""

    def __init__(self, db: Path, twin: str, log: Path, reports: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(SCRIPT), "--zygote", str(db), twin, str(log)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        self.reports = reports
        self.runs = 0

    def ask(self, line: str) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def run(self, name: str) -> Run:
        self.runs += 1
        report = self.reports / f"run-{self.runs}.out"
        return Run(self, int(self.ask(f"run {name} {report}")), report)

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(10)


class Run:
    """One forked run: it writes ``ready`` and then its outcome to ``report``."""

    def __init__(self, zygote: Zygote, pid: int, report: Path) -> None:
        self.zygote, self.pid, self.report = zygote, pid, report

    def lines(self) -> list[str]:
        """The complete lines the run has written so far."""
        text = self.report.read_text() if self.report.exists() else ""
        return text.split("\n")[:-1]

    def kill_after(self, seconds: float) -> bool:
        """SIGKILL the run ``seconds`` after it is ready, unless it ended first; True when it
        was killed."""
        deadline = time.monotonic() + 60
        while not self.lines():
            assert time.monotonic() < deadline, "the run never got ready"
            time.sleep(0.002)
        assert self.lines()[0] == "ready"
        time.sleep(seconds)
        os.kill(self.pid, signal.SIGKILL)  # one that already ended is a zombie: no effect
        return self.reaped() == "killed"

    def reaped(self) -> str:
        return self.zygote.ask(f"wait {self.pid}")

    def outcome(self) -> str:
        return "\n".join(self.lines()[1:])


@pytest.mark.parametrize("twin", ["sync", "async"])
def test_random_kills_never_lose_or_stick(tmp_path: Path, twin: str) -> None:
    db = tmp_path / "local.db"
    log = tmp_path / "steps.log"
    rng = random.Random(f"crash-loop-{twin}")
    kills = executions = 0
    history: dict[str, list[dict[str, Any]]] = {}
    results: dict[tuple[str, str], Any] = {}
    finished = f"SUCCEEDED {json.dumps(workflow.EXPECTED)}"
    reports = tmp_path / "reports"
    reports.mkdir()
    zygote = Zygote(db, twin, log, reports)
    while kills < KILLS:
        victim = zygote.run(f"run-{executions}")
        if victim.kill_after(rng.uniform(0.0, 0.1)):
            kills += 1
        else:
            assert victim.outcome() == finished
            executions += 1
        assert integrity(db) == "ok"
        new_history, new_results = committed(db)
        for arn, events in history.items():
            assert new_history[arn][: len(events)] == events, "committed history changed"
        for key, value in results.items():
            assert new_results.get(key) == value, f"committed operation {key} lost"
        history, results = new_history, new_results
    last = zygote.run(f"run-{executions}")
    assert last.reaped() == "exited 0"  # no kill: it ends on its own
    assert last.outcome() == finished
    zygote.close()
    lines = log.read_text().splitlines()
    assert not [line for line in lines if line.startswith("RERUN")]
    with LocalBackend(db, read_only=True) as backend:
        statuses = [e["Status"] for e in backend.list_executions(max_items=1000)[
            "DurableExecutions"]]
    assert statuses == ["SUCCEEDED"] * (executions + 1)


@pytest.mark.parametrize("processes", [2, 4])
def test_concurrent_resumes_of_one_execution(tmp_path: Path, processes: int) -> None:
    db = tmp_path / "local.db"
    log = tmp_path / "steps.log"
    with LocalRunner(str(db)) as runner:
        runner.start(workflow.sync_handler(workflow.Journal(str(db), str(log))), name="shared")
    racers = [launch(db, "sync", "shared", log) for _ in range(processes)]
    outputs = [racer.communicate(timeout=90) for racer in racers]
    for racer, (out, err) in zip(racers, outputs, strict=True):
        assert racer.returncode == 0, err
        assert out.splitlines() == ["ready", f"SUCCEEDED {json.dumps(workflow.EXPECTED)}"]
    lines = log.read_text().splitlines()
    bodies = [f"step-{i}" for i in range(workflow.STEPS)] + ["submit", "last"]
    bodies += [f"item-{i}" for i in range(workflow.MAP_ITEMS)]
    assert sorted(lines) == sorted(bodies)  # each body ran exactly once
    with LocalBackend(db, read_only=True) as backend:
        [execution] = backend.list_executions()["DurableExecutions"]
        types = [e["EventType"] for e in backend.history_events(execution["DurableExecutionArn"])]
    assert "ExecutionFailed" not in types
    assert types[-1] == "ExecutionSucceeded"

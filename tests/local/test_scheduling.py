"""Invocation scheduling is stored state: due work survives crashes, one invocation holds an
execution at a time (a lease that expires), and a runner never stops while work is due."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import durable_backend as db
from durable_backend._errors import StaleCheckpointTokenError
from durable_backend._models import ErrorObject
from durable_backend.local import LocalBackend, LocalRunner, ManualClock
from durable_backend.local._backend import INVOCATION_ATTEMPTS

NO_RETRY = db.StepConfig(retry_strategy=db.RetryPresets.none())


@db.durable_execution
def waits(event: int, ctx: db.DurableContext) -> int:
    total = ctx.step(lambda _: event, name="first")
    ctx.wait(10, name="pause")
    total += ctx.step(lambda _: 1, name="second")
    ctx.wait(3, name="short")
    return total + ctx.step(lambda _: 1, name="third")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def backend(tmp_path: Path, clock: ManualClock) -> Iterator[LocalBackend]:
    with LocalBackend(tmp_path / "local.db", clock=clock) as b:
        yield b


def dead_owner() -> str:
    """The lease owner id of a process on this host that has exited."""
    child = subprocess.Popen(["true"])
    child.wait()
    return f"{socket.gethostname()}:{child.pid}:gone"


def test_fifty_runners_share_one_backend_and_clock_and_never_stop_early() -> None:
    """Every runner's timers fire only when a runner asks, and each run ends SUCCEEDED: none
    returns RUNNING while its own invocation is due because another thread moved the clock."""
    clock = ManualClock()
    with LocalBackend(clock=clock) as backend:
        results: dict[int, Any] = {}

        def run(index: int) -> None:
            runner = LocalRunner(backend, clock=clock)
            results[index] = runner.run(waits, index, name=f"run-{index}")

        threads = [threading.Thread(target=run, args=(i,)) for i in range(50)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert {i: (r.status.value, r.result) for i, r in results.items()} == {
        i: ("SUCCEEDED", i + 2) for i in range(50)
    }


def test_crash_before_the_first_checkpoint_is_picked_up(
    backend: LocalBackend, clock: ManualClock
) -> None:
    """The replay window: an invocation was taken (token rotated, updates handed out), then
    its process died before checkpointing anything. It is still due."""
    runner = LocalRunner(backend, clock=clock)
    arn = runner.start(waits, 1)
    claim = backend.claim_invocation(arn, dead_owner())
    assert claim.event is not None
    assert backend.needs_invocation(arn)
    result = runner.resume(arn)
    assert (result.status.value, result.result) == ("SUCCEEDED", 3)


def test_a_live_lease_is_waited_for_then_taken_when_it_expires(tmp_path: Path) -> None:
    clock = ManualClock()
    with LocalBackend(tmp_path / "local.db", clock=clock, lease_seconds=0.3) as backend:
        runner = LocalRunner(backend, clock=clock)
        arn = runner.start(waits, 1)
        elsewhere = "another-host:1:runner"  # cannot be checked for life: only expiry frees it
        stolen = backend.claim_invocation(arn, elsewhere)
        assert stolen.event is not None
        assert backend.claim_invocation(arn, runner.owner).holder == elsewhere
        started = time.monotonic()
        result = runner.resume(arn)
        assert time.monotonic() - started >= 0.25  # it waited for the lease
        assert (result.status.value, result.result) == ("SUCCEEDED", 3)
        # The invocation that lost its lease cannot write: its outcome is not recorded ...
        before = backend.history_events(arn)
        assert not backend.record_invocation_completed(
            arn, {"Status": "FAILED"}, owner=elsewhere
        )
        assert backend.history_events(arn) == before
        # ... and its token went stale when the lease was taken over.
        with pytest.raises(StaleCheckpointTokenError):
            backend.checkpoint(arn, stolen.event["CheckpointToken"], [])


def test_checkpoints_renew_the_lease(tmp_path: Path) -> None:
    clock = ManualClock()
    with LocalBackend(tmp_path / "local.db", clock=clock, lease_seconds=0.4) as backend:
        arn = backend.start_execution("fn", "1")
        claim = backend.claim_invocation(arn, "another-host:1:a")
        assert claim.event is not None
        token = claim.event["CheckpointToken"]
        for _ in range(4):
            time.sleep(0.15)
            token = backend.checkpoint(arn, token, []).checkpoint_token
            assert backend.claim_invocation(arn, "another-host:2:b").holder == "another-host:1:a"
        time.sleep(0.45)
        assert backend.claim_invocation(arn, "another-host:2:b").event is not None


def test_stale_token_invocations_are_retried_not_counted(
    backend: LocalBackend, clock: ManualClock
) -> None:
    calls: list[int] = []

    @db.durable_execution
    def flaky(event: None, ctx: db.DurableContext) -> str:
        calls.append(1)
        if len(calls) <= INVOCATION_ATTEMPTS + 2:
            raise StaleCheckpointTokenError("Invalid checkpoint token: another invocation won")
        return str(ctx.step(lambda _: "done", name="work"))

    runner = LocalRunner(backend, clock=clock)
    result = runner.run(flaky)
    assert (result.status.value, result.result) == ("SUCCEEDED", "done")
    assert len(calls) == INVOCATION_ATTEMPTS + 3
    assert "ExecutionFailed" not in result.history_types()


def test_failed_invocations_are_counted_durably(tmp_path: Path) -> None:
    """A handler that raises is re-invoked; the count survives a new runner (a crash after
    recording a failure loses nothing), and the third failure in a row FAILS the execution."""
    path = tmp_path / "local.db"
    calls: list[int] = []

    def broken(event: Any, context: Any) -> Any:  # raises out of Lambda, unlike user code
        calls.append(1)
        raise RuntimeError("boom")

    with LocalRunner(str(path)) as first:
        arn = first.start(lambda event, ctx: None)
        claim = first.backend.claim_invocation(arn, first.owner)
        assert claim.event is not None
        first.backend.record_invocation_completed(
            arn, None, function_error=ErrorObject("boom", "RuntimeError"), owner=first.owner
        )
    with LocalRunner(str(path)) as second:
        second._handlers[arn] = broken  # type: ignore[assignment]
        result = second.resume(arn)
    assert result.status.value == "FAILED"
    assert result.history_types().count("InvocationCompleted") == INVOCATION_ATTEMPTS
    assert len(calls) == INVOCATION_ATTEMPTS - 1


def test_an_interrupted_runner_gives_its_lease_back(
    backend: LocalBackend, clock: ManualClock
) -> None:
    @db.durable_execution
    def interrupted(event: None, ctx: db.DurableContext) -> str:
        ctx.step(lambda _: "one", name="one")
        raise KeyboardInterrupt

    runner = LocalRunner(backend, clock=clock)
    arn = runner.start(interrupted)
    with pytest.raises(KeyboardInterrupt):
        runner.resume(arn)
    assert backend.needs_invocation(arn)
    other = LocalRunner(backend, clock=clock)
    assert backend.claim_invocation(arn, other.owner).event is not None

"""Driver conformance: the same scripted workflows and the same injected service faults go
through both drivers, and what a user can observe must be identical.

The service is the real local one (``LocalBackend`` on in-memory SQLite) behind a wrapper that
injects one fault into the first checkpoint call carrying a chosen operation, so the fault hits
the same operation on both twins however their group commits batch the updates. Observable: the
handler's output or the error it raises, and whether user code ever saw the fault (it must not:
a failed or revoked checkpoint ends the invocation, it is not an operation's failure).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import pytest

import durable_backend as db
from durable_backend._backend import InlineAsyncBackend
from durable_backend._models import (
    CheckpointDurableExecutionOutput,
    GetDurableExecutionStateOutput,
    OperationUpdate,
)
from durable_backend.backend import (
    InvalidRequestError,
    ServiceUnavailableError,
    StaleCheckpointTokenError,
)
from durable_backend.local import LocalBackend
from tests.engine.conftest import Scenario, Twin

FAULTS: dict[str, Callable[[], BaseException] | None] = {
    "terminal": lambda: InvalidRequestError("update 0 is rejected", http_status=400),
    "retryable": lambda: ServiceUnavailableError("retries exhausted", http_status=503),
    "stale-token": lambda: StaleCheckpointTokenError(
        "Invalid checkpoint token", http_status=400
    ),
    "revoked": None,  # the call is applied and answered without a token
}


class Faulty:
    """A ``DurableBackend`` over the local service that spoils one call, chosen by content."""

    def __init__(self, backend: LocalBackend, fault: str, trigger: str | None) -> None:
        self.backend = backend
        self.fault = fault
        self.trigger = trigger
        self.fired = False

    def _fires(self, updates: Sequence[OperationUpdate] | None) -> bool:
        if self.fired:
            return False
        if updates is None:
            hit = self.trigger is None
        else:
            hit = any(u.name == self.trigger for u in updates)
        self.fired = hit
        return hit

    def checkpoint(
        self,
        arn: str,
        checkpoint_token: str,
        updates: Sequence[OperationUpdate],
        client_token: str | None = None,
    ) -> CheckpointDurableExecutionOutput:
        fires = self._fires(updates)
        make = FAULTS[self.fault]
        if fires and make is not None:
            raise make()
        output = self.backend.checkpoint(arn, checkpoint_token, updates, client_token)
        return attrs.evolve(output, checkpoint_token=None) if fires else output

    def batch_checkpoint(
        self,
        arn: str,
        checkpoint_token: str,
        updates: Sequence[OperationUpdate],
        client_token: str | None = None,
    ) -> CheckpointDurableExecutionOutput:
        return self.checkpoint(arn, checkpoint_token, updates, client_token)

    def get_execution_state(
        self, arn: str, checkpoint_token: str, next_marker: str, max_items: int = 1000
    ) -> GetDurableExecutionStateOutput:
        make = FAULTS[self.fault]
        if self._fires(None) and make is not None:
            raise make()
        return self.backend.get_execution_state(arn, checkpoint_token, next_marker, max_items)


def invoke(twin: Twin, scenario: Scenario, backend: Faulty, event: dict[str, Any]) -> Any:
    """One invocation through ``twin``'s driver: the output dict, or the exception raised."""
    fn = twin.body(scenario)
    try:
        if twin.is_async:
            handler = db.durable_execution(backend=InlineAsyncBackend(backend))(fn)
            return asyncio.run(handler.run_async(event, None))
        return db.durable_execution(backend=backend)(fn)(event, None)
    except Exception as error:
        return type(error)


def observe(output: Any) -> Any:
    """What a caller can see: the status and error type, or the exception class raised."""
    if isinstance(output, dict):
        return output["Status"], (output.get("Error") or {}).get("ErrorType")
    return output


def expected(fault: str) -> Any:
    return {
        "terminal": ("FAILED", "durable_backend.exceptions.InvalidRequestError"),
        "retryable": ServiceUnavailableError,
        "stale-token": StaleCheckpointTokenError,
        "revoked": ("PENDING", None),
    }[fault]


class Workflows:
    """Scenarios written once for both twins; they record any fault user code got to see."""

    def __init__(self, twin: Twin) -> None:
        self.twin = twin
        self.seen: list[BaseException] = []
        self.after_batch = False

    def guarded(self, ctx: Any, name: str) -> Any:
        try:
            return (yield ctx.step(lambda _: name, name=name))
        except Exception as error:
            self.seen.append(error)
            raise

    def steps(self, event: Any, ctx: Any) -> Any:
        for name in ("a", "b", "c"):
            yield from self.guarded(ctx, name)
        return "done"

    def mapped(self, max_concurrency: int | None) -> Scenario:
        def item(ctx: Any, value: int, index: int, items: Any) -> Any:
            return (yield from self.guarded(ctx, f"work-{value}"))

        def scenario(event: Any, ctx: Any) -> Any:
            config = db.MapConfig(max_concurrency=max_concurrency)
            result = yield ctx.map(list(range(6)), self.twin.body(item), config=config)
            self.after_batch = True
            return result.get_results()

        return scenario

    def parallel(self, max_concurrency: int | None) -> Scenario:
        def branch(index: int) -> Callable[..., Any]:
            def run(ctx: Any) -> Any:
                return (yield from self.guarded(ctx, f"branch-{index}"))

            return self.twin.body(run)

        def scenario(event: Any, ctx: Any) -> Any:
            config = db.ParallelConfig(max_concurrency=max_concurrency)
            result = yield ctx.parallel([branch(i) for i in range(3)], config=config)
            self.after_batch = True
            return result.get_results()

        return scenario


def run_once(twin: Twin, fault: str, trigger: str, pick: Callable[[Workflows], Scenario]) -> Any:
    local = LocalBackend(":memory:")
    arn = local.start_execution("conformance", "{}")
    workflows = Workflows(twin)
    output = invoke(
        twin, pick(workflows), Faulty(local, fault, trigger), local.next_invocation_event(arn)
    )
    assert workflows.seen == [], f"user code saw {workflows.seen!r}"
    assert not workflows.after_batch, "user code went on after the invocation had ended"
    return observe(output)


def assert_both_twins_see(fault: str, trigger: str, pick: Callable[[Workflows], Scenario]) -> None:
    outcomes = {kind: run_once(Twin(kind), fault, trigger, pick) for kind in ("sync", "async")}
    assert outcomes == {"sync": expected(fault), "async": expected(fault)}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_fault_on_a_sequential_step(fault: str) -> None:
    assert_both_twins_see(fault, "b", lambda w: w.steps)


@pytest.mark.parametrize("max_concurrency", [None, 1, 2, 4])
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_fault_inside_map(fault: str, max_concurrency: int | None) -> None:
    assert_both_twins_see(fault, "work-3", lambda w: w.mapped(max_concurrency))


@pytest.mark.parametrize("max_concurrency", [None, 1, 3])
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_fault_inside_parallel(fault: str, max_concurrency: int | None) -> None:
    assert_both_twins_see(fault, "branch-1", lambda w: w.parallel(max_concurrency))


@pytest.mark.parametrize("fault", ["terminal", "retryable", "stale-token"])
def test_a_fault_on_the_initial_page_fetch(fault: str) -> None:
    """Item 9 of issue 13: paging the initial state is the engine's, with the same outcomes."""
    outcomes = {}
    for kind in ("sync", "async"):
        twin = Twin(kind)
        local = LocalBackend(":memory:")
        arn = local.start_execution("conformance", "{}")
        workflows = Workflows(twin)

        def waits(event: Any, ctx: Any, workflows: Workflows = workflows) -> Any:
            yield from workflows.steps(event, ctx)
            yield ctx.wait(60)

        first = invoke(
            twin, waits, Faulty(local, "terminal", "never"), local.next_invocation_event(arn)
        )
        assert first == {"Status": "PENDING"}
        local.record_invocation_completed(arn, first)
        event = local.next_invocation_event(arn, max_items=1)
        assert event["InitialExecutionState"]["NextMarker"]
        outcomes[kind] = observe(invoke(twin, waits, Faulty(local, fault, None), event))
    assert outcomes == {"sync": expected(fault), "async": expected(fault)}


def test_a_fault_free_run_is_identical_on_both_twins() -> None:
    """The baseline the faults are measured against: the same result and history."""
    results = {}
    for kind in ("sync", "async"):
        twin = Twin(kind)
        local = LocalBackend(":memory:")
        arn = local.start_execution("conformance", "{}")
        workflows = Workflows(twin)
        output = invoke(
            twin,
            workflows.mapped(2),
            Faulty(local, "terminal", "never"),
            local.next_invocation_event(arn),
        )
        results[kind] = (output, sorted(e["EventType"] for e in local.history_events(arn)))
    assert results["sync"] == results["async"]
    items = [f"work-{i}" for i in range(6)]
    assert results["sync"][0] == {
        "Status": "SUCCEEDED",
        "Result": json.dumps(items, separators=(",", ":")),
    }

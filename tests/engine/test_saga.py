"""Sagas on both twins: reverse-order compensation, per-step outcomes, crash-safe resumption."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

import durable_backend as db
from durable_backend.backend import ExecutionStatus, OperationType
from tests.engine.conftest import Twin
from tests.support.service import MemoryBackend

NO_RETRY = db.StepConfig(retry_strategy=db.RetryPresets.none())


class Bookings:
    """Forward actions and compensations that record what ran, and can crash once."""

    def __init__(self, failing: str | None, crash_in: str | None = None) -> None:
        self.failing = failing
        self.crash_in = crash_in
        self.runs: Counter[str] = Counter()

    def book(self, kind: str) -> Callable[[db.StepContext], str]:
        def run(_: db.StepContext) -> str:
            self.runs[f"book {kind}"] += 1
            if kind == self.failing:
                raise RuntimeError(f"no {kind} left")
            return f"{kind}-1"

        return run

    def cancel(self, step_ctx: db.StepContext, booking: str) -> str:
        self.runs[f"cancel {booking}"] += 1
        if booking == self.crash_in:
            self.crash_in = None
            raise SystemExit("the invocation died mid-compensation")
        return f"cancelled {booking}"


KINDS = ("flight", "hotel", "car")


def saga_handler(twin: Twin, bookings: Bookings) -> Callable[..., Any]:
    """The same saga for either twin: book each kind, report compensations on failure."""

    def report(failure: db.SagaError) -> dict[str, Any]:
        return {
            "cause": str(failure.__cause__),
            "compensations": [[c.name, c.succeeded] for c in failure.compensations],
            "all_undone": failure.fully_compensated,
        }

    if twin.is_async:

        async def run_async(event: Any, ctx: db.AsyncDurableContext) -> Any:
            try:
                async with db.AsyncSaga(ctx, name="trip") as saga:
                    for kind in KINDS:
                        await saga.step(
                            bookings.book(kind), compensate=bookings.cancel, name=kind,
                            config=NO_RETRY,
                        )
            except db.SagaError as failure:
                return report(failure)
            return "booked"

        return run_async

    def run_sync(event: Any, ctx: db.DurableContext) -> Any:
        try:
            with db.Saga(ctx, name="trip") as saga:
                for kind in KINDS:
                    saga.step(
                        bookings.book(kind), compensate=bookings.cancel, name=kind,
                        config=NO_RETRY,
                    )
        except db.SagaError as failure:
            return report(failure)
        return "booked"

    return run_sync


def lambda_handler(twin: Twin, fn: Callable[..., Any], backend: MemoryBackend) -> Any:
    if twin.is_async:
        handler = db.durable_execution(backend=backend.async_)(fn)
        return lambda event, context=None: asyncio.run(handler.run_async(event, context))
    return db.durable_execution(backend=backend)(fn)


def test_success_runs_no_compensation(twin: Twin) -> None:
    bookings = Bookings(failing=None)
    backend = MemoryBackend()
    arn = backend.run(lambda_handler(twin, saga_handler(twin, bookings), backend))
    end = backend.execution_end(arn)
    assert end is not None and json.loads(end.result or "null") == "booked"
    assert not [name for name in bookings.runs if name.startswith("cancel")]


def test_failure_compensates_in_reverse_order(twin: Twin) -> None:
    bookings = Bookings(failing="car")
    backend = MemoryBackend()
    arn = backend.run(lambda_handler(twin, saga_handler(twin, bookings), backend))
    end = backend.execution_end(arn)
    assert end is not None
    report = json.loads(end.result or "{}")
    assert report["cause"] == "no car left"
    assert report["compensations"] == [
        ["trip: compensate hotel", True],
        ["trip: compensate flight", True],
    ]
    assert report["all_undone"] is True
    steps = [
        op.name for op in backend.operations(arn) if op.type is OperationType.STEP
    ]
    assert steps == ["flight", "hotel", "car", "trip: compensate hotel", "trip: compensate flight"]


def test_crash_mid_compensation_resumes_without_repeating(twin: Twin) -> None:
    bookings = Bookings(failing="car", crash_in="flight-1")
    backend = MemoryBackend()
    handler = lambda_handler(twin, saga_handler(twin, bookings), backend)
    arn, event = backend.start_execution(None)
    with pytest.raises(SystemExit):
        handler(event, None)
    backend.resume(arn, handler)
    end = backend.execution_end(arn)
    assert end is not None and end.status is ExecutionStatus.SUCCEEDED
    assert bookings.runs["cancel hotel-1"] == 1, "a completed compensation ran again"
    assert bookings.runs["cancel flight-1"] == 2, "the interrupted compensation did not resume"
    assert bookings.runs["book flight"] == 1 and bookings.runs["book hotel"] == 1

"""A trip booking saga: book flight, hotel and car; if any booking fails, undo the others.

Each booking and each cancellation is a durable step, so a crash while cancelling resumes
with the next cancellation instead of starting over or cancelling twice.

    .venv/bin/durable-backend run examples.saga_trip:handler \
        --input '{"trip": "t-1", "car": "sold-out"}'
"""

from __future__ import annotations

from typing import Any

import durable_backend as db

NO_RETRY = db.StepConfig(retry_strategy=db.RetryPresets.none())


def _book(kind: str, wanted: str) -> str:
    if wanted == "sold-out":
        raise RuntimeError(f"no {kind} available")
    return f"{kind}-{wanted}"


@db.durable_execution
def handler(event: dict[str, Any], ctx: db.DurableContext) -> dict[str, Any]:
    trip = event.get("trip", "trip")
    try:
        with db.Saga(ctx, name=f"book {trip}") as saga:
            flight = saga.step(
                lambda _: _book("flight", event.get("flight", "LHR-JFK")),
                compensate=lambda _, booking: f"cancelled {booking}",
                name="book flight",
            )
            hotel = saga.step(
                lambda _: _book("hotel", event.get("hotel", "Midtown")),
                compensate=lambda _, booking: f"cancelled {booking}",
                name="book hotel",
            )
            car = saga.step(
                lambda _: _book("car", event.get("car", "compact")),
                compensate=lambda _, booking: f"cancelled {booking}",
                name="book car",
                config=NO_RETRY,
            )
    except db.SagaError as failure:
        return {
            "status": "cancelled",
            "reason": str(failure.__cause__),
            "compensations": [
                {"name": c.name, "succeeded": c.succeeded} for c in failure.compensations
            ],
        }
    return {"status": "booked", "flight": flight, "hotel": hotel, "car": car}


@db.durable_execution
async def async_handler(event: dict[str, Any], ctx: db.AsyncDurableContext) -> dict[str, Any]:
    trip = event.get("trip", "trip")
    try:
        async with db.AsyncSaga(ctx, name=f"book {trip}") as saga:
            flight = await saga.step(
                lambda _: _book("flight", event.get("flight", "LHR-JFK")),
                compensate=lambda _, booking: f"cancelled {booking}",
                name="book flight",
            )
            hotel = await saga.step(
                lambda _: _book("hotel", event.get("hotel", "Midtown")),
                compensate=lambda _, booking: f"cancelled {booking}",
                name="book hotel",
            )
            car = await saga.step(
                lambda _: _book("car", event.get("car", "compact")),
                compensate=lambda _, booking: f"cancelled {booking}",
                name="book car",
                config=NO_RETRY,
            )
    except db.SagaError as failure:
        return {
            "status": "cancelled",
            "reason": str(failure.__cause__),
            "compensations": [
                {"name": c.name, "succeeded": c.succeeded} for c in failure.compensations
            ],
        }
    return {"status": "booked", "flight": flight, "hotel": hotel, "car": car}

"""Stand-ins for the outside systems the README's snippets call, typed so that the snippets
type-check as they stand. Each README block is checked as if it began with
``from tests.readme.stand_ins import *``."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import durable_backend as db

__all__ = [
    "audit", "book_flight", "book_hotel", "cancel_flight", "cancel_hotel", "charge", "gateway",
    "http_get", "notify", "read_quota", "reserve",
]

NOTIFIED: list[str] = []


class _Gateway:
    def charge(self, order: str) -> str:
        return f"charged {order}"


gateway = _Gateway()


def audit(order_id: UUID) -> None:
    return None


def reserve(order_id: str) -> str:
    return f"reservation-{order_id}"


def notify(callback_id: str) -> None:
    NOTIFIED.append(callback_id)


def charge(order: str, approval: str | None) -> str:
    return f"charge-{order}-{approval}"


async def http_get(url: str) -> dict[str, Any]:
    return {"url": url}


def read_quota() -> int:
    return 42


def book_flight(step: db.StepContext) -> str:
    return "flight-1"


def cancel_flight(booking: str) -> None:
    return None


def book_hotel(step: db.StepContext) -> str:
    raise RuntimeError("no rooms left")


def cancel_hotel(booking: str) -> None:
    return None

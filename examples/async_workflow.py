"""An ``async def`` workflow whose steps await (fake) I/O, two of them concurrently.

    .venv/bin/durable-backend run examples.async_workflow:handler --input '{"user": "ada"}'

Operation ids are taken when an operation is *called*, so ``asyncio.gather`` over two steps
replays deterministically.
"""

from __future__ import annotations

import asyncio
from typing import Any

import durable_backend as db


async def fetch_profile(user: str) -> dict[str, Any]:
    await asyncio.sleep(0.01)  # stands in for an HTTP call
    return {"user": user, "tier": "gold" if user.startswith("a") else "basic"}


async def fetch_orders(user: str) -> list[int]:
    await asyncio.sleep(0.01)  # stands in for a database query
    return [len(user), len(user) * 10]


async def send_email(user: str, text: str) -> str:
    await asyncio.sleep(0.01)
    return f"sent to {user}: {text}"


@db.durable_execution
async def handler(event: dict[str, Any], ctx: db.AsyncDurableContext) -> dict[str, Any]:
    user = event["user"]
    profile, orders = await asyncio.gather(
        ctx.step(lambda _: fetch_profile(user), name="fetch profile"),
        ctx.step(lambda _: fetch_orders(user), name="fetch orders"),
    )
    total = sum(orders)
    await ctx.wait(db.Duration.from_minutes(10), name="batch window")
    receipt = await ctx.step(
        lambda _: send_email(user, f"{profile['tier']} customer, total {total}"),
        name="send summary",
    )
    return {"user": user, "tier": profile["tier"], "total": total, "receipt": receipt}

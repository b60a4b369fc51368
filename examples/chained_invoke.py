"""Two durable functions: ``handler`` prices a basket by invoking ``pricing`` (a chained
invoke), then applies a discount step. Locally, the runner plays both functions.

    .venv/bin/durable-backend run examples.chained_invoke:handler \
        --input '{"items": [{"sku": "apple", "qty": 3}, {"sku": "pear", "qty": 2}]}'

The CLI registers every durable handler of the module by its attribute name, so
``ctx.invoke("pricing", ...)`` reaches ``pricing``, imported from examples/app, which deploys
it to Lambda as its own function (README "Deploy"); ``--function NAME=MODULE:ATTR`` registers
others.
"""

from __future__ import annotations

from typing import Any

import durable_backend as db
from examples.app.functions.checkout import pricing

__all__ = ["handler", "pricing"]


@db.durable_execution
def handler(event: dict[str, Any], ctx: db.DurableContext) -> dict[str, Any]:
    priced: dict[str, int] = ctx.invoke("pricing", {"items": event["items"]}, name="price")
    discount = ctx.step(
        lambda _: 10 if priced["total"] >= 200 else 0, name="discount percent"
    )
    return {"total": priced["total"] * (100 - discount) // 100, "discount": discount}

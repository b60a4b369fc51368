"""Two durable functions: ``handler`` prices a basket by invoking ``pricing`` (a chained
invoke), then applies a discount step. Locally, the runner plays both functions.

    .venv/bin/durable-backend run examples.chained_invoke:handler \
        --input '{"items": [{"sku": "apple", "qty": 3}, {"sku": "pear", "qty": 2}]}'

The CLI registers every durable handler of the module by its attribute name, so
``ctx.invoke("pricing", ...)`` reaches ``pricing`` below (``--function NAME=MODULE:ATTR``
registers others). examples/app deploys the same pattern to Lambda, invoking through an
alias (README "Deploy").
"""

from __future__ import annotations

from typing import Any

import durable_backend as db

PRICES = {"apple": 50, "pear": 80, "plum": 30}


@db.durable_execution
def pricing(event: dict[str, Any], ctx: db.DurableContext) -> dict[str, int]:
    def price(_: db.StepContext) -> dict[str, int]:
        unknown = [item["sku"] for item in event["items"] if item["sku"] not in PRICES]
        if unknown:
            raise ValueError(f"unknown SKUs: {unknown}")
        return {"total": sum(PRICES[item["sku"]] * item["qty"] for item in event["items"])}

    return ctx.step(price, name="price basket")


@db.durable_execution
def handler(event: dict[str, Any], ctx: db.DurableContext) -> dict[str, Any]:
    priced = ctx.invoke("pricing", {"items": event["items"]}, name="price")
    discount = ctx.step(
        lambda _: 10 if priced["total"] >= 200 else 0, name="discount percent"
    )
    return {"total": priced["total"] * (100 - discount) // 100, "discount": discount}

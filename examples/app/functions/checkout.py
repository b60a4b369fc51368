"""The deployable example app's two durable functions (see ../template.yaml).

``checkout`` (``async def``) prices the basket by invoking ``pricing`` (a sync ``def``, its
own Lambda function) through the alias ARN in ``PRICING_FUNCTION``, waits for a person to
approve the payment (a callback answered with the AWS CLI), then charges. Locally the same
code runs with the target named ``pricing``, which the CLI registers from this module (run it
from the repository root: a ``.durable/`` database in this folder would be deployed too):

    python -m durable_backend run examples.app.functions.checkout:checkout \
        --input '{"items": [{"sku": "apple", "qty": 3}]}'
"""

from __future__ import annotations

import logging
import os
from typing import Any

import durable_backend as db
from durable_backend.serdes import JsonSerDes

PRICES = {"apple": 50, "pear": 80, "plum": 30}
# Deployed: the alias ARN. The service refuses unqualified invokes of durable functions.
PRICING_FUNCTION = os.environ.get("PRICING_FUNCTION", "pricing")
log = logging.getLogger(__name__)


@db.durable_execution
def pricing(event: dict[str, Any], ctx: db.DurableContext) -> dict[str, int]:
    def price(_: db.StepContext) -> dict[str, int]:
        unknown = [item["sku"] for item in event["items"] if item["sku"] not in PRICES]
        if unknown:
            raise ValueError(f"unknown SKUs: {unknown}")
        return {"total": sum(PRICES[item["sku"]] * item["qty"] for item in event["items"])}

    return ctx.step(price, name="price basket")


@db.durable_execution
async def checkout(event: dict[str, Any], ctx: db.AsyncDurableContext) -> dict[str, Any]:
    priced: dict[str, int] = await ctx.invoke(
        PRICING_FUNCTION, {"items": event["items"]}, name="price"
    )

    def ask_for_approval(callback_id: str, _: db.WaitForCallbackContext) -> None:
        # Stand-in for a message to the approver, who answers with this id.
        log.info("approve %s cents with callback %s", priced["total"], callback_id)

    approval = await ctx.wait_for_callback(
        ask_for_approval, name="approval",
        config=db.WaitForCallbackConfig(timeout=db.Duration.from_hours(24),
                                        serdes=JsonSerDes()),
    )
    if not approval.get("approved"):
        return {"status": "declined", "total": priced["total"]}
    receipt = await ctx.step(lambda _: f"charged {priced['total']} cents", name="charge")
    return {"status": "paid", "total": priced["total"], "receipt": receipt}

"""An order workflow: reserve stock and charge the card (steps with retries), wait before
shipping, and ask a human to approve large orders (``wait_for_callback``).

    .venv/bin/durable-backend run examples.order_workflow:handler \
        --input '{"order_id": "o-1", "amount": 250}'

An order of 100 or more waits for approval: the CLI prints the callback id and the
``callback succeed ID --result '{"approved": true, "by": "ada"}'`` command that answers it,
then ``run examples.order_workflow:handler --resume NAME`` finishes the order."""

from __future__ import annotations

import logging
from typing import Any

import durable_backend as db
from durable_backend.serdes import JsonSerDes

APPROVAL_LIMIT = 100
RETRY = db.StepConfig(
    retry_strategy=db.create_retry_strategy(
        db.RetryStrategyConfig(max_attempts=3, initial_delay=db.Duration.from_seconds(2))
    )
)
log = logging.getLogger(__name__)


def reserve_stock(order: dict[str, Any]) -> str:
    """Stand-in for an inventory call."""
    return f"reservation-{order['order_id']}"


def charge_card(order: dict[str, Any], attempt: int) -> str:
    """Stand-in for a payment call: the gateway times out on the first attempt."""
    if attempt == 1 and order.get("flaky_payment", True):
        raise TimeoutError("payment gateway timed out")
    return f"charge-{order['order_id']}-{order['amount']}"


def ask_for_approval(order: dict[str, Any], callback_id: str) -> None:
    """Stand-in for e-mailing an approver the link that answers ``callback_id``."""
    log.info("approval needed for %s: callback %s", order["order_id"], callback_id)


@db.durable_execution
def handler(event: dict[str, Any], ctx: db.DurableContext) -> dict[str, Any]:
    reservation: str = ctx.step(lambda _: reserve_stock(event), name="reserve stock", config=RETRY)
    if event["amount"] >= APPROVAL_LIMIT:
        decision = ctx.wait_for_callback(
            lambda callback_id, _: ask_for_approval(event, callback_id),
            name="approval",
            config=db.WaitForCallbackConfig(
                timeout=db.Duration.from_days(3), serdes=JsonSerDes()
            ),
        )
        if not decision.get("approved"):
            return {"order_id": event["order_id"], "status": "rejected", "by": decision.get("by")}
    charge = ctx.step(
        lambda step: charge_card(event, step.attempt), name="charge card", config=RETRY
    )
    ctx.wait(db.Duration.from_hours(1), name="cooling-off period")
    shipment = ctx.step(lambda _: f"shipment-{event['order_id']}", name="ship")
    return {
        "order_id": event["order_id"],
        "status": "shipped",
        "reservation": reservation,
        "charge": charge,
        "shipment": shipment,
    }

"""A workflow with everything the console draws: a map, a retried step, a wait, a callback."""

from __future__ import annotations

from typing import Any

import durable_backend as db
from durable_backend.serdes import JsonSerDes

RETRY = db.StepConfig(
    retry_strategy=db.create_retry_strategy(
        db.RetryStrategyConfig(max_attempts=3, initial_delay=db.Duration.from_seconds(5))
    )
)


def flaky(attempt: int) -> str:
    if attempt == 1:
        raise ConnectionError("upstream reset the connection")
    return f"ok on attempt {attempt}"


@db.durable_execution
def handler(event: dict[str, Any], ctx: db.DurableContext) -> dict[str, Any]:
    batch = ctx.map(
        list(range(event["items"])),
        lambda child, item, index, items: child.step(lambda _: item * 2, name="double"),
        name="fan-out",
    )
    fetched = ctx.step(lambda step: flaky(step.attempt), name="fetch", config=RETRY)
    ctx.wait(db.Duration.from_minutes(10), name="cool-off")
    decision = ctx.wait_for_callback(
        lambda callback_id, _: None,
        name="approval",
        config=db.WaitForCallbackConfig(serdes=JsonSerDes()),
    )
    return {"total": sum(batch.get_results()), "fetched": fetched, "decision": decision}

"""A workflow for the storage-fault tests: ``steps`` steps, each returning ``size`` bytes and
appending its number to the file ``log`` when its body runs (so a re-run shows)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import durable_backend as db


@db.durable_execution
def handler(event: dict[str, Any], ctx: db.DurableContext) -> int:
    log = Path(event["log"])
    total = 0
    for index in range(event["steps"]):

        def body(_: db.StepContext, index: int = index) -> str:
            with log.open("a") as out:
                out.write(f"{index}\n")
            return "x" * event["size"]

        total += len(ctx.step(body, name=f"s{index}"))
    return total

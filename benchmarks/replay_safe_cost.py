"""The checkpoint cost of replay-safe values, per design (`python -m benchmarks.replay_safe_cost`).

Counts, not timings: for a workflow that reads N values and then runs one step, how many
checkpoint calls, updates and bytes each design adds over the same workflow without them.

- ``step``: the portable way, ``ctx.step(lambda _: time.time())`` (START + SUCCEED, and a
  call of its own, because a step's result is committed before it returns);
- ``now``: ``ctx.now()``, a lone SUCCEED queued to ride along with the next call;
- ``random`` / ``uuid4``: ``ctx.random()`` / ``ctx.uuid4()``, derived, nothing recorded.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

import durable_backend as db
from durable_backend._codec import to_wire
from durable_backend.testing import run_workflow

Reader = Callable[[db.DurableContext], object]

DESIGNS: dict[str, Reader] = {
    "none": lambda ctx: None,
    "step": lambda ctx: ctx.step(lambda _: time.time()),
    "now": lambda ctx: ctx.now(),
    "random": lambda ctx: ctx.random(),
    "uuid4": lambda ctx: ctx.uuid4(),
}


def cost(read: Reader, n: int) -> tuple[int, int, int]:
    """(checkpoint calls, updates, update bytes) of a run reading ``n`` values."""

    def handler(event: Any, ctx: db.DurableContext) -> str:
        for _ in range(n):
            read(ctx)
        return str(ctx.step(lambda _: "work", name="work"))

    calls = run_workflow(handler).checkpoint_calls
    updates = [update for call in calls for update in call.updates]
    size = sum(len(json.dumps(to_wire(update), default=str)) for update in updates)
    return len(calls), len(updates), size


def main(argv: list[str]) -> None:
    n = int(argv[0]) if argv else 100
    base = cost(DESIGNS["none"], n)
    print(f"extra checkpoint cost of {n} values (over a one-step workflow)")
    print(f"{'design':<8} {'calls':>7} {'updates':>8} {'bytes':>8}   per value")
    for name, read in DESIGNS.items():
        if name == "none":
            continue
        calls, updates, size = (a - b for a, b in zip(cost(read, n), base, strict=True))
        print(f"{name:<8} {calls:>7} {updates:>8} {size:>8}   "
              f"{calls / n:.2f} calls, {updates / n:.2f} updates, {size / n:.0f} B")


if __name__ == "__main__":
    main(sys.argv[1:])

"""What instrumentation plugins cost, per operation (``python -m benchmarks.plugin_cost``).

One invocation of N fresh steps, and one replaying N recorded steps, through both twins over
the zero-latency fake service, with:

- ``none``: no plugin registered (``Execution.hooks`` stays None: one attribute test per
  operation);
- ``no-op``: one plugin that overrides nothing (``DurableInstrumentationPlugin`` itself): the
  infos are built and every hook is called;
- ``recording``: one plugin that keeps every info it gets.

Each row is the best of ``--repeats`` runs; the per-operation column is the difference from
``none``, so the ``none`` rows are the baseline, not a cost.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import durable_backend as db
from benchmarks._common import (
    ARN,
    FakeLambdaContext,
    completed_step,
    execution_operation,
    invocation_event,
)
from benchmarks.run_ours import AsyncFakeBackend, FakeBackend, ours_store
from durable_backend.plugin import DurableInstrumentationPlugin, InvocationStartInfo


class NoOpFactory:
    def create_plugin(self, info: InvocationStartInfo) -> DurableInstrumentationPlugin:
        return DurableInstrumentationPlugin()


class Recording(DurableInstrumentationPlugin):
    def __init__(self) -> None:
        self.infos: list[Any] = []

    def on_operation_start(self, info: Any) -> None:
        self.infos.append(info)

    def on_operation_end(self, info: Any) -> None:
        self.infos.append(info)

    def on_user_function_start(self, info: Any) -> None:
        self.infos.append(info)

    def on_user_function_end(self, info: Any) -> None:
        self.infos.append(info)


class RecordingFactory:
    def create_plugin(self, info: InvocationStartInfo) -> Recording:
        return Recording()


PLUGINS: dict[str, list[Any]] = {
    "none": [],
    "no-op": [NoOpFactory()],
    "recording": [RecordingFactory()],
}


def _steps(n: int, replay: bool) -> list[dict[str, Any]]:
    ops = [execution_operation({"n": n})]
    if replay:
        ops.extend(completed_step(i) for i in range(1, n + 1))
    return ops


def _returns(i: int) -> Callable[[Any], int]:
    return lambda _: i


def run_once(twin: str, plugins: list[Any], n: int, replay: bool) -> float:
    """Seconds for one invocation of ``n`` steps (fresh, or all replayed)."""
    store = ours_store()
    history = _steps(n, replay)
    store.reset(history)
    event = invocation_event(history)
    assert event["DurableExecutionArn"] == ARN
    handler: Callable[[dict[str, Any], Any], dict[str, Any]]
    if twin == "sync":

        @db.durable_execution(backend=FakeBackend(store), plugins=plugins)
        def steps(event: dict[str, int], ctx: db.DurableContext) -> int:
            return sum(ctx.step(_returns(i), name=f"s{i}") for i in range(1, event["n"] + 1))

        handler = steps
    else:

        @db.durable_execution(backend=AsyncFakeBackend(store), plugins=plugins)
        async def async_steps(event: dict[str, int], ctx: db.AsyncDurableContext) -> int:
            total = 0
            for i in range(1, event["n"] + 1):
                total += await ctx.step(_returns(i), name=f"s{i}")
            return total

        handler = async_steps
    context = FakeLambdaContext()
    start = time.perf_counter()
    output = handler(event, context)
    elapsed = time.perf_counter() - start
    if output["Status"] != "SUCCEEDED" or output["Result"] != str(n * (n + 1) // 2):
        raise RuntimeError(f"{twin} {n} steps did not succeed: {output}")
    return elapsed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny N, one repeat")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--only", default="", help="rows whose twin/run/plugins id contains it")
    parser.add_argument("--out", default="", help="also write the rows as JSON to this path")
    args = parser.parse_args(argv)
    n = 20 if args.quick else 500
    repeats = args.repeats or (1 if args.quick else 7)
    print(f"plugin cost: one invocation of {n} steps (best of {repeats}), zero-latency service")
    print(f"{'twin':<6} {'run':<7} {'plugins':<10} {'ms':>8} {'us/op over none':>16}")
    rows: list[dict[str, Any]] = []
    for replay in (False, True):
        for twin in ("sync", "async"):
            run = "replay" if replay else "fresh"
            if args.only and not any(
                args.only in f"{twin}/{run}/{name}" for name in PLUGINS
            ):
                continue
            base = min(run_once(twin, [], n, replay) for _ in range(repeats))
            for name, plugins in PLUGINS.items():
                best = base if name == "none" else min(
                    run_once(twin, plugins, n, replay) for _ in range(repeats)
                )
                extra = (best - base) / n * 1e6
                shown = "" if name == "none" else f"{extra:>16.1f}"
                print(f"{twin:<6} {run:<7} {name:<10} {best * 1000:>8.2f} {shown}")
                rows.append({"id": f"{twin}/{run}/{name}", "ms": best * 1000, "us_per_op": extra})
    if args.out:
        Path(args.out).write_text(json.dumps({"steps": n, "repeats": repeats, "rows": rows}))


if __name__ == "__main__":
    main()

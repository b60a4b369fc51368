"""The workflow the crash loop kills: ``python _crash_loop_workflow.py DB TWIN NAME LOG``.

It runs (or resumes) the execution called NAME in DB with the sync or async twin, answering
its callback itself, and prints ``ready`` once the execution exists, then the final status
(``main`` takes another ``say``: the crash loop's forked runs report to a file).
Steps, waits, a callback and a map, with step bodies that take a few milliseconds so kills land
everywhere. Each step body appends its name to LOG, and first looks in DB (read-only) whether
its own operation already SUCCEEDED there: running a completed step again is logged as RERUN.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import durable_backend as db
from durable_backend.local import LocalRunner, Reply

STEPS = 4
MAP_ITEMS = 5


class Journal:
    """Where step bodies report that they ran (and whether they should not have)."""

    def __init__(self, database: str, log: str) -> None:
        self.database = database
        self.log = Path(log)
        self.arn = ""

    def ran(self, step_ctx: db.StepContext, name: str) -> None:
        conn = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True)
        try:
            row = conn.execute(
                "SELECT data FROM operations WHERE arn = ? AND id = ?",
                (self.arn, step_ctx.operation_id),
            ).fetchone()
        finally:
            conn.close()
        done = row is not None and json.loads(row[0]).get("Status") == "SUCCEEDED"
        with self.log.open("a") as out:
            out.write(f"{'RERUN ' if done else ''}{name}\n")
        time.sleep(0.004)


def sync_handler(journal: Journal) -> Any:
    @db.durable_execution
    def crash_loop(event: Any, ctx: db.DurableContext) -> list[Any]:
        out: list[Any] = []
        for index in range(STEPS):
            name = f"step-{index}"
            out.append(ctx.step(lambda s, n=name: journal.ran(s, n) or n, name=name))
            if index % 2 == 1:
                ctx.wait(60, name=f"wait-{index}")

        callback = ctx.create_callback(name="approval")
        ctx.step(lambda s: journal.ran(s, "submit"), name="submit")
        out.append(callback.result())

        def item(child: db.DurableContext, value: int, index: int, _: list[int]) -> int:
            name = f"item-{index}"
            return int(child.step(lambda s: journal.ran(s, name) or value * 10, name=name))

        out.append(ctx.map(list(range(MAP_ITEMS)), item, name="fan-out").get_results())
        out.append(ctx.step(lambda s: journal.ran(s, "last") or "last", name="last"))
        return out

    return crash_loop


def async_handler(journal: Journal) -> Any:
    @db.durable_execution
    async def crash_loop(event: Any, ctx: db.AsyncDurableContext) -> list[Any]:
        out: list[Any] = []
        for index in range(STEPS):
            name = f"step-{index}"

            async def body(s: db.StepContext, n: str = name) -> str:
                journal.ran(s, n)
                await asyncio.sleep(0)
                return n

            out.append(await ctx.step(body, name=name))
            if index % 2 == 1:
                await ctx.wait(60, name=f"wait-{index}")

        callback = await ctx.create_callback(name="approval")
        await ctx.step(lambda s: journal.ran(s, "submit"), name="submit")
        out.append(await callback.result())

        async def item(child: db.AsyncDurableContext, value: int, index: int, _: Any) -> int:
            name = f"item-{index}"
            return int(await child.step(lambda s: journal.ran(s, name) or value * 10, name=name))

        result = await ctx.map(list(range(MAP_ITEMS)), item, name="fan-out")
        out.append(result.get_results())
        out.append(await ctx.step(lambda s: journal.ran(s, "last") or "last", name="last"))
        return out

    return crash_loop


EXPECTED = [
    *(f"step-{i}" for i in range(STEPS)), "approved", [i * 10 for i in range(MAP_ITEMS)], "last",
]
"""The result every execution must end with."""


def main(database: str, twin: str, name: str, log: str, say: Callable[[str], None] = print) -> None:
    journal = Journal(database, log)
    handler = (async_handler if twin == "async" else sync_handler)(journal)
    with LocalRunner(database) as runner:
        found = [
            e["DurableExecutionArn"]
            for e in runner.backend.list_executions(max_items=1000)["DurableExecutions"]
            if e["DurableExecutionName"] == name
        ]
        journal.arn = found[0] if found else runner.start(handler, name=name)
        say("ready")
        result = runner.resume(
            journal.arn, handler, on_callback=lambda _: Reply(result="approved")
        )
    say(f"{result.status.value} {json.dumps(result.result)}")


def zygote(database: str, twin: str, log: str) -> None:
    """Fork a run per ``run NAME OUT`` line on stdin (answering its pid); the run writes
    ``ready`` and its outcome to the file OUT. ``wait PID`` reaps one and answers ``killed``
    or ``exited CODE``. The imports are paid once here, and this process starts no threads,
    so its forks are safe and cheap."""
    for line in sys.stdin:
        command, *args = line.split()
        if command == "run":
            name, out = args
            pid = os.fork()
            if pid == 0:
                code = 1
                try:
                    with open(out, "a", buffering=1) as report:
                        main(database, twin, name, log, lambda text: print(text, file=report))
                    code = 0
                finally:
                    os._exit(code)
            print(pid, flush=True)
        else:
            _, status = os.waitpid(int(args[0]), 0)
            verdict = "killed" if os.WIFSIGNALED(status) else f"exited {os.WEXITSTATUS(status)}"
            print(verdict, flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "--zygote":
        zygote(*sys.argv[2:5])
    else:
        main(*sys.argv[1:5])

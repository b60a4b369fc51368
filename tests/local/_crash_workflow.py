"""A workflow run in a subprocess by test_crash_resume: ``python _crash_workflow.py DB DIR``.

Each step body appends to ``DIR/steps.log``. The slow step writes ``DIR/slow.marker`` and then
sleeps (the test kills the process there); when the marker already exists it finishes at once.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import durable_backend as db
from durable_backend.local import LocalRunner

NO_RETRY = db.StepConfig(retry_strategy=db.RetryPresets.none())


def main(db_path: str, directory: str) -> None:
    work = Path(directory)
    log = work / "steps.log"
    marker = work / "slow.marker"

    def record(line: str) -> None:
        with log.open("a") as out:
            out.write(line + "\n")

    def first(_: db.StepContext) -> str:
        record("first")
        return "one"

    def slow(_: db.StepContext) -> str:
        record("slow-start")
        if not marker.exists():
            marker.write_text("in the slow step")
            time.sleep(60)
        record("slow-done")
        return "two"

    def last(_: db.StepContext) -> str:
        record("last")
        return "three"

    @db.durable_execution
    def crashy(event: None, ctx: db.DurableContext) -> list[str]:
        a = ctx.step(first, name="first")
        ctx.wait(5, name="pause")
        b = ctx.step(slow, name="slow")
        c = ctx.step(last, name="last")
        return [a, b, c]

    with LocalRunner(db_path) as runner:
        arn = runner.start(crashy, name="crash-test")
        result = runner.resume(arn, crashy)
        print(result.status.value, result.raw_result, flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

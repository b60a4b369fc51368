"""The first wave of durable_backend (the noxfile's ``FIRST_WAVE`` commit) over today's suite.

Issue #15's absolute CPU targets (replay per operation, cold invocations) were measured on that
code, on a faster machine. Run here, in the same session as ours, it is the yardstick that says
what those targets mean on this machine. ``nox -s bench_first_wave`` installs that commit's
package in a virtualenv of its own; the handlers and fake adapters are ``run_ours``'s, so both
codes run the same workloads through the same fake. Only the CPU targets' workloads run, unless
``--only`` names others.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence
from importlib.metadata import version

from benchmarks import run_ours
from benchmarks._common import Variant, main

MODULE = "benchmarks.run_first_wave"
CPU_TARGETS = "overhead/,replay"


def _variants() -> list[Variant]:
    return [
        dataclasses.replace(run_ours.sync_variant(), name="first-wave-sync"),
        dataclasses.replace(run_ours.async_variant(), name="first-wave-async"),
    ]


def run(argv: Sequence[str] | None = None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    return main(
        "first-wave", MODULE, version("durable_backend"), _variants,
        ["--only", CPU_TARGETS, *given],
    )


if __name__ == "__main__":
    sys.exit(run())

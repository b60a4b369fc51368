"""Join ``results/<sdk>.json`` into one report: a rich table, report.json and report.md.

Ratios, not absolute times, are the headline: each peer is divided by the twin of ours with
the same programming model (official by ours-sync, fork by ours-async), so a ratio of 12.0
means that peer took twelve times as long as ours for the same workload on the same machine.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from benchmarks._common import RESULTS_DIR

SDKS = ("ours", "official", "fork", "first-wave")
VARIANTS = ("ours-sync", "ours-async", "official", "fork")
# the first wave's twins (run_first_wave) -> ours, for the yardstick table
YARDSTICK = (("first-wave-sync", "ours-sync"), ("first-wave-async", "ours-async"))
# peer -> the twin of ours it is compared with, then the fallback
BASELINES = {"official": ("ours-sync", "ours-async"), "fork": ("ours-async", "ours-sync")}


def load(results_dir: Path) -> dict[str, dict[str, Any]]:
    documents = {}
    for sdk in SDKS:
        path = results_dir / f"{sdk}.json"
        if path.exists():
            documents[sdk] = json.loads(path.read_text())
    return documents


def join(documents: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One row per workload: each variant's numbers and the peer/ours ratios."""
    workloads: list[str] = []
    cells: dict[str, dict[str, dict[str, Any]]] = {}
    for document in documents.values():
        for row in document["results"]:
            if row["workload"] not in cells:
                workloads.append(row["workload"])
                cells[row["workload"]] = {}
            cells[row["workload"]][row["variant"]] = row
    rows = []
    for workload in workloads:
        by_variant = cells[workload]
        ratios: dict[str, float | None] = {}
        for peer, candidates in BASELINES.items():
            base = next((by_variant[c] for c in candidates if c in by_variant), None)
            ratios[peer] = (
                by_variant[peer]["median_s"] / base["median_s"]
                if peer in by_variant and base
                else None
            )
        rows.append({"workload": workload, "variants": by_variant, "ratios": ratios})
    _add_marginal_cost(rows)
    _add_bare_round_trips(rows)
    first = next(iter(documents.values()), {})
    return {
        "date": first.get("date"),
        "machine": first.get("machine"),
        "quick": any(d.get("quick") for d in documents.values()),
        "sdks": {
            sdk: {"version": d.get("sdk_version"), "skipped": d.get("skipped")}
            for sdk, d in documents.items()
        },
        "rows": rows,
    }


def _add_marginal_cost(rows: list[dict[str, Any]]) -> None:
    """Per-op (per-item for maps) cost above the fixed cost of an invocation:
    (t(N) - t(0 ops)) / N; equal values at N and 10 N mean the cost is linear.
    """
    empty = next((r for r in rows if r["workload"] == "overhead/0-ops"), None)
    for row in rows:
        for name, cell in row["variants"].items():
            base = empty["variants"].get(name) if empty else None
            if base is None or cell["kind"] not in ("steps", "replay", "map") or not cell["n"]:
                continue
            if row["workload"].startswith(("overhead/", "sleep/")) or cell.get("latency_ms"):
                continue
            cell["marginal_per_op_us"] = (cell["median_s"] - base["median_s"]) / cell["n"] * 1e6


def _add_bare_round_trips(rows: list[dict[str, Any]]) -> None:
    """Sequential steps at latency in measured round trips: each variant's wall time over its
    own bare call (the ``bare`` workload at the same latency: the same client adapter called
    directly), so the figure leaves out what the fake's wait overshoots and its bookkeeping.
    """
    bare = {
        (name, cell["latency_ms"]): cell["median_s"] / cell["n"]
        for row in rows
        for name, cell in row["variants"].items()
        if cell["kind"] == "bare" and cell["n"]
    }
    for row in rows:
        for name, cell in row["variants"].items():
            per_call = bare.get((name, cell.get("latency_ms")))
            if cell["kind"] == "steps" and cell.get("latency_ms") and per_call:
                cell["bare_round_trip_ms"] = per_call * 1e3
                cell["round_trips_bare"] = cell["median_s"] / per_call


def _per_step(cell: dict[str, Any] | None, key: str) -> str:
    """Round trips per step (``key``: ``round_trips`` or ``round_trips_bare``)."""
    if cell is None or cell.get(key) is None:
        return "-"
    return f"{cell[key] / cell['n']:.3f}"


def _ms(cell: dict[str, Any] | None) -> str:
    if cell is None:
        return "-"
    if cell["repeats"] >= 4:
        low, high = cell["q1_s"], cell["q3_s"]
    else:
        low, high = cell["min_s"], cell["max_s"]
    return f"{cell['median_s'] * 1e3:.2f} ({low * 1e3:.2f}-{high * 1e3:.2f})"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}x"


def _work(cell: dict[str, Any] | None) -> str:
    if cell is None:
        return "-"
    return f"{cell['checkpoint_calls']} / {cell['updates']} / {cell['peak_threads']}"


def _per_op(cell: dict[str, Any] | None) -> str:
    if cell is None or cell.get("marginal_per_op_us") is None:
        return "-"
    return f"{cell['marginal_per_op_us']:.1f}"


def _at_latency(row: dict[str, Any]) -> bool:
    return any(cell.get("latency_ms") for cell in row["variants"].values())


def _latency_cell(cell: dict[str, Any] | None) -> str:
    if cell is None:
        return "-"
    return (
        f"{cell['median_s'] * 1e3:.0f} ms · {cell['checkpoint_calls']} calls · "
        f"{cell['peak_threads']} thr"
    )


def _yardstick(report: dict[str, Any]) -> tuple[str, list[tuple[str, list[str]]]]:
    """The first wave against ours, per twin: median ms of each and first wave / ours. Its
    title names the code measured; no rows when the first wave did not run."""
    rows = []
    for row in report["rows"]:
        v = row["variants"]
        if not any(old in v for old, _ in YARDSTICK):
            continue
        cells = []
        for old, new in YARDSTICK:
            before, now = v.get(old), v.get(new)
            cells += [
                f"{before['median_s'] * 1e3:.2f}" if before else "-",
                f"{now['median_s'] * 1e3:.2f}" if now else "-",
                _ratio(before["median_s"] / now["median_s"] if before and now else None),
            ]
        rows.append((row["workload"], cells))
    version = report["sdks"].get("first-wave", {}).get("version")
    return f"Yardstick: the first wave (durable_backend {version}), same run", rows


_YARDSTICK_COLUMNS = (
    "first wave sync", "ours sync", "first wave / ours",
    "first wave async", "ours async", "first wave / ours",
)


def _header(report: dict[str, Any]) -> list[str]:
    machine = report.get("machine") or {}
    versions = ", ".join(
        f"{sdk} {info['version']}" + (f" (skipped: {info['skipped']})" if info["skipped"] else "")
        for sdk, info in report["sdks"].items()
    )
    return [
        f"Date: {report.get('date')}{' (quick mode: tiny N, 1 repeat)' if report['quick'] else ''}",
        f"Machine: {machine.get('cpu')}, {machine.get('cores')} cores; "
        f"{machine.get('implementation')} {machine.get('python')}",
        f"SDKs: {versions}",
    ]


def markdown(report: dict[str, Any]) -> str:
    lines = ["# Benchmarks: durable_backend vs the official SDK and its async fork", ""]
    lines += [f"{line}  " for line in _header(report)]
    lines += [
        "",
        "Every SDK runs the same handlers against the same zero-latency in-process fake service",
        "(see benchmarks/README.md). The ratio is peer time / ours: official is compared with",
        "ours-sync, the fork with ours-async. Times: median ms (IQR, or min-max under 4 repeats).",
        "",
        "| Workload | ours sync | ours async | official | fork | official / ours | fork / ours |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    zero = [row for row in report["rows"] if not _at_latency(row)]
    for row in zero:
        v = row["variants"]
        lines.append(
            f"| {row['workload']} | "
            + " | ".join(_ms(v.get(name)) for name in VARIANTS)
            + f" | {_ratio(row['ratios']['official'])} | {_ratio(row['ratios']['fork'])} |"
        )
    latency = [row for row in report["rows"] if _at_latency(row)]
    if latency:
        lines += [
            "",
            "With service latency: the same fake service waits before each checkpoint and",
            "get-state call (the `latN/` prefix, in ms). Median wall time · checkpoint calls ·",
            "peak live threads; the ratio is peer wall time / ours.",
            "",
            "| Workload | ours sync | ours async | official | fork | official / ours"
            " | fork / ours |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for row in latency:
            v = row["variants"]
            lines.append(
                f"| {row['workload']} | "
                + " | ".join(_latency_cell(v.get(name)) for name in VARIANTS)
                + f" | {_ratio(row['ratios']['official'])} | {_ratio(row['ratios']['fork'])} |"
            )
    calibrated = [
        row
        for row in latency
        if any(cell.get("round_trips_bare") for cell in row["variants"].values())
    ]
    if calibrated:
        lines += [
            "",
            "Sequential steps in round trips per step. Nominal: wall time / (steps x the fake's",
            "delay). Per bare call: wall time / (steps x one bare call), a bare call being the",
            "same client adapter called directly with one step's START and SUCCEED (the `bare`",
            "workload, same run), so it leaves out the fake's own overshoot and bookkeeping.",
            "",
            "| Workload | ours sync | ours async | official | fork |",
            "|---|---:|---:|---:|---:|",
        ]
        for row in calibrated:
            v = row["variants"]
            call = " | ".join(
                f"{v[n]['bare_round_trip_ms']:.2f}" if v.get(n, {}).get("bare_round_trip_ms")
                else "-"
                for n in VARIANTS
            )
            lines += [
                f"| {row['workload']}: one bare call, ms | {call} |",
                f"| {row['workload']}: per nominal round trip | "
                + " | ".join(_per_step(v.get(n), "round_trips") for n in VARIANTS)
                + " |",
                f"| {row['workload']}: per bare round trip | "
                + " | ".join(_per_step(v.get(n), "round_trips_bare") for n in VARIANTS)
                + " |",
            ]
    lines += [
        "",
        "Work done: checkpoint calls / updates sent / peak live threads.",
        "",
        "| Workload | ours sync | ours async | official | fork |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in zero:
        v = row["variants"]
        lines.append(
            f"| {row['workload']} | " + " | ".join(_work(v.get(n)) for n in VARIANTS) + " |"
        )
    lines += [
        "",
        "Marginal cost per operation (per item for maps), µs: (t(N) - t(0-op invocation)) / N.",
        "",
        "| Workload | ours sync | ours async | official | fork |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in report["rows"]:
        v = row["variants"]
        if any(_per_op(v.get(n)) != "-" for n in VARIANTS):
            lines.append(
                f"| {row['workload']} | " + " | ".join(_per_op(v.get(n)) for n in VARIANTS) + " |"
            )
    title, yardstick = _yardstick(report)
    if yardstick:
        lines += [
            "",
            f"{title} (issue #15's absolute CPU targets were measured on that code, on a",
            "faster machine). Median ms; the ratio is first wave / ours.",
            "",
            "| Workload | " + " | ".join(_YARDSTICK_COLUMNS) + " |",
            "|---|" + "---:|" * len(_YARDSTICK_COLUMNS),
        ]
        lines += [f"| {workload} | " + " | ".join(cells) + " |" for workload, cells in yardstick]
    memory = [r for r in report["rows"] if r["workload"].startswith("replay-big/")]
    if memory:
        lines += [
            "",
            "Replay of the big history in a fresh process: peak RSS MiB (growth during the run).",
            "",
            "| Workload | ours sync | ours async | official | fork |",
            "|---|---:|---:|---:|---:|",
        ]
        for row in memory:
            v = row["variants"]
            lines.append(
                f"| {row['workload']} | "
                + " | ".join(
                    f"{v[n]['peak_rss_mb']:.0f} (+{v[n]['rss_growth_mb']:.0f})" if n in v else "-"
                    for n in VARIANTS
                )
                + " |"
            )
    return "\n".join(lines) + "\n"


def rich_table(report: dict[str, Any]) -> Table:
    table = Table(title="median ms; ratio = peer time / ours (official vs sync, fork vs async)")
    table.add_column("Workload", no_wrap=True)
    for name in VARIANTS:
        table.add_column(name, justify="right")
    table.add_column("official/ours", justify="right", style="bold")
    table.add_column("fork/ours", justify="right", style="bold")
    table.add_column("calls ours·off·fork", justify="right")
    for row in report["rows"]:
        v = row["variants"]
        calls = "·".join(
            str(v[n]["checkpoint_calls"]) if n in v else "-"
            for n in ("ours-sync", "official", "fork")
        )
        table.add_row(
            row["workload"],
            *(f"{v[name]['median_s'] * 1e3:.2f}" if name in v else "-" for name in VARIANTS),
            _ratio(row["ratios"]["official"]),
            _ratio(row["ratios"]["fork"]),
            calls,
        )
    return table


def run(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.report", description=__doc__)
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args, _ = parser.parse_known_args(argv)  # the bench session forwards runner flags too
    documents = load(args.results_dir)
    if not documents:
        print(f"no results in {args.results_dir}; run the bench_<sdk> sessions first")
        return 1
    report = join(documents)
    console = Console(width=None if sys.stdout.isatty() else 140)
    for line in _header(report):
        console.print(line)
    console.print(rich_table(report))
    title, yardstick = _yardstick(report)
    if yardstick:
        table = Table(title=f"{title}; median ms")
        table.add_column("Workload", no_wrap=True)
        for column in _YARDSTICK_COLUMNS:
            table.add_column(column, justify="right")
        for workload, cells in yardstick:
            table.add_row(workload, *cells)
        console.print(table)
    (args.results_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.results_dir / "report.md").write_text(markdown(report))
    console.print(f"wrote {args.results_dir / 'report.json'} and {args.results_dir / 'report.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(run())

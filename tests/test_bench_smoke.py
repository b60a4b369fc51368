"""Smoke test of the benchmark harness: ours on tiny N, end to end, in-process. Not timed.

The fake backend and the harness are checked now; the end-to-end run waits for the engine's
``durable_backend.durable_execution``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import durable_backend as db
from benchmarks import report
from benchmarks._common import (
    PAGE_SIZE,
    child_measure,
    history,
    invocation_event,
    measure,
    operation_id,
    workloads,
    write_results,
)
from benchmarks.run_ours import (
    FakeBackend,
    async_variant,
    engine_missing,
    ours_store,
    sync_variant,
)
from durable_backend._models import (
    OperationAction,
    OperationStatus,
    OperationType,
    OperationUpdate,
)

ARN = "arn:aws:lambda:us-east-1:123456789012:function:bench:$LATEST/durable-execution/b/x"


def test_operation_ids_follow_the_official_scheme() -> None:
    identifier = pytest.importorskip("aws_durable_execution_sdk_python.identifier")
    namespace = identifier.OperationIdNamespace()
    assert [operation_id(n) for n in (1, 2, 10)] == [
        namespace.create_id_for_step(n) for n in (1, 2, 10)
    ]
    child = identifier.OperationIdNamespace(operation_id(3))
    assert operation_id(1, operation_id(3)) == child.create_id_for_step(1)


def test_replay_event_pages_the_history() -> None:
    workload = next(w for w in workloads(quick=True) if w.kind == "big-replay")
    ops = history(workload)
    event = invocation_event(ops)
    assert len(ops) == workload.n + 1
    assert len(event["InitialExecutionState"]["Operations"]) == PAGE_SIZE
    assert event["InitialExecutionState"]["NextMarker"] == str(PAGE_SIZE)


def test_fake_backend_rotates_tokens_echoes_updates_and_pages() -> None:
    store = ours_store()
    store.reset(history(workloads(quick=True)[0]))
    backend = FakeBackend(store)
    update = OperationUpdate(
        id=operation_id(1), type=OperationType.STEP, action=OperationAction.SUCCEED,
        sub_type="Step", name="s1", payload="1",
    )
    out = backend.checkpoint(ARN, "token-0", [update])
    assert out.checkpoint_token == "token-1"
    assert out.new_execution_state is not None
    (echoed,) = out.new_execution_state.operations
    assert (echoed.id, echoed.status) == (operation_id(1), OperationStatus.SUCCEEDED)
    assert echoed.step_details is not None and echoed.step_details.attempt == 1
    with pytest.raises(RuntimeError, match="Invalid checkpoint token"):
        backend.checkpoint(ARN, "token-0", [update])
    first = backend.get_execution_state(ARN, "token-1", "", max_items=1)
    second = backend.get_execution_state(ARN, "token-1", first.next_marker or "", max_items=1)
    assert [op.type for op in first.operations + second.operations] == [
        OperationType.EXECUTION, OperationType.STEP,
    ]
    assert second.next_marker == ""
    assert store.counters.checkpoint_calls == 1 and store.counters.get_state_calls == 2


@pytest.mark.skipif(engine_missing() is not None, reason=str(engine_missing()))
def test_ours_runs_the_quick_suite_end_to_end(tmp_path: Path) -> None:
    assert hasattr(db, "durable_execution")
    rows = []
    for variant in (sync_variant(), async_variant()):
        for workload in workloads(quick=True):
            if workload.kind == "big-replay":
                sample = child_measure(variant, workload)
                assert sample["elapsed_s"] > 0 and sample["peak_rss_mb"] > 0
                continue
            row = measure(variant, workload, "benchmarks.run_ours", quick=True)
            assert row["median_s"] > 0 and len(row["times_s"]) == workload.repeats
            assert row["checkpoint_calls"] >= (1 if workload.kind in ("steps", "map") and
                                               workload.n else 0)
            assert row["peak_threads"] >= 1
            rows.append(row)
    write_results(tmp_path / "ours.json", "ours", "dev", True, rows)
    joined = report.join(report.load(tmp_path))
    assert {name for r in joined["rows"] for name in r["variants"]} == {"ours-sync", "ours-async"}
    markdown = report.markdown(joined)
    assert "| steps/5 |" in markdown
    assert "| lat20/wait_for_callback | " in markdown.split("With service latency")[1]
    cells = {r["workload"]: r["variants"] for r in joined["rows"]}
    for name in ("ours-sync", "ours-async"):
        bare, steps = cells["lat20/bare/5"][name], cells["lat20/steps/5"][name]
        assert bare["checkpoint_calls"] == steps["checkpoint_calls"] == 5
        per_call = bare["median_s"] / 5
        assert per_call >= 0.020
        assert steps["round_trips_bare"] == pytest.approx(steps["median_s"] / per_call)
    assert "| lat20/steps/5: per bare round trip | " in markdown
    json.dumps(joined)


def test_the_latency_fake_waits_before_each_call_and_answers_callbacks() -> None:
    workload = next(w for w in workloads(quick=True) if w.kind == "callback")
    variant = sync_variant()
    row = measure(variant, workload, "benchmarks.run_ours", quick=True)
    # checkpoint calls plus the resumed invocation's get-state page, each one round trip
    round_trips = row["checkpoint_calls"] + row["get_state_calls"]
    assert row["get_state_calls"] >= 1
    assert row["median_s"] >= round_trips * workload.latency_s
    assert row["round_trips"] == pytest.approx(row["median_s"] / workload.latency_s)


def test_seeded_history_stays_wire_until_a_page_decodes_it() -> None:
    workload = next(w for w in workloads(quick=True) if w.kind == "replay")
    store = ours_store()
    store.reset(history(workload))
    assert len(store.wire) == workload.n + 1
    page, _ = store.page("token-0", "", 3)
    assert all(op.status is OperationStatus.SUCCEEDED for op in page[1:])
    assert len(store.wire) == workload.n + 1  # paging again decodes again, as a new call would


def test_replay_safe_cost_counts_what_each_design_adds() -> None:
    from benchmarks.replay_safe_cost import DESIGNS, cost

    base = cost(DESIGNS["none"], 3)
    assert cost(DESIGNS["step"], 3)[:2] == (base[0] + 3, base[1] + 6)
    assert cost(DESIGNS["now"], 3)[:2] == (base[0], base[1] + 3)
    assert cost(DESIGNS["random"], 3) == cost(DESIGNS["uuid4"], 3) == base


def test_the_first_wave_yardstick_runs_its_own_variants_and_joins_ours(tmp_path: Path) -> None:
    from benchmarks import run_first_wave

    out = tmp_path / "first-wave.json"
    only = "overhead/0-ops,replay/10"
    assert run_first_wave.run(["--quick", "--only", only, "--out", str(out)]) == 0
    document = json.loads(out.read_text())
    assert document["sdk"] == "first-wave"
    assert {(r["workload"], r["variant"]) for r in document["results"]} == {
        (w, v)
        for w in ("overhead/0-ops", "overhead/0-ops/warm", "replay/10")
        for v in ("first-wave-sync", "first-wave-async")
    }
    ours = [measure(sync_variant(), w, "benchmarks.run_ours", quick=True)
            for w in workloads(quick=True) if w.id == "replay/10"]
    write_results(tmp_path / "ours.json", "ours", "dev", True, ours)
    joined = report.join(report.load(tmp_path))
    table = report.markdown(joined).split("Yardstick: the first wave")[1]
    (row,) = [line for line in table.splitlines() if line.startswith("| replay/10 |")]
    first_sync, ours_sync, ratio, first_async, ours_async, _ = row.strip("| ").split(" | ")[1:]
    cells = next(r["variants"] for r in joined["rows"] if r["workload"] == "replay/10")
    before, now = cells["first-wave-sync"]["median_s"], cells["ours-sync"]["median_s"]
    assert (first_sync, ours_sync) == (f"{before * 1e3:.2f}", f"{now * 1e3:.2f}")
    assert ratio == f"{before / now:.1f}x"
    assert ours_async == "-" and first_async != "-"

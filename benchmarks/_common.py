"""The SDK-neutral half of the suite: workloads, histories, the fake store, timing, results.

Stdlib only: it is imported by every runner, each in the virtualenv of its own SDK.

Method, so the numbers mean the same thing for every SDK:

* Every SDK talks to the same in-process ``FakeStore`` through a thin adapter at its own
  service-client boundary (model objects in, model objects out, no JSON). A checkpoint checks
  and rotates the token, applies the updates and echoes the touched operations as the delta;
  get-state pages the stored operations. So each SDK does all of its own work and none of a
  network's.
* Replay histories use the official operation ids (blake2b of ``"<n>"``, hex[:64]), so every
  SDK replays them without running a step body. The invocation event carries the first page
  of 1000 operations; the rest is fetched through get-state, as from the service.
* One untimed, instrumented run per workload counts API calls, updates and threads (a sampler
  would perturb the timings), then ``repeats`` timed runs measure wall time with
  ``time.perf_counter`` around the Lambda handler call only. A full ``gc.collect()`` precedes
  each timed run (except ``/warm`` workloads), so no run pays for the last one's garbage; it
  also leaves the CPU caches cold, which dominates the sub-millisecond invocations.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"
EXECUTION_ID = "0b1d4e5c-bench"
ARN = (
    "arn:aws:lambda:us-east-1:123456789012:function:bench:$LATEST"
    f"/durable-execution/bench/{EXECUTION_ID}"
)
T0_MS = 1_767_225_600_000
PAGE_SIZE = 1000


def operation_id(n: int, parent: str | None = None) -> str:
    """The official SDK's deterministic id of the n-th durable call (n from 1) in a context."""
    raw = f"{parent}-{n}" if parent else str(n)
    return hashlib.blake2b(raw.encode()).hexdigest()[:64]


def step_name(i: int) -> str:
    return f"s{i}"


@dataclass(frozen=True)
class Workload:
    """One scenario; ``op_count`` is the durable operations the handler performs or replays."""

    id: str
    kind: str  # steps | replay | map | big-replay | parallel | child | callback | bare
    n: int
    repeats: int
    op_count: int
    sleep_s: float = 0.0
    concurrency: int | None = None
    peers: bool = True  # False: ours only (the fork's quadratic map would take minutes)
    warm: bool = False  # True: no full collection before each timed run, so caches stay warm
    latency_s: float = 0.0  # the fake service's delay per checkpoint and get-state call

    @property
    def payload(self) -> dict[str, Any]:
        return {"n": self.n, "sleep": self.sleep_s, "concurrency": self.concurrency}

    @property
    def replayed_steps(self) -> int:
        return self.n if self.kind in ("replay", "big-replay") else 0

    @property
    def expected_result(self) -> int:
        if self.kind in ("map", "parallel"):
            return self.n * (self.n - 1)
        return self.n * (self.n + 1) // 2

    @property
    def body_seconds(self) -> float:
        """Time the bodies take when they run one after another (sequential steps only)."""
        return self.n * self.sleep_s if self.kind == "steps" else 0.0


def workloads(quick: bool, repeats: int | None = None) -> list[Workload]:
    """The suite; ``--quick`` keeps every shape with tiny N and one repeat."""

    def r(default: int) -> int:
        return 1 if quick else (repeats or default)

    steps = (5, 10) if quick else (100, 1000)
    replays = (10, 50) if quick else (1000, 10000)
    mapped = 20 if quick else 1000
    sleeps = 2 if quick else 10
    big = 2000 if quick else 100_000
    suite = [
        Workload("overhead/0-ops", "steps", 0, r(30), 0),
        Workload("overhead/1-op", "steps", 1, r(30), 1),
        # back to back, as a busy warm Lambda sees them (the two above start cache-cold)
        Workload("overhead/0-ops/warm", "steps", 0, r(30), 0, warm=True),
        Workload("overhead/1-op/warm", "steps", 1, r(30), 1, warm=True),
        Workload(f"steps/{steps[0]}", "steps", steps[0], r(15), steps[0]),
        Workload(f"steps/{steps[1]}", "steps", steps[1], r(5), steps[1]),
        Workload(f"replay/{replays[0]}", "replay", replays[0], r(10), replays[0]),
        Workload(f"replay/{replays[1]}", "replay", replays[1], r(5), replays[1]),
        # one MAP context, one MapIteration context per item, one step per item
        Workload(f"map/{mapped}", "map", mapped, r(5), 1 + 2 * mapped),
        Workload(f"map/{mapped}/c16", "map", mapped, r(5), 1 + 2 * mapped, concurrency=16),
        # ten times the items: is the cost linear?
        Workload(f"map/{10 * mapped}", "map", 10 * mapped, r(3), 1 + 20 * mapped, peers=False),
        Workload(
            f"map/{10 * mapped}/c16", "map", 10 * mapped, r(3), 1 + 20 * mapped,
            concurrency=16, peers=False,
        ),
        Workload(f"sleep/{sleeps}x150ms", "steps", sleeps, r(3), sleeps, sleep_s=0.15),
        Workload(f"replay-big/{big}", "big-replay", big, r(3), big),
    ]
    return suite + latency_workloads(quick, r)


LATENCY_S = 0.020
BLOCKING_BODY_S = 0.050


def latency_workloads(quick: bool, r: Callable[[int], int]) -> list[Workload]:
    """The same shapes as Lambda users meet them: every service call takes ``LATENCY_S``."""
    steps, items, children = (5, 20, 10) if quick else (20, 1000, 100)
    lat = LATENCY_S
    tag = f"lat{round(lat * 1000)}"
    blocked = f"{tag}/map-block{round(BLOCKING_BODY_S * 1000)}ms/{items}"
    return [
        # the same number of bare calls, right before the steps: one measured round trip
        Workload(f"{tag}/bare/{steps}", "bare", steps, r(5), steps, latency_s=lat),
        Workload(f"{tag}/steps/{steps}", "steps", steps, r(5), steps, latency_s=lat),
        Workload(f"{tag}/map/{items}", "map", items, r(3), 1 + 2 * items, latency_s=lat),
        Workload(blocked, "map", items, r(3), 1 + 2 * items, BLOCKING_BODY_S, latency_s=lat),
        Workload(
            f"{blocked}/c16", "map", items, r(3), 1 + 2 * items, BLOCKING_BODY_S,
            concurrency=16, latency_s=lat,
        ),
        Workload(f"{tag}/parallel/10", "parallel", 10, r(3), 1 + 2 * 10, latency_s=lat),
        # one child context around a callback and its submitter step: two invocations
        Workload(f"{tag}/wait_for_callback", "callback", 1, r(3), 3, latency_s=lat),
        Workload(f"{tag}/child/{children}", "child", children, r(3), 1 + children, latency_s=lat),
    ]


# region histories and events


def execution_operation(payload: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "Id": EXECUTION_ID,
        "Type": "EXECUTION",
        "Status": "STARTED",
        "StartTimestamp": T0_MS,
        "ExecutionDetails": {"InputPayload": json.dumps(payload)},
    }


def completed_step(i: int) -> dict[str, Any]:
    return {
        "Id": operation_id(i),
        "Type": "STEP",
        "SubType": "Step",
        "Name": step_name(i),
        "Status": "SUCCEEDED",
        "StartTimestamp": T0_MS + i,
        "EndTimestamp": T0_MS + i,
        "StepDetails": {"Attempt": 1, "Result": json.dumps(i)},
    }


def history(workload: Workload) -> list[dict[str, Any]]:
    """The stored operations (invocation-event flavour: epoch-ms timestamps) before the run."""
    ops = [execution_operation(workload.payload)]
    ops.extend(completed_step(i) for i in range(1, workload.replayed_steps + 1))
    return ops


def invocation_event(
    ops: Sequence[Mapping[str, Any]], token: str = "token-0", page_size: int = PAGE_SIZE
) -> dict[str, Any]:
    """The Lambda event: first page inline, the rest behind ``NextMarker`` (an offset)."""
    return {
        "DurableExecutionArn": ARN,
        "CheckpointToken": token,
        "InitialExecutionState": {
            "Operations": list(ops[:page_size]),
            "NextMarker": str(page_size) if len(ops) > page_size else "",
        },
    }


def with_datetimes(op: Mapping[str, Any]) -> dict[str, Any]:
    """The same operation in boto3 flavour: timestamps as aware datetimes."""
    out = dict(op)
    for key in ("StartTimestamp", "EndTimestamp"):
        if key in out:
            out[key] = datetime.fromtimestamp(out[key] / 1000, tz=UTC)
    return out


class FakeLambdaContext:
    """The attributes the SDKs read from Lambda's context object."""

    aws_request_id = "bench-request"
    log_group_name = "/aws/lambda/bench"
    log_stream_name = "bench"
    function_name = "bench"
    memory_limit_in_mb = "1024"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    tenant_id = None
    client_context = None
    identity = None

    def get_remaining_time_in_millis(self) -> int:
        return 900_000

    def log(self, msg: str) -> None:
        sys.stdout.write(msg)


# endregion
# region fake store


@dataclass
class Counters:
    checkpoint_calls: int = 0
    get_state_calls: int = 0
    updates: int = 0
    backend_threads: set[int] = field(default_factory=set)
    body_threads: set[int] = field(default_factory=set)


class FakeStore:
    """Zero-latency service state shared by every SDK's adapter.

    ``transition(previous, update, now)`` (per SDK, in its own model types) returns the stored
    operation after one update; ``key`` reads an operation's or update's id; ``answer``
    returns a started callback operation as the outside world's success, or None for any
    other operation; ``decode`` builds the SDK's model from a boto3-flavour dict.

    The seeded history stays in wire form until a get-state page carries it, and is decoded
    then, inside the timed call, as each SDK's client decodes the service's JSON pages.

    ``latency_s`` is the delay of one service call. The adapters wait it out before the
    call does its work (``delay`` in a sync client, ``asyncio.sleep`` in an async one), as
    a service that applies a checkpoint at the end of its round trip.
    """

    def __init__(
        self,
        transition: Callable[[Any, Any, datetime], Any],
        key: Callable[[Any], str],
        is_succeeded_step: Callable[[Any], bool],
        answer: Callable[[Any, datetime], Any | None],
        decode: Callable[[dict[str, Any]], Any],
    ) -> None:
        self._transition = transition
        self._key = key
        self._is_succeeded_step = is_succeeded_step
        self._answer = answer
        self._decode = decode
        self._lock = threading.Lock()
        self.latency_s = 0.0
        self.reset([])

    def delay(self) -> None:
        """A sync client's round trip."""
        if self.latency_s:
            time.sleep(self.latency_s)

    def reset(self, history: Sequence[Mapping[str, Any]]) -> None:
        """Seed the store with event-flavour operation dicts."""
        self.wire: dict[str, dict[str, Any]] = {op["Id"]: with_datetimes(op) for op in history}
        self.operations: dict[str, Any] = {k: self._decode(op) for k, op in self.wire.items()}
        self.order: list[str] = list(self.operations)
        self.token_number = 0
        self.counters = Counters()

    @property
    def token(self) -> str:
        return f"token-{self.token_number}"

    def _check_token(self, token: str) -> None:
        if token != self.token:
            raise RuntimeError(f"Invalid checkpoint token {token!r}; current is {self.token!r}")

    def checkpoint(self, token: str, updates: Sequence[Any]) -> tuple[str, list[Any]]:
        """Consume ``token``, apply ``updates`` and return the next token and the delta."""
        with self._lock:
            self._check_token(token)
            self.counters.checkpoint_calls += 1
            self.counters.updates += len(updates)
            self.counters.backend_threads.add(threading.get_ident())
            now = datetime.now(UTC)
            touched: dict[str, Any] = {}
            for update in updates:
                op_id = self._key(update)
                previous = self.operations.get(op_id)
                self.wire.pop(op_id, None)
                if previous is None:
                    self.order.append(op_id)
                operation = self._transition(previous, update, now)
                self.operations[op_id] = operation
                touched[op_id] = operation
            self.token_number += 1
            return self.token, list(touched.values())

    def page(self, token: str, marker: str, max_items: int) -> tuple[list[Any], str]:
        """One page of stored operations in start order; the marker is an offset."""
        with self._lock:
            self._check_token(token)
            self.counters.get_state_calls += 1
            self.counters.backend_threads.add(threading.get_ident())
            start = int(marker or 0)
            end = start + max_items
            ids = self.order[start:end]
            wire, decode = self.wire, self._decode
            page = [decode(wire[i]) if i in wire else self.operations[i] for i in ids]
            return page, (str(end) if end < len(self.order) else "")

    def succeeded_steps(self) -> int:
        return sum(1 for op in self.operations.values() if self._is_succeeded_step(op))

    def answer_callbacks(self) -> int:
        """Complete every started callback, as the outside world would; returns how many."""
        with self._lock:
            now = datetime.now(UTC)
            answered = 0
            for op_id, op in self.operations.items():
                done = self._answer(op, now)
                if done is not None:
                    self.operations[op_id] = done
                    answered += 1
            return answered


def status_for(action: str) -> str:
    """The status an accepted update leaves an operation in (protocol.md §3)."""
    return {
        "START": "STARTED",
        "SUCCEED": "SUCCEEDED",
        "FAIL": "FAILED",
        "RETRY": "PENDING",
        "CANCEL": "CANCELLED",
    }[action]


CALLBACK_RESULT = "1"  # what the outside world sends: the JSON text of the number 1


def callback_id_for(operation_id: str) -> str:
    return f"cb-{operation_id[:16]}"


Updates = Callable[[int], Sequence[Any]]


def bare_calls(
    call: Callable[[str, Sequence[Any]], str], updates: Updates
) -> Callable[[int, str], Callable[[], None]]:
    """The calibration of a sync client: ``call(token, updates)`` is one checkpoint call
    through the SDK's own adapter (its round trip included) and returns the next token;
    ``updates(i)`` builds step ``i``'s START and SUCCEED, as one fast step sends them.

    Returns ``Variant.bare``: given n and the first token, the timed part, which makes n
    calls back to back with updates built beforehand, so it times the service alone.
    """

    def prepare(n: int, token: str) -> Callable[[], None]:
        batches = [updates(i) for i in range(1, n + 1)]

        def timed() -> None:
            next_token = token
            for batch in batches:
                next_token = call(next_token, batch)

        return timed

    return prepare


_loops: list[asyncio.AbstractEventLoop] = []


def async_bare_calls(
    call: Callable[[str, Sequence[Any]], Awaitable[str]], updates: Updates
) -> Callable[[int, str], Callable[[], None]]:
    """``bare_calls`` for an async client: the n calls are awaited in one coroutine on an
    event loop kept for the calibration, as each async SDK keeps its own between invocations.
    """

    def prepare(n: int, token: str) -> Callable[[], None]:
        batches = [updates(i) for i in range(1, n + 1)]
        if not _loops:
            _loops.append(asyncio.new_event_loop())

        async def calls() -> None:
            next_token = token
            for batch in batches:
                next_token = await call(next_token, batch)

        return lambda: _loops[0].run_until_complete(calls())

    return prepare


def body(i: int, sleep_s: float, counters_of: Callable[[], Counters]) -> Callable[[Any], int]:
    """A sync step body: records its thread, sleeps if asked, returns ``i``."""

    def run(_step_context: Any) -> int:
        counters_of().body_threads.add(threading.get_ident())
        if sleep_s:
            time.sleep(sleep_s)
        return i

    return run


# endregion
# region measurement


class ThreadSampler:
    """Samples ``threading.active_count()`` every 0.5 ms; the sampler itself is not counted."""

    def __init__(self, interval: float = 0.0005) -> None:
        self._interval = interval
        self._stop = threading.Event()
        self.peak = threading.active_count()
        self._thread = threading.Thread(target=self._loop, name="bench-sampler", daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self.peak = max(self.peak, threading.active_count() - 1)

    def __enter__(self) -> ThreadSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Variant:
    """One SDK configuration (e.g. ``official``, ``ours-async``) wired to its fake store.

    ``invoke`` is the timed part: the SDK's Lambda handler called with the event. ``bare``
    (``bare_calls`` or ``async_bare_calls``) is the timed part of the ``bare`` workloads: the
    same client adapter called directly, no SDK in between.
    """

    name: str
    store: FakeStore
    invoke: Callable[[Workload, dict[str, Any]], Mapping[str, Any]]
    bare: Callable[[int, str], Callable[[], None]]
    close: Callable[[], None] = lambda: None


class BenchmarkError(RuntimeError):
    """A run ended wrong: the numbers of a run that did not do the work are meaningless."""


def _prepare(variant: Variant, workload: Workload) -> dict[str, Any]:
    ops = history(workload)
    variant.store.reset(ops)
    variant.store.latency_s = workload.latency_s
    return invocation_event(ops)


MAX_INVOCATIONS = 3


def _invoke(variant: Variant, workload: Workload, event: dict[str, Any]) -> Mapping[str, Any]:
    """Invoke until the execution ends, answering callbacks between invocations.

    A resumed invocation carries only the EXECUTION operation inline; the SDK pages the rest
    through get-state (each page one round trip), as a large history arrives from the service.
    """
    output = variant.invoke(workload, event)
    for _ in range(MAX_INVOCATIONS - 1):
        if output.get("Status") != "PENDING" or not variant.store.answer_callbacks():
            break
        resumed = invocation_event(history(workload), variant.store.token, page_size=1)
        resumed["InitialExecutionState"]["NextMarker"] = "1"
        output = variant.invoke(workload, resumed)
    return output


def _timed(variant: Variant, workload: Workload) -> Callable[[], Mapping[str, Any] | None]:
    """Prepare the store, then return what is timed: the invocations, or the bare calls."""
    event = _prepare(variant, workload)
    if workload.kind == "bare":
        return variant.bare(workload.n, event["CheckpointToken"])
    return lambda: _invoke(variant, workload, event)


def _check(variant: Variant, workload: Workload, output: Mapping[str, Any] | None) -> None:
    where = f"{variant.name} {workload.id}"
    if output is None:  # bare calls: one per step, each storing that step as SUCCEEDED
        calls = variant.store.counters.checkpoint_calls
        if calls != workload.n:
            raise BenchmarkError(f"{where}: {calls} checkpoint calls, expected {workload.n}")
    elif output.get("Status") != "SUCCEEDED":
        raise BenchmarkError(f"{where}: handler returned {dict(output)!r}")
    elif (result := json.loads(output.get("Result") or "null")) != workload.expected_result:
        raise BenchmarkError(f"{where}: result {result!r}, expected {workload.expected_result}")
    steps = variant.store.succeeded_steps()
    if steps != workload.n:
        raise BenchmarkError(f"{where}: {steps} succeeded steps stored, expected {workload.n}")


def run_once(variant: Variant, workload: Workload) -> float:
    timed = _timed(variant, workload)
    if not workload.warm:
        gc.collect()
    start = time.perf_counter()
    output = timed()
    elapsed = time.perf_counter() - start
    _check(variant, workload, output)
    return elapsed


def _status_mb(key: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{key}:"):
                return int(line.split()[1]) / 1024
    raise BenchmarkError(f"{key} missing from /proc/self/status")


def child_measure(variant: Variant, workload: Workload) -> dict[str, float]:
    """In a fresh process: one run, plus resident memory before it and at its peak.

    The peak is this process's own high-water mark (``VmHWM``): ``ru_maxrss`` of a child
    starts at its parent's peak, which would charge it for whatever the parent held.
    """
    event = _prepare(variant, workload)
    gc.collect()
    before = _status_mb("VmRSS")
    start = time.perf_counter()
    output = _invoke(variant, workload, event)
    elapsed = time.perf_counter() - start
    _check(variant, workload, output)
    peak = _status_mb("VmHWM")
    return {"elapsed_s": elapsed, "rss_before_mb": before, "peak_rss_mb": peak}


def _summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    if len(ordered) >= 4:
        q1, _, q3 = statistics.quantiles(ordered, n=4)
    else:
        q1, q3 = ordered[0], ordered[-1]
    return {
        "median_s": statistics.median(ordered),
        "q1_s": q1,
        "q3_s": q3,
        "min_s": ordered[0],
        "max_s": ordered[-1],
    }


def measure(
    variant: Variant, workload: Workload, module: str, quick: bool
) -> dict[str, Any]:
    """Instrumented run, then the timed repeats (in subprocesses for ``big-replay``)."""
    timed = _timed(variant, workload)
    with ThreadSampler() as sampler:
        output = timed()
    _check(variant, workload, output)
    counters = variant.store.counters
    row: dict[str, Any] = {
        "variant": variant.name,
        "workload": workload.id,
        "kind": workload.kind,
        "n": workload.n,
        "op_count": workload.op_count,
        "repeats": workload.repeats,
        "checkpoint_calls": counters.checkpoint_calls,
        "get_state_calls": counters.get_state_calls,
        "updates": counters.updates,
        "peak_threads": sampler.peak,
        "backend_threads": len(counters.backend_threads),
        "body_threads": len(counters.body_threads),
    }
    if workload.kind == "big-replay":
        samples = [_child(module, variant.name, workload, quick) for _ in range(workload.repeats)]
        times = [s["elapsed_s"] for s in samples]
        row["rss_before_mb"] = statistics.median(s["rss_before_mb"] for s in samples)
        row["peak_rss_mb"] = statistics.median(s["peak_rss_mb"] for s in samples)
        row["rss_growth_mb"] = row["peak_rss_mb"] - row["rss_before_mb"]
    else:
        times = [run_once(variant, workload) for _ in range(workload.repeats)]
    row["times_s"] = times
    row.update(_summary(times))
    ops = workload.op_count
    overhead = row["median_s"] - workload.body_seconds
    row["overhead_per_op_us"] = overhead / ops * 1e6 if ops and not workload.latency_s else None
    row["calls_per_op"] = counters.checkpoint_calls / ops if ops else None
    row["latency_ms"] = workload.latency_s * 1e3
    # wall time in service round trips: what latency makes of the SDK's call pattern
    row["round_trips"] = row["median_s"] / workload.latency_s if workload.latency_s else None
    return row


def _child(module: str, variant: str, workload: Workload, quick: bool) -> dict[str, float]:
    argv = [sys.executable, "-m", module, "--child", variant, workload.id]
    if quick:
        argv.append("--quick")
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BenchmarkError(f"{variant} {workload.id} subprocess failed:\n{done.stderr}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def machine_info() -> dict[str, Any]:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "os": platform.platform(),
    }


# endregion
# region command line


def main(
    sdk: str,
    module: str,
    version: str,
    variants: Callable[[], list[Variant]],
    argv: Sequence[str] | None = None,
    skipped: str | None = None,
) -> int:
    """Run every variant of one SDK over the suite and write ``results/<sdk>.json``.

    With ``skipped`` (the reason the SDK cannot run) it writes a results file saying so.
    """
    parser = argparse.ArgumentParser(prog=module, description=f"Benchmark {sdk}.")
    parser.add_argument("--quick", action="store_true", help="tiny N, one repeat")
    parser.add_argument("--repeats", type=int, help="override the default repeat counts")
    parser.add_argument(
        "--only", default="", help="run workloads whose id contains this (or one of a,b,...)"
    )
    parser.add_argument("--skip", default=None, help="skip workloads whose id contains this")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / f"{sdk}.json")
    parser.add_argument("--child", nargs=2, metavar=("VARIANT", "WORKLOAD"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if skipped is not None:
        print(f"{sdk}: skipped: {skipped}")
        write_results(args.out, sdk, version, args.quick, [], skipped=skipped)
        return 0
    suite = {w.id: w for w in workloads(args.quick, args.repeats)}
    built = {v.name: v for v in variants()}

    if args.child:
        variant_name, workload_id = args.child
        print(json.dumps(child_measure(built[variant_name], suite[workload_id])))
        return 0

    rows: list[dict[str, Any]] = []
    for workload in suite.values():
        wanted = any(only in workload.id for only in args.only.split(","))
        if not wanted or not (workload.peers or sdk == "ours"):
            continue
        if args.skip and args.skip in workload.id:
            continue
        for variant in built.values():
            row = measure(variant, workload, module, args.quick)
            rows.append(row)
            print(
                f"{sdk:>8} {variant.name:<14} {workload.id:<22} "
                f"median {row['median_s'] * 1e3:9.2f} ms  "
                f"calls {row['checkpoint_calls']:>5}  threads {row['peak_threads']:>4}",
                flush=True,
            )
    for variant in built.values():
        variant.close()
    write_results(args.out, sdk, version, args.quick, rows)
    return 0


def write_results(
    path: Path,
    sdk: str,
    version: str,
    quick: bool,
    rows: list[dict[str, Any]],
    skipped: str | None = None,
) -> None:
    document = {
        "sdk": sdk,
        "sdk_version": version,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": quick,
        "machine": machine_info(),
        "skipped": skipped,
        "results": rows,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {path}")


# endregion

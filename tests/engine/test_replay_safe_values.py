"""``ctx.now()``, ``ctx.random()`` and ``ctx.uuid4()`` on both twins: the same values on every
replay, across crashes, and what each costs in checkpoints."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

import durable_backend as db
from durable_backend._models import OperationAction as A
from durable_backend._models import OperationType as T
from tests.engine.conftest import Twin
from tests.support.service import MemoryBackend


class Crash(BaseException):
    """The sandbox dies: nothing queued is sent."""


def test_values_are_the_same_on_every_replay(twin: Twin) -> None:
    seen: list[tuple[Any, ...]] = []

    def scenario(event: Any, ctx: Any) -> Any:
        moment = yield ctx.now()
        number = yield ctx.random()
        ident = yield ctx.uuid4()
        seen.append((moment, number, ident))
        yield ctx.wait(1)
        later = yield ctx.now()
        return [moment.isoformat(), number, str(ident), later.isoformat(), (yield ctx.random())]

    outcome = twin.run(scenario)
    assert outcome.status == "SUCCEEDED"
    assert len(outcome.outputs) == 2 and seen[0] == seen[1]
    moment, number, ident = seen[0]
    assert isinstance(moment, datetime) and moment.tzinfo is UTC
    assert isinstance(number, float) and 0 <= number < 1
    assert isinstance(ident, uuid.UUID) and ident.version == 4
    first, again = outcome.result[1], outcome.result[4]
    assert first != again, "each draw in a context is a new value"
    assert datetime.fromisoformat(outcome.result[3]) >= moment


def test_values_differ_between_executions_and_contexts(twin: Twin) -> None:
    def scenario(event: Any, ctx: Any) -> Any:
        mine = yield ctx.random()
        child = yield ctx.run_in_child_context(twin.body(lambda c: (yield c.random())))
        return [mine, child, str((yield ctx.uuid4()))]

    backend = MemoryBackend()
    first = twin.run(scenario, backend=backend)
    second = twin.run(scenario, backend=backend)
    assert first.arn != second.arn
    assert first.result[0] != first.result[1]
    assert first.result != second.result


def test_a_crash_keeps_what_reached_a_checkpoint_and_rereads_what_did_not(twin: Twin) -> None:
    crashed: list[bool] = []
    seen: list[tuple[Any, ...]] = []

    def crash_once(_: Any) -> str:
        if not crashed:
            crashed.append(True)
            raise Crash
        return "ok"

    def scenario(event: Any, ctx: Any) -> Any:
        moment = yield ctx.now()
        number = yield ctx.random()
        stamped = yield ctx.step(lambda _: moment.isoformat(), name="stamp")
        time.sleep(0.002)
        unsaved = yield ctx.now()
        seen.append((moment, number, stamped, unsaved))
        yield ctx.step(crash_once, name="crashes")
        return "done"

    backend = MemoryBackend()
    arn, _ = backend.start_execution()
    with pytest.raises(Crash):
        twin.invoke(scenario, backend, arn)
    recorded_now = [op for op in backend.operations(arn) if op.sub_type == "Now"]
    assert len(recorded_now) == 1, "the second reading never reached a checkpoint"
    assert twin.invoke(scenario, backend, arn)["Status"] == "SUCCEEDED"

    (moment, number, stamped, unsaved), (moment2, number2, stamped2, unsaved2) = seen
    assert (moment2, number2, stamped2) == (moment, number, stamped)
    assert stamped == moment.isoformat()
    assert unsaved2 > unsaved, "a reading that was lost is taken again"
    assert [op.sub_type for op in backend.operations(arn)].count("Now") == 2


def test_now_rides_with_the_next_checkpoint_and_random_costs_nothing(twin: Twin) -> None:
    def scenario(event: Any, ctx: Any) -> Any:
        for _ in range(3):
            yield ctx.now()
            yield ctx.random()
            yield ctx.uuid4()
        return (yield ctx.step(lambda _: "x", name="work"))

    backend = MemoryBackend()
    arn, _ = backend.start_execution()
    assert twin.invoke(scenario, backend, arn)["Status"] == "SUCCEEDED"
    calls = backend.checkpoint_calls(arn)
    assert [[(u.type, u.action, u.sub_type) for u in call.updates] for call in calls] == [
        [(T.STEP, A.SUCCEED, "Now")] * 3 + [(T.STEP, A.START, "Step"), (T.STEP, A.SUCCEED, "Step")]
    ]


def test_replay_safe_values_in_a_finished_execution_replay_purely() -> None:
    from durable_backend.testing import run_workflow

    def handler(event: Any, ctx: db.DurableContext) -> list[str]:
        return [ctx.now().isoformat(), str(ctx.random()), str(ctx.uuid4())]

    run_workflow(handler).assert_pure_replay()

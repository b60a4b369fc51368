"""The same workflows on the local service (``LocalBackend`` in memory) and on AWS's
emulator: results and the sequence of history events (EventType, SubType, Name) must agree.

Ids and timestamps are ignored. Where the emulator is known to differ from the service, the
test names the normalization it applies (tests/e2e/_differences.py); nothing else is
tolerated.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from botocore.exceptions import ClientError

import durable_backend as db
from durable_backend._classify import restore_error_code
from durable_backend.backend import CallbackNotOpenError, RetryPolicy, SyncRealBackend
from tests.e2e._differences import (
    Events,
    emulator_reports_a_closed_callback_as_not_found,
    emulator_returns_children_of_completed_contexts,
    emulator_skip_time_ends_waits_before_invocation_completed,
)
from tests.e2e._runs import (
    EventKey,
    Handler,
    Run,
    callbacks_to_answer,
    event_keys,
    run_on_emulator,
    run_on_memory,
)
from tests.support.emulator import Emulator
from tests.support.service import MemoryBackend

pytestmark = pytest.mark.emulator

FAST = RetryPolicy(initial_delay_seconds=0.01, max_delay_seconds=0.05, max_total_seconds=5)
Workflow = Callable[[dict[str, Any], db.DurableContext], Any]
Normalization = Callable[[Events], Events]

ONE_RETRY = db.StepConfig(
    retry_strategy=db.create_retry_strategy(
        db.RetryStrategyConfig(max_attempts=3, initial_delay=1, max_delay=1)
    )
)
NO_RETRY = db.StepConfig(retry_strategy=db.RetryPresets.none())


def fails_first_attempt(step: db.StepContext) -> int:
    if step.attempt == 1:
        raise RuntimeError(f"attempt {step.attempt} fails")
    return step.attempt


def steps_with_retry(event: dict[str, Any], ctx: db.DurableContext) -> Any:
    doubled = ctx.step(lambda _: event["n"] * 2, name="double")
    attempt = ctx.step(fails_first_attempt, name="flaky", config=ONE_RETRY)
    return {"doubled": doubled, "succeeded_on_attempt": attempt}


def wait_between_steps(event: dict[str, Any], ctx: db.DurableContext) -> Any:
    before = ctx.step(lambda _: event["n"], name="before")
    ctx.wait(1, name="pause")
    return ctx.step(lambda _: before + 1, name="after")


def child_context(event: dict[str, Any], ctx: db.DurableContext) -> Any:
    def child(c: db.DurableContext) -> Any:
        first = c.step(lambda _: event["n"] + 1, name="inner-1")
        return c.step(lambda _: first * 10, name="inner-2")

    inside = ctx.run_in_child_context(child, name="child")
    return ctx.step(lambda _: inside + 1, name="outside")


def map_three_items(event: dict[str, Any], ctx: db.DurableContext) -> Any:
    def square(c: db.DurableContext, item: int, index: int, _: Any) -> int:
        return c.step(lambda _: item * item, name=f"square-{index}")

    # One item at a time: with more, the order of the items' checkpoints is thread timing.
    result = ctx.map(
        event["items"], square, name="squares", config=db.MapConfig(max_concurrency=1)
    )
    return result.get_results()


def callbacks(event: dict[str, Any], ctx: db.DurableContext) -> Any:
    created = ctx.create_callback(name="created")
    first = created.result()
    second = ctx.wait_for_callback(lambda callback_id, _: None, name="waited")
    return [first, second]


def failing_step(event: dict[str, Any], ctx: db.DurableContext) -> Any:
    ctx.step(lambda _: event["n"], name="fine")

    def broken(_: db.StepContext) -> None:
        raise ValueError("broken on purpose")

    return ctx.step(broken, name="broken", config=NO_RETRY)


CASES: list[tuple[Workflow, str, tuple[Normalization, ...]]] = [
    (steps_with_retry, '{"n": 4}', ()),
    (wait_between_steps, '{"n": 4}', (emulator_skip_time_ends_waits_before_invocation_completed,)),
    (child_context, '{"n": 4}', ()),
    (map_three_items, '{"items": [1, 2, 3]}', ()),
    (callbacks, "{}", ()),
    (failing_step, '{"n": 4}', ()),
]


def run_both(
    emulator: Emulator, workflow: Workflow, input: str, memory: MemoryBackend | None = None
) -> tuple[Run, Run]:
    """``workflow`` on the fake (``memory``, or a new one) and on the emulator."""
    name = f"diff-{uuid.uuid4().hex[:8]}"
    memory = memory or MemoryBackend()
    ours = run_on_memory(
        memory, db.durable_execution(backend=memory)(workflow), input, execution_name=name
    )
    client = emulator.client()
    theirs = run_on_emulator(
        emulator,
        client,
        db.durable_execution(backend=SyncRealBackend(client, retry=FAST))(workflow),
        input,
        execution_name=name,
    )
    return ours, theirs


def normalized(run: Run, normalizations: tuple[Normalization, ...]) -> list[EventKey]:
    events = run.events
    for normalize in normalizations:
        events = normalize(events)
    return event_keys(events)


@pytest.mark.parametrize(
    ("workflow", "input", "normalizations"), CASES, ids=[case[0].__name__ for case in CASES]
)
def test_memory_backend_and_emulator_agree(
    emulator: Emulator,
    workflow: Workflow,
    input: str,
    normalizations: tuple[Normalization, ...],
) -> None:
    ours, theirs = run_both(emulator, workflow, input)

    assert (theirs.status, theirs.result, theirs.error) == (ours.status, ours.result, ours.error)
    assert normalized(theirs, normalizations) == event_keys(ours.events)


def child_then_wait(event: dict[str, Any], ctx: db.DurableContext) -> Any:
    def outer(c: db.DurableContext) -> int:
        nested: int = c.run_in_child_context(
            lambda n: n.step(lambda _: event["n"] + 1, name="inner-1"), name="nested"
        )
        tenfold: int = c.step(lambda _: nested * 10, name="inner-2")
        return tenfold

    inside = ctx.run_in_child_context(outer, name="outer")
    ctx.wait(1, name="pause")
    return ctx.step(lambda _: inside * 2 + 2, name="last")


def recording(handler: Handler, seen: list[Events]) -> Handler:
    """``handler``, keeping the operations each invocation event carried."""

    def record(event: dict[str, Any], context: Any) -> Mapping[str, Any]:
        seen.append(event["InitialExecutionState"]["Operations"])
        return handler(event, context)

    return record


def op_keys(operations: Events) -> list[tuple[str, str | None, str | None, str]]:
    return [(op["Type"], op.get("SubType"), op.get("Name"), op["Status"]) for op in operations]


def test_invocation_state_agrees_once_children_of_completed_contexts_are_dropped(
    emulator: Emulator,
) -> None:
    """The second invocation replays a completed child context (with a nested one)."""
    name = f"diff-{uuid.uuid4().hex[:8]}"
    ours_seen: list[Events] = []
    theirs_seen: list[Events] = []
    memory = MemoryBackend()
    ours = run_on_memory(
        memory,
        recording(db.durable_execution(backend=memory)(child_then_wait), ours_seen),
        '{"n": 1}',
        execution_name=name,
    )
    client = emulator.client()
    theirs = run_on_emulator(
        emulator,
        client,
        recording(
            db.durable_execution(backend=SyncRealBackend(client, retry=FAST))(child_then_wait),
            theirs_seen,
        ),
        '{"n": 1}',
        execution_name=name,
    )

    assert (ours.status, ours.result) == (theirs.status, theirs.result) == ("SUCCEEDED", 42)
    assert len(ours_seen) == len(theirs_seen) == 2
    assert [op_keys(ops) for ops in ours_seen] == [
        op_keys(emulator_returns_children_of_completed_contexts(ops)) for ops in theirs_seen
    ]
    # The difference is real: the emulator sent the hidden children (inner steps and the
    # nested context), the fake did not.
    hidden = {op.get("Name") for op in theirs_seen[1]} - {op.get("Name") for op in ours_seen[1]}
    assert hidden == {"nested", "inner-1", "inner-2"}


def test_answering_a_closed_callback_is_rejected(emulator: Emulator) -> None:
    memory = MemoryBackend()
    ours, theirs = run_both(emulator, callbacks, "{}", memory)
    memory_callback = next(iter(callbacks_to_answer(ours.events)))
    emulator_callback = next(iter(callbacks_to_answer(theirs.events)))
    client = emulator.client()
    # Known difference (§8): the emulator sends the error code only in the body's ``Type``,
    # without the ``x-amzn-ErrorType`` header; the real backends' hook copies it back.
    client.meta.events.register("after-call.lambda", restore_error_code)

    with pytest.raises(CallbackNotOpenError) as ours_error:
        memory.complete_callback(memory_callback, '"again"')
    with pytest.raises(ClientError) as theirs_error:
        client.send_durable_execution_callback_success(
            CallbackId=emulator_callback, Result=b'"again"'
        )

    assert ours_error.value.code == emulator_reports_a_closed_callback_as_not_found(
        theirs_error.value.response["Error"]["Code"]
    )

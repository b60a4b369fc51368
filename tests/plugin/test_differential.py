"""The same workflows, written for the official SDK, run with the same recording plugin on the
official SDK (its testing runner, in process) and, after the import rewrite, on ours: the hooks
must match, in order per operation and with the same info fields.

What is compared: per invocation, the invocation start and end infos, and each operation's
hooks in order (operations are keyed by name, parents by their name too; threads of a map or
parallel are not ordered with each other in either SDK). ``on_operation_change`` may merge
responses in both SDKs, so per invocation only the newest status reported for each operation
is compared. Timestamps are only checked for presence; a map's or parallel's serialized
result is left out (the official SDK writes its extended-types envelope, we write JSON), and
results are compared as JSON values.

Callbacks are not compared here: the official testing runner leaves a callback answered while
the execution was suspended out of ``UpdatedOperationIds`` (it lists timers, retries and
invokes), which the service and our local backend include, so its replay reports no end for
it. ``test_hooks.py`` covers callbacks against the service's behaviour.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.porting._porting import load, port

pytest.importorskip("aws_durable_execution_sdk_python_testing")

HEADER = """
from aws_durable_execution_sdk_python import DurableContext, durable_execution, plugin
from aws_durable_execution_sdk_python.config import (
    CompletionConfig, Duration, MapConfig, NestingType, ParallelConfig, StepConfig,
)
from aws_durable_execution_sdk_python.waits import WaitForConditionConfig, WaitForConditionDecision
from aws_durable_execution_sdk_python.retries import RetryStrategyConfig, create_retry_strategy
from aws_durable_execution_sdk_python_testing import DurableFunctionTestRunner
from tests.plugin.recording import recording_factory

FACTORY = recording_factory(plugin)


def run(payload):
    with DurableFunctionTestRunner(handler=handler) as runner:
        result = runner.run(input=payload, execution_timeout=30)
    return result.status.value, result.result
"""

WORKFLOWS = {
    "steps_retries_wait_child": """
RETRY = StepConfig(retry_strategy=create_retry_strategy(
    RetryStrategyConfig(max_attempts=3, initial_delay=Duration.from_seconds(1))))


def flaky(step_context):
    if step_context.attempt < 2:
        raise ConnectionError(f"attempt {step_context.attempt} failed")
    return step_context.attempt


@durable_execution(plugins=[FACTORY])
def handler(event, context: DurableContext):
    one = context.step(lambda _: event["n"], name="one")
    two = context.step(flaky, name="flaky", config=RETRY)
    context.wait(Duration.from_seconds(2), name="pause")
    three = context.run_in_child_context(
        lambda child: child.step(lambda _: 3, name="inner"), name="child")
    return one + two + three
""",
    "map_and_parallel": """
def square(ctx, item, index, items):
    if item == 3:
        raise ValueError("three is unlucky")
    return ctx.step(lambda _: item * item, name=f"square {item}")


@durable_execution(plugins=[FACTORY])
def handler(event, context: DurableContext):
    squares = context.map(event["items"], square, name="squares", config=MapConfig(
        max_concurrency=1, completion_config=CompletionConfig(tolerated_failure_count=1)))
    flat = context.map([5, 6], lambda ctx, item, index, items: item + 1, name="flat",
                       config=MapConfig(max_concurrency=1, nesting_type=NestingType.FLAT))
    pair = context.parallel([lambda ctx: "x", lambda ctx: ctx.step(lambda _: "y", name="why")],
                            name="pair", config=ParallelConfig(max_concurrency=1))
    return [squares.get_results(), flat.get_results(), pair.get_results()]
""",
    "failure_and_polling": """
def check(state, check_context):
    return state + 1


def strategy(state, attempt):
    if state >= 2:
        return WaitForConditionDecision.stop_polling()
    return WaitForConditionDecision.continue_waiting(Duration.from_seconds(1))


@durable_execution(plugins=[FACTORY])
def handler(event, context: DurableContext):
    polled = context.wait_for_condition(
        check, config=WaitForConditionConfig(initial_state=0, wait_strategy=strategy),
        name="poll")
    context.run_in_child_context(lambda child: child.step(lambda _: polled, name="noted"),
                                 name="note")

    def broken(_):
        raise KeyError("missing " + str(polled))

    return context.step(broken, name="broken",
                        config=StepConfig(retry_strategy=create_retry_strategy(
                            RetryStrategyConfig(max_attempts=1))))
""",
    "large_child_result_replays_its_children": """
@durable_execution(plugins=[FACTORY])
def handler(event, context: DurableContext):
    def halves(child):
        return child.step(lambda _: "x" * 150_000, name="first half") + child.step(
            lambda _: "y" * 150_000, name="second half")

    big = context.run_in_child_context(halves, name="big")
    context.wait(Duration.from_seconds(2), name="pause")
    return len(big)
""",
}
PAYLOADS = {
    "large_child_result_replays_its_children": "{}",
    "steps_retries_wait_child": '{"n": 10}',
    "map_and_parallel": '{"items": [1, 2, 3, 4]}',
    "failure_and_polling": "{}",
}


def _json(text: str | None) -> Any:
    """A serialized result as its value (the official SDK's JSON has spaces; ours is compact);
    a callback's raw answer as it is."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _error(error: Any) -> tuple[str, str | None] | None:
    if error is None:
        return None
    return (str(error.type).rsplit(".", 1)[-1], error.message)


def normalized(events: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    """Per invocation: its start and end, each operation's hooks, and the newest reported
    status of each changed operation, all keyed by operation name."""
    names = {
        info.operation_id: info.name
        for _, info in events
        if hasattr(info, "operation_id") and info.name is not None
    }
    for _, info in events:
        for field in ("operations", "updated_operations"):
            for op_id, op in getattr(info, field, {}).items():
                names.setdefault(op_id, op.name)
    invocations: list[dict[str, Any]] = []
    for hook, info in events:
        if hook == "on_invocation_start":
            current: dict[str, Any] = {"operations": {}, "changes": {}}
            invocations.append(current)
            current["start"] = (
                info.is_first_invocation,
                info.execution_input,
                info.execution_start_time is not None,
                sorted(str(names.get(i)) for i in info.updated_operations),
            )
        elif hook == "on_invocation_end":
            current["end"] = (
                info.status.value,
                _error(info.error),
                _json(info.execution_result) if info.status.value == "SUCCEEDED" else None,
                sorted(
                    (str(names.get(i)), op.status.value) for i, op in info.operations.items()
                    if op.operation_type.value != "EXECUTION"
                ),
            )
        elif hook == "on_operation_change":
            for op_id, op in info.updated_operations.items():
                current["changes"][str(names.get(op_id))] = op.status.value
        else:
            batch = info.sub_type in ("Map", "Parallel")
            fields = (
                hook,
                info.operation_type.value,
                info.sub_type,
                names.get(info.parent_id) if info.parent_id else None,
                info.is_replayed,
                info.status.value,
                info.attempt,
                None if batch else _json(info.result),
                _error(info.error),
                getattr(info, "outcome", None) and info.outcome.value,
                getattr(info, "is_replay_children", None),
                hook != "on_operation_start" or info.is_replayed or info.start_time is None,
            )
            current["operations"].setdefault(info.name, []).append(fields)
    return invocations


@pytest.mark.parametrize("workflow", sorted(WORKFLOWS))
def test_hooks_match_the_official_sdk(workflow: str, tmp_path: Path) -> None:
    source = HEADER + WORKFLOWS[workflow]
    official = load(source, f"official_{workflow}", tmp_path)
    ours = load(port(source), f"ours_{workflow}", tmp_path)
    assert "aws_durable_execution_sdk_python" not in port(source)

    official_outcome = official.run(PAYLOADS[workflow])
    our_outcome = ours.run(PAYLOADS[workflow])

    theirs, mine = normalized(official.FACTORY.events), normalized(ours.FACTORY.events)
    assert our_outcome[0] == official_outcome[0]
    assert len(mine) == len(theirs)
    for number, (their_run, my_run) in enumerate(zip(theirs, mine, strict=True), start=1):
        assert my_run["start"] == their_run["start"], f"invocation {number} start"
        assert my_run["end"] == their_run["end"], f"invocation {number} end"
        assert my_run["operations"] == their_run["operations"], f"invocation {number}"
        assert my_run["changes"] == their_run["changes"], f"invocation {number} changes"

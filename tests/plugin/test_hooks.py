"""Every plugin hook, on both twins: order and info fields across invocations, replays,
retries, suspension, map and parallel branches and failures."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

import durable_backend as db
from durable_backend import plugin
from durable_backend.backend import OperationStatus, StaleCheckpointTokenError
from durable_backend.testing import History, Replayer, run_workflow
from tests.engine.conftest import Twin
from tests.plugin.recording import recording_factory
from tests.support.service import MemoryBackend

OP_HOOKS = (
    "on_operation_start",
    "on_user_function_start",
    "on_user_function_end",
    "on_operation_end",
)


def invocations(events: list[tuple[str, Any]]) -> list[list[tuple[str, Any]]]:
    """The events split per invocation (each from its start hook to its end hook)."""
    split: list[list[tuple[str, Any]]] = []
    for hook, info in events:
        if hook == "on_invocation_start":
            split.append([])
        split[-1].append((hook, info))
    return split


def steps(events: list[tuple[str, Any]], name: str | None = None) -> list[tuple[str, Any]]:
    """``(hook, name)`` of the operation hooks, in order (changes left out: they merge)."""
    return [
        (hook, getattr(info, "name", None))
        for hook, info in events
        if hook != "on_operation_change" and (name is None or getattr(info, "name", None) == name)
    ]


def test_invocation_hooks_across_a_suspension(twin: Twin) -> None:
    factory = recording_factory(plugin)

    def scenario(event: Any, ctx: Any) -> Any:
        yield ctx.step(lambda _: "a", name="first")
        yield ctx.wait(5, name="pause")
        return event["n"] + 1

    outcome = twin.run(scenario, json.dumps({"n": 41}), plugins=[factory])
    assert outcome.status == "SUCCEEDED"
    first, second = invocations(factory.events)
    start, end = first[0][1], first[-1][1]
    assert isinstance(start, plugin.InvocationStartInfo)
    assert isinstance(end, plugin.InvocationEndInfo)
    assert start.is_first_invocation and start.execution_arn == outcome.arn
    assert start.execution_input == {"n": 41}
    assert start.execution_start_time is not None
    assert start.updated_operations == {}
    assert end.status is plugin.InvocationStatus.PENDING and end.error is None
    assert end.execution_result is None
    assert factory.infos[0] is start  # create_plugin gets the info the start hook gets

    restart, finish = second[0][1], second[-1][1]
    assert not restart.is_first_invocation
    wait_id = next(i for i, op in restart.operations.items() if op.name == "pause")
    assert list(restart.updated_operations) == [wait_id]
    assert restart.updated_operations[wait_id].status is OperationStatus.SUCCEEDED
    assert finish.status is plugin.InvocationStatus.SUCCEEDED
    assert finish.execution_result == "42"
    assert finish.operations[wait_id].status is OperationStatus.SUCCEEDED
    assert {op.name for op in finish.operations.values()} >= {"first", "pause"}


def test_request_id_comes_from_the_lambda_context(twin: Twin) -> None:
    factory = recording_factory(plugin)
    backend = MemoryBackend()
    _, event = backend.start_execution(None)

    class LambdaContext:
        aws_request_id = "req-1"

    def scenario(event: Any, ctx: Any) -> Any:
        return "done"
        yield

    handler = twin.handler(scenario, backend, plugins=[factory])
    assert handler(event, LambdaContext())["Status"] == "SUCCEEDED"
    assert [info.request_id for _, info in factory.hooks("on_invocation_start")] == ["req-1"]
    assert factory.events[-1][1].request_id == "req-1"


def test_operation_hooks_in_order_with_parent_links(twin: Twin) -> None:
    factory = recording_factory(plugin)

    def child(ctx: Any) -> Any:
        return (yield ctx.step(lambda _: 2, name="inner"))

    def scenario(event: Any, ctx: Any) -> Any:
        one = yield ctx.step(lambda _: 1, name="one")
        two = yield ctx.run_in_child_context(twin.body(child), name="child")
        return one + two

    outcome = twin.run(scenario, plugins=[factory])
    assert outcome.status == "SUCCEEDED"
    (run,) = invocations(factory.events)
    assert steps(run) == [
        ("on_invocation_start", None),
        ("on_operation_start", "one"),
        ("on_user_function_start", "one"),
        ("on_user_function_end", "one"),
        ("on_operation_end", "one"),
        ("on_operation_start", "child"),
        ("on_user_function_start", "child"),
        ("on_operation_start", "inner"),
        ("on_user_function_start", "inner"),
        ("on_user_function_end", "inner"),
        ("on_operation_end", "inner"),
        ("on_user_function_end", "child"),
        ("on_operation_end", "child"),
        ("on_invocation_end", None),
    ]
    infos = {(hook, info.name): info for hook, info in run if hook in OP_HOOKS}
    child_start = infos[("on_operation_start", "child")]
    assert child_start.operation_type is plugin.OperationType.CONTEXT
    assert child_start.sub_type == "RunInChildContext" and child_start.parent_id is None
    assert not child_start.is_replayed and child_start.status is OperationStatus.STARTED
    assert infos[("on_operation_start", "inner")].parent_id == child_start.operation_id
    step_start = infos[("on_user_function_start", "one")]
    assert isinstance(step_start, plugin.UserFunctionStartInfo)
    assert step_start.attempt == 1 and not step_start.is_replay_children
    assert step_start.start_time is not None
    step_end = infos[("on_user_function_end", "one")]
    assert step_end.outcome is plugin.UserFunctionOutcome.SUCCEEDED and step_end.error is None
    assert step_end.end_time is not None and step_end.end_time >= step_end.start_time
    ended = infos[("on_operation_end", "one")]
    assert isinstance(ended, plugin.OperationEndInfo)
    assert ended.status is OperationStatus.SUCCEEDED and ended.result == "1"
    assert ended.attempt == 1 and ended.operation_type is plugin.OperationType.STEP
    assert ended.start_time is not None and ended.end_time is not None
    child_end = infos[("on_operation_end", "child")]
    assert child_end.status is OperationStatus.SUCCEEDED and child_end.result == "2"
    assert infos[("on_user_function_start", "child")].attempt == 1


def test_replayed_operations_are_not_reported_again(twin: Twin) -> None:
    factory = recording_factory(plugin)

    def scenario(event: Any, ctx: Any) -> Any:
        yield ctx.step(lambda _: 1, name="before")
        yield ctx.wait(5, name="pause")
        yield ctx.step(lambda _: 2, name="after")
        return "ok"

    twin.run(scenario, plugins=[factory])
    first, second = invocations(factory.events)
    assert ("on_operation_end", "before") in steps(first)
    assert steps(second) == [
        ("on_invocation_start", None),
        ("on_operation_end", "pause"),  # the timer fired while suspended
        ("on_operation_start", "after"),
        ("on_user_function_start", "after"),
        ("on_user_function_end", "after"),
        ("on_operation_end", "after"),
        ("on_invocation_end", None),
    ]
    pause_end = second[1][1]
    assert pause_end.operation_type is plugin.OperationType.WAIT
    assert not pause_end.is_replayed and pause_end.status is OperationStatus.SUCCEEDED


def test_retries_report_each_attempt(twin: Twin) -> None:
    factory = recording_factory(plugin)
    calls: list[int] = []

    def flaky(step_ctx: Any) -> str:
        calls.append(step_ctx.attempt)
        if len(calls) < 3:
            raise ValueError(f"attempt {len(calls)} failed")
        return "third time"

    def retry(error: Exception, attempts: int) -> db.RetryDecision:
        return db.RetryDecision.retry(db.Duration.from_seconds(1))

    def scenario(event: Any, ctx: Any) -> Any:
        return (yield ctx.step(flaky, name="flaky", config=db.StepConfig(retry_strategy=retry)))

    outcome = twin.run(scenario, plugins=[factory])
    assert outcome.status == "SUCCEEDED"
    runs = invocations(factory.events)
    assert [run[-1][1].status for run in runs] == [
        plugin.InvocationStatus.PENDING,
        plugin.InvocationStatus.PENDING,
        plugin.InvocationStatus.SUCCEEDED,
    ]
    for number, run in enumerate(runs, start=1):
        hooks = [(hook, info) for hook, info in run if hook in OP_HOOKS]
        start, user_start, user_end = hooks[0][1], hooks[1][1], hooks[2][1]
        assert start.is_replayed is (number > 1)  # a later attempt re-STARTs a recorded step
        assert user_start.attempt == user_end.attempt == number
        if number < 3:
            assert [hook for hook, _ in hooks] == list(OP_HOOKS[:3])
            assert user_end.outcome is plugin.UserFunctionOutcome.FAILED
            assert user_end.error.type == "ValueError"
            assert user_end.error.message == f"attempt {number} failed"
        else:
            assert [hook for hook, _ in hooks] == list(OP_HOOKS)
            assert user_end.outcome is plugin.UserFunctionOutcome.SUCCEEDED
            assert hooks[3][1].attempt == 3 and hooks[3][1].result == '"third time"'
    assert runs[1][0][1].updated_operations  # the retry timer fired while suspended


def test_failures_reach_every_hook(twin: Twin) -> None:
    factory = recording_factory(plugin)

    def scenario(event: Any, ctx: Any) -> Any:
        def broken(_: Any) -> None:
            raise KeyError("missing")

        yield ctx.step(broken, name="broken", config=db.StepConfig(db.RetryPresets.none()))

    outcome = twin.run(scenario, plugins=[factory])
    assert outcome.status == "FAILED"
    (run,) = invocations(factory.events)
    by_hook = {hook: info for hook, info in run if hook != "on_operation_change"}
    assert by_hook["on_user_function_end"].outcome is plugin.UserFunctionOutcome.FAILED
    assert by_hook["on_user_function_end"].error.type == "KeyError"
    ended = by_hook["on_operation_end"]
    assert ended.status is OperationStatus.FAILED and ended.error.type == "KeyError"
    assert ended.result is None
    end = by_hook["on_invocation_end"]
    assert end.status is plugin.InvocationStatus.FAILED
    assert end.error is not None and end.error.type == outcome.error["ErrorType"]
    assert end.error.message == outcome.error["ErrorMessage"] == "'missing'"
    assert end.execution_result is None


def test_a_callback_answered_while_suspended_ends_in_the_next_invocation(twin: Twin) -> None:
    factory = recording_factory(plugin)
    ids: list[str] = []

    def scenario(event: Any, ctx: Any) -> Any:
        callback = yield ctx.create_callback(name="approval")
        ids.append(callback.callback_id)
        return (yield callback.result())

    outcome = twin.run(scenario, plugins=[factory])
    assert outcome.status == "PENDING"
    outcome.backend.complete_callback(ids[0], '"yes"')
    twin.resume(outcome)
    assert outcome.status == "SUCCEEDED"
    first, second = invocations(factory.events)
    assert steps(first) == [
        ("on_invocation_start", None),
        ("on_operation_start", "approval"),
        ("on_invocation_end", None),
    ]
    changes = [info for hook, info in first if hook == "on_operation_change"]
    assert changes and all(isinstance(info, plugin.OperationChangeInfo) for info in changes)
    reported = {k: v.status for info in changes for k, v in info.updated_operations.items()}
    callback_id = first[1][1].operation_id
    assert reported == {callback_id: OperationStatus.STARTED}
    assert changes[-1].execution_arn == outcome.arn
    assert steps(second) == [
        ("on_invocation_start", None),
        ("on_operation_end", "approval"),
        ("on_invocation_end", None),
    ]
    assert second[0][1].updated_operations[callback_id].result == '"yes"'
    ended = second[1][1]
    assert ended.operation_type is plugin.OperationType.CALLBACK
    assert ended.status is OperationStatus.SUCCEEDED and ended.result == '"yes"'


def test_replay_meeting_an_operation_in_progress_reports_it_started(twin: Twin) -> None:
    factory = recording_factory(plugin)
    ids: list[str] = []

    def scenario(event: Any, ctx: Any) -> Any:
        callback = yield ctx.create_callback(name="approval")
        ids.append(callback.callback_id)
        yield ctx.wait(5, name="meanwhile")
        return (yield callback.result())

    outcome = twin.run(scenario, plugins=[factory])
    assert outcome.status == "PENDING"  # the wait fired; the callback is still open
    runs = invocations(factory.events)
    replayed = [info for hook, info in runs[1] if hook == "on_operation_start"]
    assert [(info.name, info.is_replayed, info.status) for info in replayed] == [
        ("approval", True, OperationStatus.STARTED)
    ]
    assert replayed[0].start_time is not None


@pytest.mark.parametrize("nesting", [db.NestingType.NESTED, db.NestingType.FLAT])
def test_map_items_and_parallel_branches_report_their_user_functions(
    twin: Twin, nesting: db.NestingType
) -> None:
    factory = recording_factory(plugin)

    def item(ctx: Any, value: int, index: int, items: list[int]) -> Any:
        if value == 3:
            raise ValueError("three")
        return value * 10

    def scenario(event: Any, ctx: Any) -> Any:
        mapped = yield ctx.map(
            [1, 2, 3], twin.body(item), name="m",
            config=db.MapConfig(
                max_concurrency=1, nesting_type=nesting,
                completion_config=db.CompletionConfig(tolerated_failure_count=1),
            ),
        )
        branches = yield ctx.parallel(
            [twin.body(lambda c: "a"), twin.body(lambda c: "b")], name="p",
            config=db.ParallelConfig(nesting_type=nesting),
        )
        return [mapped.get_results(), branches.get_results()]

    outcome = twin.run(scenario, plugins=[factory])
    assert outcome.status == "SUCCEEDED"
    assert outcome.result == [[10, 20], ["a", "b"]]
    (run,) = invocations(factory.events)
    infos = [(hook, info) for hook, info in run if hook in OP_HOOKS]
    batch = {info.name: info for hook, info in infos if hook == "on_operation_start"}
    map_id, parallel_id = batch["m"].operation_id, batch["p"].operation_id
    assert (batch["m"].sub_type, batch["p"].sub_type) == ("Map", "Parallel")
    for name, parent, sub_type, outcome_of in [
        ("map-item-0", map_id, "MapIteration", "SUCCEEDED"),
        ("map-item-1", map_id, "MapIteration", "SUCCEEDED"),
        ("map-item-2", map_id, "MapIteration", "FAILED"),
        ("parallel-branch-0", parallel_id, "ParallelBranch", "SUCCEEDED"),
        ("parallel-branch-1", parallel_id, "ParallelBranch", "SUCCEEDED"),
    ]:
        own = [(hook, info) for hook, info in infos if info.name == name]
        expected = list(OP_HOOKS) if nesting is db.NestingType.NESTED else list(OP_HOOKS[1:])
        assert [hook for hook, _ in own] == expected, name
        assert all(info.parent_id == parent and info.sub_type == sub_type for _, info in own)
        user_end, ended = own[-2][1], own[-1][1]
        assert user_end.outcome.value == outcome_of and ended.status.value == outcome_of
        assert user_end.attempt == 1
        if nesting is db.NestingType.FLAT:  # virtual: nothing checkpointed, nothing replayed
            assert ended.start_time is None and not ended.is_replayed
        if outcome_of == "FAILED":
            assert user_end.error.type == ended.error.type == "ValueError"
    order = [(hook, info.name) for hook, info in infos]
    assert order.index(("on_operation_end", "map-item-2")) < order.index(("on_operation_end", "m"))
    assert order.index(("on_user_function_start", "m")) < order.index(
        ("on_user_function_start", "map-item-0")
    )


def test_a_suspended_user_function_is_incomplete(twin: Twin) -> None:
    factory = recording_factory(plugin)

    def child(ctx: Any) -> Any:
        yield ctx.wait(5, name="inside")
        return "done"

    def scenario(event: Any, ctx: Any) -> Any:
        return (yield ctx.run_in_child_context(twin.body(child), name="child"))

    twin.run(scenario, plugins=[factory])
    first, second = invocations(factory.events)
    assert steps(first) == [
        ("on_invocation_start", None),
        ("on_operation_start", "child"),
        ("on_user_function_start", "child"),
        ("on_operation_start", "inside"),
        ("on_user_function_end", "child"),
        ("on_invocation_end", None),
    ]
    user_end = next(info for hook, info in first if hook == "on_user_function_end")
    assert user_end.outcome is plugin.UserFunctionOutcome.INCOMPLETE and user_end.error is None
    # the context was STARTED: replay reports it in progress, its body runs again (attempt None)
    assert steps(second)[:4] == [
        ("on_invocation_start", None),
        ("on_operation_start", "child"),
        ("on_user_function_start", "child"),
        ("on_operation_end", "inside"),
    ]
    starts = [info for hook, info in second if hook in OP_HOOKS[:2] and info.name == "child"]
    assert starts[0].is_replayed and starts[1].attempt is None
    assert steps(second)[-2:] == [("on_operation_end", "child"), ("on_invocation_end", None)]


def test_wait_for_condition_reports_each_poll(twin: Twin) -> None:
    factory = recording_factory(plugin)

    def check(state: int, check_ctx: Any) -> int:
        return state + 1

    def strategy(state: int, attempt: int) -> db.WaitForConditionDecision:
        if state >= 2:
            return db.WaitForConditionDecision.stop_polling()
        return db.WaitForConditionDecision.continue_waiting(db.Duration.from_seconds(1))

    def scenario(event: Any, ctx: Any) -> Any:
        config = db.WaitForConditionConfig(initial_state=0, wait_strategy=strategy)
        return (yield ctx.wait_for_condition(check, config=config, name="poll"))

    outcome = twin.run(scenario, plugins=[factory])
    assert outcome.result == 2
    polls = [info for hook, info in factory.events if hook == "on_user_function_end"]
    assert [(info.attempt, info.outcome.value) for info in polls] == [
        (1, "SUCCEEDED"), (2, "SUCCEEDED")
    ]
    ends = [info for hook, info in factory.events if hook == "on_operation_end"]
    assert [(info.name, info.status, info.result) for info in ends] == [
        ("poll", OperationStatus.SUCCEEDED, "2")
    ]


def test_chained_invoke_carries_the_propagated_trace_header(
    twin: Twin, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[plugin.PropagationInput] = []

    class Propagating(plugin.DurableInstrumentationPlugin):
        def provide_propagation_metadata(
            self, info: plugin.PropagationInput
        ) -> plugin.PropagationMetadata:
            seen.append(info)
            return plugin.PropagationMetadata(x_amzn_trace_id="Root=1-abc")

    class Blank(plugin.DurableInstrumentationPlugin):
        def provide_propagation_metadata(
            self, info: plugin.PropagationInput
        ) -> plugin.PropagationMetadata:
            return plugin.PropagationMetadata(x_amzn_trace_id="  ")

    class Factory:
        def __init__(self, kind: type[plugin.DurableInstrumentationPlugin]) -> None:
            self.kind = kind

        def create_plugin(self, info: plugin.InvocationStartInfo) -> Any:
            return self.kind()

    def scenario(event: Any, ctx: Any) -> Any:
        return (yield ctx.invoke("other-function", {"x": 1}, name="call"))

    class Other(plugin.DurableInstrumentationPlugin):
        def provide_propagation_metadata(
            self, info: plugin.PropagationInput
        ) -> plugin.PropagationMetadata:
            return plugin.PropagationMetadata(x_amzn_trace_id="Root=1-other")

    with caplog.at_level(logging.WARNING, logger="durable_backend.plugin"):
        outcome = twin.run(
            scenario, plugins=[Factory(Blank), Factory(Propagating), Factory(Other)]
        )
    assert "plugins[2]) offers another trace header" in caplog.text
    assert outcome.status == "PENDING"
    (start,) = [
        u for call in outcome.backend.checkpoint_calls() for u in call.updates if u.name == "call"
    ]
    assert start.chained_invoke_options is not None
    assert start.chained_invoke_options.x_amzn_trace_id == "Root=1-abc"
    (info,) = seen
    assert info.execution_arn == outcome.arn and info.target_function_name == "other-function"
    assert info.operation_id == start.id and info.parent_operation_id is None


def test_the_replayer_runs_no_plugin() -> None:
    factory = recording_factory(plugin)

    @db.durable_execution(plugins=[factory])
    def handler(event: Any, ctx: db.DurableContext) -> str:
        ctx.wait(5, name="pause")
        return ctx.step(lambda _: "done", name="after")

    result = run_workflow(handler)
    recorded = len(factory.events)
    assert recorded > 0
    history = History("recorded", result.arn, result.operations, result.status.value)
    assert Replayer(handler).replay(history).compatible
    assert len(factory.events) == recorded


def test_an_operation_whose_checkpoint_failed_has_no_end(twin: Twin) -> None:
    factory = recording_factory(plugin)
    backend = MemoryBackend()
    stale = StaleCheckpointTokenError(
        "Invalid checkpoint token", code="InvalidParameterValueException", http_status=400
    )

    def scenario(event: Any, ctx: Any) -> Any:
        return (yield ctx.step(lambda _: 1, name="one"))

    arn, _ = backend.start_execution()
    backend.fail_next_checkpoint(stale)
    with pytest.raises(StaleCheckpointTokenError):
        twin.invoke(scenario, backend, arn, plugins=[factory])
    assert steps(factory.events) == [
        ("on_invocation_start", None),
        ("on_operation_start", "one"),
        ("on_user_function_start", "one"),
        ("on_user_function_end", "one"),
        ("on_invocation_end", None),
    ]
    end = factory.events[-1][1]
    assert end.status is plugin.InvocationStatus.RETRY
    assert end.error is not None
    assert end.error.type == "durable_backend.exceptions.StaleCheckpointTokenError"
    assert all(op.name != "one" for op in end.operations.values())  # never checkpointed


def test_wait_for_callback_reports_its_context_callback_and_submitter(twin: Twin) -> None:
    factory = recording_factory(plugin)
    submitted: list[str] = []

    def submit(callback_id: str, submit_ctx: Any) -> None:
        submitted.append(callback_id)

    def scenario(event: Any, ctx: Any) -> Any:
        return (yield ctx.wait_for_callback(submit, name="ask"))

    outcome = twin.run(scenario, plugins=[factory])
    outcome.backend.complete_callback(submitted[0], '"yes"')
    twin.resume(outcome)
    assert outcome.status == "SUCCEEDED"
    first, second = invocations(factory.events)
    assert steps(first) == [
        ("on_invocation_start", None),
        ("on_operation_start", "ask"),
        ("on_user_function_start", "ask"),
        ("on_operation_start", "ask create callback id"),
        ("on_operation_start", "ask submitter"),
        ("on_user_function_start", "ask submitter"),
        ("on_user_function_end", "ask submitter"),
        ("on_operation_end", "ask submitter"),
        ("on_user_function_end", "ask"),
        ("on_invocation_end", None),
    ]
    context = first[1][1]
    inner = [info for hook, info in first if hook == "on_operation_start"][1:]
    assert [info.parent_id for info in inner] == [context.operation_id] * 2
    assert [info.operation_type for info in inner] == [
        plugin.OperationType.CALLBACK, plugin.OperationType.STEP
    ]
    assert steps(second) == [
        ("on_invocation_start", None),
        ("on_operation_start", "ask"),  # in progress: replay reports it started
        ("on_user_function_start", "ask"),
        ("on_operation_end", "ask create callback id"),  # answered while suspended
        ("on_user_function_end", "ask"),
        ("on_operation_end", "ask"),
        ("on_invocation_end", None),
    ]
    assert second[1][1].is_replayed and second[2][1].attempt is None
    assert second[4][1].outcome is plugin.UserFunctionOutcome.SUCCEEDED
    assert second[5][1].status is OperationStatus.SUCCEEDED  # its result: the raw answer
    assert second[5][1].result == json.dumps('"yes"')  # as JSON


def test_a_chained_invoke_ends_when_its_target_finished_while_suspended(twin: Twin) -> None:
    factory = recording_factory(plugin)

    def scenario(event: Any, ctx: Any) -> Any:
        return (yield ctx.invoke("charge", {"amount": 7}, name="charge"))

    outcome = twin.run(scenario, plugins=[factory])
    (pending,) = outcome.backend.pending_chained_invokes(outcome.arn)
    outcome.backend.complete_chained_invoke(outcome.arn, pending.id, '{"charged": 7}')
    twin.resume(outcome)
    assert outcome.status == "SUCCEEDED"
    first, second = invocations(factory.events)
    assert steps(first)[1:-1] == [("on_operation_start", "charge")]
    assert first[1][1].operation_type is plugin.OperationType.CHAINED_INVOKE
    assert steps(second)[1:-1] == [("on_operation_end", "charge")]
    ended = second[1][1]
    assert ended.status is OperationStatus.SUCCEEDED and ended.result == '{"charged": 7}'
    assert list(second[0][1].updated_operations) == [pending.id]

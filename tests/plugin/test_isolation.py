"""A faulty plugin never breaks the execution or the other plugins, and each failing hook is
logged once."""

from __future__ import annotations

import logging
import re
from collections import Counter
from typing import Any

import pytest

from durable_backend import plugin
from tests.engine.conftest import Twin
from tests.plugin.recording import HOOKS, recording_factory


class Broken(plugin.DurableInstrumentationPlugin):
    """Raises in every hook."""

    def provide_propagation_metadata(self, info: plugin.PropagationInput) -> Any:
        raise RuntimeError("propagation")

    def on_invocation_start(self, info: Any) -> None:
        raise RuntimeError("invocation start")

    def on_invocation_end(self, info: Any) -> None:
        raise RuntimeError("invocation end")

    def on_operation_start(self, info: Any) -> None:
        raise RuntimeError("operation start")

    def on_operation_end(self, info: Any) -> None:
        raise ValueError("operation end")

    def on_operation_change(self, info: Any) -> None:
        raise RuntimeError("operation change")

    def on_user_function_start(self, info: Any) -> None:
        raise BaseExceptionGroup("user function start", [ValueError("in a group")])

    def on_user_function_end(self, info: Any) -> None:
        raise RuntimeError("user function end")


class BrokenFactory:
    def create_plugin(self, info: plugin.InvocationStartInfo) -> Broken:
        return Broken()


class RaisingFactory:
    def create_plugin(self, info: plugin.InvocationStartInfo) -> Broken:
        raise RuntimeError("no plugin today")


class NoneFactory:
    def create_plugin(self, info: plugin.InvocationStartInfo) -> Any:
        return None


class WrongFactory:
    def create_plugin(self, info: plugin.InvocationStartInfo) -> Any:
        return object()


def scenario(event: Any, ctx: Any) -> Any:
    yield ctx.step(lambda _: 1, name="one")
    yield ctx.wait(5, name="pause")
    yield ctx.run_in_child_context(lambda c: "child", name="child")
    yield ctx.invoke("other", {}, name="call")


def test_faulty_plugins_break_neither_the_execution_nor_the_others(
    twin: Twin, caplog: pytest.LogCaptureFixture
) -> None:
    recording = recording_factory(plugin)
    factories = [BrokenFactory(), RaisingFactory(), recording, NoneFactory(), WrongFactory()]
    clean = recording_factory(plugin)
    caplog.set_level(logging.ERROR, logger="durable_backend.plugin")

    outcome = twin.run(scenario, plugins=factories)
    reference = twin.run(scenario, plugins=[clean])

    assert outcome.status == reference.status == "PENDING"  # waiting on the chained invoke
    assert [
        (u.type, u.action, u.name) for call in outcome.backend.checkpoint_calls()
        for u in call.updates
    ] == [
        (u.type, u.action, u.name) for call in reference.backend.checkpoint_calls()
        for u in call.updates
    ]
    assert [hook for hook, _ in recording.events if hook != "on_operation_change"] == [
        hook for hook, _ in clean.events if hook != "on_operation_change"
    ]
    assert {hook for hook, _ in recording.events} == set(HOOKS)

    logged = Counter(
        re.search(r"\(plugins\[(\d+)\]\) raised in (\w+);", record.getMessage()).groups()  # type: ignore[union-attr]
        for record in caplog.records
    )
    assert set(logged.values()) == {1}, logged  # two invocations, each failure logged once
    assert {hook for plugin_index, hook in logged if plugin_index == "0"} == {
        "provide_propagation_metadata", *HOOKS
    }
    assert {hook for plugin_index, hook in logged if plugin_index != "0"} == {"create_plugin"}
    assert {plugin_index for plugin_index, _ in logged} == {"0", "1", "3", "4"}


def test_a_plugin_stopping_the_thread_is_not_contained(twin: Twin) -> None:
    class Interrupting(plugin.DurableInstrumentationPlugin):
        def on_user_function_start(self, info: Any) -> None:
            raise SystemExit(3)

    class Factory:
        def create_plugin(self, info: Any) -> plugin.DurableInstrumentationPlugin:
            return Interrupting()

    recording = recording_factory(plugin)

    def one_step(event: Any, ctx: Any) -> Any:
        return (yield ctx.step(lambda _: 1, name="one"))

    with pytest.raises(SystemExit):
        twin.run(one_step, plugins=[Factory(), recording])
    ends = [info for hook, info in recording.events if hook == "on_invocation_end"]
    assert [info.status for info in ends] == [plugin.InvocationStatus.RETRY]
    assert ends[0].error is not None and ends[0].error.type == "SystemExit"


def test_no_plugin_no_hooks_object(twin: Twin) -> None:
    """Without plugins the engine keeps ``Execution.hooks`` None: flows skip every hook."""
    seen: list[object] = []

    def peek(event: Any, ctx: Any) -> Any:
        seen.append(ctx._scope.execution.hooks)
        return "ok"
        yield

    assert twin.run(peek).status == "SUCCEEDED"
    assert twin.run(peek, plugins=[recording_factory(plugin)]).status == "SUCCEEDED"
    assert seen[0] is None and seen[1] is not None


def test_a_start_hook_stopping_the_thread_ends_the_plugins_that_started(twin: Twin) -> None:
    ended: list[str] = []

    class Stopping(plugin.DurableInstrumentationPlugin):
        def on_invocation_start(self, info: Any) -> None:
            raise KeyboardInterrupt

        def on_invocation_end(self, info: plugin.InvocationEndInfo) -> None:
            ended.append(f"stopping {info.status.value}")

    class Factory:
        def create_plugin(self, info: Any) -> plugin.DurableInstrumentationPlugin:
            return Stopping()

    before, after = recording_factory(plugin), recording_factory(plugin)

    def one_step(event: Any, ctx: Any) -> Any:
        return (yield ctx.step(lambda _: 1, name="one"))

    with pytest.raises(KeyboardInterrupt):
        twin.run(one_step, plugins=[before, Factory(), after])
    assert [hook for hook, _ in before.events] == ["on_invocation_start", "on_invocation_end"]
    assert before.events[-1][1].status is plugin.InvocationStatus.RETRY
    assert ended == ["stopping RETRY"]
    assert after.events == []  # never started, so never ended

"""Random programs, random crashes: replay after a crash gives the same outcome and never runs a
step body again once that step's result is checkpointed."""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import durable_backend as db
from durable_backend._engine import SuspendExecution
from durable_backend.backend import (
    DurableError,
    ErrorObject,
    ExecutionStatus,
    StaleCheckpointTokenError,
)
from tests.engine.conftest import Twin
from tests.support.service import MemoryBackend

NO_RETRY = db.StepConfig(retry_strategy=db.RetryPresets.none())

step_op = st.tuples(st.just("step"), st.booleans())
program_strategy = st.lists(
    st.one_of(
        step_op,
        st.tuples(st.just("retry"), st.integers(1, 2)),
        st.tuples(st.just("wait"), st.integers(1, 3)),
        st.tuples(st.just("child"), st.lists(step_op, max_size=3)),
    ),
    max_size=6,
)


class Crash(BaseException):
    """The invocation dies inside a step body; nothing in the SDK may catch it."""


class FaultyBackend(MemoryBackend):
    """Fails chosen checkpoint calls (by number) with a stale-token error, applied or not."""

    def __init__(self, faults: dict[int, bool]) -> None:
        super().__init__()
        self.faults = faults
        self.checkpoints = 0

    def checkpoint(self, *args: Any, **kwargs: Any) -> Any:
        self.checkpoints += 1
        after_apply = self.faults.get(self.checkpoints)
        if after_apply is not None:
            self.fail_next_checkpoint(
                StaleCheckpointTokenError("Invalid checkpoint token"), after_apply=after_apply
            )
        return super().checkpoint(*args, **kwargs)


class Probe:
    """Step bodies that count their runs and notice a run after their step completed."""

    def __init__(self, backend: MemoryBackend, crash_at: set[int]) -> None:
        self.backend = backend
        self.crash_at = crash_at
        self.arn = ""
        self.count = 0
        self.executions: Counter[str] = Counter()
        self.violations: list[str] = []

    def body(self, key: str, fail_attempts: int) -> Any:
        def run(step_ctx: db.StepContext) -> str:
            self.count += 1
            stored = {op.id: op for op in self.backend.operations(self.arn)}
            op = stored.get(step_ctx.operation_id)
            if op is not None and op.status.is_terminal:
                self.violations.append(key)
            self.executions[key] += 1
            if self.count in self.crash_at:
                raise Crash
            if step_ctx.attempt <= fail_attempts:
                raise ValueError(f"{key} attempt {step_ctx.attempt}")
            return f"{key}-value"

        return run


def make_scenario(program: list[Any], twin: Twin, probe: Probe) -> Any:
    def run_ops(ctx: Any, ops: list[Any], path: str) -> Any:
        results: list[Any] = []
        for index, (kind, arg) in enumerate(ops):
            key = f"{path}{index}"
            if kind == "wait":
                yield ctx.wait(arg, name=key)
                results.append(None)
            elif kind == "child":

                def child(child_ctx: Any, sub: list[Any] = arg, prefix: str = f"{key}.") -> Any:
                    return (yield from run_ops(child_ctx, sub, prefix))

                results.append((yield ctx.run_in_child_context(twin.body(child), name=key)))
            else:
                if kind == "step":
                    body = probe.body(key, 0 if arg else 99)
                    config = NO_RETRY
                else:
                    body = probe.body(key, arg)
                    config = db.StepConfig(
                        retry_strategy=lambda error, n: db.RetryDecision.retry(1)
                    )
                try:
                    results.append((yield ctx.step(body, name=key, config=config)))
                except db.StepError as error:
                    results.append(f"failed: {error.message}")
        return results

    def scenario(event: Any, ctx: Any) -> Any:
        return (yield from run_ops(ctx, program, ""))

    return scenario


def execute(
    twin: Twin, program: list[Any], crash_at: set[int], faults: dict[int, bool]
) -> tuple[Any, Probe, int]:
    backend = FaultyBackend(faults)
    probe = Probe(backend, crash_at)
    arn, event = backend.start_execution()
    probe.arn = arn
    handler = twin.handler(make_scenario(program, twin, probe), backend)
    for invocations in range(1, 60):
        try:
            output = handler(event, None)
        except (Crash, DurableError) as error:
            backend.complete_invocation(
                arn, None, function_error=ErrorObject(error_type=type(error).__name__)
            )
        else:
            assert not isinstance(output, SuspendExecution)
            backend.complete_invocation(arn, output)
            if backend.execution_end(arn) is not None:
                return backend.execution_end(arn), probe, invocations
            backend.advance_to_next_wake(arn)
        event = backend.invocation_event(arn)
    raise AssertionError("the execution did not end within 60 invocations")


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    program=program_strategy,
    crash_at=st.sets(st.integers(1, 10), max_size=2),
    faults=st.dictionaries(st.integers(1, 10), st.booleans(), max_size=2),
)
def test_crashes_do_not_change_the_outcome(
    twin: Twin, program: list[Any], crash_at: set[int], faults: dict[int, bool]
) -> None:
    expected, clean, _ = execute(twin, program, set(), {})
    assert clean.violations == []
    assert expected.status is ExecutionStatus.SUCCEEDED  # the program catches StepError
    actual, probe, _ = execute(twin, program, crash_at, faults)
    assert probe.violations == []
    assert (actual.status, actual.result, actual.error) == (
        expected.status,
        expected.result,
        expected.error,
    )
    for key, runs in clean.executions.items():
        assert probe.executions[key] >= runs

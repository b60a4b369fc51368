"""One fixture, ``twin``, that runs the same scenario through the sync and the async context.

A scenario is a generator function ``scenario(event, ctx)`` that yields what a context method
returns and receives its value: ``x = yield ctx.step(f)``. For the sync twin the call has
already run, so the driver sends the value straight back; for the async twin the driver awaits
the yielded awaitable and sends (or throws) its outcome. The scenario text is therefore the
same for both twins, and so are the assertions.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import Callable, Generator
from typing import Any

import attrs
import pytest

import durable_backend as db
from tests.support.service import MemoryBackend

Scenario = Callable[..., Any]


def _drive_sync(gen: Generator[Any, Any, Any]) -> Any:
    value: Any = None
    while True:
        try:
            value = gen.send(value)
        except StopIteration as stop:
            return stop.value


async def _drive_async(gen: Generator[Any, Any, Any]) -> Any:
    send: Any = None
    error: BaseException | None = None
    while True:
        try:
            yielded = gen.send(send) if error is None else gen.throw(error)
        except StopIteration as stop:
            return stop.value
        send, error = None, None
        if inspect.isawaitable(yielded):
            try:
                send = await yielded
            except BaseException as exc:  # SuspendExecution too: the scenario may not eat it
                error = exc
        else:
            send = yielded


@attrs.define
class Outcome:
    """What running an execution to its end (or until it blocks) produced."""

    backend: MemoryBackend
    arn: str
    outputs: list[dict[str, Any]]
    handler: Callable[[dict[str, Any], Any], dict[str, Any]]

    @property
    def status(self) -> str:
        return str(self.outputs[-1]["Status"])

    @property
    def result(self) -> Any:
        raw = self.outputs[-1].get("Result")
        return json.loads(raw) if raw else raw

    @property
    def error(self) -> dict[str, Any]:
        error: dict[str, Any] = self.outputs[-1]["Error"]
        return error


class Twin:
    """The adapter for one twin: builds handlers from scenarios and runs them."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.is_async = kind == "async"

    def body(self, scenario: Scenario) -> Callable[..., Any]:
        """A child-context (or handler) function of this twin's kind running ``scenario``."""
        if self.is_async:

            async def run_async(*args: Any) -> Any:
                out = scenario(*args)
                return (await _drive_async(out)) if inspect.isgenerator(out) else out

            return run_async

        def run_sync(*args: Any) -> Any:
            out = scenario(*args)
            return _drive_sync(out) if inspect.isgenerator(out) else out

        return run_sync

    def slow(self, fn: Callable[..., Any], seconds: float) -> Callable[..., Any]:
        """A step body that spends ``seconds`` first: blocking (sync) or awaiting (async)."""
        if self.is_async:

            async def slow_async(*args: Any) -> Any:
                await asyncio.sleep(seconds)
                return fn(*args)

            return slow_async

        def slow_sync(*args: Any) -> Any:
            time.sleep(seconds)
            return fn(*args)

        return slow_sync

    def handler(
        self, scenario: Scenario, backend: MemoryBackend, **options: Any
    ) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
        """A Lambda-style ``handler(event, context)`` for this twin over ``backend``."""
        fn = self.body(scenario)
        if self.is_async:
            async_handler = db.durable_execution(backend=backend.async_, **options)(fn)

            def call(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
                return asyncio.run(async_handler.run_async(event, context))

            return call
        return db.durable_execution(backend=backend, **options)(fn)

    def run(
        self,
        scenario: Scenario,
        input_payload: str | None = None,
        *,
        backend: MemoryBackend | None = None,
        max_invocations: int = 100,
        **options: Any,
    ) -> Outcome:
        """Start an execution and invoke until it ends or blocks on a callback/invoke."""
        backend = backend or MemoryBackend()
        outputs: list[dict[str, Any]] = []
        handler = self.handler(scenario, backend, **options)

        def recording(event: dict[str, Any], context: Any) -> dict[str, Any]:
            output = handler(event, context)
            outputs.append(output)
            return output

        arn = backend.run(recording, input_payload, max_invocations=max_invocations)
        return Outcome(backend, arn, outputs, recording)

    def resume(self, outcome: Outcome, *, max_invocations: int = 100) -> Outcome:
        """Continue after the test completed a callback or chained invoke."""
        outcome.backend.resume(outcome.arn, outcome.handler, max_invocations=max_invocations)
        return outcome

    def invoke(
        self, scenario: Scenario, backend: MemoryBackend, arn: str, **options: Any
    ) -> dict[str, Any]:
        """Exactly one invocation of ``scenario`` on the next event of ``arn``, recorded."""
        output = self.handler(scenario, backend, **options)(backend.invocation_event(arn), None)
        backend.complete_invocation(arn, output)
        return output


@pytest.fixture(params=["sync", "async"])
def twin(request: pytest.FixtureRequest) -> Twin:
    return Twin(request.param)

"""Run one durable handler to its end on the emulator or on the in-memory fake service.

Both runners answer every callback the execution opens with ``callback_answer(name)`` once
the invocation that opened it has ended (so the history order does not depend on how fast
the test polls), and return the same ``Run`` record, so a test can compare the two.
"""

from __future__ import annotations

import json
import time
import uuid
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from tests.support.emulator import STALL_SECONDS, Emulator, EmulatorStalledError
from tests.support.service import MemoryBackend

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

Handler = Callable[[dict[str, Any], Any], Mapping[str, Any]]
EventKey = tuple[str, str | None, str | None]
RUN_TIMEOUT_SECONDS = 60.0  # generous: a shared CI machine can stall the emulator's workers
POLL_SECONDS = 0.02


def callback_answer(name: str | None) -> str:
    """The JSON the test sends back for the callback called ``name``."""
    return json.dumps({"answered": name})


@dataclass(frozen=True)
class Run:
    """How an execution ended, as ``GetDurableExecution`` and its history report it."""

    arn: str
    status: str
    result: Any
    error: dict[str, Any] | None
    events: list[dict[str, Any]]

    @property
    def keys(self) -> list[EventKey]:
        return event_keys(self.events)


def event_keys(events: list[dict[str, Any]]) -> list[EventKey]:
    """``(EventType, SubType, Name)`` of each event: what the comparisons look at."""
    return [(e["EventType"], e.get("SubType"), e.get("Name")) for e in events]


T = TypeVar("T")


def traced(handler: Callable[[Any, Any], T], calls: list[str]) -> Callable[[Any, Any], T]:
    """``handler``, noting ``"in"`` and ``"out"`` in ``calls`` around each call (the emulator
    calls it on threads of its own; a list append is atomic)."""

    def call(event: Any, context: Any) -> T:
        calls.append("in")
        try:
            return handler(event, context)
        finally:
            calls.append("out")

    return call


class StallWatch:
    """Raises ``EmulatorStalledError`` once the emulator has left a running execution alone:
    every handler call in ``calls`` (see ``traced``) has returned and neither they nor the
    history have grown for ``STALL_SECONDS``."""

    def __init__(self, calls: list[str]) -> None:
        self._calls = calls
        self._progress: tuple[int, int] | None = None
        self._since = time.monotonic()

    def check(self, arn: str, events: list[dict[str, Any]], emulator: Emulator) -> None:
        now = time.monotonic()
        calls = self._calls
        if (len(events), len(calls)) != self._progress:
            self._progress, self._since = (len(events), len(calls)), now
        elif now - self._since > STALL_SECONDS and calls.count("in") == calls.count("out"):
            raise EmulatorStalledError(
                f"{arn}: no handler call in flight and no new event for {STALL_SECONDS}s; "
                f"history: {event_keys(events)}; handler calls {calls}; "
                f"emulator log: {emulator.log_path}"
            )


def callbacks_to_answer(events: list[dict[str, Any]]) -> dict[str, str | None]:
    """``CallbackId -> Name`` of the callbacks started by an invocation that has ended."""
    ready: dict[str, str | None] = {}
    started: dict[str, str | None] = {}
    for event in events:
        if event["EventType"] == "CallbackStarted":
            started[event["CallbackStartedDetails"]["CallbackId"]] = event.get("Name")
        elif event["EventType"] == "InvocationCompleted":
            ready.update(started)
            started.clear()
    return ready


def error_fields(error: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The parts of an execution error both backends must agree on."""
    if error is None:
        return None
    return {key: error.get(key) for key in ("ErrorType", "ErrorMessage")}


def emulator_history(client: LambdaClient, arn: str) -> list[dict[str, Any]]:
    """Every event of ``arn``, paging through ``GetDurableExecutionHistory``."""
    events: list[dict[str, Any]] = []
    marker = ""
    while True:
        page: Any = (
            client.get_durable_execution_history(
                DurableExecutionArn=arn, IncludeExecutionData=True, Marker=marker
            )
            if marker
            else client.get_durable_execution_history(
                DurableExecutionArn=arn, IncludeExecutionData=True
            )
        )
        events.extend(page["Events"])
        marker = page.get("NextMarker") or ""
        if not marker:
            return events


def run_on_emulator(
    emulator: Emulator,
    client: LambdaClient,
    handler: Handler,
    input: str = "{}",
    *,
    execution_name: str,
) -> Run:
    """Register ``handler`` on the LambdaEndpoint, start an execution over the emulator's
    HTTP API, answer its callbacks with boto3, and wait until it ends. An execution the
    emulator stalls (``EmulatorStalledError``) is started once more, with a warning, so its
    quirk does not fail our SDK."""
    try:
        return _run_on_emulator(emulator, client, handler, input, execution_name)
    except EmulatorStalledError as stalled:
        warnings.warn(f"started {execution_name} again: {stalled}", stacklevel=2)
        return _run_on_emulator(emulator, client, handler, input, f"{execution_name}-again")


def _run_on_emulator(
    emulator: Emulator, client: LambdaClient, handler: Handler, input: str, execution_name: str
) -> Run:
    calls: list[str] = []
    function_name = f"e2e-{uuid.uuid4().hex[:12]}"
    emulator.lambda_endpoint.register(function_name, traced(handler, calls))
    try:
        arn = emulator.start_execution(function_name, input, execution_name=execution_name)
        answered: set[str] = set()
        deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
        watch = StallWatch(calls)
        while time.monotonic() < deadline:
            execution: Any = client.get_durable_execution(DurableExecutionArn=arn)
            events = emulator_history(client, arn)
            watch.check(arn, events, emulator)
            if execution["Status"] != "RUNNING":
                result = execution.get("Result")
                return Run(
                    arn=arn,
                    status=execution["Status"],
                    result=json.loads(result) if result else None,
                    error=error_fields(execution.get("Error")),
                    events=events,
                )
            for callback_id, name in callbacks_to_answer(events).items():
                if callback_id not in answered:
                    client.send_durable_execution_callback_success(
                        CallbackId=callback_id, Result=callback_answer(name).encode()
                    )
                    answered.add(callback_id)
            time.sleep(POLL_SECONDS)
        raise AssertionError(
            f"execution {arn} did not end within {RUN_TIMEOUT_SECONDS}s; history so far: "
            f"{event_keys(emulator_history(client, arn))}; emulator log: {emulator.log_path}"
        )
    finally:
        emulator.lambda_endpoint.unregister(function_name)


def run_on_memory(
    backend: MemoryBackend, handler: Handler, input: str = "{}", *, execution_name: str
) -> Run:
    """Run ``handler`` on the in-memory fake, answering callbacks until the execution ends."""
    arn, _ = backend.start_execution(input, name=execution_name)
    backend.resume(arn, handler)
    answered: set[str] = set()
    while (end := backend.execution_end(arn)) is None:
        pending = {
            callback_id: name
            for callback_id, name in callbacks_to_answer(backend.history(arn)).items()
            if callback_id not in answered
        }
        assert pending, f"execution {arn} is blocked with no callback to answer"
        for callback_id, name in pending.items():
            backend.complete_callback(callback_id, callback_answer(name))
            answered.add(callback_id)
        backend.resume(arn, handler)
    return Run(
        arn=arn,
        status=end.status.value,
        result=json.loads(end.result) if end.result else None,
        error=error_fields(
            None if end.error is None
            else {"ErrorType": end.error.error_type, "ErrorMessage": end.error.error_message}
        ),
        events=backend.history(arn),
    )

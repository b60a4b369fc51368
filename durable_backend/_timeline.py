"""An execution's timeline as a tree, built from its history events alone.

The model knows nothing about terminals or where the events came from: the CLI renders it
for the local SQLite backend and for the real service (``GetDurableExecutionHistory`` gives
the same events), and a web page can render the same tree from ``timeline_to_json``.

Each operation becomes a ``Node`` under its ``ParentId``: map and parallel items under their
batch, steps under their child context, the callback and submitter under their
``wait_for_callback``. The steps of a saga (sub-types ``SagaStep`` and ``SagaCompensation``)
are gathered under one synthetic ``Saga`` node.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs
from attrs import define, frozen

SAGA_STEP = "SagaStep"
SAGA_COMPENSATION = "SagaCompensation"
SAGA_SUB_TYPES = frozenset({SAGA_STEP, SAGA_COMPENSATION})
COMPENSATE_MARKER = ": compensate "
"""A compensation step is named ``<saga name>: compensate <step name>``."""

_OUTCOMES = {
    "Started": "STARTED",
    "Succeeded": "SUCCEEDED",
    "Failed": "FAILED",
    "TimedOut": "TIMED_OUT",
    "Stopped": "STOPPED",
    "Cancelled": "CANCELLED",
}
_KINDS = ("ChainedInvoke", "Execution", "Invocation", "Callback", "Context", "Step", "Wait")


@frozen
class ErrorInfo:
    """An error as the history carries it."""

    type: str | None
    message: str | None

    def __str__(self) -> str:
        if self.type and self.message:
            return f"{self.type}: {self.message}"
        return self.type or self.message or "error"


@frozen
class Attempt:
    """One run of a step's body (or one poll of ``wait_for_condition``)."""

    number: int
    started: datetime | None
    ended: datetime | None
    outcome: str
    """``STARTED`` (still running or lost), ``SUCCEEDED``, ``FAILED`` or ``RETRY``."""
    error: ErrorInfo | None = None
    retry_delay_seconds: int | None = None

    @property
    def duration(self) -> timedelta | None:
        return _span(self.started, self.ended)


@frozen
class Invocation:
    """One Lambda invocation of the handler (an ``InvocationCompleted`` event)."""

    started: datetime | None
    ended: datetime | None
    request_id: str | None
    error: ErrorInfo | None


@frozen
class OpenCallback:
    """A callback waiting for its answer, by the name the user knows it."""

    name: str | None
    callback_id: str
    operation_id: str
    started: datetime | None


@define
class Node:
    """One operation (or a saga grouping steps) and what happened to it.

    ``kind`` is the operation type as events spell it (``Step``, ``Wait``, ``Callback``,
    ``Context``, ``ChainedInvoke``, or ``Saga`` for a synthetic group); ``sub_type`` refines
    it (``Map``, ``MapIteration``, ``Parallel``, ``WaitForCallback``, ...). ``status`` is the
    last event's outcome; a step waiting to retry is ``PENDING``.
    """

    id: str
    kind: str
    name: str | None = None
    sub_type: str | None = None
    parent_id: str | None = None
    status: str = "STARTED"
    started: datetime | None = None
    ended: datetime | None = None
    result: str | None = None
    error: ErrorInfo | None = None
    attempts: list[Attempt] = attrs.field(factory=list)
    callback_id: str | None = None
    function_name: str | None = None
    wait_seconds: int | None = None
    scheduled_end: datetime | None = None
    event_ids: list[int] = attrs.field(factory=list)
    children: list[Node] = attrs.field(factory=list)

    @property
    def duration(self) -> timedelta | None:
        """From the first to the last event; ``None`` while it has not ended."""
        return _span(self.started, self.ended)

    @property
    def finished(self) -> bool:
        return self.status not in ("STARTED", "PENDING")

    @property
    def label(self) -> str:
        """The name a user knows it by."""
        return self.name or self.sub_type or self.kind

    def walk(self) -> Iterator[Node]:
        """This node and every node below it, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()


@frozen
class Timeline:
    """An execution: its summary, its operations as a tree, and its invocations."""

    arn: str | None
    name: str | None
    status: str
    started: datetime | None
    ended: datetime | None
    input: str | None
    result: str | None
    error: ErrorInfo | None
    roots: tuple[Node, ...]
    invocations: tuple[Invocation, ...]
    event_count: int

    @property
    def duration(self) -> timedelta | None:
        return _span(self.started, self.ended)

    def walk(self) -> Iterator[Node]:
        for root in self.roots:
            yield from root.walk()

    def pending_callbacks(self) -> list[OpenCallback]:
        """Callbacks still waiting for an answer (none once the execution has ended), named
        by their ``wait_for_callback`` when they belong to one."""
        if self.status != "RUNNING":
            return []
        return [
            OpenCallback(
                parent.name if parent.sub_type == "WaitForCallback" and parent.name
                else node.name,
                node.callback_id, node.id, node.started,
            )
            for parent in (Node(id="", kind="Execution", children=list(self.roots)), *self.walk())
            for node in parent.children
            if node.kind == "Callback" and node.status == "STARTED" and node.callback_id
        ]

    def find(self, name: str) -> Node | None:
        """The first operation called ``name``."""
        return next((node for node in self.walk() if node.name == name), None)


def _span(start: datetime | None, end: datetime | None) -> timedelta | None:
    return end - start if start is not None and end is not None else None


def _split(event_type: str) -> tuple[str, str]:
    for kind in _KINDS:
        if event_type.startswith(kind):
            return kind, _OUTCOMES.get(event_type[len(kind):], event_type[len(kind):].upper())
    return event_type, "STARTED"


def _payload(wrapper: object) -> str | None:
    if isinstance(wrapper, Mapping):
        payload = wrapper.get("Payload")
        return payload if isinstance(payload, str) else None
    return None


def _error(wrapper: object) -> ErrorInfo | None:
    """``{Payload: {ErrorType, ErrorMessage}}`` (history) or the bare error object."""
    if not isinstance(wrapper, Mapping):
        return None
    body = wrapper.get("Payload", wrapper)
    if not isinstance(body, Mapping):
        return None
    return ErrorInfo(body.get("ErrorType"), body.get("ErrorMessage"))


def _time(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def _apply(node: Node, event: Mapping[str, Any], outcome: str, at: datetime | None) -> None:
    """Fold one event into its operation's node."""
    details: Mapping[str, Any] = event.get(f"{event['EventType']}Details") or {}
    node.event_ids.append(int(event.get("EventId") or 0))
    node.name = node.name or event.get("Name")
    node.sub_type = node.sub_type or event.get("SubType")
    if node.started is None:
        node.started = at
    node.result = _payload(details.get("Result")) or node.result
    node.callback_id = details.get("CallbackId") or node.callback_id
    node.function_name = details.get("FunctionName") or node.function_name
    if "Duration" in details and node.wait_seconds is None:
        node.wait_seconds = details["Duration"]
    node.scheduled_end = _time(details.get("ScheduledEndTimestamp")) or node.scheduled_end
    error = _error(details.get("Error"))
    if node.kind == "Step":
        _step_event(node, details, outcome, at, error)
        return
    node.status = outcome
    if error is not None:
        node.error = error
    if outcome != "STARTED":
        node.ended = at


def _step_event(
    node: Node, details: Mapping[str, Any], outcome: str, at: datetime | None,
    error: ErrorInfo | None,
) -> None:
    retry: Mapping[str, Any] = details.get("RetryDetails") or {}
    open_attempt = node.attempts[-1] if node.attempts and node.attempts[-1].ended is None else None
    if outcome == "STARTED":
        if open_attempt is None or open_attempt.outcome != "STARTED":
            node.attempts.append(Attempt(len(node.attempts) + 1, at, None, "STARTED"))
        node.status = "STARTED"
        node.ended = None
        return
    number = int(retry.get("CurrentAttempt") or len(node.attempts) or 1)
    delay = retry.get("NextAttemptDelaySeconds")
    retrying = delay is not None
    finished = Attempt(
        number,
        open_attempt.started if open_attempt is not None else at,
        at,
        "RETRY" if retrying and error is None else outcome,
        error,
        int(delay) if delay is not None else None,
    )
    if open_attempt is not None:
        node.attempts[-1] = finished
    else:
        node.attempts.append(finished)
    node.error = error if outcome == "FAILED" else None
    node.status = "PENDING" if retrying else outcome
    node.ended = None if retrying else at


def _group_sagas(children: list[Node]) -> list[Node]:
    """Gather each run of consecutive saga steps under one ``Saga`` node."""
    grouped: list[Node] = []
    saga: Node | None = None
    for child in children:
        if child.kind != "Step" or child.sub_type not in SAGA_SUB_TYPES:
            saga = None
            grouped.append(child)
            continue
        if saga is None or (child.sub_type == SAGA_STEP and saga.children[-1].sub_type
                            == SAGA_COMPENSATION):
            saga = Node(id=f"saga:{child.id}", kind="Saga", parent_id=child.parent_id)
            grouped.append(saga)
        saga.children.append(child)
        if child.sub_type == SAGA_COMPENSATION and child.name and COMPENSATE_MARKER in child.name:
            saga.name = child.name.split(COMPENSATE_MARKER, 1)[0]
    for node in grouped:
        if node.kind == "Saga":
            _close_saga(node)
    return grouped


def _close_saga(saga: Node) -> None:
    steps = saga.children
    saga.started = steps[0].started
    saga.ended = max((s.ended for s in steps if s.ended is not None), default=None)
    compensated = any(s.sub_type == SAGA_COMPENSATION for s in steps)
    forward_failed = any(s.sub_type == SAGA_STEP and s.status == "FAILED" for s in steps)
    if not all(s.finished for s in steps):
        saga.status, saga.ended = "STARTED", None
    elif compensated or forward_failed:
        saga.status = "FAILED"
        failed = next((s for s in steps if s.status == "FAILED"), None)
        saga.error = failed.error if failed is not None else None
    else:
        saga.status = "SUCCEEDED"


def build_timeline(
    events: Iterable[Mapping[str, Any]], execution: Mapping[str, Any] | None = None
) -> Timeline:
    """The tree of ``events`` (``GetDurableExecutionHistory`` events, boto3 flavour: datetimes
    or ISO strings), with the summary from ``GetDurableExecution`` when given."""
    summary: Mapping[str, Any] = execution or {}
    nodes: dict[str, Node] = {}
    order: list[Node] = []
    invocations: list[Invocation] = []
    run = Node(id="", kind="Execution", status=summary.get("Status", "RUNNING"))
    input_payload: str | None = None
    count = 0
    for event in events:
        count += 1
        kind, outcome = _split(event["EventType"])
        at = _time(event.get("EventTimestamp"))
        details: Mapping[str, Any] = event.get(f"{event['EventType']}Details") or {}
        if kind == "Invocation":
            invocations.append(Invocation(
                _time(details.get("StartTimestamp")), _time(details.get("EndTimestamp")),
                details.get("RequestId"), _error(details.get("Error")),
            ))
            continue
        if kind == "Execution":
            _apply(run, event, outcome, at)
            input_payload = input_payload or _payload(details.get("Input"))
            continue
        node = nodes.get(event["Id"])
        if node is None:
            node = Node(id=event["Id"], kind=kind, parent_id=event.get("ParentId"))
            nodes[node.id] = node
            order.append(node)
        _apply(node, event, outcome, at)
    roots: list[Node] = []
    for node in order:
        parent = nodes.get(node.parent_id) if node.parent_id else None
        (parent.children if parent is not None else roots).append(node)
    for node in order:
        node.children = _group_sagas(node.children)
    status = summary.get("Status") or (run.status if run.finished else "RUNNING")
    error = _error(summary.get("Error")) or (run.error if run.finished else None)
    return Timeline(
        arn=summary.get("DurableExecutionArn"),
        name=summary.get("DurableExecutionName"),
        status=status,
        started=_time(summary.get("StartTimestamp")) or run.started,
        ended=_time(summary.get("EndTimestamp")) or (run.ended if run.finished else None),
        input=summary.get("InputPayload", input_payload),
        result=summary.get("Result", run.result),
        error=error,
        roots=tuple(_group_sagas(roots)),
        invocations=tuple(invocations),
        event_count=count,
    )


def json_default(value: object) -> object:
    """``json.dumps(..., default=json_default)`` for the raw events' datetimes."""
    if isinstance(value, datetime | timedelta | ErrorInfo):
        return _json_value(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _json_value(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, ErrorInfo):
        return {"type": value.type, "message": value.message}
    return value


def _node_json(node: Node) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": node.id, "kind": node.kind, "name": node.name, "sub_type": node.sub_type,
        "status": node.status, "started": _json_value(node.started),
        "ended": _json_value(node.ended), "duration_seconds": _json_value(node.duration),
        "result": node.result, "error": _json_value(node.error),
        "attempts": [
            {
                "number": a.number, "outcome": a.outcome, "started": _json_value(a.started),
                "ended": _json_value(a.ended), "error": _json_value(a.error),
                "retry_delay_seconds": a.retry_delay_seconds,
            }
            for a in node.attempts
        ],
        "event_ids": node.event_ids,
        "children": [_node_json(child) for child in node.children],
    }
    for key, value in (("callback_id", node.callback_id), ("function_name", node.function_name),
                       ("wait_seconds", node.wait_seconds),
                       ("scheduled_end", _json_value(node.scheduled_end))):
        if value is not None:
            out[key] = value
    return out


def timeline_to_json(
    timeline: Timeline, events: Sequence[Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """A JSON-ready dict of the timeline (and the raw ``events``, when given: dump it with
    ``default=json_default``)."""
    out: dict[str, Any] = {
        "arn": timeline.arn, "name": timeline.name, "status": timeline.status,
        "started": _json_value(timeline.started), "ended": _json_value(timeline.ended),
        "duration_seconds": _json_value(timeline.duration), "input": timeline.input,
        "result": timeline.result, "error": _json_value(timeline.error),
        "invocations": [
            {"started": _json_value(i.started), "ended": _json_value(i.ended),
             "request_id": i.request_id, "error": _json_value(i.error)}
            for i in timeline.invocations
        ],
        "pending_callbacks": [
            {"name": callback.name, "callback_id": callback.callback_id,
             "operation_id": callback.operation_id, "started": _json_value(callback.started)}
            for callback in timeline.pending_callbacks()
        ],
        "operations": [_node_json(root) for root in timeline.roots],
    }
    if events is not None:
        out["events"] = list(events)
    return out

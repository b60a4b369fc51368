"""Requests stepped through the engine with no driver and no context shell: ``begin`` takes the
id at call time, and the flows resolve defaults, names, serdes and the invoke payload."""

from __future__ import annotations

import json
from collections.abc import Generator
from typing import Any

import attrs
import pytest

import durable_backend as db
from durable_backend._engine import (
    Commit,
    Execution,
    IdSequence,
    InvokeRequest,
    MapRequest,
    RunUserCode,
    Scope,
    StepRequest,
    Suspend,
    WaitForConditionRequest,
    WaitRequest,
    begin,
)
from durable_backend._models import OperationAction, OperationUpdate
from durable_backend._protocol import operation_id
from durable_backend._serdes import SerDes, SerDesContext
from durable_backend.context import durable_step

ARN = "arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST/durable-execution/run/exec-1"


def fresh_scope() -> Scope:
    return Scope(Execution(ARN, "t1", ()), IdSequence(None))


def queued_until_user_code(flow: Generator[Any, Any, Any]) -> tuple[list[OperationUpdate], Any]:
    """Step ``flow`` up to its first RunUserCode or Suspend, collecting what it queued."""
    queued: list[OperationUpdate] = []
    effect = next(flow)
    while isinstance(effect, Commit):
        queued.extend(effect.updates)
        effect = flow.send(None)
    return queued, effect


@attrs.frozen
class Receipt:
    order: str
    cents: int


class Tagged:
    """A serdes that marks what it wrote, so a test can see which one ran."""

    def serialize(self, value: Any, serdes_context: SerDesContext) -> str:
        return f"tagged:{value}:{serdes_context.operation_id}"

    def deserialize(self, data: str, serdes_context: SerDesContext) -> Any:
        return data.removeprefix("tagged:")


_: SerDes[Any] = Tagged()


def run_step(scope: Scope, request: StepRequest) -> tuple[list[OperationUpdate], Any]:
    """Step a fresh step's flow to its end: what it checkpointed, and what it returned."""
    flow = begin(scope, request)
    queued, effect = queued_until_user_code(flow)
    assert isinstance(effect, RunUserCode)
    succeed = flow.send(effect.fn(*effect.args))
    assert isinstance(succeed, Commit)
    with pytest.raises(StopIteration) as stop:
        flow.send(None)
    return [*queued, *succeed.updates], stop.value.value


def test_a_step_request_is_named_by_its_decorator_when_the_call_names_none() -> None:
    @durable_step
    def charge(step_ctx: Any, order: str) -> str:
        return order

    updates, value = run_step(fresh_scope(), StepRequest(charge("o-1"), None, None, lambda *_: 0))
    assert [(u.action, u.name) for u in updates] == [
        (OperationAction.START, "charge"),
        (OperationAction.SUCCEED, "charge"),
    ]
    assert value == "o-1"


def test_a_step_request_reads_its_serdes_off_the_return_annotation() -> None:
    def charge(step_ctx: Any) -> Receipt:
        assert step_ctx == "step context"
        return Receipt("o-1", 100)

    request = StepRequest(charge, "charge", None, lambda *_: "step context")
    updates, value = run_step(fresh_scope(), request)
    payload = updates[-1].payload
    assert payload is not None and json.loads(payload) == {"order": "o-1", "cents": 100}
    assert value == Receipt("o-1", 100)


def test_an_invoke_payload_is_serialized_by_its_serdes_at_call_time() -> None:
    scope = fresh_scope()
    config: db.InvokeConfig[Any, Any] = db.InvokeConfig(serdes_payload=Tagged())
    flow = begin(scope, InvokeRequest("target", "hello", "call", config))
    first = operation_id(None, 1)
    start = next(flow)
    assert isinstance(start, Commit)
    (update,) = start.updates
    assert update.payload == f"tagged:hello:{first}"
    assert update.chained_invoke_options is not None
    assert update.chained_invoke_options.function_name == "target"
    assert isinstance(flow.send(None), Suspend)


def test_an_invoke_whose_payload_does_not_serialize_fails_the_call_and_takes_no_id() -> None:
    scope = fresh_scope()
    with pytest.raises(db.SerDesError):
        begin(scope, InvokeRequest("target", object(), None, None))
    assert scope.execution.never_awaited() is None


def test_requests_check_their_arguments_when_built() -> None:
    with pytest.raises(TypeError, match="function name"):
        InvokeRequest("", None, None, None)
    with pytest.raises(TypeError, match="WaitForConditionConfig"):
        WaitForConditionRequest(lambda s, c: s, {"initial": 1}, None, lambda *_: None)  # type: ignore[arg-type]
    assert WaitRequest(db.Duration.from_minutes(2)).seconds == 120


def test_begin_numbers_operations_in_call_order_and_notes_them_until_they_start() -> None:
    scope = fresh_scope()
    first = begin(scope, WaitRequest(5, "first"))
    second = begin(scope, WaitRequest(6, "second"))
    unawaited = scope.execution.never_awaited()
    assert unawaited is not None and "first" in unawaited and "second" in unawaited
    start = next(second)
    assert isinstance(start, Commit)
    assert start.updates[0].id == operation_id(None, 2)
    unawaited = scope.execution.never_awaited()
    assert unawaited is not None and "first" in unawaited and "second" not in unawaited
    first.close()


def test_a_map_request_takes_its_items_when_called() -> None:
    items = [1, 2]
    request = MapRequest(items, lambda ctx, item, index, all_items: item, None, None)
    items.append(3)
    assert request.items == [1, 2]

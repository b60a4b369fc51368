"""``begin``: where every operation of either twin starts, from its request."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from durable_backend._engine import _requests as req
from durable_backend._engine._batch_flows import map_flow, parallel_flow, wait_for_condition_flow
from durable_backend._engine._flows import (
    Flow,
    Scope,
    child_context_flow,
    create_callback_flow,
    invoke_flow,
    step_flow,
    wait_flow,
    wait_for_callback_flow,
)
from durable_backend._engine._values import now_flow

_FLOWS: dict[type, Callable[[Scope, str, Any], Flow]] = {
    req.StepRequest: step_flow,
    req.WaitRequest: wait_flow,
    req.CallbackRequest: create_callback_flow,
    req.WaitForCallbackRequest: wait_for_callback_flow,
    req.InvokeRequest: invoke_flow,
    req.ChildRequest: child_context_flow,
    req.MapRequest: map_flow,
    req.ParallelRequest: parallel_flow,
    req.WaitForConditionRequest: wait_for_condition_flow,
    req.NowRequest: lambda scope, op_id, _: now_flow(scope, op_id),
}


def begin(scope: Scope, request: req.Request) -> Flow:
    """The flow of the operation ``request`` asks for, with its id taken now, at call time: an
    async twin's operations are numbered in call order, whenever they are awaited. Until the
    flow starts, the operation is noted as called, so one never awaited fails the invocation.
    """
    op_id = scope.ids.next()
    flow = _FLOWS[type(request)](scope, op_id, request)
    scope.execution.called(op_id, request.kind, request.name)
    return flow

"""The fake service at the peers' boundary: both peers share the official model field names.

The official SDK and its async fork both take a ``DurableServiceClient`` whose methods receive
``OperationUpdate`` objects and return ``CheckpointOutput`` / ``StateOutput`` objects, so one
transition function, built over either SDK's models module, serves both.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from types import ModuleType
from typing import Any

from benchmarks._common import (
    CALLBACK_RESULT,
    FakeStore,
    Updates,
    callback_id_for,
    operation_id,
    status_for,
    step_name,
)

_TERMINAL = {"SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT", "STOPPED"}


def peer_store(m: ModuleType) -> FakeStore:
    """A ``FakeStore`` speaking the models in ``m`` (``lambda_service`` or the fork's models)."""
    statuses = {s.value: s for s in m.OperationStatus}

    def transition(previous: Any, update: Any, now: datetime) -> Any:
        action = update.action.value
        status = statuses[status_for(action)]
        kind = update.operation_type.value
        details: dict[str, Any] = {}
        if kind == "STEP":
            attempt = previous.step_details.attempt if previous and previous.step_details else 0
            if action in ("SUCCEED", "FAIL", "RETRY"):
                attempt += 1
            delay = update.step_options.next_attempt_delay_seconds if update.step_options else 0
            retry_at = now + timedelta(seconds=delay) if action == "RETRY" else None
            details["step_details"] = m.StepDetails(
                attempt=attempt,
                next_attempt_timestamp=retry_at,
                result=update.payload,
                error=update.error,
            )
        elif kind == "CONTEXT":
            options = update.context_options
            details["context_details"] = m.ContextDetails(
                replay_children=bool(options and options.replay_children),
                result=update.payload,
                error=update.error,
            )
        elif kind == "WAIT":
            seconds = update.wait_options.wait_seconds if update.wait_options else 0
            details["wait_details"] = m.WaitDetails(
                scheduled_end_timestamp=now + timedelta(seconds=seconds)
            )
        elif kind == "CALLBACK":
            details["callback_details"] = m.CallbackDetails(
                callback_id=callback_id_for(update.operation_id)
            )
        elif kind == "EXECUTION" and previous is not None:
            details["execution_details"] = previous.execution_details
        return m.Operation(
            operation_id=update.operation_id,
            operation_type=update.operation_type,
            status=status,
            parent_id=update.parent_id,
            name=update.name,
            sub_type=update.sub_type,
            start_timestamp=previous.start_timestamp if previous else now,
            end_timestamp=now if status.value in _TERMINAL else None,
            **details,
        )

    def is_succeeded_step(op: Any) -> bool:
        return bool(op.operation_type.value == "STEP" and op.status.value == "SUCCEEDED")

    def answer(op: Any, now: datetime) -> Any | None:
        if op.operation_type.value != "CALLBACK" or op.status.value != "STARTED":
            return None
        callback_id = op.callback_details.callback_id
        details = m.CallbackDetails(callback_id=callback_id, result=CALLBACK_RESULT)
        return dataclasses.replace(
            op, status=statuses["SUCCEEDED"], end_timestamp=now, callback_details=details
        )

    key = lambda op: str(op.operation_id)  # noqa: E731
    return FakeStore(transition, key, is_succeeded_step, answer, m.Operation.from_dict)


def step_updates(m: ModuleType) -> Updates:
    """Step ``i``'s START and SUCCEED in the models of ``m``, as one fast step sends them."""

    def updates(i: int) -> list[Any]:
        start = m.OperationUpdate(
            operation_id=operation_id(i),
            operation_type=m.OperationType.STEP,
            action=m.OperationAction.START,
            name=step_name(i),
            sub_type="Step",
        )
        return [start, dataclasses.replace(start, action=m.OperationAction.SUCCEED, payload=str(i))]

    return updates

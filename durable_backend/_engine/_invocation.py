"""The invocation as a flow: decode the event, run the handler, map its outcome to the output.

Written once for both twins, like the operation flows. The protocol's output rules live here
(protocol.md §1): SUCCEEDED with the result (or through an EXECUTION checkpoint when too large),
FAILED with an ErrorObject for user errors, PENDING on suspension or revocation, and a raise for
backend errors that Lambda should retry.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Mapping
from typing import Any

from attrs import frozen

from durable_backend._codec import event_converter, json_string_size, to_wire
from durable_backend._engine._checkpoints import CheckpointFailed, SuspendExecution
from durable_backend._engine._commits import pages_flow
from durable_backend._engine._effects import Effect, RunInContext
from durable_backend._engine._execution import Execution
from durable_backend._engine._flows import Scope, error_object
from durable_backend._engine._heap import LogReading
from durable_backend._engine._ids import IdSequence
from durable_backend._engine._instrumentation import Hooks, PluginSet
from durable_backend._errors import (
    InvalidEventError,
    InvocationError,
    OperationNotAwaitedError,
    SerDesError,
)
from durable_backend._models import (
    ErrorObject,
    InitialExecutionState,
    Operation,
    OperationAction,
    OperationType,
    OperationUpdate,
)
from durable_backend._protocol import MAX_RESPONSE_BYTES, execution_id
from durable_backend._serdes import SerDes

_initial_state = event_converter.get_structure_hook(InitialExecutionState)
_operation = event_converter.get_structure_hook(Operation)

MakeExecution = Callable[[str, str, tuple[Operation, ...]], Execution]
"""Builds the invocation's replay state; the Replayer's builds a replay-only one."""


@frozen
class DecodedEvent:
    arn: str
    token: str
    operations: tuple[Operation, ...]
    next_marker: str
    updated_ids: tuple[str, ...] = ()


def decode_event(event: object) -> DecodedEvent:
    """Validate and decode the invocation event, naming whatever is missing or malformed."""
    if not (type(event) is dict or isinstance(event, Mapping)):  # a dict: no ABC check
        raise InvalidEventError(
            f"A durable handler expects the durable invocation event (a dict), got "
            f"{type(event).__name__}. Is the function configured as a durable function?"
        )
    arn = event.get("DurableExecutionArn")
    token = event.get("CheckpointToken")
    valid = arn.__class__ is str and token.__class__ is str and arn and token
    missing = [] if valid else [
        key
        for key, value in (("DurableExecutionArn", arn), ("CheckpointToken", token))
        if not isinstance(value, str) or not value
    ]
    if missing:
        present = ", ".join(sorted(str(k) for k in event)) or "no keys"
        raise InvalidEventError(
            f"The event is not a durable invocation: missing or empty {' and '.join(missing)} "
            f"(it has {present}). Invoke the function through Lambda durable execution, or "
            "use durable_backend.testing to run it locally."
        )
    raw_state = event.get("InitialExecutionState") or {}
    if not (type(raw_state) is dict or isinstance(raw_state, Mapping)):
        raise InvalidEventError(
            f"InitialExecutionState must be an object, got {type(raw_state).__name__}"
        )
    try:
        state = _initial_state(raw_state, InitialExecutionState)
    except Exception as error:
        malformed = _malformed(raw_state, error)
        raise InvalidEventError(f"{malformed}. {_NOT_FROM_THE_SERVICE}") from error
    updated = event.get("UpdatedOperationIds") or ()
    return DecodedEvent(
        str(arn),
        str(token),
        state.operations,
        state.next_marker or "",
        tuple(str(op_id) for op_id in updated)
        if updated and isinstance(updated, list | tuple) else (),
    )


_NOT_FROM_THE_SERVICE = (
    "The durable execution service never sends this: if the event was built by hand (a test, a "
    "proxy), fix it; otherwise report it with the event"
)


def _malformed(raw_state: Mapping[str, Any], error: Exception) -> str:
    """What is wrong with an initial state that did not decode, down to the operation. Only
    runs on failure, so decoding a good event stays one pass."""
    operations = raw_state.get("Operations")
    if not isinstance(operations, list | tuple):
        return (
            f"InitialExecutionState.Operations must be a list, got {type(operations).__name__}"
        )
    for index, raw in enumerate(operations):
        try:
            _operation(raw, Operation)
        except Exception as op_error:
            op_id = raw.get("Id") if isinstance(raw, Mapping) else None
            which = f" (Id {op_id!r})" if op_id else ""
            return (
                f"InitialExecutionState.Operations[{index}]{which} is malformed: "
                f"{_reason(op_error)}"
            )
    return f"InitialExecutionState could not be decoded: {_reason(error)}"


def _reason(error: Exception) -> str:
    if isinstance(error, KeyError):
        return f"it has no {error.args[0]}"
    return str(error) or type(error).__name__


def _finished(status: str, result: str | None = None, error: ErrorObject | None = None) -> dict[
    str, Any
]:
    """The handler's output: ``DurableInvocationOutput`` in wire form, written out by hand
    because every invocation ends here."""
    output: dict[str, Any] = {"Status": status}
    if result is not None:
        output["Result"] = result
    if error is not None:
        output["Error"] = to_wire(error, event_converter)
    return output


def invocation_flow(
    event: object,
    handler: Callable[..., Any],
    input_serdes: SerDes[Any],
    result_serdes: SerDes[Any],
    make_execution: MakeExecution = Execution,
    remaining_ms: Callable[[], int] | None = None,
    now_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    plugins: PluginSet | None = None,
    request_id: str | None = None,
) -> Generator[Effect, Any, dict[str, Any]]:
    """Decode ``event``, read the rest of the operation log, run ``handler(input, root
    context)`` and turn its outcome into the handler output. ``remaining_ms`` is the Lambda
    context's clock: milliseconds before Lambda ends the invocation (deadline awareness).
    ``plugins`` observe the invocation once its input is decoded (``request_id``: Lambda's).
    The log is read with the garbage collector paused (``LogReading``)."""
    reading = LogReading()
    try:
        decoded = decode_event(event)
        operations = decoded.operations
        if decoded.next_marker:
            try:
                operations += yield from pages_flow(
                    decoded.arn, decoded.token, decoded.next_marker
                )
            except Exception as error:
                return _backend_failed(error)
        execution = make_execution(decoded.arn, decoded.token, operations)
        reading.read(len(operations))
        execution.remaining_ms = remaining_ms
        own_id = execution_id(execution.arn)
        root = Scope(execution, IdSequence(None))
        if execution.execution_operation is None:
            raise InvalidEventError(
                f"The operations of {decoded.arn} ({len(operations)} of them, every page read) "
                f"have no EXECUTION operation, so there is no input to run the handler with. "
                f"{_NOT_FROM_THE_SERVICE}."
            )
        payload = execution.input_payload
        try:
            user_input = root.decode(
                input_serdes, payload or None, own_id, subject="the execution's input"
            )
        except SerDesError as error:
            if payload in (None, "", "null"):
                error = SerDesError(
                    f"{error}. The execution was started without an input (null) but the "
                    "handler expects one: start it with an input (the CLI: run ... --input "
                    "'<json>')"
                )
            return _finished("FAILED", error=error_object(error))
        if plugins is None or not plugins.factories:
            return (yield from _run(root, own_id, handler, user_input, result_serdes, now_ms))
        hooks = execution.hooks = Hooks.start(plugins, execution, request_id, decoded.updated_ids)
        try:
            output = yield from _run(root, own_id, handler, user_input, result_serdes, now_ms)
        except BaseException as error:
            hooks.invocation_end(None, error)
            raise
        hooks.invocation_end(output)
        return output
    finally:
        reading.close()


def _run(
    root: Scope,
    own_id: str,
    handler: Callable[..., Any],
    user_input: Any,
    result_serdes: SerDes[Any],
    now_ms: Callable[[], int],
) -> Generator[Effect, Any, dict[str, Any]]:
    """Run the handler with the root context and turn its outcome into the output."""
    execution = root.execution
    try:
        value = yield RunInContext(lambda ctx: handler(user_input, ctx), root)
        if root.ids.suspended is not None:  # the handler caught its suspension and returned
            raise SuspendExecution(root.ids.suspended)
    except SuspendExecution:
        return (yield from _flush(root, ())) or _finished("PENDING")
    except CheckpointFailed as failed:
        return _backend_failed(failed.error)
    except Exception as error:
        failure = execution.queue.failure or execution.fatal or error
        if failure is error and root.ids.suspended is not None:
            # The handler caught its suspension and raised instead: it still suspends.
            return (yield from _flush(root, ())) or _finished("PENDING")
        if isinstance(failure, InvocationError):
            return _backend_failed(failure)
        return (yield from _flush(root, ())) or _finished("FAILED", error=error_object(failure))
    late_failure = execution.queue.failure or execution.fatal
    if late_failure is not None:
        return _backend_failed(late_failure)
    dropped = execution.never_awaited()
    if dropped is not None:
        unawaited = error_object(OperationNotAwaitedError(dropped))
        return (yield from _flush(root, ())) or _finished("FAILED", error=unawaited)
    try:
        payload = root.encode(result_serdes, value, own_id, "context")
    except SerDesError as error:
        return _finished("FAILED", error=error_object(error))
    updates: tuple[OperationUpdate, ...] = ()
    if _over_response_limit(payload):
        updates = (
            OperationUpdate(
                id=f"execution-result-{now_ms()}",
                type=OperationType.EXECUTION,
                action=OperationAction.SUCCEED,
                payload=payload,
            ),
        )
        payload = ""
    return (yield from _flush(root, updates)) or _finished("SUCCEEDED", result=payload)


_JSON_BYTES_PER_CHAR = 12
"""The most ``json.dumps`` writes for one character: a surrogate pair as two ``\\uXXXX``."""


def _over_response_limit(payload: str) -> bool:
    """Whether the result is too large to return inline; measured only near the limit."""
    if len(payload) * _JSON_BYTES_PER_CHAR + 2 <= MAX_RESPONSE_BYTES:
        return False
    return json_string_size(payload) > MAX_RESPONSE_BYTES


def _flush(
    root: Scope, updates: tuple[OperationUpdate, ...]
) -> Generator[Effect, Any, dict[str, Any] | None]:
    """Commit what is queued before answering; None when that went through.

    A revoked token ends as PENDING, even on this last batch (protocol.md §4), and a failed
    call like any other. With nothing new and nothing uncommitted there is no call to make.
    """
    queue = root.execution.queue
    if updates or queue.committed < queue.queued:
        try:
            yield root.commit(updates)
        except SuspendExecution:
            return _finished("PENDING")
        except CheckpointFailed as failed:
            return _backend_failed(failed.error)
    if queue.revoked:
        return _finished("PENDING")
    return None


def _backend_failed(error: BaseException) -> dict[str, Any]:
    """Retryable errors (a service error, a user's ``InvocationError``) go back to Lambda;
    anything else fails the execution."""
    if (isinstance(error, InvocationError) and error.is_retryable()) or not isinstance(
        error, Exception
    ):
        raise error
    return _finished("FAILED", error=error_object(error))

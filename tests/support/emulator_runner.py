"""The official ``DurableFunctionTestRunner`` interface over AWS's emulator.

A test written against the official testing runner calls ``run``, ``run_async``,
``wait_for_callback``, ``send_callback_*``, ``wait_for_result`` and
``register_durable_function``. ``EmulatorTestRunner`` answers the same calls by running the
handler as a Lambda function the emulator invokes, over the durable execution API: the
handler checkpoints to the emulator over boto3 and the result is read back from
``GetDurableExecution`` and its history. Porting tests bind it in place of the runner, so the
same test text runs on our LocalBackend and on the emulator.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from durable_backend.backend import ExecutionStatus
from durable_backend.execution import InvocationStatus
from durable_backend.lambda_service import ErrorObject
from durable_backend.testing import operations_from_events
from durable_backend.testing._test_runner import child_context_handler, ready_callback
from durable_backend.testing.runner import DurableFunctionTestResult, create_operation
from tests.e2e._runs import StallWatch, emulator_history, event_keys, traced
from tests.support.emulator import INVOKE_TARGETS, Emulator

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_lambda.type_defs import ErrorObjectTypeDef

POLL_SECONDS = 0.05


def _wire_error(error: ErrorObject) -> ErrorObjectTypeDef:
    wire = {"ErrorMessage": error.message, "ErrorType": error.type, "ErrorData": error.data,
            "StackTrace": list(error.stack_trace or ()) or None}
    return cast("ErrorObjectTypeDef", {key: value for key, value in wire.items() if value})


def _error(wire: dict[str, Any] | None) -> ErrorObject | None:
    if wire is None:
        return None
    trace = wire.get("StackTrace")
    return ErrorObject(wire.get("ErrorMessage"), wire.get("ErrorType"), wire.get("ErrorData"),
                       tuple(trace) if trace else None)


class EmulatorTestRunner:
    """``DurableFunctionTestRunner(handler=...)`` whose executions run on the emulator."""

    def __init__(self, emulator: Emulator, handler: Callable[..., Any], **_: Any) -> None:
        self._emulator = emulator
        self._client: LambdaClient = emulator.client()
        self._function_name = f"port-{uuid.uuid4().hex[:12]}"
        self._registered = [self._function_name]
        self._calls: list[str] = []
        emulator.lambda_endpoint.register(self._function_name, traced(handler, self._calls))

    def __enter__(self) -> EmulatorTestRunner:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        for name in self._registered:
            self._emulator.lambda_endpoint.unregister(name)

    def register_durable_function(
        self, function_name: str, handler: Callable[..., Any], **_: Any
    ) -> EmulatorTestRunner:
        if function_name not in INVOKE_TARGETS:
            raise AssertionError(
                f"{function_name!r} is not an invoke target of the test emulator: "
                f"add it to INVOKE_TARGETS in tests/support/emulator.py"
            )
        self._emulator.lambda_endpoint.register(function_name, handler)
        self._registered.append(function_name)
        return self

    def register_function(
        self, function_name: str, handler: Callable[..., Any]
    ) -> EmulatorTestRunner:
        return self.register_durable_function(function_name, handler)

    def run(self, input: str | None = None, execution_timeout: int | None = None,
            timeout: int | None = None, **_: Any) -> DurableFunctionTestResult:
        arn = self.run_async(input)
        return self.wait_for_result(arn, execution_timeout or timeout or 60)

    def run_async(self, input: str | None = None, *_: Any, **__: Any) -> str:
        return self._emulator.start_execution(
            self._function_name, input if input is not None else "null",
            execution_name=f"port-{uuid.uuid4().hex[:8]}",
        )

    def _events(self, arn: str) -> list[dict[str, Any]]:
        return emulator_history(self._client, arn)

    def wait_for_result(self, execution_arn: str, timeout: int = 60) -> DurableFunctionTestResult:
        # The execution's own timeout, not less than a minute: a shared CI machine can stall
        # the emulator's workers, and the limit only matters when a test already fails.
        deadline = time.monotonic() + max(timeout, 60)
        watch = StallWatch(self._calls)
        while True:
            execution: Any = self._client.get_durable_execution(DurableExecutionArn=execution_arn)
            if execution["Status"] != "RUNNING":
                break
            events = self._events(execution_arn)
            watch.check(execution_arn, events, self._emulator)
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"{execution_arn} did not end within {timeout}s; history so far: "
                    f"{event_keys(events)}; handler calls {self._calls}; "
                    f"emulator log: {self._emulator.log_path}")
            time.sleep(POLL_SECONDS)
        operations = operations_from_events(self._events(execution_arn))
        status = ExecutionStatus(execution["Status"])
        return DurableFunctionTestResult(
            status=InvocationStatus.SUCCEEDED if status is ExecutionStatus.SUCCEEDED
            else InvocationStatus.FAILED,
            operations=[create_operation(op, operations) for op in operations
                        if op.parent_id is None and op.type.value != "EXECUTION"],
            result=execution.get("Result"),
            error=_error(execution.get("Error")),
            execution_status=status,
        )

    def wait_for_callback(self, execution_arn: str, name: str | None = None,
                          timeout: int = 60) -> str:
        deadline = time.monotonic() + timeout
        while (callback_id := ready_callback(self._events(execution_arn), name)) is None:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"Callback did not become available within {timeout}s")
            time.sleep(POLL_SECONDS)
        return callback_id

    def send_callback_success(self, callback_id: str, result: bytes | None = None) -> None:
        self._client.send_durable_execution_callback_success(
            CallbackId=callback_id, **({"Result": result} if result is not None else {})
        )

    def send_callback_failure(self, callback_id: str, error: ErrorObject | None = None) -> None:
        if error is None:
            self._client.send_durable_execution_callback_failure(CallbackId=callback_id)
        else:
            self._client.send_durable_execution_callback_failure(
                CallbackId=callback_id, Error=_wire_error(error)
            )

    def send_callback_heartbeat(self, callback_id: str) -> None:
        self._client.send_durable_execution_callback_heartbeat(CallbackId=callback_id)


def child_context_runner(emulator: Emulator) -> Callable[..., EmulatorTestRunner]:
    """``DurableChildContextTestRunner(context_function, *args, **kwargs)`` on the emulator."""

    def make(context_function: Callable[..., Callable[[Any], Any]], *args: Any,
             skip_time: bool = True, **kwargs: Any) -> EmulatorTestRunner:
        return EmulatorTestRunner(
            emulator, child_context_handler(context_function, *args, **kwargs))

    return make

"""Executions in the real service, read and controlled in the shapes ``LocalBackend`` uses.

The CLI's ``--aws`` commands use this instead of the local SQLite backend: the same method names
(``list_executions``, ``get_execution``, ``history_events``, ``stop_execution``,
``send_callback_*``) over boto3's ``lambda`` client, so one rendering serves both. Credentials,
region (``AWS_REGION`` first, as in Lambda) and ``AWS_ENDPOINT_URL_LAMBDA`` are boto3's usual
configuration. Failures are the backend's typed ``DurableError``s, so an ``AccessDenied`` names
the permission the caller lacks.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from durable_backend._classify import classify, restore_error_code
from durable_backend._codec import boto_converter, to_wire
from durable_backend._errors import InvalidRequestError
from durable_backend._models import ErrorObject, ExecutionStatus

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

HISTORY_PAGE = 1000
LIST_EXECUTIONS = "ListDurableExecutionsByFunction"


def aws_client() -> LambdaClient:
    """A ``lambda`` client from boto3's configuration as it is now (a new session, not boto3's
    default one with the credentials it cached), with botocore's own (standard) retries."""
    client: LambdaClient = boto3.session.Session().client(  # pyright: ignore[reportUnknownMemberType]
        "lambda", region_name=os.environ.get("AWS_REGION") or None
    )
    return client


class AwsExecutions:
    """The service's durable executions, as the CLI reads and answers them."""

    def __init__(self, client: LambdaClient | None = None) -> None:
        self.client = client if client is not None else aws_client()
        self.client.meta.events.register(
            "after-call.lambda", restore_error_code, unique_id="durable_backend.restore_error_code"
        )

    def __enter__(self) -> AwsExecutions:
        return self

    def __exit__(self, *_: object) -> None:
        self.client.close()

    def list_executions(
        self,
        function_name: str | None = None,
        *,
        status: ExecutionStatus | None = None,
        marker: str = "",
        max_items: int = 50,
    ) -> dict[str, Any]:
        """``ListDurableExecutionsByFunction``: the service lists one function's executions."""
        if not function_name:
            raise InvalidRequestError(
                "the service lists executions per function: name one (--function NAME, "
                "optionally NAME:ALIAS)", call=LIST_EXECUTIONS,
            )
        params: dict[str, Any] = {"FunctionName": function_name, "MaxItems": max_items}
        if ":" in function_name and not function_name.startswith("arn:"):
            params["FunctionName"], params["Qualifier"] = function_name.split(":", 1)
        if status is not None:
            params["Statuses"] = [status.value]
        if marker:
            params["Marker"] = marker
        page = self._call(LIST_EXECUTIONS, self.client.list_durable_executions_by_function, params)
        return {"DurableExecutions": page.get("DurableExecutions", []),
                "NextMarker": page.get("NextMarker") or ""}

    def get_execution(self, arn: str) -> dict[str, Any]:
        """``GetDurableExecution``: status, input, result or error."""
        return self._call("GetDurableExecution", self.client.get_durable_execution,
                          {"DurableExecutionArn": arn})

    def history_events(self, arn: str) -> list[dict[str, Any]]:
        """Every history event, all pages of ``GetDurableExecutionHistory``."""
        events: list[dict[str, Any]] = []
        params: dict[str, Any] = {
            "DurableExecutionArn": arn, "IncludeExecutionData": True, "MaxItems": HISTORY_PAGE,
        }
        while True:
            page = self._call("GetDurableExecutionHistory",
                              self.client.get_durable_execution_history, params)
            events.extend(page.get("Events", []))
            params["Marker"] = page.get("NextMarker") or ""
            if not params["Marker"]:
                return events

    def stop_execution(self, arn: str, error: ErrorObject | None = None) -> dict[str, Any]:
        """``StopDurableExecution``: a running execution becomes STOPPED."""
        params: dict[str, Any] = {"DurableExecutionArn": arn}
        if error is not None:
            params["Error"] = to_wire(error, boto_converter)
        return self._call("StopDurableExecution", self.client.stop_durable_execution, params)

    def send_callback_success(self, callback_id: str, result: str | bytes | None = None) -> None:
        """``SendDurableExecutionCallbackSuccess``; the result is sent as the raw body."""
        params: dict[str, Any] = {"CallbackId": callback_id}
        if result is not None:
            params["Result"] = result
        self._call("SendDurableExecutionCallbackSuccess",
                   self.client.send_durable_execution_callback_success, params)

    def send_callback_failure(self, callback_id: str, error: ErrorObject | None = None) -> None:
        error_wire = to_wire(error or ErrorObject(), boto_converter)
        params = {"CallbackId": callback_id, "Error": error_wire}
        self._call("SendDurableExecutionCallbackFailure",
                   self.client.send_durable_execution_callback_failure, params)

    def send_callback_heartbeat(self, callback_id: str) -> None:
        self._call("SendDurableExecutionCallbackHeartbeat",
                   self.client.send_durable_execution_callback_heartbeat,
                   {"CallbackId": callback_id})

    @staticmethod
    def _call(call: str, method: Callable[..., Any], params: dict[str, Any]) -> dict[str, Any]:
        """``method(**params)`` without botocore's metadata; failures as typed errors."""
        try:
            response = dict(method(**params))
        except (ClientError, BotoCoreError) as exc:
            raise classify(exc, call) from exc
        response.pop("ResponseMetadata", None)
        return response

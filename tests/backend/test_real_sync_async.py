"""Fault injection for both real backends: one set of scenarios, run on the sync and async twin.

Service errors come from botocore's ``Stubber``; lost responses and raw wire shapes (the
``Retry-After`` header, the emulator's header-less errors) from a ``before-send`` hook that
answers instead of the network, so botocore's own parsing runs.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.config import Config
from botocore.exceptions import ConnectionClosedError, EndpointConnectionError, ReadTimeoutError
from botocore.stub import ANY, Stubber

import durable_backend as db
from durable_backend._errors import (
    DurableError,
    InvalidRequestError,
    ServiceUnavailableError,
    StaleCheckpointTokenError,
    ThrottledError,
)
from durable_backend._models import (
    CheckpointDurableExecutionOutput,
    GetDurableExecutionStateOutput,
    OperationAction,
    OperationStatus,
    OperationType,
    OperationUpdate,
    StepOptions,
)
from durable_backend._real import AsyncRealBackend, RetryPolicy, SyncRealBackend

ARN = "arn:aws:lambda:us-east-1:123456789012:function:fn:$LATEST/durable-execution/n/id-1"
FAST = RetryPolicy(
    max_attempts=3, initial_delay_seconds=0.001, max_delay_seconds=0.002, max_total_seconds=5
)
UPDATES = (
    OperationUpdate(
        id="s1", type=OperationType.STEP, action=OperationAction.START, sub_type="Step"
    ),
    OperationUpdate(
        id="s1",
        type=OperationType.STEP,
        action=OperationAction.RETRY,
        sub_type="Step",
        step_options=StepOptions(next_attempt_delay_seconds=3),
    ),
)
WIRE_UPDATES = [
    {"Id": "s1", "Type": "STEP", "Action": "START", "SubType": "Step"},
    {"Id": "s1", "Type": "STEP", "Action": "RETRY", "SubType": "Step",
     "StepOptions": {"NextAttemptDelaySeconds": 3}},
]
STARTED = datetime(2025, 12, 1, 12, 0, 0, 500000, tzinfo=UTC)
OK_CHECKPOINT = {
    "CheckpointToken": "token-2",
    "NewExecutionState": {
        "Operations": [{"Id": "s1", "Type": "STEP", "Status": "PENDING", "SubType": "Step",
                        "StartTimestamp": STARTED, "StepDetails": {"Attempt": 1}}],
        "NextMarker": "",
    },
}


def make_client() -> Any:
    """A client that can reach nothing: every answer comes from a stub or a hook."""
    return boto3.client(
        "lambda",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )


class Twin:
    """Either backend behind one awaitable surface, so every scenario runs on both."""

    def __init__(self, kind: str, client: Any, retry: RetryPolicy) -> None:
        self.kind = kind
        self.sync = SyncRealBackend(client, retry=retry) if kind == "sync" else None
        self.async_ = AsyncRealBackend(client, retry=retry) if kind == "async" else None

    async def checkpoint(
        self, updates: Sequence[OperationUpdate] = UPDATES, client_token: str | None = None
    ) -> CheckpointDurableExecutionOutput:
        if self.sync is not None:
            return self.sync.checkpoint(ARN, "token-1", updates, client_token)
        assert self.async_ is not None
        return await self.async_.checkpoint(ARN, "token-1", updates, client_token)

    async def get_state(
        self, marker: str = "", max_items: int = 10
    ) -> GetDurableExecutionStateOutput:
        if self.sync is not None:
            return self.sync.get_execution_state(ARN, "token-1", marker, max_items)
        assert self.async_ is not None
        return await self.async_.get_execution_state(ARN, "token-1", marker, max_items)


@pytest.fixture(params=["sync", "async"])
def twin(request: pytest.FixtureRequest) -> Callable[..., Twin]:
    def make(client: Any, retry: RetryPolicy = FAST) -> Twin:
        return Twin(request.param, client, retry)

    return make


def record_params(client: Any, operation: str) -> list[dict[str, Any]]:
    """Every attempt's parameters, as the caller passed them to botocore."""
    seen: list[dict[str, Any]] = []
    client.meta.events.register(
        f"before-parameter-build.lambda.{operation}",
        lambda params, **_: seen.append(dict(params)),
    )
    return seen


@pytest.fixture
def stubbed() -> Iterator[tuple[Any, Stubber, list[dict[str, Any]]]]:
    client = make_client()
    seen = record_params(client, "CheckpointDurableExecution")
    with Stubber(client) as stubber:
        yield client, stubber, seen


def expect_checkpoint() -> dict[str, Any]:
    return {"DurableExecutionArn": ARN, "CheckpointToken": "token-1", "Updates": WIRE_UPDATES,
            "ClientToken": ANY}


# --- Stubber: service errors -------------------------------------------------------------------


async def test_throttle_then_success_reuses_client_token(stubbed: Any, twin: Any) -> None:
    client, stubber, seen = stubbed
    stubber.add_client_error("checkpoint_durable_execution", "TooManyRequestsException",
                             "Rate exceeded", 429)
    stubber.add_response("checkpoint_durable_execution", OK_CHECKPOINT, expect_checkpoint())
    output = await twin(client).checkpoint()
    stubber.assert_no_pending_responses()
    assert output.checkpoint_token == "token-2"
    assert output.new_execution_state is not None
    (op,) = output.new_execution_state.operations
    assert (op.id, op.status, op.step_details and op.step_details.attempt) == (
        "s1", OperationStatus.PENDING, 1)
    tokens = [p["ClientToken"] for p in seen]
    assert len(tokens) == 2 and tokens[0] == tokens[1] and 1 <= len(tokens[0]) <= 64


async def test_server_error_then_success(stubbed: Any, twin: Any) -> None:
    client, stubber, seen = stubbed
    stubber.add_client_error("checkpoint_durable_execution", "ServiceException", "boom", 500)
    stubber.add_response("checkpoint_durable_execution", OK_CHECKPOINT, expect_checkpoint())
    assert (await twin(client).checkpoint()).checkpoint_token == "token-2"
    assert len(seen) == 2 and seen[0]["ClientToken"] == seen[1]["ClientToken"]


async def test_retry_after_seconds_is_honoured(stubbed: Any, twin: Any) -> None:
    client, stubber, _ = stubbed
    stubber.add_client_error("checkpoint_durable_execution", "TooManyRequestsException", "slow",
                             429, modeled_fields={"retryAfterSeconds": "0.2"})
    stubber.add_response("checkpoint_durable_execution", OK_CHECKPOINT, expect_checkpoint())
    started = time.monotonic()
    await twin(client).checkpoint()
    assert time.monotonic() - started >= 0.2


async def test_retries_exhausted_raise_the_typed_error(stubbed: Any, twin: Any) -> None:
    client, stubber, seen = stubbed
    for _ in range(FAST.max_attempts):
        stubber.add_client_error("checkpoint_durable_execution", "ServiceException", "down", 503)
    with pytest.raises(ServiceUnavailableError) as caught:
        await twin(client).checkpoint()
    stubber.assert_no_pending_responses()
    assert len(seen) == FAST.max_attempts
    error = caught.value
    assert (error.code, error.http_status, error.call) == (
        "ServiceException", 503, "CheckpointDurableExecution")
    assert error.retry_invocation
    assert "CheckpointDurableExecution failed" in str(error)
    assert "Retries are exhausted" in str(error)


async def test_throttles_exhausted_raise_throttled_error(stubbed: Any, twin: Any) -> None:
    client, stubber, seen = stubbed
    for _ in range(FAST.max_attempts):
        stubber.add_client_error("checkpoint_durable_execution", "TooManyRequestsException",
                                 "Rate exceeded", 429)
    with pytest.raises(ThrottledError):
        await twin(client).checkpoint()
    assert len(seen) == FAST.max_attempts


async def test_total_time_bounds_attempts(stubbed: Any, twin: Any) -> None:
    client, stubber, seen = stubbed
    stubber.add_client_error("checkpoint_durable_execution", "TooManyRequestsException", "slow",
                             429, modeled_fields={"retryAfterSeconds": "30"})
    policy = RetryPolicy(max_attempts=5, initial_delay_seconds=0, max_delay_seconds=0,
                         max_total_seconds=1)
    started = time.monotonic()
    with pytest.raises(ThrottledError) as caught:
        await twin(client, policy).checkpoint()
    assert time.monotonic() - started < 1
    assert len(seen) == 1 and caught.value.retry_after_seconds == 30


async def test_invalid_parameter_is_not_retried(stubbed: Any, twin: Any) -> None:
    client, stubber, seen = stubbed
    stubber.add_client_error("checkpoint_durable_execution", "InvalidParameterValueException",
                             "Updates[1]: RETRY needs StepOptions", 400)
    with pytest.raises(InvalidRequestError) as caught:
        await twin(client).checkpoint()
    assert len(seen) == 1
    assert not caught.value.retry_invocation
    assert "RETRY needs StepOptions" in str(caught.value)


async def test_stale_token_is_typed_and_not_retried(stubbed: Any, twin: Any) -> None:
    client, stubber, seen = stubbed
    stubber.add_client_error("checkpoint_durable_execution", "InvalidParameterValueException",
                             "Invalid checkpoint token: already used", 400)
    with pytest.raises(StaleCheckpointTokenError) as caught:
        await twin(client).checkpoint()
    assert len(seen) == 1
    assert caught.value.retry_invocation
    assert "re-invokes it with a fresh token" in str(caught.value)


async def test_caller_client_token_is_sent_verbatim(stubbed: Any, twin: Any) -> None:
    client, stubber, seen = stubbed
    params = {**expect_checkpoint(), "ClientToken": "mine-1"}
    stubber.add_response("checkpoint_durable_execution", OK_CHECKPOINT, params)
    await twin(client).checkpoint(client_token="mine-1")
    assert seen[0]["ClientToken"] == "mine-1"


async def test_fresh_client_token_per_logical_call(stubbed: Any, twin: Any) -> None:
    client, stubber, seen = stubbed
    for _ in range(2):
        stubber.add_response("checkpoint_durable_execution", OK_CHECKPOINT, expect_checkpoint())
    backend = twin(client)
    await backend.checkpoint()
    await backend.checkpoint()
    assert seen[0]["ClientToken"] != seen[1]["ClientToken"]


async def test_get_state_pages_with_marker_and_retries(twin: Any) -> None:
    client = make_client()
    with Stubber(client) as stubber:
        stubber.add_client_error("get_durable_execution_state", "ServiceException", "x", 500)
        stubber.add_response(
            "get_durable_execution_state",
            {"Operations": [{"Id": "e", "Type": "EXECUTION", "Status": "STARTED",
                             "StartTimestamp": STARTED}],
             "NextMarker": "m2"},
            {"DurableExecutionArn": ARN, "CheckpointToken": "token-1", "MaxItems": 2},
        )
        stubber.add_response(
            "get_durable_execution_state",
            {"Operations": []},
            {"DurableExecutionArn": ARN, "CheckpointToken": "token-1", "Marker": "m2",
             "MaxItems": 2},
        )
        backend = twin(client)
        first = await backend.get_state("", 2)
        second = await backend.get_state("m2", 2)
        stubber.assert_no_pending_responses()
    assert [op.id for op in first.operations] == ["e"] and first.next_marker == "m2"
    assert second.operations == () and second.next_marker is None


# --- before-send: the wire itself --------------------------------------------------------------


def to_json(payload: Any) -> bytes:
    """The service's JSON: timestamps are epoch seconds."""
    return json.dumps(
        payload, default=lambda v: v.timestamp() if isinstance(v, datetime) else str(v)
    ).encode()


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


Reply = (
    Exception
    | tuple[int, dict[str, Any] | bytes, dict[str, str]]
    | Callable[..., AWSResponse]
)


class Wire:
    """Answers each attempt from a script; records what was sent."""

    def __init__(self, client: Any, *replies: Reply) -> None:
        self.replies = list(replies)
        self.bodies: list[dict[str, Any]] = []
        self.urls: list[str] = []
        client.meta.events.register("before-send.lambda", self)

    def __call__(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        self.urls.append(request.url)
        body = request.body
        raw = body if isinstance(body, bytes) else (body or "").encode()
        self.bodies.append(json.loads(raw) if raw else {})
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        if callable(reply):
            return reply(request)
        status, payload, headers = reply
        body = payload if isinstance(payload, bytes) else to_json(payload)
        return AWSResponse(request.url, status, headers, _Raw(body))


LOST = [
    ReadTimeoutError(endpoint_url="http://127.0.0.1:9"),
    ConnectionClosedError(endpoint_url="http://127.0.0.1:9"),
    EndpointConnectionError(endpoint_url="http://127.0.0.1:9"),
]


@pytest.mark.parametrize("lost", LOST, ids=lambda e: type(e).__name__)
async def test_lost_response_is_retried_with_the_same_client_token(
    twin: Any, lost: Exception
) -> None:
    client = make_client()
    wire = Wire(client, lost, (200, OK_CHECKPOINT, {}))
    output = await twin(client).checkpoint()
    assert output.checkpoint_token == "token-2"
    assert output.new_execution_state is not None
    assert output.new_execution_state.operations[0].start_timestamp == STARTED
    assert len(wire.bodies) == 2
    assert wire.bodies[0]["ClientToken"] == wire.bodies[1]["ClientToken"]
    assert wire.bodies[0]["Updates"] == WIRE_UPDATES


UNREADABLE = {
    "truncated": to_json(OK_CHECKPOINT)[:57],
    "garbled": b"\x1f\x8b\x08\x00\xde\xad\xbe\xef",
    "html": b"<html><body>502 Bad Gateway</body></html>",
    "empty": b"",
    "not-an-object": b'["CheckpointToken"]',
}


@pytest.mark.parametrize("body", UNREADABLE.values(), ids=UNREADABLE.keys())
async def test_unreadable_200_is_retried_with_the_same_client_token(
    twin: Any, body: bytes
) -> None:
    """A cut-off or garbled success is a lost response, not a response without a token."""
    client = make_client()
    wire = Wire(client, (200, body, {}), (200, OK_CHECKPOINT, {}))
    output = await twin(client).checkpoint()
    assert output.checkpoint_token == "token-2"
    assert len(wire.bodies) == 2
    assert wire.bodies[0]["ClientToken"] == wire.bodies[1]["ClientToken"]


async def test_handler_retries_a_checkpoint_whose_200_was_garbled(twin: Any) -> None:
    """The step's checkpoint is applied but its answer arrives garbled: the handler must send
    it again under the same ClientToken and succeed, not end PENDING as if revoked."""
    client = make_client()
    applied = {"CheckpointToken": "token-2", "NewExecutionState": {"Operations": []}}
    wire = Wire(client, (200, UNREADABLE["garbled"], {}), (200, applied, {}))
    event = {
        "DurableExecutionArn": ARN,
        "CheckpointToken": "token-1",
        "InitialExecutionState": {
            "Operations": [{"Id": "id-1", "Type": "EXECUTION", "Status": "STARTED",
                            "StartTimestamp": 1, "ExecutionDetails": {"InputPayload": '"x"'}}],
        },
    }
    backend = twin(client)
    if backend.sync is not None:
        handler = db.durable_execution(backend=backend.sync)(
            lambda name, ctx: ctx.step(lambda _: name + "!")
        )
        output = handler(event, None)
    else:

        async def main(name: str, ctx: db.AsyncDurableContext) -> str:
            return await ctx.step(lambda _: name + "!")

        output = await db.durable_execution(backend=backend.async_)(main).run_async(event)
    assert output == {"Status": "SUCCEEDED", "Result": '"x!"'}
    assert len(wire.bodies) == 2 and wire.bodies[0] == wire.bodies[1]


async def test_unreadable_200s_exhausted_raise_a_retryable_error(twin: Any) -> None:
    client = make_client()
    Wire(client, *[(200, UNREADABLE["truncated"], {}) for _ in range(FAST.max_attempts)])
    with pytest.raises(ServiceUnavailableError) as caught:
        await twin(client).checkpoint()
    error = caught.value
    assert (error.code, error.http_status, error.call) == (
        "UnreadableResponse", 200, "CheckpointDurableExecution")
    assert error.retry_invocation and "cut off or garbled" in str(error)


async def test_unreadable_state_page_is_retried(twin: Any) -> None:
    client = make_client()
    page = {"Operations": [{"Id": "e", "Type": "EXECUTION", "Status": "STARTED",
                            "StartTimestamp": STARTED}], "NextMarker": ""}
    wire = Wire(client, (200, to_json(page)[:30], {}), (200, page, {}))
    assert [op.id for op in (await twin(client).get_state()).operations] == ["e"]
    assert len(wire.urls) == 2


async def test_connection_errors_exhausted(twin: Any) -> None:
    client = make_client()
    Wire(client, *[EndpointConnectionError(endpoint_url="http://x") for _ in range(3)])
    with pytest.raises(ServiceUnavailableError) as caught:
        await twin(client).checkpoint()
    assert caught.value.code == "EndpointConnectionError" and caught.value.http_status is None


async def test_retry_after_header_on_the_wire(twin: Any) -> None:
    client = make_client()
    throttle = (429, {"message": "slow down"},
                {"x-amzn-ErrorType": "TooManyRequestsException", "Retry-After": "0.2"})
    wire = Wire(client, throttle, (200, OK_CHECKPOINT, {}))
    started = time.monotonic()
    assert (await twin(client).checkpoint()).checkpoint_token == "token-2"
    assert time.monotonic() - started >= 0.2 and len(wire.bodies) == 2


@pytest.mark.parametrize(
    ("status", "body", "expected", "code"),
    [
        (400, {"Type": "InvalidParameterValueException", "message": "Invalid checkpoint token"},
         StaleCheckpointTokenError, "InvalidParameterValueException"),
        (400, {"Type": "InvalidParameterValueException", "message": "bad update"},
         InvalidRequestError, "InvalidParameterValueException"),
        (400, {"message": "Invalid checkpoint token"}, StaleCheckpointTokenError, "400"),
    ],
)
async def test_emulator_shaped_errors(
    twin: Any, status: int, body: dict[str, Any], expected: type[DurableError], code: str
) -> None:
    """Code in a body ``Type`` and no ``x-amzn-ErrorType`` header, as dex-local-runner sends."""
    client = make_client()
    wire = Wire(client, (status, body, {"Content-Type": "application/json"}))
    with pytest.raises(expected) as caught:
        await twin(client).checkpoint()
    assert type(caught.value) is expected
    assert (caught.value.code, caught.value.http_status) == (code, status)
    assert len(wire.bodies) == 1


async def test_emulator_shaped_server_error_is_retried(twin: Any) -> None:
    client = make_client()
    wire = Wire(client, (500, {"Type": "ServiceException", "Message": "x"}, {}),
                (200, OK_CHECKPOINT, {}))
    assert (await twin(client).checkpoint()).checkpoint_token == "token-2"
    assert len(wire.bodies) == 2


# --- async only: cancellation ------------------------------------------------------------------


async def test_cancelled_checkpoint_completes_and_keeps_its_output() -> None:
    client = make_client()
    entered, release = threading.Event(), threading.Event()

    def slow_success(request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        entered.set()
        release.wait(timeout=10)
        return AWSResponse(request.url, 200, {}, _Raw(to_json(OK_CHECKPOINT)))

    client.meta.events.register("before-send.lambda", slow_success)
    backend = AsyncRealBackend(client, retry=FAST)
    task = asyncio.create_task(backend.checkpoint(ARN, "token-1", UPDATES))
    await asyncio.to_thread(entered.wait, 10)
    task.cancel()
    await asyncio.sleep(0.05)
    assert not task.done(), "cancellation must wait for the checkpoint in flight"
    assert backend.last_checkpoint_output(ARN) is None
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    kept = backend.last_checkpoint_output(ARN)
    assert kept is not None and kept.checkpoint_token == "token-2"


async def test_cancelled_checkpoint_that_fails_keeps_nothing() -> None:
    client = make_client()
    entered, release = threading.Event(), threading.Event()

    def slow_failure(request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        entered.set()
        release.wait(timeout=10)
        body = {"message": "bad"}
        headers = {"x-amzn-ErrorType": "InvalidParameterValueException"}
        return AWSResponse(request.url, 400, headers, _Raw(json.dumps(body).encode()))

    client.meta.events.register("before-send.lambda", slow_failure)
    backend = AsyncRealBackend(client, retry=FAST)
    task = asyncio.create_task(backend.checkpoint(ARN, "token-1", UPDATES))
    await asyncio.to_thread(entered.wait, 10)
    task.cancel()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert backend.last_checkpoint_output(ARN) is None


# --- configuration -----------------------------------------------------------------------------


def test_default_client_has_botocore_retries_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", "http://127.0.0.1:9")
    backend = SyncRealBackend()
    assert backend.client.meta.config.retries["total_max_attempts"] == 1
    assert backend.client.meta.region_name == "eu-west-1"
    assert backend.client.meta.endpoint_url == "http://127.0.0.1:9"


@pytest.mark.parametrize(
    "policy",
    [RetryPolicy(), FAST, RetryPolicy(max_attempts=2, max_total_seconds=8),
     RetryPolicy(max_attempts=1, max_total_seconds=20)],
    ids=["default", "fast", "two-attempts", "one-attempt"],
)
def test_default_client_timeouts_fit_the_retry_budget(
    monkeypatch: pytest.MonkeyPatch, policy: RetryPolicy
) -> None:
    """One attempt that never hears back must leave time for the retries the policy allows."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    config = SyncRealBackend(retry=policy).client.meta.config
    attempt = config.connect_timeout + config.read_timeout
    assert attempt * min(3, policy.max_attempts) <= policy.max_total_seconds + 1e-9
    assert config.read_timeout >= policy.max_total_seconds / 6


async def test_lost_response_on_the_default_client_is_retried_in_budget(
    monkeypatch: pytest.MonkeyPatch, twin: Any
) -> None:
    """The service applies the checkpoint but its answer never comes: the first attempt times
    out after the default client's read timeout, and the retry (same ClientToken) succeeds."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    policy = RetryPolicy(max_attempts=3, initial_delay_seconds=0.001, max_delay_seconds=0.002,
                         max_total_seconds=1.2)
    backend = twin(None, policy)
    client = (backend.sync or backend.async_.sync).client
    read_timeout = client.meta.config.read_timeout

    def never_answered(request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        time.sleep(read_timeout)
        raise ReadTimeoutError(endpoint_url=request.url)

    wire = Wire(client, never_answered, (200, OK_CHECKPOINT, {}))
    assert (await backend.checkpoint()).checkpoint_token == "token-2"
    assert len(wire.bodies) == 2
    assert wire.bodies[0]["ClientToken"] == wire.bodies[1]["ClientToken"]


@pytest.mark.parametrize(
    "kwargs",
    [{"max_attempts": 0}, {"initial_delay_seconds": -1}, {"max_total_seconds": -1},
     {"initial_delay_seconds": 2, "max_delay_seconds": 1}],
)
def test_retry_policy_rejects_nonsense(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)

"""The AWS service behind the backend Protocols, through boto3's ``lambda`` client.

botocore's own retries are set to one attempt on purpose, so attempts never multiply with
ours; tenacity retries throttling (honouring ``retryAfterSeconds``), 5xx, connection errors and
read timeouts with full-jitter exponential backoff, bounded in attempts and total time. Other
4xx are never retried. One ``ClientToken`` is used for every attempt of one checkpoint, so a
retry whose first attempt was applied but whose response was lost gets the same answer back
instead of a stale-token error. The default client's timeouts are sized from the same policy,
so a response that never arrives times out early enough for the retries to happen; a 2xx body
that arrives cut off or garbled is treated as lost too, not read as an empty answer.
"""

from __future__ import annotations

import asyncio
import functools
import os
import random
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any, TypeVar, cast

import boto3
from attrs import field, frozen
from attrs.validators import ge
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from tenacity import RetryCallState, Retrying, retry_if_exception_type
from tenacity.stop import stop_after_attempt, stop_before_delay

from durable_backend._backend import DEFAULT_MAX_ITEMS, AsyncDurableBackend, DurableBackend
from durable_backend._classify import classify, reject_unreadable_body, restore_error_code
from durable_backend._codec import boto_converter, from_wire, to_wire
from durable_backend._errors import ThrottledError, TransientError
from durable_backend._models import (
    CheckpointDurableExecutionOutput,
    GetDurableExecutionStateOutput,
    OperationUpdate,
)

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_lambda.type_defs import OperationUpdateTypeDef

T = TypeVar("T")

CHECKPOINT = "CheckpointDurableExecution"
GET_STATE = "GetDurableExecutionState"


@frozen
class RetryPolicy:
    """How hard one backend call tries before its typed error reaches the caller.

    Waits are full jitter: uniform in ``[0, min(max_delay, initial_delay * 2**n)]``, or the
    service's ``retryAfterSeconds`` when a throttle names one. No attempt starts once the
    next wait would take the call past ``max_total_seconds``.
    """

    max_attempts: int = field(default=5, validator=ge(1))
    initial_delay_seconds: float = field(default=0.1, validator=ge(0))
    max_delay_seconds: float = field(default=5.0, validator=ge(0))
    max_total_seconds: float = field(default=30.0, validator=ge(0))

    def __attrs_post_init__(self) -> None:
        if self.initial_delay_seconds > self.max_delay_seconds:
            raise ValueError(
                f"RetryPolicy: initial_delay_seconds ({self.initial_delay_seconds}) must not "
                f"exceed max_delay_seconds ({self.max_delay_seconds})"
            )

    @property
    def attempt_seconds(self) -> float:
        """How long one attempt may take to connect and read: a share of the total budget, so a
        response lost in flight still leaves time for up to two more attempts."""
        return self.max_total_seconds / min(3, self.max_attempts)

    def wait_seconds(self, state: RetryCallState) -> float:
        """The pause before the next attempt (a tenacity ``wait`` callable)."""
        error = state.outcome.exception() if state.outcome is not None else None
        if isinstance(error, ThrottledError) and error.retry_after_seconds is not None:
            return error.retry_after_seconds
        ceiling = self.initial_delay_seconds * 2 ** (state.attempt_number - 1)
        return random.uniform(0, min(self.max_delay_seconds, ceiling))

    def retrying(self) -> Retrying:
        return Retrying(
            retry=retry_if_exception_type(TransientError),
            stop=stop_after_attempt(self.max_attempts) | stop_before_delay(self.max_total_seconds),
            wait=self.wait_seconds,
            sleep=time.sleep,
            reraise=True,
        )


def default_client(retry: RetryPolicy | None = None) -> LambdaClient:
    """boto3's ``lambda`` client with botocore's retries off (ours replace them).

    Connect and read timeouts share ``retry.attempt_seconds`` (a quarter to connect), so a lost
    response is retried with the same ClientToken instead of using up the whole budget. The
    region is Lambda's ``AWS_REGION`` when set (botocore itself reads only
    ``AWS_DEFAULT_REGION``); credentials, profiles and ``AWS_ENDPOINT_URL_LAMBDA`` come from
    boto3's usual configuration.
    """
    attempt = (retry if retry is not None else RetryPolicy()).attempt_seconds
    config = Config(
        # total_max_attempts counts the first attempt; botocore's max_attempts would not.
        retries={"mode": "standard", "total_max_attempts": 1},
        connect_timeout=attempt / 4,
        read_timeout=attempt * 3 / 4,
    )
    return boto3.client(  # pyright: ignore[reportUnknownMemberType]
        "lambda", region_name=os.environ.get("AWS_REGION") or None, config=config
    )


# What a default client is built from; in a Lambda sandbox it never changes: one client.
_CLIENT_ENV = (
    "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_LAMBDA",
)
_shared: dict[tuple[str | None, ...], LambdaClient] = {}
_shared_lock = threading.Lock()


def shared_client() -> LambdaClient:
    """The process's ``default_client()``, made once for every handler and invocation.

    Decorated handlers without a backend use it: a sandbox makes one client (tens of
    milliseconds and a connection pool) and reuses it while it stays warm.
    """
    key = tuple(os.environ.get(name) for name in _CLIENT_ENV)
    with _shared_lock:
        if key not in _shared:
            _shared[key] = default_client()
        return _shared[key]


class SyncRealBackend:
    """``DurableBackend`` over boto3. Thread-safe: the boto3 client is.

    A client passed in gets an ``after-call`` hook (``restore_error_code``) and ``before-parse``
    hooks (``reject_unreadable_body``). It should have botocore's retries off, or its attempts
    multiply with ours, and timeouts that fit the retry policy (see ``default_client``).
    """

    def __init__(self, client: LambdaClient | None = None, *, retry: RetryPolicy | None = None):
        self.retry = retry if retry is not None else RetryPolicy()
        self.client = client if client is not None else default_client(self.retry)
        events = self.client.meta.events
        events.register(
            "after-call.lambda", restore_error_code, unique_id="durable_backend.restore_error_code"
        )
        for call in (CHECKPOINT, GET_STATE):
            events.register(
                f"before-parse.lambda.{call}",
                reject_unreadable_body,
                unique_id=f"durable_backend.reject_unreadable_body.{call}",
            )

    def checkpoint(
        self,
        arn: str,
        checkpoint_token: str,
        updates: Sequence[OperationUpdate],
        client_token: str | None = None,
    ) -> CheckpointDurableExecutionOutput:
        wire_updates = cast(
            "list[OperationUpdateTypeDef]", [to_wire(u, boto_converter) for u in updates]
        )
        token = client_token if client_token is not None else str(uuid.uuid4())
        response = self._call(
            CHECKPOINT,
            lambda: self.client.checkpoint_durable_execution(
                DurableExecutionArn=arn,
                CheckpointToken=checkpoint_token,
                Updates=wire_updates,
                ClientToken=token,
            ),
        )
        return from_wire(response, CheckpointDurableExecutionOutput, boto_converter)

    def get_execution_state(
        self,
        arn: str,
        checkpoint_token: str,
        next_marker: str,
        max_items: int = DEFAULT_MAX_ITEMS,
    ) -> GetDurableExecutionStateOutput:
        def attempt() -> Mapping[str, Any]:
            if next_marker:
                return self.client.get_durable_execution_state(
                    DurableExecutionArn=arn,
                    CheckpointToken=checkpoint_token,
                    Marker=next_marker,
                    MaxItems=max_items,
                )
            return self.client.get_durable_execution_state(
                DurableExecutionArn=arn, CheckpointToken=checkpoint_token, MaxItems=max_items
            )

        response = self._call(GET_STATE, attempt)
        return from_wire(response, GetDurableExecutionStateOutput, boto_converter)

    def batch_checkpoint(
        self,
        arn: str,
        checkpoint_token: str,
        updates: Sequence[OperationUpdate],
        client_token: str | None = None,
    ) -> CheckpointDurableExecutionOutput:
        return self.checkpoint(arn, checkpoint_token, updates, client_token)

    def _call(self, call: str, attempt: Callable[[], Mapping[str, Any]]) -> Mapping[str, Any]:
        def typed_attempt() -> Mapping[str, Any]:
            try:
                return attempt()
            except (ClientError, BotoCoreError) as exc:
                raise classify(exc, call) from exc

        return self.retry.retrying()(typed_attempt)


class AsyncRealBackend:
    """``AsyncDurableBackend``: the sync backend's calls, run in an executor.

    Cancelling a task awaiting ``checkpoint`` does not abandon the call: it is shielded and
    runs to its end (the token may already be consumed), its output is stored where
    ``last_checkpoint_output(arn)`` returns it, and only then is ``CancelledError`` re-raised.
    Cancellation therefore waits for the call in flight, at most the retry policy's
    ``max_total_seconds`` plus one attempt. ``get_execution_state`` consumes nothing and is
    cancelled at once.
    """

    def __init__(
        self,
        client: LambdaClient | None = None,
        *,
        retry: RetryPolicy | None = None,
        executor: Executor | None = None,
    ):
        self.sync = SyncRealBackend(client, retry=retry)
        self.executor = executor
        self._last_outputs: dict[str, CheckpointDurableExecutionOutput] = {}

    def last_checkpoint_output(self, arn: str) -> CheckpointDurableExecutionOutput | None:
        """The output of the last checkpoint for ``arn`` that completed, even if cancelled."""
        return self._last_outputs.get(arn)

    async def checkpoint(
        self,
        arn: str,
        checkpoint_token: str,
        updates: Sequence[OperationUpdate],
        client_token: str | None = None,
    ) -> CheckpointDurableExecutionOutput:
        token = client_token if client_token is not None else str(uuid.uuid4())
        in_flight = self._run(self.sync.checkpoint, arn, checkpoint_token, updates, token)
        try:
            output = await asyncio.shield(in_flight)
        except asyncio.CancelledError:
            await _wait_ignoring_cancellation(in_flight)
            if not in_flight.cancelled() and in_flight.exception() is None:
                self._last_outputs[arn] = in_flight.result()
            raise
        self._last_outputs[arn] = output
        return output

    async def get_execution_state(
        self,
        arn: str,
        checkpoint_token: str,
        next_marker: str,
        max_items: int = DEFAULT_MAX_ITEMS,
    ) -> GetDurableExecutionStateOutput:
        return await self._run(
            self.sync.get_execution_state, arn, checkpoint_token, next_marker, max_items
        )

    async def batch_checkpoint(
        self,
        arn: str,
        checkpoint_token: str,
        updates: Sequence[OperationUpdate],
        client_token: str | None = None,
    ) -> CheckpointDurableExecutionOutput:
        return await self.checkpoint(arn, checkpoint_token, updates, client_token)

    def _run(self, func: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        loop = asyncio.get_running_loop()
        return loop.run_in_executor(self.executor, functools.partial(func, *args))


async def _wait_ignoring_cancellation(future: asyncio.Future[Any]) -> None:
    """Wait until ``future`` is done, however often the waiting task is cancelled meanwhile."""
    while not future.done():
        try:
            await asyncio.wait([future])
        except asyncio.CancelledError:
            continue


_sync_conforms: type[DurableBackend] = SyncRealBackend
_async_conforms: type[AsyncDurableBackend] = AsyncRealBackend

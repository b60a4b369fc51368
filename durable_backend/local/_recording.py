"""A backend wrapper that records every data-plane call, so runs can be asserted on afterwards.

The runner puts one in front of its ``LocalBackend`` (behind ``InlineAsyncBackend`` for async
handlers): tests then count checkpoint calls per invocation without the backend itself keeping
a log it does not need.
"""

from __future__ import annotations

from collections.abc import Sequence

from attrs import frozen

from durable_backend._backend import DEFAULT_MAX_ITEMS, DurableBackend
from durable_backend._models import (
    CheckpointDurableExecutionOutput,
    GetDurableExecutionStateOutput,
    OperationUpdate,
)


@frozen
class CheckpointCall:
    """One ``checkpoint``/``batch_checkpoint`` call as sent (recorded even if rejected).

    ``invocation`` numbers the invocations of ``arn`` from 1.
    """

    arn: str
    invocation: int
    checkpoint_token: str
    updates: tuple[OperationUpdate, ...]
    client_token: str | None


@frozen
class StateCall:
    """One ``get_execution_state`` call as sent."""

    arn: str
    invocation: int
    checkpoint_token: str
    next_marker: str
    max_items: int


Call = CheckpointCall | StateCall


class CallLog:
    """The calls of every execution a runner drives, and each one's current invocation."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.invocations: dict[str, int] = {}

    def begin_invocation(self, arn: str) -> None:
        self.invocations[arn] = self.invocations.get(arn, 0) + 1

    def checkpoint(
        self, arn: str, token: str, updates: Sequence[OperationUpdate], client_token: str | None
    ) -> None:
        invocation = self.invocations.get(arn, 0)
        self.calls.append(CheckpointCall(arn, invocation, token, tuple(updates), client_token))

    def state(self, arn: str, token: str, marker: str, max_items: int) -> None:
        self.calls.append(StateCall(arn, self.invocations.get(arn, 0), token, marker, max_items))


class RecordingBackend:
    """A ``DurableBackend`` that logs each call to ``log`` and forwards it to ``inner``."""

    def __init__(self, inner: DurableBackend, log: CallLog) -> None:
        self.inner = inner
        self.log = log

    def checkpoint(
        self,
        arn: str,
        checkpoint_token: str,
        updates: Sequence[OperationUpdate],
        client_token: str | None = None,
    ) -> CheckpointDurableExecutionOutput:
        self.log.checkpoint(arn, checkpoint_token, updates, client_token)
        return self.inner.checkpoint(arn, checkpoint_token, updates, client_token)

    def batch_checkpoint(
        self,
        arn: str,
        checkpoint_token: str,
        updates: Sequence[OperationUpdate],
        client_token: str | None = None,
    ) -> CheckpointDurableExecutionOutput:
        self.log.checkpoint(arn, checkpoint_token, updates, client_token)
        return self.inner.batch_checkpoint(arn, checkpoint_token, updates, client_token)

    def get_execution_state(
        self,
        arn: str,
        checkpoint_token: str,
        next_marker: str,
        max_items: int = DEFAULT_MAX_ITEMS,
    ) -> GetDurableExecutionStateOutput:
        self.log.state(arn, checkpoint_token, next_marker, max_items)
        return self.inner.get_execution_state(arn, checkpoint_token, next_marker, max_items)


_sync_check: type[DurableBackend] = RecordingBackend

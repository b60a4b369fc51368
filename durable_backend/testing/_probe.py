"""Backends for ``assert_pure_replay``: they record any call and refuse it.

A replay of a finished execution must not talk to the backend at all, so the probe needs no
state: any call is the finding.
"""

from __future__ import annotations

from collections.abc import Sequence

from durable_backend._backend import (
    DEFAULT_MAX_ITEMS,
    AsyncDurableBackend,
    DurableBackend,
    InlineAsyncBackend,
)
from durable_backend._models import (
    CheckpointDurableExecutionOutput,
    GetDurableExecutionStateOutput,
    OperationUpdate,
)


class ReplayProbeError(RuntimeError):
    """Raised by the probe so a replay that wants the backend stops right there."""


def _describe(updates: Sequence[OperationUpdate]) -> str:
    parts = [f"{u.type.value} {u.action.value} {u.name or u.id}" for u in updates]
    return f"checkpoint [{', '.join(parts)}]"


class ReplayProbe:
    """A ``DurableBackend`` that records and refuses every call."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def _refuse(self, what: str) -> ReplayProbeError:
        self.calls.append(what)
        return ReplayProbeError(f"a pure replay made a backend call: {what}")

    def checkpoint(
        self,
        arn: str,
        checkpoint_token: str,
        updates: Sequence[OperationUpdate],
        client_token: str | None = None,
    ) -> CheckpointDurableExecutionOutput:
        raise self._refuse(_describe(updates))

    def batch_checkpoint(
        self,
        arn: str,
        checkpoint_token: str,
        updates: Sequence[OperationUpdate],
        client_token: str | None = None,
    ) -> CheckpointDurableExecutionOutput:
        raise self._refuse(_describe(updates))

    def get_execution_state(
        self,
        arn: str,
        checkpoint_token: str,
        next_marker: str,
        max_items: int = DEFAULT_MAX_ITEMS,
    ) -> GetDurableExecutionStateOutput:
        raise self._refuse(f"get_execution_state({next_marker!r})")


class AsyncReplayProbe(InlineAsyncBackend):
    """The ``AsyncDurableBackend`` twin of ``ReplayProbe``."""

    def __init__(self) -> None:
        probe = ReplayProbe()
        super().__init__(probe)
        self.calls = probe.calls

_sync_check: type[DurableBackend] = ReplayProbe
_async_check: type[AsyncDurableBackend] = AsyncReplayProbe

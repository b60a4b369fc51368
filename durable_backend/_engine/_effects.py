"""The effects an operation flow yields; the drivers perform them and send back answers.

A flow is a generator written once for both twins (the shape of httpx's ``auth_flow``). It
never performs I/O itself: it asks the driver to commit updates, run user code, or suspend.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from attrs import frozen

from durable_backend._engine._ids import IdSequence
from durable_backend._models import OperationUpdate

if TYPE_CHECKING:
    from durable_backend._engine._batch_flows import BatchRun


@frozen
class Commit:
    """Queue ``updates``; when ``durable``, return only once they are checkpointed."""

    updates: tuple[OperationUpdate, ...]
    durable: bool = True


@frozen
class RunUserCode:
    """Call ``fn(*args)`` (awaiting it in the async twin); answer its value or throw its error.

    ``body`` marks a step body: it counts as running work, and a lazily queued START still
    pending after a short while is flushed on its own so a crash leaves ``StepStarted``.
    """

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    body: bool = True


@frozen
class RunInContext:
    """Call ``fn(child_context)`` with a context shell of the driver's own kind."""

    fn: Callable[..., Any]
    ids: IdSequence
    in_branch: bool = False


@frozen
class RunBranches:
    """Run ``make_flow(i)`` for the indexes ``run.claim()`` hands out, at most
    ``max_concurrency`` at a time, reporting each outcome to ``run``; answer when none runs.
    """

    make_flow: Callable[[int], Any]
    run: BatchRun
    max_concurrency: int | None


@frozen
class Suspend:
    """End this invocation as PENDING once no other work is running."""

    reason: str


Effect = Commit | RunUserCode | RunInContext | RunBranches | Suspend

"""The checkpoint queue and token chain: group commit as pure bookkeeping.

Updates are numbered as they are queued. A caller that needs durability waits until the
committed count passes its number; whoever finds no call in flight takes the next batch and
sends it, so concurrent callers share one call. Batches obey the service's rules (protocol.md
§3): at most 250 updates and 750 KiB, an Id appears once except a START immediately followed by
its finishing action, and an EXECUTION update ends the batch.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from attrs import frozen

from durable_backend._models import (
    CheckpointDurableExecutionOutput,
    OperationAction,
    OperationType,
    OperationUpdate,
)
from durable_backend._protocol import MAX_BATCH_BYTES, MAX_BATCH_UPDATES

_UPDATE_OVERHEAD_BYTES = 256
SLOW_BODY_SECONDS = 0.05
"""A body still running after this long gets its queued START sent on its own."""
_FINISHING = frozenset({OperationAction.SUCCEED, OperationAction.FAIL, OperationAction.RETRY})


class SuspendExecution(BaseException):
    """End the invocation as PENDING. A BaseException, so ``except Exception`` cannot eat it."""


class InvocationRevoked(SuspendExecution):
    """The service answered without a token: this invocation must stop checkpointing."""


class CheckpointFailed(BaseException):
    """A checkpoint or state call failed for good, so this invocation can make no progress.

    A BaseException, like suspension: neither user code nor a map branch may take it for an
    operation's failure. The invocation flow ends on ``error``: FAILED when it is terminal,
    raised for Lambda to retry when it is retryable (protocol.md §5).
    """

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


@frozen
class Batch:
    token: str
    updates: tuple[OperationUpdate, ...]
    end: int


def estimated_size(update: OperationUpdate) -> int:
    size = _UPDATE_OVERHEAD_BYTES + len(update.id) + len(update.name or "")
    size += len(update.payload or "")
    error = update.error
    if error is not None:
        size += len(error.error_message or "") + len(error.error_data or "")
        size += sum(len(line) for line in error.stack_trace or ())
    return size


class CheckpointQueue:
    """Queued updates, the committed count and the current token of one invocation."""

    __slots__ = (
        "apart",
        "committed",
        "failure",
        "flush_to",
        "in_flight",
        "landings",
        "pending",
        "pending_bytes",
        "pending_sizes",
        "queued",
        "revoked",
        "token",
    )

    def __init__(self, token: str) -> None:
        self.token = token
        self.pending: list[OperationUpdate] = []
        self.pending_sizes: list[int] = []
        """Each pending update's ``estimated_size``, taken once when it is queued."""
        self.pending_bytes = 0
        self.queued = 0
        self.committed = 0
        self.in_flight = False
        self.apart = False
        """A call apart from every caller is on its way (``send_due``)."""
        self.flush_to = 0
        """The highest ticket a long-running body asked to have sent (``flush_apart``)."""
        self.landings: Landings[Any] = Landings()
        self.failure: BaseException | None = None
        self.revoked = False

    def add(self, updates: tuple[OperationUpdate, ...]) -> int:
        """Queue updates; return the count the caller must see committed.

        An empty add (the final flush of a suspending invocation) succeeds after revocation:
        there is nothing left to lose, and the invocation must still end as PENDING.
        """
        if self.revoked and updates:
            raise InvocationRevoked("the invocation's checkpoint token was revoked")
        for update in updates:  # most often one: what a step queues, twice
            size = estimated_size(update)
            self.pending.append(update)
            self.pending_sizes.append(size)
            self.pending_bytes += size
        self.queued += len(updates)
        return self.queued

    def full(self) -> bool:
        """Whether the queue holds at least one call's worth: waiting for more saves nothing."""
        return len(self.pending) >= MAX_BATCH_UPDATES or self.pending_bytes >= MAX_BATCH_BYTES

    def send_due(self) -> bool:
        """Whether a call should go now, with none in flight or on its way, whether or not
        anyone needs its updates durable yet: a full batch waits (so the calls a wide fan-out
        needs start as early as they can and follow each other back to back), or a long-running
        body's START does."""
        return (
            (self.full() or self.committed < self.flush_to)
            and not self.in_flight
            and not self.apart
            and self.failure is None
            and not self.revoked
        )

    def is_committed(self, ticket: int) -> bool:
        """Whether ``ticket`` is durable; raises if it never can be in this invocation."""
        if self.committed >= ticket:
            return True
        if self.failure is not None:
            raise CheckpointFailed(self.failure)
        if self.revoked:
            raise InvocationRevoked("the invocation's checkpoint token was revoked")
        return False

    def settled(self, ticket: int) -> bool:
        """Whether ``ticket`` needs no flush: committed, or never committable. Safe without a
        lock: the counters only grow and the flags only get set, so a stale read says False."""
        return self.committed >= ticket or self.failure is not None or self.revoked

    def flush_apart(self, ticket: int) -> bool:
        """A body has run ``SLOW_BODY_SECONDS`` with ``ticket`` queued, which must now be sent.
        True: send it apart from the callers now (``SendApart``). Otherwise it is settled, or a
        call is in flight or on its way, whose landing sends it (``send_due``)."""
        self.flush_to = max(self.flush_to, ticket)
        return self.claim_apart()

    def claim_apart(self) -> bool:
        """When a call is due (``send_due``), mark one on its way apart from the callers and
        return True: the caller then sends it (``SendApart``)."""
        if not self.send_due():
            return False
        self.apart = True
        return True

    def slow_body_ticket(self) -> int | None:
        """What a body about to run must see flushed if it runs long: its queued START."""
        return self.queued if self.pending else None

    def take(self) -> Batch:
        """Cut the next legal batch from the front of the queue and mark it in flight.

        A step's finishing update moves up next to its START when only other operations'
        updates came between (concurrent branches interleave; a step has no children), so the
        pair shares a call, as the rules allow, instead of cutting the batch short there.
        """
        pending = self.pending
        if len(pending) <= 2 and self.pending_bytes <= MAX_BATCH_BYTES and _whole(pending):
            # The usual sequential call (a step's START and SUCCEED, or one update) is legal
            # as it stands: no need to build the general case's bookkeeping.
            updates = tuple(pending)
            pending.clear()
            self.pending_sizes.clear()
            self.pending_bytes = 0
            self.in_flight = True
            return Batch(self.token, updates, self.committed + len(updates))
        size = 0
        count = 0
        seen: set[str] = set()
        slots: list[list[OperationUpdate]] = []
        starts: dict[str, list[OperationUpdate]] = {}  # a START's slot, until it finishes
        for update, cost in zip(self.pending, self.pending_sizes, strict=True):
            if count == MAX_BATCH_UPDATES:
                break
            if count and size + cost > MAX_BATCH_BYTES:
                break
            slot = starts.pop(update.id, None)
            if slot is not None:
                if update.action not in _FINISHING or (
                    slot is not slots[-1] and update.type is not OperationType.STEP
                ):
                    break
                slot.append(update)
            elif update.id in seen:
                break
            else:
                seen.add(update.id)
                slot = [update]
                slots.append(slot)
                if update.action is OperationAction.START:
                    starts[update.id] = slot
            size += cost
            count += 1
            if update.type is OperationType.EXECUTION:
                break
        updates = tuple(update for slot in slots for update in slot)
        del self.pending[:count]
        del self.pending_sizes[:count]
        self.pending_bytes -= size
        self.in_flight = True
        return Batch(self.token, updates, self.committed + count)

    def finish(self, batch: Batch, output: CheckpointDurableExecutionOutput) -> None:
        """Record an accepted batch and the token it returned (none: revoked, unless the batch
        ended the execution)."""
        self.in_flight = False
        self.committed = batch.end
        if output.checkpoint_token:
            self.token = output.checkpoint_token
        elif not any(u.type is OperationType.EXECUTION for u in batch.updates):
            self.revoked = True

    def fail(self, error: BaseException) -> None:
        """A call failed after its retries: nothing more can be committed in this invocation."""
        self.in_flight = False
        self.failure = error


def _whole(pending: list[OperationUpdate]) -> bool:
    """Whether at most two queued updates make one legal batch as they stand."""
    if len(pending) < 2:
        return True
    first, second = pending
    return first.type is not OperationType.EXECUTION and (
        first.id != second.id
        or (first.action is OperationAction.START and second.action in _FINISHING)
    )


W = TypeVar("W")


class Landings(Generic[W]):
    """Who waits for a call to land (``AwaitLanding``), and whom a landing wakes: the waiter
    with the lowest ticket it did not settle first, to lead the next call at once, then every
    waiter whose ticket it settled. Waking every waiter on every landing would make a wide map
    quadratic, and would leave the woken counted as waiting until each had run.

    The drivers keep their waiters here (futures, or a thread's wake-up); ``wake(waiter)`` is
    False for one that no longer waits (cancelled, or interrupted).
    """

    __slots__ = ("_heap", "_order")

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, W]] = []
        self._order = itertools.count()

    @property
    def waiting(self) -> int:
        """Callers waiting for a landing (one that stopped waiting counts until it is woken)."""
        return len(self._heap)

    def wait(self, ticket: int, waiter: W) -> W:
        heapq.heappush(self._heap, (ticket, next(self._order), waiter))
        return waiter

    def landed(self, queue: CheckpointQueue, wake: Callable[[W], bool]) -> None:
        heap = self._heap
        settled = []
        while heap and queue.settled(heap[0][0]):
            settled.append(heapq.heappop(heap)[2])
        while heap and not wake(heapq.heappop(heap)[2]):
            pass
        for waiter in settled:
            wake(waiter)

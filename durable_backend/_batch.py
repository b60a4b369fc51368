"""Results of ``map`` / ``parallel`` and the rule that decides when a batch is complete.

``BatchResult`` keeps the official SDK's names, methods and dict form (``to_dict``/``from_dict``),
so a handler can return one and a history written by either SDK reads the same.
``CompletionTracker`` is the official completion policy, reduced to O(1) work per finished item
(a ``should_complete`` predicate costs a snapshot of every item per change, as it does there).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from enum import Enum
from fractions import Fraction
from typing import Any, Generic, Self, TypeVar, cast

from attrs import evolve, field, frozen

from durable_backend._codec import from_wire, to_wire
from durable_backend._config import (
    BatchItemStatus,
    CompletionConfig,
    CompletionItemStatus,
    CompletionOutcome,
    CompletionStatus,
    SummaryGenerator,
)
from durable_backend._errors import (
    ChildContextError,
    DurableOperationError,
    ValidationError,
    register_operation_error,
)
from durable_backend._models import ErrorObject

T = TypeVar("T")


class CompletionReason(Enum):
    ALL_COMPLETED = "ALL_COMPLETED"
    MIN_SUCCESSFUL_REACHED = "MIN_SUCCESSFUL_REACHED"
    FAILURE_TOLERANCE_EXCEEDED = "FAILURE_TOLERANCE_EXCEEDED"
    CUSTOM_COMPLETION_SUCCEEDED = "CUSTOM_COMPLETION_SUCCEEDED"
    CUSTOM_COMPLETION_FAILED = "CUSTOM_COMPLETION_FAILED"


class BatchCompletionError(DurableOperationError):
    """A batch a ``should_complete`` predicate ended as FAILED, even with no failed item."""

    def __init__(
        self,
        completion_reason: CompletionReason = CompletionReason.CUSTOM_COMPLETION_FAILED,
        message: str | None = None,
        error_type: str | None = None,
        data: str | None = None,
        stack_trace: Sequence[str] | None = None,
    ) -> None:
        super().__init__(
            message or f"Batch completed as failed by should_complete ({completion_reason.value})",
            error_type,
            data,
            stack_trace,
        )
        self.completion_reason = completion_reason

    @classmethod
    def from_error_object(cls, error: ErrorObject | None) -> Self:
        if error is None:
            return cls()
        return cls(
            CompletionReason.CUSTOM_COMPLETION_FAILED,
            error.error_message,
            error.error_type,
            error.error_data,
            error.stack_trace,
        )


register_operation_error(BatchCompletionError)


@frozen
class BatchItem(Generic[T]):
    """One item or branch. ``error`` is set for FAILED items, ``result`` for SUCCEEDED ones."""

    index: int
    status: BatchItemStatus
    result: T | None = None
    error: ErrorObject | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "status": self.status.value,
            "result": self.result,
            "error": to_wire(self.error) if self.error is not None else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BatchItem[T]:
        error = data.get("error")
        return cls(
            index=data["index"],
            status=BatchItemStatus(data["status"]),
            result=data.get("result"),
            error=from_wire(error, ErrorObject) if error else None,
        )


def _items(value: Iterable[BatchItem[Any]]) -> tuple[BatchItem[Any], ...]:
    return tuple(value)


@frozen
class BatchResult(Generic[T]):
    """Every started item in index order (never-started items are omitted) and why it ended."""

    all: tuple[BatchItem[T], ...] = field(converter=_items)
    completion_reason: CompletionReason

    def succeeded(self) -> list[BatchItem[T]]:
        return [i for i in self.all if i.status is BatchItemStatus.SUCCEEDED]

    def failed(self) -> list[BatchItem[T]]:
        return [i for i in self.all if i.status is BatchItemStatus.FAILED]

    def started(self) -> list[BatchItem[T]]:
        return [i for i in self.all if i.status is BatchItemStatus.STARTED]

    def get_results(self) -> list[T]:
        """Results of the succeeded items, in index order (``None`` is a valid result)."""
        return [cast(T, i.result) for i in self.all if i.status is BatchItemStatus.SUCCEEDED]

    def get_errors(self) -> list[ErrorObject | None]:
        return [i.error for i in self.all if i.status is BatchItemStatus.FAILED]

    @property
    def status(self) -> BatchItemStatus:
        """The ``should_complete`` outcome if it ended the batch; else FAILED if any item
        failed, else SUCCEEDED."""
        reason = self.completion_reason
        if reason is CompletionReason.CUSTOM_COMPLETION_FAILED:
            return BatchItemStatus.FAILED
        if reason is CompletionReason.CUSTOM_COMPLETION_SUCCEEDED:
            return BatchItemStatus.SUCCEEDED
        return BatchItemStatus.FAILED if self.has_failure else BatchItemStatus.SUCCEEDED

    @property
    def has_failure(self) -> bool:
        return any(i.status is BatchItemStatus.FAILED for i in self.all)

    def throw_if_error(self) -> None:
        """Raise the first failed item's error as a ``ChildContextError``; with no failed
        item, a ``BatchCompletionError`` if ``should_complete`` ended the batch as failed."""
        for item in self.all:
            if item.status is BatchItemStatus.FAILED:
                if item.error is None:
                    raise ChildContextError(f"Batch item {item.index} failed without an error")
                raise ChildContextError.from_error_object(item.error)
        if self.completion_reason is CompletionReason.CUSTOM_COMPLETION_FAILED:
            raise BatchCompletionError(self.completion_reason)

    @property
    def success_count(self) -> int:
        return sum(1 for i in self.all if i.status is BatchItemStatus.SUCCEEDED)

    @property
    def failure_count(self) -> int:
        return sum(1 for i in self.all if i.status is BatchItemStatus.FAILED)

    @property
    def started_count(self) -> int:
        return sum(1 for i in self.all if i.status is BatchItemStatus.STARTED)

    @property
    def total_count(self) -> int:
        return len(self.all)

    def to_dict(self) -> dict[str, Any]:
        return {
            "all": [item.to_dict() for item in self.all],
            "completionReason": self.completion_reason.value,
        }

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], completion_config: CompletionConfig | None = None
    ) -> BatchResult[T]:
        """Read ``to_dict`` output; a missing ``completionReason`` is inferred from the items."""
        items: list[BatchItem[T]] = [BatchItem.from_dict(item) for item in data["all"]]
        reason = data.get("completionReason")
        if reason is not None:
            return cls(items, CompletionReason(reason))
        tracker = CompletionTracker(len(items), completion_config)
        for item in items:
            tracker.record(item.index, item.status)
        return cls(items, tracker.reason())


class CompletionTracker:
    """Counts the items of a batch of ``total`` and says when the batch is complete.

    Official semantics: with no criterion set, the first failure ends the batch; otherwise it
    ends when failures exceed ``tolerated_failure_count`` or ``tolerated_failure_percentage`` of
    ``total``, when ``min_successful`` items succeeded, or when every item finished. An exceeded
    tolerance is reported as the reason even when the batch also finished or reached its minimum.
    A ``should_complete`` predicate replaces those criteria and sees every item's status;
    ``names(index)`` gives the items' own names for it.
    """

    __slots__ = (
        "_items",
        "_max_failures",
        "_min_successful",
        "_predicate",
        "failed",
        "succeeded",
        "total",
    )

    def __init__(
        self,
        total: int,
        config: CompletionConfig | None = None,
        names: Callable[[int], str | None] | None = None,
    ) -> None:
        if type(total) is not int or total < 0:
            raise ValidationError(f"batch total must be an int >= 0, got {total!r}")
        self.total = total
        self.succeeded = 0
        self.failed = 0
        c = config or CompletionConfig()
        self._min_successful = c.min_successful
        self._max_failures = _max_failures(total, c)
        self._predicate = c.should_complete
        self._items: list[CompletionItemStatus] | None = None
        if self._predicate is not None:
            self._items = [
                CompletionItemStatus(index, names(index) if names is not None else None)
                for index in range(total)
            ]

    def record(self, index: int, status: BatchItemStatus) -> None:
        """Item ``index`` is now ``status`` (STARTED when it is claimed or suspends)."""
        if status is BatchItemStatus.SUCCEEDED:
            self.succeeded += 1
        elif status is BatchItemStatus.FAILED:
            self.failed += 1
        items = self._items
        if items is not None and 0 <= index < len(items):
            items[index] = evolve(items[index], status=status)

    @property
    def completed(self) -> int:
        return self.succeeded + self.failed

    def decision(self) -> CompletionReason | None:
        """None while the batch should go on (and may start more items); else why it ends.

        Calls ``should_complete`` when there is one; whatever it raises propagates.
        """
        if self._predicate is not None:
            assert self._items is not None
            done = self.succeeded + self.failed
            status = CompletionStatus(
                self.succeeded, self.failed, done, self.total, tuple(self._items)
            )
            decided = self._predicate(status)
            if decided.complete:
                return (
                    CompletionReason.CUSTOM_COMPLETION_FAILED
                    if decided.outcome is CompletionOutcome.FAILED
                    else CompletionReason.CUSTOM_COMPLETION_SUCCEEDED
                )
            return CompletionReason.ALL_COMPLETED if done >= self.total else None
        if self._max_failures is not None and self.failed > self._max_failures:
            return CompletionReason.FAILURE_TOLERANCE_EXCEEDED
        if self.succeeded + self.failed >= self.total:
            return CompletionReason.ALL_COMPLETED
        if self._min_successful is not None and self.succeeded >= self._min_successful:
            return CompletionReason.MIN_SUCCESSFUL_REACHED
        return None

    @property
    def watches_starts(self) -> bool:
        """Whether ``should_complete`` needs to hear of items starting and suspending."""
        return self._items is not None

    def reason(self) -> CompletionReason:
        """The reason to record for the counts so far (``ALL_COMPLETED`` if none applies)."""
        return self.decision() or CompletionReason.ALL_COMPLETED


def _max_failures(total: int, config: CompletionConfig) -> int | None:
    """The most failures the batch tolerates, folding count and percentage into one bound."""
    if config.should_complete is not None:
        return None
    count = config.tolerated_failure_count
    percentage = config.tolerated_failure_percentage
    if config.min_successful is None and count is None and percentage is None:
        return 0
    bounds: list[int] = []
    if count is not None:
        bounds.append(count)
    if percentage is not None and total > 0:
        # failed / total * 100 > percentage  <=>  failed > floor(percentage * total / 100),
        # computed exactly on the percentage as written (33.3 means 333/10), free of float noise.
        exact = Fraction(percentage) if isinstance(percentage, int) else Fraction(repr(percentage))
        bounds.append(math.floor(exact * total / 100))
    return min(bounds) if bounds else None


@frozen
class CompletionRecord:
    """The completion decision an oversized batch result was checkpointed with: replay
    reports what the live run reported instead of deciding again. Items are claimed in index
    order, so the started ones are exactly ``range(started_total)``; ``started_indexes`` are
    those that had not finished when the batch completed.
    """

    completion_reason: CompletionReason
    started_total: int
    started_indexes: frozenset[int]

    @classmethod
    def from_summary(cls, payload: str | None) -> CompletionRecord | None:
        """The record in a ``batch_summary`` envelope; None for anything else, never raising."""
        try:
            data = json.loads(payload or "")
            total = data["totalCount"]
            reason = CompletionReason(data["completionReason"])
            listed = data.get("startedIndexes", data.get("completedIndexes"))
            if type(total) is not int or total < 0 or not isinstance(listed, list):
                return None
            indexes = frozenset(i for i in listed if type(i) is int and 0 <= i < total)
        except (ValueError, TypeError, KeyError):
            return None
        if len(indexes) != len(listed):
            return None
        if "startedIndexes" not in data:
            indexes = frozenset(range(total)) - indexes
        return cls(reason, total, indexes)


def batch_summary(
    result_type: str, custom: SummaryGenerator | None
) -> Callable[[BatchResult[Any]], str]:
    """What an oversized map/parallel result is checkpointed as (the official envelope).

    The envelope records the completion decision and counts; the user's
    ``summary_generator(result)``, if any, is stored verbatim under ``summary``.
    """

    def summarize(result: BatchResult[Any]) -> str:
        started = [item.index for item in result.all if item.status is BatchItemStatus.STARTED]
        finished = [item.index for item in result.all if item.status is not BatchItemStatus.STARTED]
        indexes = (
            {"startedIndexes": started}
            if len(started) <= len(finished)
            else {"completedIndexes": finished}
        )
        fields: dict[str, object] = {
            "type": result_type,
            "totalCount": result.total_count,
            "completionReason": result.completion_reason.value,
            **indexes,
            "startedCount": result.started_count,
            "successCount": result.success_count,
            "failureCount": result.failure_count,
            "status": result.status.value,
        }
        if custom is not None:
            fields["summary"] = str(custom(result))
        return json.dumps(fields)

    return summarize

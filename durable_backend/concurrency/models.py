"""What ``map`` and ``parallel`` return (official ``concurrency.models``)."""

from durable_backend._batch import (
    BatchCompletionError,
    BatchItem,
    BatchResult,
    CompletionReason,
)

__all__ = ["BatchCompletionError", "BatchItem", "BatchResult", "CompletionReason"]

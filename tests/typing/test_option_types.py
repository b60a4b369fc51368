"""Static type cases for the batch and child options, checked by mypy --strict and pyright.

The ``check_*`` functions are never called: the type checkers read them.
"""

from __future__ import annotations

from typing import assert_type

import durable_backend as db
from durable_backend.logger import Logger


def check_should_complete(ctx: db.DurableContext) -> None:
    def quorum(status: db.CompletionStatus) -> db.CompletionDecision:
        assert_type(status.items, tuple[db.CompletionItemStatus, ...])
        assert_type(status.items[0].status, db.BatchItemStatus | None)
        if status.success_count >= 2:
            return db.complete_batch()
        if status.failure_count > 1:
            return db.complete_batch(db.CompletionOutcome.FAILED)
        return db.continue_batch()

    config = db.MapConfig[int](
        completion_config=db.CompletionConfig(should_complete=quorum),
        nesting_type=db.NestingType.FLAT,
    )
    batch = ctx.map([1, 2, 3], lambda c, item, index, items: item * 2, config=config)
    assert_type(batch, db.BatchResult[int])
    assert_type(batch.completion_reason, db.CompletionReason)
    assert_type(db.BatchCompletionError().completion_reason, db.CompletionReason)


def check_virtual_child_and_logger(ctx: db.DurableContext) -> None:
    config: db.ChildConfig[str] = db.ChildConfig(is_virtual=True)
    assert_type(ctx.run_in_child_context(lambda c: "x", config=config), str)
    logger = ctx.logger.with_is_replaying(lambda: False)
    assert_type(logger, Logger)

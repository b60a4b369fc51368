"""The replay-aware logger: quiet while replaying, with the official SDK's ``extra`` names."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

from durable_backend._engine import Execution


class DurableLogger(logging.LoggerAdapter[logging.Logger]):
    """Adds ``executionArn``, ``operationId``, ``operationName``, ``attempt`` and ``parentId``.

    Records are dropped while ``is_replaying()`` says the execution replays, so each line is
    logged once per execution rather than once per invocation.
    """

    def __init__(
        self,
        logger: logging.Logger,
        is_replaying: Callable[[], bool],
        extra: Mapping[str, object],
    ) -> None:
        super().__init__(logger, extra)
        self._is_replaying = is_replaying

    def isEnabledFor(self, level: int) -> bool:
        return not self._is_replaying() and self.logger.isEnabledFor(level)

    def with_is_replaying(self, is_replaying: Callable[[], bool]) -> DurableLogger:
        """The same logger and fields, quiet whenever ``is_replaying()`` is true instead."""
        return DurableLogger(self.logger, is_replaying, self.extra or {})

    def get_logger(self) -> logging.Logger:
        """The standard logger records go to."""
        return self.logger

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        extra = dict(self.extra or {})
        extra.update(kwargs.get("extra") or {})
        kwargs["extra"] = extra
        return msg, kwargs


def context_logger(
    logger: logging.Logger, execution: Execution, parent_id: str | None
) -> DurableLogger:
    return DurableLogger(
        logger, _replaying(execution), {"executionArn": execution.arn, "parentId": parent_id}
    )


def operation_logger(
    logger: logging.Logger,
    execution: Execution,
    parent_id: str | None,
    operation_id: str,
    name: str | None,
    attempt: int | None,
) -> DurableLogger:
    return DurableLogger(
        logger,
        _replaying(execution),
        {
            "executionArn": execution.arn,
            "parentId": parent_id,
            "operationId": operation_id,
            "operationName": name,
            "attempt": attempt,
        },
    )


def _replaying(execution: Execution) -> Callable[[], bool]:
    return lambda: execution.replaying

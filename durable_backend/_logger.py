"""The replay-aware logger: quiet while replaying, with the official SDK's ``extra`` names."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

from durable_backend._engine import Execution


def _never() -> bool:
    return False


class Logger(logging.LoggerAdapter[logging.Logger]):
    """Adds ``default_extra`` (``executionArn``, ``operationId``, ``operationName``,
    ``attempt``, ``parentId``) to every record, and drops records while ``is_replaying()``,
    so each line is logged once per execution rather than once per invocation.
    """

    def __init__(
        self,
        logger: logging.Logger,
        default_extra: Mapping[str, object],
        is_replaying: Callable[[], bool] = _never,
    ) -> None:
        super().__init__(logger, default_extra)
        self._is_replaying = is_replaying

    def get_logger(self) -> logging.Logger:
        """The logger records go to."""
        return self.logger

    def with_is_replaying(self, is_replaying: Callable[[], bool]) -> Logger:
        """The same logger and fields, quiet whenever ``is_replaying()`` is true instead."""
        return Logger(self.logger, self.extra or {}, is_replaying)

    def isEnabledFor(self, level: int) -> bool:
        return not self._is_replaying() and self.logger.isEnabledFor(level)

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        extra = dict(self.extra or {})
        extra.update(kwargs.get("extra") or {})
        kwargs["extra"] = extra
        return msg, kwargs


def _replaying(execution: Execution) -> Callable[[], bool]:
    return lambda: execution.replaying


def context_logger(logger: logging.Logger, execution: Execution, parent_id: str | None) -> Logger:
    return Logger(
        logger,
        {"executionArn": execution.arn, "parentId": parent_id},
        _replaying(execution),
    )


def operation_logger(
    logger: logging.Logger,
    execution: Execution,
    parent_id: str | None,
    operation_id: str,
    name: str | None,
    attempt: int | None,
) -> Logger:
    return Logger(
        logger,
        {
            "executionArn": execution.arn,
            "parentId": parent_id,
            "operationId": operation_id,
            "operationName": name,
            "attempt": attempt,
        },
        _replaying(execution),
    )

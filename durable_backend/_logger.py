"""The replay-aware logger: quiet while replaying, with the official SDK's ``extra`` names."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from durable_backend._engine import Execution
from durable_backend.types import LoggerInterface


def _never() -> bool:
    return False


class Logger:
    """Adds ``default_extra`` (``executionArn``, ``operationId``, ``operationName``,
    ``attempt``, ``parentId``) to every record and drops records while ``is_replaying()``, so
    each line is logged once per execution rather than once per invocation.

    It wraps a ``logging.Logger`` (records then name the caller's file and line) or any
    ``LoggerInterface``, such as Powertools' ``Logger``.
    """

    __slots__ = ("_default_extra", "_is_replaying", "_logger")

    def __init__(
        self,
        logger: LoggerInterface,
        default_extra: Mapping[str, object],
        is_replaying: Callable[[], bool] = _never,
    ) -> None:
        self._logger = logger
        self._default_extra = default_extra
        self._is_replaying = is_replaying

    def get_logger(self) -> LoggerInterface:
        """The logger records go to."""
        return self._logger

    def with_is_replaying(self, is_replaying: Callable[[], bool]) -> Logger:
        """The same logger and fields, quiet whenever ``is_replaying()`` is true instead."""
        return Logger(self._logger, self._default_extra, is_replaying)

    def isEnabledFor(self, level: int) -> bool:
        if self._is_replaying():
            return False
        target = self._logger
        return not isinstance(target, logging.Logger) or target.isEnabledFor(level)

    def debug(
        self, msg: object, *args: object, extra: Mapping[str, object] | None = None, **kw: Any
    ) -> None:
        self._log("debug", logging.DEBUG, msg, args, extra, kw)

    def info(
        self, msg: object, *args: object, extra: Mapping[str, object] | None = None, **kw: Any
    ) -> None:
        self._log("info", logging.INFO, msg, args, extra, kw)

    def warning(
        self, msg: object, *args: object, extra: Mapping[str, object] | None = None, **kw: Any
    ) -> None:
        self._log("warning", logging.WARNING, msg, args, extra, kw)

    def error(
        self, msg: object, *args: object, extra: Mapping[str, object] | None = None, **kw: Any
    ) -> None:
        self._log("error", logging.ERROR, msg, args, extra, kw)

    def exception(
        self, msg: object, *args: object, extra: Mapping[str, object] | None = None, **kw: Any
    ) -> None:
        self._log("exception", logging.ERROR, msg, args, extra, {"exc_info": True, **kw})

    def _log(
        self,
        method: str,
        level: int,
        msg: object,
        args: tuple[object, ...],
        extra: Mapping[str, object] | None,
        kw: dict[str, Any],
    ) -> None:
        if not self.isEnabledFor(level):
            return
        merged = {**self._default_extra, **extra} if extra else self._default_extra
        target = self._logger
        if isinstance(target, logging.Logger):
            # Name the user's frame, not this method and its caller in this module.
            kw["stacklevel"] = kw.get("stacklevel", 1) + 2
            target.log(level, msg, *args, extra=merged, **kw)
        else:
            getattr(target, method)(msg, *args, extra=merged, **kw)


class LoggerSlot:
    """The logger one invocation's contexts log through; ``set_logger`` replaces it."""

    __slots__ = ("logger",)

    def __init__(self, logger: LoggerInterface) -> None:
        self.logger = logger


def context_logger(
    logger: LoggerInterface, execution: Execution, parent_id: str | None
) -> Logger:
    return Logger(
        logger,
        {"executionArn": execution.arn, "parentId": parent_id},
        execution.is_replaying,
    )


def operation_logger(
    logger: LoggerInterface,
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
        execution.is_replaying,
    )

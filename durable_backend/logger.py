"""The replay-aware logger every context and operation context carries (official ``logger``).

It is quiet while the execution replays and adds ``executionArn``, ``parentId``,
``operationId``, ``operationName`` and ``attempt`` to each record's ``extra``.
"""

from durable_backend._logger import Logger

__all__ = ["Logger"]

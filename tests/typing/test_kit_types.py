"""Static type cases for the testing kit, checked by mypy --strict and pyright.

The ``check_*`` functions are never called: the type checkers read them.
"""

from __future__ import annotations

from typing import Any, assert_type

import attrs

import durable_backend as db
from durable_backend.testing import WorkflowResult, run_workflow, run_workflow_async


@attrs.frozen
class Receipt:
    total: int


@db.durable_execution
def sync_handler(event: dict[str, int], ctx: db.DurableContext) -> Receipt:
    return Receipt(event["n"])


@db.durable_execution
async def async_handler(event: dict[str, int], ctx: db.AsyncDurableContext) -> list[str]:
    return []


def plain(event: Any, ctx: db.DurableContext) -> int:
    return 1


def check_results() -> None:
    result = run_workflow(sync_handler, {"n": 1})
    assert_type(result, WorkflowResult[Receipt])
    assert_type(result.result, Receipt | None)
    assert_type(result.assert_succeeded(), Receipt)
    assert_type(run_workflow(plain).assert_succeeded(), Any)


async def check_async_results() -> None:
    result = await run_workflow_async(async_handler)
    assert_type(result.assert_succeeded(), list[str])

"""Errors name operations by the names their authors gave them, and a missing input says so."""

from __future__ import annotations

import re
from typing import Any

import pytest

import durable_backend as db
from durable_backend.testing import run_workflow

HEX_ID = re.compile(r"[0-9a-f]{16}")


@db.durable_execution
def oversized(event: Any, ctx: db.DurableContext) -> Any:
    return ctx.step(lambda _: "x" * 300_000, name="render report",
                    config=db.StepConfig(retry_strategy=db.RetryPresets.none()))


@db.durable_execution
async def oversized_async(event: Any, ctx: db.AsyncDurableContext) -> Any:
    return await ctx.step(lambda _: "x" * 300_000, name="render report",
                          config=db.StepConfig(retry_strategy=db.RetryPresets.none()))


@pytest.mark.parametrize("handler", [oversized, oversized_async])
def test_the_size_limit_names_the_step(handler: Any) -> None:
    error = run_workflow(handler).assert_failed()
    message = error.error_message or ""
    assert "The result of step 'render report' serializes to 300002 bytes" in message
    assert not HEX_ID.search(message)


@db.durable_execution
def needs_input(event: dict[str, Any], ctx: db.DurableContext) -> Any:
    return event["order_id"]


def test_a_missing_input_says_to_pass_one() -> None:
    message = run_workflow(needs_input).assert_failed("SerDesError").error_message or ""
    assert message.startswith("Could not deserialize the execution's input into dict[str, ")
    assert "started without an input (null)" in message and "--input" in message
    assert not HEX_ID.search(message) and "(id " not in message

"""The kit refuses names that match nothing, points async tests to ``run_workflow_async``,
passes callback answers as the raw text an outside system would send, and decodes results
with the handler's own serdes."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

import durable_backend as db
from durable_backend.backend import ExecutionStatus
from durable_backend.testing import UnknownNameError, Workflow, run_workflow, run_workflow_async


@db.durable_execution
def approve(event: Any, ctx: db.DurableContext) -> Any:
    charge = ctx.step(lambda _: "real", name="charge")
    answer = ctx.wait_for_callback(lambda callback_id, _: None, name="human")
    return [charge, answer]


@db.durable_execution
async def approve_async(event: Any, ctx: db.AsyncDurableContext) -> Any:
    return await ctx.wait_for_callback(lambda callback_id, _: None, name="human")


def test_a_stub_that_matches_no_step_or_invoke_is_an_error() -> None:
    with pytest.raises(UnknownNameError, match=r"stubs \['nonexistent'\] match no step or "
                       r"invoke this run made; its operations are named \[.*'charge'"):
        run_workflow(approve, stubs={"nonexistent": 1}, callbacks={"human": "ok"})
    assert run_workflow(approve, stubs={"charge": "stub"}, callbacks={"human": "ok"}
                        ).assert_succeeded() == ["stub", "ok"]


def test_a_callback_answer_that_matches_no_callback_is_an_error() -> None:
    with pytest.raises(UnknownNameError,
                       match=r"callbacks \['hum'\] match no callback this run created; "
                             r"it waits on \['human'\]"):
        run_workflow(approve, callbacks={"hum": "ok"})
    # Unanswered but correctly named callbacks simply leave the run waiting.
    assert run_workflow(approve).status is ExecutionStatus.RUNNING


def test_callback_answers_are_the_raw_text_sent() -> None:
    """A string is sent as it is (the handler gets that very string, as from the CLI's
    ``--result``); anything else as its JSON text."""
    assert run_workflow(approve, callbacks={"human": "yes"}).assert_succeeded()[1] == "yes"
    assert run_workflow(approve, callbacks={"human": '"yes"'}).assert_succeeded()[1] == '"yes"'
    assert run_workflow(approve, callbacks={"human": {"ok": 1}}).assert_succeeded()[1] == (
        '{"ok": 1}'
    )
    assert run_workflow(approve, callbacks={"human": None}).assert_succeeded()[1] is None


async def test_run_workflow_in_an_async_test_points_to_run_workflow_async() -> None:
    with pytest.raises(RuntimeError, match=r"use `await run_workflow_async\(\.\.\.\)`"):
        run_workflow(approve_async, callbacks={"human": "ok"})
    result = await run_workflow_async(approve_async, callbacks={"human": "ok"})
    assert result.assert_succeeded() == "ok"
    with pytest.raises(RuntimeError, match=r"workflow\.run_async"):
        Workflow(approve_async).run()


class Receipt(BaseModel):
    total: int


@db.durable_execution
def typed(event: Any, ctx: db.DurableContext) -> Receipt:
    return Receipt(total=ctx.step(lambda _: 3, name="sum"))


def test_the_result_is_decoded_by_the_handlers_serdes() -> None:
    result = run_workflow(typed)
    assert result.result == Receipt(total=3)
    assert result.assert_succeeded().total == 3
    assert run_workflow(approve).result is None  # still waiting

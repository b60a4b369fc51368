"""Static type cases for the context twins and handlers, checked by mypy --strict and pyright.

The ``check_*`` functions are never called: the type checkers read them. pytest imports the
module (so it must import cleanly) but collects nothing.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, assert_type

import attrs

import durable_backend as db
from durable_backend.execution import AsyncDurableHandler, DurableHandler


@attrs.frozen
class Receipt:
    total: int


class ReceiptSerDes:
    def serialize(self, value: Receipt, serdes_context: db.SerDesContext) -> str:
        return str(value.total)

    def deserialize(self, data: str, serdes_context: db.SerDesContext) -> Receipt:
        return Receipt(int(data))


def check_sync_context(ctx: db.DurableContext) -> None:
    def count(step_ctx: db.StepContext) -> int:
        return step_ctx.attempt

    assert_type(ctx.step(count), int)
    assert_type(ctx.step(lambda step_ctx: Receipt(step_ctx.attempt), name="r"), Receipt)
    assert_type(ctx.wait(5), None)

    invoke_config: db.InvokeConfig[dict[str, int], Receipt] = db.InvokeConfig()
    assert_type(ctx.invoke("billing", {"a": 1}, config=invoke_config), Receipt)
    assert_type(ctx.invoke("billing", {"a": 1}), db.JsonValue)
    assert_type(ctx.invoke("billing", {"a": 1}, config=db.InvokeConfig(tenant_id="t")), db.JsonValue)
    receipt_result = db.InvokeConfig[Any, Receipt](serdes_result=ReceiptSerDes())
    assert_type(ctx.invoke("billing", {"a": 1}, config=receipt_result), Receipt)

    def child(child_ctx: db.DurableContext) -> list[str]:
        return [child_ctx.execution_arn]

    assert_type(ctx.run_in_child_context(child), list[str])

    callback = ctx.create_callback(name="approval")
    assert_type(callback, db.Callback[str])
    assert_type(callback.result(), str)
    assert_type(callback.callback_id, str)
    assert_type(ctx.create_callback(config=db.CallbackConfig(timeout=60)), db.Callback[str])
    receipt_callback = db.CallbackConfig(serdes=ReceiptSerDes())
    assert_type(ctx.create_callback(config=receipt_callback), db.Callback[Receipt])
    assert_type(ctx.wait_for_callback(lambda callback_id, step_ctx: None), str)
    wait_config = db.WaitForCallbackConfig(timeout=60)
    assert_type(ctx.wait_for_callback(lambda callback_id, step_ctx: None, "ask", wait_config), str)
    typed_wait = db.WaitForCallbackConfig(serdes=ReceiptSerDes())
    assert_type(ctx.wait_for_callback(lambda callback_id, step_ctx: None, "ask", typed_wait), Receipt)
    assert_type(ctx.is_replaying(), bool)
    assert_type(ctx.execution_arn, str)


async def check_async_context(ctx: db.AsyncDurableContext) -> None:
    def count(step_ctx: db.StepContext) -> int:
        return step_ctx.attempt

    async def fetch(step_ctx: db.StepContext) -> Receipt:
        return Receipt(step_ctx.attempt)

    assert_type(await assert_type(ctx.step(count), Coroutine[Any, Any, int]), int)
    assert_type(await assert_type(ctx.step(fetch), Coroutine[Any, Any, Receipt]), Receipt)
    # A dropped operation is a coroutine the type checkers flag (mypy's warn_unused_ignores
    # turns this ignore into an error if it ever stops being needed).
    ctx.step(count)  # type: ignore[unused-coroutine]
    assert_type(await ctx.step(fetch), Receipt)
    assert_type(await ctx.wait(5), None)

    invoke_config: db.InvokeConfig[dict[str, int], Receipt] = db.InvokeConfig()
    assert_type(await ctx.invoke("billing", {"a": 1}, config=invoke_config), Receipt)
    assert_type(await ctx.invoke("billing", {"a": 1}), db.JsonValue)

    async def child(child_ctx: db.AsyncDurableContext) -> list[str]:
        return [child_ctx.execution_arn]

    def sync_child(child_ctx: db.AsyncDurableContext) -> int:
        return 1

    assert_type(await ctx.run_in_child_context(child), list[str])
    assert_type(await ctx.run_in_child_context(sync_child), int)

    callback = await ctx.create_callback()
    assert_type(callback, db.AsyncCallback[str])
    assert_type(await callback.result(), str)
    assert_type(await ctx.wait_for_callback(lambda callback_id, step_ctx: None), str)
    typed_wait = db.WaitForCallbackConfig(serdes=ReceiptSerDes())
    assert_type(await ctx.wait_for_callback(lambda cid, step_ctx: None, config=typed_wait), Receipt)
    typed_callback = await ctx.create_callback(config=db.CallbackConfig(serdes=ReceiptSerDes()))
    assert_type(typed_callback, db.AsyncCallback[Receipt])


def check_handlers() -> None:
    @db.durable_execution
    def handler(event: dict[str, int], ctx: db.DurableContext) -> Receipt:
        return Receipt(event["total"])

    @db.durable_execution
    async def async_handler(event: str, ctx: db.AsyncDurableContext) -> int:
        return len(event)

    assert_type(handler, DurableHandler[dict[str, int], Receipt])
    assert_type(async_handler, AsyncDurableHandler[str, int])
    assert_type(handler({}, None), dict[str, Any])
    assert_type(async_handler({}, None), dict[str, Any])


def check_rebuilt_handlers(
    handler: DurableHandler[str, int],
    async_handler: AsyncDurableHandler[str, int],
    backend: db.DurableBackend,
    async_backend: db.AsyncDurableBackend,
) -> None:
    assert_type(handler.with_backend(backend), DurableHandler[str, int])
    assert_type(async_handler.with_backend(async_backend), AsyncDurableHandler[str, int])

    def other(event: str, ctx: db.DurableContext) -> int:
        return len(event)

    assert_type(handler.with_function(other), DurableHandler[str, int])
    handler.with_backend(async_backend)  # type: ignore[arg-type]


def check_invoke_result_from_context(ctx: db.DurableContext) -> None:
    priced: dict[str, int] = ctx.invoke("pricing", {"items": []})
    assert_type(priced, dict[str, int])


async def check_async_invoke_result_from_context(ctx: db.AsyncDurableContext) -> None:
    priced: dict[str, int] = await ctx.invoke("pricing", {"items": []})
    assert_type(priced, dict[str, int])

"""A handler that returns what its callback received, untouched (no serdes)."""

from __future__ import annotations

import durable_backend as db


@db.durable_execution
def handler(event: object, ctx: db.DurableContext) -> object:
    return ctx.wait_for_callback(lambda callback_id, _: None, name="echo")

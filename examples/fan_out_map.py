"""Fan-out with ``ctx.map``: resize each image in its own child context, at most two at a
time, and collect the results as a ``BatchResult``.

    .venv/bin/durable-backend run examples.fan_out_map:handler \
        --input '{"images": ["a.png", "b.png", "c.png", "broken.png"]}'

A failing item does not fail the batch (``all_completed``): the summary counts it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import durable_backend as db


def resize(image: str) -> str:
    if image.startswith("broken"):
        raise ValueError(f"cannot decode {image}")
    return image.replace(".png", "-small.png")


def resize_item(
    ctx: db.DurableContext, image: str, index: int, images: Sequence[str]
) -> str:
    return ctx.step(
        lambda _: resize(image),
        name=f"resize {image}",
        config=db.StepConfig(retry_strategy=db.RetryPresets.none()),
    )


@db.durable_execution
def handler(event: dict[str, Any], ctx: db.DurableContext) -> dict[str, Any]:
    batch = ctx.map(
        event["images"],
        resize_item,
        name="resize images",
        config=db.MapConfig(
            max_concurrency=2, completion_config=db.CompletionConfig.all_completed()
        ),
    )
    return {
        "resized": batch.get_results(),
        "failed": batch.failure_count,
        "reason": batch.completion_reason.value,
    }

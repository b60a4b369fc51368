"""Static type cases for replay safety: replay-safe values on both twins, the Replayer and its
sources, and strict runs. Checked by mypy --strict and pyright; pytest collects nothing."""

from __future__ import annotations

from collections.abc import Coroutine
from datetime import datetime
from pathlib import Path
from typing import Any, assert_type
from uuid import UUID

import durable_backend as db
from durable_backend.execution import DurableHandler
from durable_backend.testing import (
    Divergence,
    History,
    Replayer,
    ReplayResult,
    WorkflowResult,
    assert_replays,
    histories_from_aws,
    histories_from_directory,
    histories_from_sqlite,
    history_from_json,
    run_workflow,
)


def check_replay_safe_values(ctx: db.DurableContext, actx: db.AsyncDurableContext) -> None:
    assert_type(ctx.now(), datetime)
    assert_type(ctx.random(), float)
    assert_type(ctx.uuid4(), UUID)
    assert_type(actx.now(), Coroutine[Any, Any, datetime]).close()
    assert_type(actx.random(), Coroutine[Any, Any, float]).close()
    assert_type(actx.uuid4(), Coroutine[Any, Any, UUID]).close()


def check_replayer(handler: DurableHandler[Any, Any], path: Path) -> None:
    replayer = Replayer(handler, strict=False)
    history = history_from_json(path)
    assert_type(history, History)
    result = replayer.replay(history)
    assert_type(result, ReplayResult)
    assert_type(result.compatible, bool)
    assert_type(result.divergence, Divergence | None)
    assert_type(replayer.assert_compatible(histories_from_sqlite(path)), list[ReplayResult])
    assert_type(histories_from_directory(path), list[History])
    assert_type(histories_from_aws(["arn"], function_name="orders"), list[History])
    assert_type(assert_replays(handler, "tests/histories"), list[ReplayResult])
    assert_type(run_workflow(handler, {}, strict=True), WorkflowResult[Any])


def check_step_timeouts() -> None:
    config = db.StepConfig(db.RetryPresets.default(), timeout=2.5)
    assert_type(config.timeout, float | None)
    db.StepConfig(timeout=db.Duration.from_seconds(3))
    try:
        pass
    except db.StepTimeoutError as error:
        assert_type(error.message, str | None)

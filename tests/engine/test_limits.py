"""Size limits measured on what the service counts, on both twins (issue 13, item 11).

The invocation response limit applies to the response as JSON (escapes included); the
per-operation payload limit counts UTF-8 bytes, whatever serdes produced the text.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

import durable_backend as db
from durable_backend._codec import to_wire
from durable_backend._models import OperationAction as A
from durable_backend._models import OperationType as T
from durable_backend._protocol import (
    MAX_ERROR_BYTES,
    MAX_EXECUTION_RESULT_BYTES,
    MAX_PAYLOAD_BYTES,
)
from tests.engine.conftest import Twin

MiB = 1024 * 1024


class TextSerDes:
    """Stores a str as itself: characters are not bytes once it leaves ASCII."""

    def serialize(self, value: str, serdes_context: db.SerDesContext) -> str:
        return value

    def deserialize(self, data: str, serdes_context: db.SerDesContext) -> str:
        return data


TEXT = TextSerDes()

RESULTS = {
    # Each payload (JSON, so ASCII) fits the old check of its own bytes, and fits one EXECUTION
    # checkpoint, but escaping it once more into the response takes it past the limit.
    "quotes": '"' * int(1.6 * MiB),
    "backslashes": "\\" * int(1.6 * MiB),
    "non-ascii": "é" * int(0.95 * MiB),
    "astral": "\U0001f600" * int(0.46 * MiB),
    "control": "\x01" * int(0.95 * MiB),
}


@pytest.mark.parametrize("result", RESULTS.values(), ids=RESULTS.keys())
def test_response_limit_counts_the_json_escaped_response(twin: Twin, result: str) -> None:
    def scenario(event: Any, ctx: Any) -> Any:
        yield ctx.step(lambda _: 1)
        return result

    outcome = twin.run(scenario)
    assert outcome.outputs[-1] == {"Status": "SUCCEEDED", "Result": ""}
    last = outcome.backend.checkpoint_calls()[-1].updates[-1]
    assert (last.type, last.action) == (T.EXECUTION, A.SUCCEED)
    assert json.loads(last.payload) == result


def test_a_result_that_fits_once_escaped_is_returned_inline(twin: Twin) -> None:
    result = '"' * (MiB - 64)  # the payload doubles it, the response doubles it again

    def scenario(event: Any, ctx: Any) -> Any:
        yield ctx.step(lambda _: 1)
        return result

    outcome = twin.run(scenario)
    output = outcome.outputs[-1]
    assert output["Status"] == "SUCCEEDED" and json.loads(output["Result"]) == result
    assert len(json.dumps(output)) <= MAX_EXECUTION_RESULT_BYTES


def test_step_limit_counts_utf8_bytes_with_a_custom_serdes(twin: Twin) -> None:
    too_big = "é" * (MAX_PAYLOAD_BYTES // 2 + 1)  # under the limit in characters, not in bytes

    def scenario(event: Any, ctx: Any) -> Any:
        return (
            yield ctx.step(
                lambda _: too_big,
                name="big",
                config=db.StepConfig(serdes=TEXT, retry_strategy=db.RetryPresets.none()),
            )
        )

    outcome = twin.run(scenario)
    assert outcome.status == "FAILED"
    message = outcome.error["ErrorMessage"]
    assert f"{MAX_PAYLOAD_BYTES + 2} bytes of UTF-8" in message
    assert f"{MAX_PAYLOAD_BYTES}-byte limit" in message
    assert not [u for c in outcome.backend.checkpoint_calls() for u in c.updates
                if u.action is A.SUCCEED and u.type is T.STEP]


def test_step_just_under_the_byte_limit_is_kept(twin: Twin) -> None:
    fits = "é" * (MAX_PAYLOAD_BYTES // 2)

    def scenario(event: Any, ctx: Any) -> Any:
        value = yield ctx.step(lambda _: fits, config=db.StepConfig(serdes=TEXT))
        return len(value)

    outcome = twin.run(scenario)
    assert (outcome.status, outcome.result) == ("SUCCEEDED", len(fits))


def test_child_context_limit_counts_utf8_bytes_with_a_custom_serdes(twin: Twin) -> None:
    big = "é" * (MAX_PAYLOAD_BYTES // 2 + 1)

    def child(ctx: Any) -> Any:
        yield ctx.step(lambda _: 1)
        return big

    def scenario(event: Any, ctx: Any) -> Any:
        value = yield ctx.run_in_child_context(
            twin.body(child), name="child", config=db.ChildConfig(serdes=TEXT)
        )
        yield ctx.wait(1)
        return len(value)

    outcome = twin.run(scenario)
    assert (outcome.status, outcome.result) == ("SUCCEEDED", len(big))
    (succeed,) = [u for c in outcome.backend.checkpoint_calls() for u in c.updates
                  if u.type is T.CONTEXT and u.action is A.SUCCEED]
    assert succeed.payload == ""
    assert succeed.context_options is not None and succeed.context_options.replay_children


def test_a_long_non_ascii_error_is_kept_within_32_kib_of_utf8(twin: Twin) -> None:
    def fail(_: Any) -> None:
        raise RuntimeError("\U0001f600" * 40_000)

    def scenario(event: Any, ctx: Any) -> Any:
        yield ctx.step(fail, config=db.StepConfig(retry_strategy=db.RetryPresets.none()))

    outcome = twin.run(scenario)
    assert outcome.status == "FAILED"
    (fail_update,) = [u for c in outcome.backend.checkpoint_calls() for u in c.updates
                      if u.type is T.STEP and u.action is A.FAIL]
    error = fail_update.error
    assert error is not None and (error.error_message or "").startswith("\U0001f600" * 3)
    wire = json.dumps(to_wire(error), ensure_ascii=False).encode()
    assert len(wire) <= MAX_ERROR_BYTES

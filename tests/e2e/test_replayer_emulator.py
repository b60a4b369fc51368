"""The Replayer on histories recorded by AWS's emulator: a ``GetDurableExecutionHistory``
export, a ``GetDurableExecutionState`` export, and AWS read directly (``--aws``)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import durable_backend as db
from durable_backend.backend import RetryPolicy, SyncRealBackend
from durable_backend.cli import main
from durable_backend.testing import Replayer, histories_from_aws, history_from_json
from tests.e2e._runs import Run, emulator_history, run_on_emulator
from tests.support.emulator import Emulator

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

pytestmark = pytest.mark.emulator

FAST = RetryPolicy(initial_delay_seconds=0.01, max_delay_seconds=0.05, max_total_seconds=5)


def workflow(event: dict[str, Any], ctx: db.DurableContext) -> dict[str, Any]:
    total = ctx.step(lambda _: event["amount"] * 2, name="double")
    ctx.wait(1, name="cool-off")
    answer = ctx.wait_for_callback(lambda _id, _ctx: None, name="approval")
    return ctx.step(lambda _: {"total": total, "approval": json.loads(answer)}, name="finish")


def renamed(event: dict[str, Any], ctx: db.DurableContext) -> dict[str, Any]:
    total = ctx.step(lambda _: event["amount"] * 2, name="double")
    ctx.wait(1, name="cool-off")
    answer = ctx.wait_for_callback(lambda _id, _ctx: None, name="sign-off")
    return ctx.step(lambda _: {"total": total, "approval": json.loads(answer)}, name="finish")


def _iso(value: object) -> str:
    assert isinstance(value, datetime)
    return value.isoformat()  # what the AWS CLI prints for timestamps


def run(emulator: Emulator, client: LambdaClient, states: list[Mapping[str, Any]]) -> Run:
    """Run ``workflow`` to its end; each invocation first exports the state it was handed."""
    handler = db.durable_execution(backend=SyncRealBackend(client, retry=FAST))(workflow)

    def exporting(event: dict[str, Any], context: Any) -> dict[str, Any]:
        state: Any = client.get_durable_execution_state(
            DurableExecutionArn=event["DurableExecutionArn"],
            CheckpointToken=event["CheckpointToken"],
        )
        states.append({"Operations": state["Operations"]})
        return handler(event, context)

    return run_on_emulator(
        emulator, client, exporting, '{"amount": 21}', execution_name=f"r-{uuid.uuid4().hex[:8]}"
    )


def test_history_and_state_exports_replay(emulator: Emulator, tmp_path: Path) -> None:
    client = emulator.client()
    states: list[Mapping[str, Any]] = []
    result = run(emulator, client, states)
    assert result.status == "SUCCEEDED"

    history_file = tmp_path / "history.json"
    history_file.write_text(
        json.dumps({"Events": emulator_history(client, result.arn)}, default=_iso)
    )
    history = history_from_json(history_file)
    assert history.status == "SUCCEEDED"
    verdict = Replayer(workflow).replay(history)
    assert verdict.compatible, str(verdict)
    # The children of the finished wait_for_callback context are not read back.
    assert (verdict.replayed, verdict.recorded) == (4, 4)
    broken = Replayer(renamed).replay(history)
    assert broken.divergence is not None
    assert (broken.divergence.position, str(broken.divergence.new)) == (
        "3", "CONTEXT/WaitForCallback named 'sign-off'",
    )

    # The last invocation was handed the state after the callback was answered: in flight.
    state_file = tmp_path / "state.json"
    state_file.write_text(json.dumps(states[-1], default=_iso))
    in_flight = history_from_json(state_file)
    assert in_flight.status == "RUNNING"
    assert Replayer(workflow).replay(in_flight).compatible
    assert Replayer(renamed).replay(in_flight).divergence is not None


def test_aws_read_directly(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    client = emulator.client()
    result = run(emulator, client, [])
    [history] = histories_from_aws([result.arn], client=client)
    assert history.arn == result.arn and history.source == f"aws:{result.arn}"
    assert Replayer(workflow).replay(history).compatible
    execution: Any = client.get_durable_execution(DurableExecutionArn=result.arn)
    function = execution["FunctionArn"].split(":function:", 1)[1].split(":", 1)[0]
    [by_function] = histories_from_aws(function_name=function, status=None, client=client)
    assert by_function.arn == result.arn
    assert histories_from_aws(function_name=function, client=client) == [], "none RUNNING"

    # The CLI reads AWS with the usual boto3 configuration: here, pointed at the emulator.
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", emulator.endpoint_url)
    monkeypatch.setenv("AWS_DEFAULT_REGION", emulator.region)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    module = __name__
    code = main(["replay", f"{module}:workflow", "--aws", "--arn", result.arn])
    out = capsys.readouterr().out
    assert code == 0 and f"compatible   aws:{result.arn}" in out
    code = main(["replay", f"{module}:renamed", "--aws", "--arn", result.arn])
    out = capsys.readouterr().out
    assert code == 1 and "named 'sign-off'" in out


def test_replay_safe_values_on_the_emulator(emulator: Emulator) -> None:
    client = emulator.client()
    seen: list[tuple[str, float, str]] = []

    @db.durable_execution(backend=SyncRealBackend(client, retry=FAST))
    def values(event: dict[str, Any], ctx: db.DurableContext) -> list[str]:
        moment, number, ident = ctx.now().isoformat(), ctx.random(), str(ctx.uuid4())
        seen.append((moment, number, ident))
        ctx.wait(1, name="between")
        return [moment, ctx.now().isoformat()]

    result = run_on_emulator(
        emulator, client, values, "{}", execution_name=f"v-{uuid.uuid4().hex[:8]}"
    )
    assert result.status == "SUCCEEDED"
    assert len(seen) == 2 and seen[0] == seen[1]
    assert result.result[0] == seen[0][0] <= result.result[1]
    assert [e["EventType"] for e in result.events if e.get("SubType") == "Now"] == [
        "StepSucceeded", "StepSucceeded",
    ]

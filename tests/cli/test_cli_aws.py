"""The CLI's ``--aws`` commands against AWS's emulator, reached only through boto3's standard
configuration (AWS_ENDPOINT_URL_LAMBDA, AWS_REGION, credentials), as a user reaches AWS."""

from __future__ import annotations

import json

import pytest

from durable_backend._aws_executions import AwsExecutions
from durable_backend.cli import main
from tests.support.emulator import Emulator
from tests.support.service_env import ended, use_emulator, waiting_callback

pytestmark = pytest.mark.emulator


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, emulator: Emulator) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    use_emulator(monkeypatch, emulator)


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_list_history_callbacks_and_answers_on_the_service(
    capsys: pytest.CaptureFixture[str], emulator: Emulator, approval_function: str
) -> None:
    paid = emulator.start_execution(approval_function, json.dumps({"order": "o-1"}),
                                    execution_name="paid")
    refused = emulator.start_execution(approval_function, json.dumps({"order": "o-2"}),
                                       execution_name="refused")
    service = AwsExecutions()
    paid_id, refused_id = waiting_callback(service, paid), waiting_callback(service, refused)

    code, out, err = run_cli(capsys, "list", "--aws", "--function", approval_function)
    assert (code, err) == (0, "")
    assert f"executions of {approval_function}" in out
    assert "paid" in out and "refused" in out and out.count("RUNNING") == 2

    code, out, _ = run_cli(capsys, "callbacks", "--aws", "--function", approval_function,
                           "--json")
    assert code == 0
    waiting = {row["execution"]: row["callback_id"] for row in json.loads(out)}
    assert waiting == {"paid": paid_id, "refused": refused_id}

    assert run_cli(capsys, "callback", "heartbeat", paid_id, "--aws")[0] == 0
    code, out, _ = run_cli(capsys, "callback", "succeed", paid_id, "--aws",
                           "--result", '{"approved": true}')
    assert code == 0 and "callback succeeded" in out
    code, _, _ = run_cli(capsys, "callback", "fail", refused_id, "--aws", "--error", "no budget")
    assert code == 0
    assert ended(service, paid)["Status"] == "SUCCEEDED"
    assert ended(service, refused)["Error"]["ErrorMessage"] == "no budget"

    # By name (found through the function's listing) or by ARN: the same timeline.
    code, by_name, _ = run_cli(capsys, "history", "paid", "--aws", "--function",
                               approval_function, "--json")
    assert code == 0
    code, by_arn, _ = run_cli(capsys, "history", paid, "--aws", "--json")
    assert code == 0 and json.loads(by_name) == json.loads(by_arn)
    code, out, _ = run_cli(capsys, "history", paid, "--aws")
    assert code == 0 and "approval" in out and "SUCCEEDED" in out


def test_stop_on_the_service(
    capsys: pytest.CaptureFixture[str], emulator: Emulator, approval_function: str
) -> None:
    arn = emulator.start_execution(approval_function, json.dumps({"order": "o-3"}),
                                   execution_name="doomed")
    service = AwsExecutions()
    waiting_callback(service, arn)
    code, out, err = run_cli(capsys, "stop", "doomed", "--aws", "--function", approval_function,
                             "--error", "ops cancelled")
    assert (code, err) == (0, "") and "stopped" in out
    # The error goes out as the request's payload, as botocore's model has it; the emulator
    # reads it from an "Error" member instead and records its default message.
    assert service.get_execution(arn)["Status"] == "STOPPED"


def test_aws_mistakes_are_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = run_cli(capsys, "list", "--aws")
    assert (code, out) == (2, "") and "--function NAME" in err and len(err.splitlines()) == 1

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    code, out, err = run_cli(capsys, "list", "--aws", "--function", "orders:live")
    assert (code, out) == (2, "") and len(err.splitlines()) == 1
    assert "Unable to locate credentials" in err
    assert "lambda:ListDurableExecutionsByFunction" in err

"""The console's JSON API and its command, without a browser."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from durable_backend import cli
from durable_backend._aws_executions import AwsExecutions
from durable_backend._console import AwsSource, LocalSource, serve
from tests.support.emulator import Emulator
from tests.support.service_env import ended, use_emulator, waiting_callback


@pytest.fixture
def database(tmp_path: Path) -> str:
    path = str(tmp_path / "api.db")
    assert cli.main(["run", "examples.order_workflow:handler", "--input",
                     '{"order_id": "o-9", "amount": 500}', "--name", "big", "--db", path,
                     "--quiet"]) == 0
    return path


@pytest.fixture
def base_url(database: str) -> Iterator[str]:
    server = serve(LocalSource(database), port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _call(url: str, body: bytes | None = None, **headers: str) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def test_the_api_lists_and_reads_executions_with_their_pending_callbacks(base_url: str) -> None:
    status, listing = _call(f"{base_url}/api/executions")
    assert status == 200
    (row,) = listing["executions"]
    assert (row["DurableExecutionName"], row["Status"]) == ("big", "RUNNING")
    status, run = _call(f"{base_url}/api/execution?arn={row['DurableExecutionArn']}")
    assert status == 200
    assert run["function_name"] == "order_workflow" and run["resumable"] is False
    (callback,) = run["pending_callbacks"]
    assert callback["name"] == "approval" and len(callback["callback_id"]) > 60


def test_writes_refuse_other_origins_bad_bodies_and_unknown_callbacks(base_url: str) -> None:
    url = f"{base_url}/api/callback"
    body = json.dumps({"callback_id": "nope", "action": "succeed"}).encode()
    status, answer = _call(url, body, **{"Content-Type": "application/json",
                                         "Origin": "http://evil.example"})
    assert (status, answer["error"]) == (403, "cross-origin requests are refused")
    status, answer = _call(url, b"not json", **{"Content-Type": "application/json"})
    assert status == 400 and "not JSON" in answer["error"]
    status, answer = _call(url, body, **{"Content-Type": "text/plain"})
    assert status == 415
    status, answer = _call(url, body, **{"Content-Type": "application/json"})
    assert status == 400 and "callback" in answer["error"].lower()
    status, answer = _call(f"{base_url}/api/nothing", body, **{"Content-Type": "application/json"})
    assert status == 404


def test_an_answer_without_the_handler_says_how_to_resume(base_url: str) -> None:
    _, listing = _call(f"{base_url}/api/executions")
    arn = listing["executions"][0]["DurableExecutionArn"]
    _, run = _call(f"{base_url}/api/execution?arn={arn}")
    callback_id = run["pending_callbacks"][0]["callback_id"]
    body = json.dumps({"callback_id": callback_id, "action": "succeed",
                       "result": '{"approved": true}'}).encode()
    status, answer = _call(f"{base_url}/api/callback", body,
                           **{"Content-Type": "application/json"})
    assert status == 200 and "--resume" in answer["message"]
    _, run = _call(f"{base_url}/api/execution?arn={arn}")
    assert run["pending_callbacks"] == [] and run["status"] == "RUNNING"


def test_the_command_listens_on_loopback_and_says_so(database: str) -> None:
    process = subprocess.Popen(
        [sys.executable, "-X", "faulthandler", "-m", "durable_backend", "ui", "--db", database,
         "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # As from a terminal: a shell's background job (a CI script's `&`) ignores SIGINT, and a
        # child started with it ignored never gets Python's KeyboardInterrupt handler.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert process.stdout is not None and process.stderr is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if "Ctrl-C" in line:
            break
    process.send_signal(signal.SIGINT)
    try:
        code = process.wait(timeout=30)
    except subprocess.TimeoutExpired:  # show where it hangs: faulthandler dumps every thread
        process.send_signal(signal.SIGABRT)
        process.wait()
        pytest.fail(f"the console did not stop on Ctrl-C:\n{process.stderr.read()}")
    assert code == 0, process.stderr.read()
    text = "".join(lines)
    assert "http://127.0.0.1:" in text and "listening on loopback only" in text


def test_the_command_needs_a_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["ui", "--db", str(tmp_path / "missing.db")]) == 2
    assert "no local database" in capsys.readouterr().err


@pytest.mark.emulator
def test_with_aws_the_console_reads_and_answers_the_real_service(
    emulator: Emulator, approval_function: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_emulator(monkeypatch, emulator)
    arn = emulator.start_execution(approval_function, json.dumps({"order": "o-4"}))
    with AwsExecutions() as executions:
        callback_id = waiting_callback(executions, arn)
        server = serve(AwsSource(executions, [approval_function]), port=0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            status, listing = _call(f"{base}/api/executions")
            assert status == 200 and approval_function in listing["source"]
            assert [row["DurableExecutionArn"] for row in listing["executions"]] == [arn]
            _, run = _call(f"{base}/api/execution?arn={arn}")
            assert [cb["callback_id"] for cb in run["pending_callbacks"]] == [callback_id]
            body = json.dumps({"callback_id": callback_id, "action": "succeed",
                               "result": '"yes"'}).encode()
            status, answer = _call(f"{base}/api/callback", body,
                                   **{"Content-Type": "application/json"})
            assert status == 200 and "service resumes" in answer["message"]
            assert ended(executions, arn)["Status"] == "SUCCEEDED"
            _, run = _call(f"{base}/api/execution?arn={arn}")
            assert run["status"] == "SUCCEEDED" and json.loads(run["result"])["answer"] == "yes"
        finally:
            server.shutdown()
            server.server_close()


def test_aws_needs_the_functions_to_show(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["ui", "--aws"]) == 2
    assert "--function NAME" in capsys.readouterr().err

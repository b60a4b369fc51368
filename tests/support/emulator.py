"""Fixtures that run AWS's durable execution emulator, ``dex-local-runner``, for the session.

The emulator serves the durable execution REST API (a stock boto3 ``lambda`` client with
``endpoint_url`` works) and runs handlers by calling Lambda ``Invoke`` on the
``LambdaEndpoint`` started beside it. A checkpoint token is valid only while an invocation is
in flight, so ``Emulator.hold_execution`` registers a handler that hands its event to the test
and blocks until the test is done with the token. Facts and quirks: /work/notes/emulator.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.config import Config

from tests.support.lambda_endpoint import LambdaEndpoint, LocalLambdaContext

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
STARTUP_TIMEOUT_SECONDS = 30.0
INVOCATION_WAIT_SECONDS = 15.0
STALL_SECONDS = 5.0
DEFAULT_OUTPUT: Mapping[str, Any] = {"Status": "SUCCEEDED", "Result": "null"}
# The functions a handler may ``ctx.invoke`` on the emulator, in Lambda's configuration shape
# (a durable one has a DurableConfig): the emulator takes them at start-up. Tests register a
# handler under one of these names on the LambdaEndpoint.
INVOKE_TARGETS: Mapping[str, Any] = {
    "pricing": {"DurableConfig": {"ExecutionTimeout": 60}},
    "process-payment": {"DurableConfig": {"ExecutionTimeout": 60}},
    "lookup-price": {},
}


class EmulatorStalledError(Exception):
    """The emulator left a running execution alone: every handler call had returned and
    nothing new was recorded for ``STALL_SECONDS``, though with ``--skip-time`` a due timer
    re-invokes at once. Seen under load: a retry or wait timer that fires while the
    invocation that set it is still returning is sometimes never followed by a new one."""


@dataclass
class HeldInvocation:
    """An invocation the emulator made and that stays open until the test releases it."""

    arn: str
    checkpoint_token: str
    event: dict[str, Any]
    output: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_OUTPUT))
    _released: threading.Event = field(default_factory=threading.Event)

    def release(self, output: Mapping[str, Any] | None = None) -> None:
        """End the invocation, returning ``output`` (default: SUCCEEDED) to the emulator."""
        if output is not None:
            self.output = dict(output)
        self._released.set()


@dataclass(frozen=True)
class Emulator:
    endpoint_url: str
    lambda_endpoint: LambdaEndpoint
    log_path: Path
    region: str = REGION

    def client(self, config: Config | None = None) -> LambdaClient:
        """A stock boto3 ``lambda`` client pointed at the emulator, with dummy credentials."""
        client: LambdaClient = boto3.client(
            "lambda",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=config,
        )
        return client

    def start_execution(
        self, function_name: str, input: str = "{}", *, execution_name: str | None = None
    ) -> str:
        """Start an execution over the emulator's own HTTP API; returns its ARN.

        The emulator then invokes ``function_name`` on the ``LambdaEndpoint``.
        """
        body = {
            "AccountId": ACCOUNT_ID,
            "FunctionName": function_name,
            "FunctionQualifier": "$LATEST",
            "ExecutionName": execution_name or f"exec-{uuid.uuid4().hex[:12]}",
            "ExecutionTimeoutSeconds": 300,
            "ExecutionRetentionPeriodDays": 1,
            "Input": input,
        }
        request = urllib.request.Request(
            f"{self.endpoint_url}/start-durable-execution",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            arn: str = json.loads(response.read())["ExecutionArn"]
        return arn

    @contextlib.contextmanager
    def hold_execution(self, input: str = "{}") -> Iterator[HeldInvocation]:
        """Start an execution and yield its first invocation, held open for the test.

        The handler answers with ``HeldInvocation.output`` when the test releases it or when
        the ``with`` block ends.
        """
        function_name = f"held-{uuid.uuid4().hex[:12]}"
        arrived: queue.Queue[HeldInvocation] = queue.Queue()
        holds: list[HeldInvocation] = []

        def handler(event: dict[str, Any], _: LocalLambdaContext) -> Mapping[str, Any]:
            held = HeldInvocation(
                arn=event["DurableExecutionArn"],
                checkpoint_token=event["CheckpointToken"],
                event=event,
            )
            holds.append(held)
            arrived.put(held)
            held._released.wait(timeout=600)
            return held.output

        self.lambda_endpoint.register(function_name, handler)
        try:
            arn = self.start_execution(function_name, input)
            try:
                held = arrived.get(timeout=INVOCATION_WAIT_SECONDS)
            except queue.Empty:
                pytest.fail(
                    f"the emulator did not invoke {function_name} for {arn} within "
                    f"{INVOCATION_WAIT_SECONDS}s; see {self.log_path}"
                )
            assert held.arn == arn, (held.arn, arn)
            yield held
        finally:
            for hold in holds:
                hold.release()
            self.lambda_endpoint.unregister(function_name)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _runner_command() -> str:
    beside = Path(sys.executable).with_name("dex-local-runner")
    found = str(beside) if beside.exists() else shutil.which("dex-local-runner")
    if found is None:
        pytest.fail(
            "dex-local-runner is not installed: install the test extra "
            "(aws-durable-execution-sdk-python-testing)"
        )
    return found


def _wait_until_ready(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"dex-local-runner exited with {process.returncode}:\n"
                        f"{log_path.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.05)
    pytest.fail(f"dex-local-runner did not answer /health within {STARTUP_TIMEOUT_SECONDS}s:\n"
                f"{log_path.read_text(errors='replace')}")


@pytest.fixture(scope="session")
def lambda_endpoint() -> Iterator[LambdaEndpoint]:
    """The session's local Lambda ``Invoke`` endpoint (register handlers on it)."""
    with LambdaEndpoint(region=REGION, account_id=ACCOUNT_ID) as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def emulator(
    lambda_endpoint: LambdaEndpoint, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Emulator]:
    """``dex-local-runner`` on a free port of 127.0.0.1, invoking ``lambda_endpoint``.

    Durable timers are skipped (``--skip-time``), so waits and retry delays end at once.
    ``ctx.invoke`` may target the functions named in ``INVOKE_TARGETS``.
    """
    log_path = tmp_path_factory.mktemp("emulator") / "dex-local-runner.log"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        _runner_command(), "start-server",
        "--host", "127.0.0.1",
        "--port", str(port),
        "--lambda-endpoint", lambda_endpoint.url,
        "--local-runner-endpoint", url,
        "--local-runner-region", REGION,
        "--store-type", "memory",
        "--log-level", "WARNING",
        "--skip-time",
        "--function-configs", json.dumps(INVOKE_TARGETS),
    ]
    # The emulator signs its Invoke calls: it needs some credentials, and no metadata lookups.
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    env.pop("AWS_PROFILE", None)
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        _wait_until_ready(url, process, log_path)
        yield Emulator(endpoint_url=url, lambda_endpoint=lambda_endpoint, log_path=log_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

"""What a Lambda sandbox gives the default backends: its environment, one client for every
invocation, and a role that may lack a permission."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.stub import Stubber

import durable_backend as db
from durable_backend._errors import AccessDeniedError
from durable_backend._real import RetryPolicy, SyncRealBackend

ARN = "arn:aws:lambda:eu-central-1:123456789012:function:orders:live/durable-execution/n/id-1"
ONCE = RetryPolicy(max_attempts=1)


@pytest.fixture
def lambda_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """What Lambda sets that boto3 reads (AWS_REGION is Lambda's own name for the region)."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL",
                 "AWS_ENDPOINT_URL_LAMBDA"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")


@pytest.mark.usefixtures("lambda_environment")
def test_every_handler_of_a_sandbox_shares_one_client_in_lambdas_region() -> None:
    @db.durable_execution
    def first(event: Any, ctx: db.DurableContext) -> None:
        return None

    @db.durable_execution
    async def second(event: Any, ctx: db.AsyncDurableContext) -> None:
        return None

    client = first.backend.client
    assert second.backend.sync.client is client
    assert first.backend is first.backend  # made once, reused by every invocation
    assert client.meta.region_name == "eu-central-1"
    assert SyncRealBackend().client.meta.region_name == "eu-central-1"


@pytest.mark.usefixtures("lambda_environment")
@pytest.mark.parametrize(
    ("method", "call", "args"),
    [("checkpoint_durable_execution", "CheckpointDurableExecution", ("checkpoint", ())),
     ("get_durable_execution_state", "GetDurableExecutionState", ("get_execution_state", ""))],
)
def test_access_denied_names_the_permission_the_role_lacks(
    method: str, call: str, args: tuple[str, Any]
) -> None:
    backend = SyncRealBackend(retry=ONCE)
    name, extra = args
    with Stubber(backend.client) as stub:
        stub.add_client_error(
            method, "AccessDeniedException",
            f"User: arn:aws:sts::123456789012:assumed-role/orders-role is not authorized to "
            f"perform: lambda:{call} on resource: {ARN}", http_status_code=403,
        )
        with pytest.raises(AccessDeniedError) as caught:
            getattr(backend, name)(ARN, "token-1", extra)
    assert caught.value.permission == f"lambda:{call}"
    assert f"allow lambda:{call} on the function" in str(caught.value)

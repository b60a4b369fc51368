"""``durable_backend.__all__`` is the public surface, tested the httpx way."""

from __future__ import annotations

import inspect

import pytest

import durable_backend as db

# Names design.md §1 says users import from `durable_backend` itself (the official SDK's names).
DESIGN_NAMES = [
    "durable_execution",
    "DurableContext",
    "AsyncDurableContext",
    "StepContext",
    "StepConfig",
    "CallbackConfig",
    "WaitForCallbackConfig",
    "InvokeConfig",
    "ChildConfig",
    "MapConfig",
    "ParallelConfig",
    "CompletionConfig",
    "WaitForConditionConfig",
    "Duration",
    "RetryDecision",
    "RetryStrategyConfig",
    "create_retry_strategy",
    "RetryPresets",
    "JitterStrategy",
    "StepSemantics",
    "WaitStrategyConfig",
    "create_wait_strategy",
    "WaitForConditionDecision",
    "BatchResult",
    "BatchItemStatus",
    "CompletionReason",
    "ParallelBranch",
    "NestingType",
    "BatchItem",
    "SerDes",
    "SerDesContext",
    "StepError",
    "CallbackError",
    "CallbackTimeoutError",
    "CallbackExternalError",
    "CallbackSubmitterError",
    "InvokeError",
    "ChildContextError",
    "DurableBackend",
    "AsyncDurableBackend",
    "SyncRealBackend",
    "AsyncRealBackend",
    "DurableError",
]


def test_every_name_in_all_resolves() -> None:
    for name in db.__all__:
        assert getattr(db, name, None) is not None, name
    assert len(set(db.__all__)) == len(db.__all__)


def test_all_is_sorted() -> None:
    assert db.__all__ == sorted(db.__all__)


def test_no_public_name_is_missing_from_all() -> None:
    public = {
        name
        for name, value in vars(db).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }
    assert public == set(db.__all__)


@pytest.mark.parametrize("name", DESIGN_NAMES)
def test_design_names_are_exported(name: str) -> None:
    assert name in db.__all__

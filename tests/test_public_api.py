"""``durable_backend.__all__`` is the public surface, tested the httpx way."""

from __future__ import annotations

import importlib.metadata
import inspect

import aws_durable_execution_sdk_python as official
import pytest

import durable_backend as db
import durable_backend.backend
import durable_backend.exceptions

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
]

# Plumbing for backend implementers lives in durable_backend.backend, not at the root.
BACKEND_NAMES = [
    "InlineAsyncBackend",
    "fetch_all_operations",
    "async_fetch_all_operations",
    "SyncRealBackend",
    "AsyncRealBackend",
    "RetryPolicy",
    "Operation",
    "OperationUpdate",
    "CheckpointDurableExecutionOutput",
    "GetDurableExecutionStateOutput",
    "DurableError",
    "StaleCheckpointTokenError",
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
    assert public == set(db.__all__) - {"__version__"}


@pytest.mark.parametrize("name", DESIGN_NAMES)
def test_design_names_are_exported(name: str) -> None:
    assert name in db.__all__


@pytest.mark.parametrize("name", sorted(official.__all__))
def test_the_official_root_names_are_exported(name: str) -> None:
    assert name in db.__all__


def test_the_root_stays_short() -> None:
    assert len(db.__all__) <= 75


@pytest.mark.parametrize("name", BACKEND_NAMES)
def test_backend_plumbing_is_in_its_own_module(name: str) -> None:
    assert name not in db.__all__
    assert name in durable_backend.backend.__all__


def test_every_name_in_the_backend_module_resolves() -> None:
    module = durable_backend.backend
    assert module.__all__ == sorted(module.__all__, key=lambda n: (not n.isupper(), n))
    for name in module.__all__:
        assert getattr(module, name, None) is not None, name


def test_version_is_the_installed_distributions() -> None:
    assert db.__version__ == importlib.metadata.version("durable_backend")


def test_exported_errors_name_the_module_users_import_them_from() -> None:
    """Their recorded ErrorType is module-qualified, as the official SDK's: a class left out
    of ``_errors``' public list would record ``durable_backend._errors.<Name>``."""
    for name in durable_backend.exceptions.__all__:
        value = getattr(durable_backend.exceptions, name)
        if isinstance(value, type) and issubclass(value, BaseException):
            assert value.__module__ != "durable_backend._errors", name

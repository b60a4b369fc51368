"""BatchResult views and dict form; CompletionTracker against the official completion policy."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from durable_backend._batch import (
    BatchItem,
    BatchResult,
    CompletionReason,
    CompletionRecord,
    CompletionTracker,
)
from durable_backend._config import BatchItemStatus, CompletionConfig
from durable_backend._errors import ChildContextError, ValidationError
from durable_backend._models import ErrorObject

S, F, R = BatchItemStatus.SUCCEEDED, BatchItemStatus.FAILED, BatchItemStatus.STARTED
BOOM = ErrorObject(error_message="boom", error_type="ValueError", stack_trace=("l1", "l2"))


def sample() -> BatchResult[dict[str, int]]:
    return BatchResult(
        [
            BatchItem(0, S, {"v": 0}),
            BatchItem(1, F, error=BOOM),
            BatchItem(2, S, None),
            BatchItem(3, R),
        ],
        CompletionReason.FAILURE_TOLERANCE_EXCEEDED,
    )


def test_views_and_counts() -> None:
    r = sample()
    assert r.get_results() == [{"v": 0}, None]
    assert r.get_errors() == [BOOM]
    assert [i.index for i in r.succeeded()] == [0, 2]
    assert [i.index for i in r.failed()] == [1]
    assert [i.index for i in r.started()] == [3]
    counts = (r.success_count, r.failure_count, r.started_count, r.total_count)
    assert counts == (2, 1, 1, 4)
    assert r.has_failure and r.status is F


def test_throw_if_error_raises_first_failure_as_child_context_error() -> None:
    with pytest.raises(ChildContextError) as caught:
        sample().throw_if_error()
    assert caught.value.message == "boom"
    assert caught.value.error_type == "ValueError"
    assert caught.value.stack_trace == ["l1", "l2"]
    BatchResult([BatchItem(0, S, 1)], CompletionReason.ALL_COMPLETED).throw_if_error()


def test_throw_if_error_without_error_object() -> None:
    with pytest.raises(ChildContextError, match="Batch item 4 failed"):
        BatchResult([BatchItem(4, F)], CompletionReason.ALL_COMPLETED).throw_if_error()


def test_dict_form_matches_official_and_round_trips() -> None:
    data = sample().to_dict()
    assert data["completionReason"] == "FAILURE_TOLERANCE_EXCEEDED"
    assert data["all"][1] == {
        "index": 1,
        "status": "FAILED",
        "result": None,
        "error": {"ErrorMessage": "boom", "ErrorType": "ValueError", "StackTrace": ["l1", "l2"]},
    }
    assert BatchResult.from_dict(data) == sample()


def test_official_sdk_reads_our_dict_form() -> None:
    models = pytest.importorskip("aws_durable_execution_sdk_python.concurrency.models")
    theirs = models.BatchResult.from_dict(sample().to_dict())
    assert theirs.completion_reason.value == "FAILURE_TOLERANCE_EXCEEDED"
    assert [i.status.value for i in theirs.all] == ["SUCCEEDED", "FAILED", "SUCCEEDED", "STARTED"]
    assert theirs.all[1].error.message == "boom"
    assert BatchResult.from_dict(theirs.to_dict()) == sample()


def test_from_dict_infers_missing_reason() -> None:
    data = sample().to_dict()
    del data["completionReason"]
    assert BatchResult.from_dict(data).completion_reason is (
        CompletionReason.FAILURE_TOLERANCE_EXCEEDED
    )
    assert (
        BatchResult.from_dict(data, CompletionConfig.all_completed()).completion_reason
        is CompletionReason.ALL_COMPLETED
    )


# --- CompletionTracker ------------------------------------------------------------------------


def run(total: int, config: CompletionConfig | None, outcomes: str) -> CompletionReason | None:
    """Feed 's'/'f' outcomes; return the decision after the last one."""
    t = CompletionTracker(total, config)
    for i, o in enumerate(outcomes):
        t.record(i, BatchItemStatus.SUCCEEDED if o == "s" else BatchItemStatus.FAILED)
    return t.decision()


ALL = CompletionReason.ALL_COMPLETED
MIN = CompletionReason.MIN_SUCCESSFUL_REACHED
TOL = CompletionReason.FAILURE_TOLERANCE_EXCEEDED


@pytest.mark.parametrize(
    ("total", "config", "outcomes", "expected"),
    [
        (0, None, "", ALL),
        (3, None, "ss", None),
        (3, None, "sss", ALL),
        (3, None, "f", TOL),  # default: fail fast
        (3, CompletionConfig.all_successful(), "sf", TOL),
        (3, CompletionConfig.all_completed(), "ff", None),
        (3, CompletionConfig.all_completed(), "fff", ALL),
        (3, CompletionConfig.first_successful(), "ff", None),  # failures never stop it
        (3, CompletionConfig.first_successful(), "ffs", ALL),
        (3, CompletionConfig.first_successful(), "fs", MIN),
        (5, CompletionConfig(min_successful=2, tolerated_failure_count=1), "fs", None),
        (5, CompletionConfig(min_successful=2, tolerated_failure_count=1), "ff", TOL),
        (5, CompletionConfig(tolerated_failure_count=2), "ff", None),
        (5, CompletionConfig(tolerated_failure_count=2), "fff", TOL),
        (2, CompletionConfig(tolerated_failure_count=0), "sf", TOL),  # tolerance beats "all done"
        (10, CompletionConfig(tolerated_failure_percentage=20), "ff", None),  # 20% is tolerated
        (10, CompletionConfig(tolerated_failure_percentage=20), "fff", TOL),
        (
            100,
            CompletionConfig(tolerated_failure_percentage=7),
            "f" * 7,
            None,
        ),  # exact, no float noise
        (100, CompletionConfig(tolerated_failure_percentage=7), "f" * 8, TOL),
        (1000, CompletionConfig(tolerated_failure_percentage=33.3), "f" * 333, None),
        (1000, CompletionConfig(tolerated_failure_percentage=33.3), "f" * 334, TOL),
        (
            4,
            CompletionConfig(tolerated_failure_count=3, tolerated_failure_percentage=25),
            "ff",
            TOL,
        ),
        (4, CompletionConfig(min_successful=1, tolerated_failure_percentage=0), "s", MIN),
    ],
)
def test_completion_boundaries(
    total: int, config: CompletionConfig | None, outcomes: str, expected: CompletionReason | None
) -> None:
    assert run(total, config, outcomes) is expected


def test_tracker_counts_and_reason() -> None:
    t = CompletionTracker(4, CompletionConfig.all_completed())
    t.record(0, BatchItemStatus.SUCCEEDED)
    t.record(1, BatchItemStatus.FAILED)
    assert (t.succeeded, t.failed, t.completed, t.total) == (1, 1, 2, 4)
    assert t.decision() is None and t.reason() is ALL


@pytest.mark.parametrize("total", [-1, 1.0, True])
def test_tracker_rejects_bad_total(total: Any) -> None:
    with pytest.raises(ValidationError, match="batch total must be an int >= 0"):
        CompletionTracker(total)


configs = st.builds(
    CompletionConfig,
    min_successful=st.none() | st.integers(1, 12),
    tolerated_failure_count=st.none() | st.integers(0, 12),
    tolerated_failure_percentage=st.none()
    | st.integers(0, 100)
    | st.floats(0, 100, allow_nan=False),
)


@given(
    total=st.integers(0, 12),
    config=st.none() | configs,
    outcomes=st.text(alphabet="sf", max_size=12),
)
def test_tracker_agrees_with_official_policy(
    total: int, config: CompletionConfig | None, outcomes: str
) -> None:
    """The official CompletionPolicy decides the same at every step (its float percentage
    comparison aside: at an exact boundary it can be off by rounding, ours is exact)."""
    models = pytest.importorskip("aws_durable_execution_sdk_python.concurrency.models")
    official_config = pytest.importorskip("aws_durable_execution_sdk_python.config")
    outcomes = outcomes[:total]
    theirs_config = (
        None
        if config is None
        else official_config.CompletionConfig(
            min_successful=config.min_successful,
            tolerated_failure_count=config.tolerated_failure_count,
            tolerated_failure_percentage=config.tolerated_failure_percentage,
        )
    )
    policy = models.CompletionPolicy.from_config(total, theirs_config)
    ours = CompletionTracker(total, config)
    succeeded = failed = 0
    for step in [None, *outcomes]:
        if step == "s":
            succeeded += 1
            ours.record(succeeded + failed - 1, BatchItemStatus.SUCCEEDED)
        elif step == "f":
            failed += 1
            ours.record(succeeded + failed - 1, BatchItemStatus.FAILED)
        pct = config.tolerated_failure_percentage if config else None
        if pct is not None and total:
            assume(abs(failed / total * 100 - pct) > 1e-9)
        ended = policy.is_complete(succeeded, failed) or not policy.should_continue(failed)
        expected = policy.reason(succeeded, failed) if ended else None
        assert ours.decision() is (None if expected is None else CompletionReason(expected.value))
        if expected is not None:
            break


@pytest.mark.parametrize(
    "payload",
    [None, "", "a summary", "[]", '{"totalCount": 2}', '{"totalCount": -1, "completionReason":'
     ' "ALL_COMPLETED", "startedIndexes": []}', '{"totalCount": 2, "completionReason": "NOPE",'
     ' "startedIndexes": []}', '{"totalCount": 2, "completionReason": "ALL_COMPLETED",'
     ' "startedIndexes": [5]}'],
)
def test_completion_record_ignores_what_is_not_an_envelope(payload: str | None) -> None:
    assert CompletionRecord.from_summary(payload) is None


def test_completion_record_reads_either_index_form() -> None:
    started = (
        '{"totalCount": 4, "completionReason": "MIN_SUCCESSFUL_REACHED", "startedIndexes": [2]}'
    )
    completed = started.replace('"startedIndexes": [2]', '"completedIndexes": [0, 1, 3]')
    for payload in (started, completed):
        record = CompletionRecord.from_summary(payload)
        reason = CompletionReason.MIN_SUCCESSFUL_REACHED
        assert record == CompletionRecord(reason, 4, frozenset({2}))

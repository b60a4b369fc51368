"""Folding ``GetDurableExecutionHistory`` events back into operations: what a history states,
read the way the service's own state would show it."""

from __future__ import annotations

from datetime import UTC, datetime

from durable_backend.testing import operations_from_events

STEP = {"Id": "s1", "Name": "flaky", "SubType": "Step"}
END = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _failed(attempt: int) -> dict[str, object]:
    return {**STEP, "EventType": "StepFailed", "StepFailedDetails": {
        "Error": {"Payload": {"ErrorMessage": "no", "ErrorType": "ConnectionError"}},
        "RetryDetails": {"CurrentAttempt": attempt, "NextAttemptDelaySeconds": 1}}}


def test_a_retry_that_succeeds_is_the_next_attempt_even_without_retry_details() -> None:
    events = [{**STEP, "EventType": "StepStarted"}, _failed(1),
              {**STEP, "EventType": "StepStarted"}, _failed(2),
              {**STEP, "EventType": "StepStarted"},
              {**STEP, "EventType": "StepSucceeded",
               "StepSucceededDetails": {"Result": {"Payload": '"ok"'}}}]
    (step,) = operations_from_events(events)
    assert step.step_details is not None
    assert (step.status.value, step.step_details.attempt, step.step_details.result) == (
        "SUCCEEDED", 3, '"ok"')


def test_retry_details_on_the_end_event_win() -> None:
    events = [_failed(1), {**STEP, "EventType": "StepSucceeded", "StepSucceededDetails": {
        "Result": {"Payload": "1"}, "RetryDetails": {"CurrentAttempt": 5}}}]
    (step,) = operations_from_events(events)
    assert step.step_details is not None and step.step_details.attempt == 5


def test_a_wait_keeps_its_scheduled_end_from_any_timestamp_format() -> None:
    wait = {"Id": "w1", "Name": "pause", "SubType": "Wait"}
    for stamp in (END, int(END.timestamp() * 1000), END.isoformat()):
        events = [{**wait, "EventType": "WaitStarted",
                   "WaitStartedDetails": {"Duration": 5, "ScheduledEndTimestamp": stamp}},
                  {**wait, "EventType": "WaitSucceeded", "WaitSucceededDetails": {"Duration": 5}}]
        (op,) = operations_from_events(events)
        assert op.wait_details is not None
        assert (op.status.value, op.wait_details.scheduled_end_timestamp) == ("SUCCEEDED", END)

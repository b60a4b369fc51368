"""Named normalizations, one per known way the emulator's history differs from the service's.

Each function takes the emulator's events and returns them as the service (and our
in-memory fake, which follows protocol.md §7) would record them. A comparison applies only
the ones it names, so every tolerated difference is visible in the test that tolerates it.
"""

from __future__ import annotations

from typing import Any

Events = list[dict[str, Any]]


def emulator_skip_time_ends_waits_before_invocation_completed(events: Events) -> Events:
    """With ``--skip-time`` the emulator fires a wait's timer on its next scheduler turn,
    which can be before the invocation that started the wait has returned PENDING. The
    service (§7: ``WaitStarted, InvocationCompleted, WaitSucceeded``) fires it only after
    the duration, long after that invocation ended. Move each ``WaitSucceeded`` that
    precedes the end of its own invocation to just after that ``InvocationCompleted``."""
    out: Events = []
    held: Events = []
    started_in_this_invocation: set[str | None] = set()
    for event in events:
        kind = event["EventType"]
        if kind == "WaitStarted":
            started_in_this_invocation.add(event.get("Id"))
        if kind == "WaitSucceeded" and event.get("Id") in started_in_this_invocation:
            held.append(event)
            continue
        out.append(event)
        if kind == "InvocationCompleted":
            out.extend(held)
            held.clear()
            started_in_this_invocation.clear()
    return out + held


def emulator_returns_children_of_completed_contexts(operations: Events) -> Events:
    """The emulator puts every operation into the invocation's state. The service leaves out
    the children of a completed context unless it was checkpointed with ``ReplayChildren``
    (§8), as the engine replays such a context from its stored result alone. Drop them."""
    closed = {
        op["Id"]
        for op in operations
        if op["Type"] == "CONTEXT"
        and op["Status"] in {"SUCCEEDED", "FAILED"}
        and not (op.get("ContextDetails") or {}).get("ReplayChildren")
    }
    return [op for op in operations if not _inside(op, closed, operations)]


def _inside(op: dict[str, Any], closed: set[str], operations: Events) -> bool:
    parents = {o["Id"]: o.get("ParentId") for o in operations}
    parent = op.get("ParentId")
    while parent is not None:
        if parent in closed:
            return True
        parent = parents.get(parent)
    return False


def emulator_reports_a_closed_callback_as_not_found(code: str) -> str:
    """Answering a callback that already completed: the service rejects it with
    ``CallbackTimeoutException`` (§5); the emulator with 404 ``ResourceNotFoundException``
    ("Callback operation [...] is not in STARTED state")."""
    return "CallbackTimeoutException" if code == "ResourceNotFoundException" else code

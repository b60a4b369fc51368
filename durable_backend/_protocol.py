"""The service's numbers and names (protocol.md §2, §5, §6) and the ARN/id helpers, in one place.

The engine, the drivers, the real backend and the local service all read them from here, so a
limit is changed once and the SDK and its local service never disagree about it.
"""

from __future__ import annotations

from datetime import timedelta
from hashlib import blake2b

# Error codes the service sends (x-amzn-ErrorType) and the local service mimics.
INVALID_PARAMETER = "InvalidParameterValueException"
CALLBACK_TIMEOUT = "CallbackTimeoutException"
RESOURCE_NOT_FOUND = "ResourceNotFoundException"
ALREADY_STARTED = "DurableExecutionAlreadyStartedException"
STALE_TOKEN_PREFIX = "Invalid checkpoint token"
"""The only message text that is classified: a 400 starting with it is a stale token."""

# Limits (protocol.md §6).
MAX_DURATION_SECONDS = 31_622_400
MAX_PAYLOAD_BYTES = 256 * 1024
MAX_EXECUTION_RESULT_BYTES = 6 * 1024 * 1024
MAX_RESPONSE_BYTES = MAX_EXECUTION_RESULT_BYTES - 50
"""An invocation's response; a larger result goes through an EXECUTION checkpoint."""
MAX_CALLBACK_RESULT_BYTES = 1024 * 1024
MAX_ERROR_BYTES = 32 * 1024
MAX_BATCH_UPDATES = 250
MAX_BATCH_BYTES = 750 * 1024
MAX_ID_LENGTH = 64
MAX_NAME_LENGTH = 256
MAX_SUB_TYPE_LENGTH = 32
MAX_CLIENT_TOKEN_LENGTH = 64
MAX_STATE_PAGE = 1000
"""GetDurableExecutionState's ``MaxItems`` ceiling; the SDK always asks for full pages."""
CLIENT_TOKEN_TTL = timedelta(minutes=15)
DEADLINE_MARGIN_SECONDS = 1.0
"""How long before the Lambda timeout a running step attempt is checkpointed as failed: room
for that checkpoint call and the handler's return."""


def execution_id(arn: str) -> str:
    """The EXECUTION operation's Id: the ARN's last ``/`` segment (nothing more is parsed)."""
    return arn.rsplit("/", 1)[-1]


def operation_id(parent_id: str | None, position: int) -> str:
    """The id of the ``position``-th durable call (from 1) inside ``parent_id``'s context.

    blake2b hex[:64] of ``"<n>"`` or ``"<parent>-<n>"``, as the official Python SDK: histories
    stay comparable across SDKs and AWS's tools read ours.
    """
    key = f"{parent_id}-{position}" if parent_id else str(position)
    return blake2b(key.encode()).hexdigest()[:MAX_ID_LENGTH]

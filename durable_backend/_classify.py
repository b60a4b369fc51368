"""Turn botocore failures into typed ``DurableError`` subclasses (protocol.md §5).

Classification uses the error code and the HTTP status, never the message, except for the
documented ``Invalid checkpoint token`` prefix that tells a stale token from other 400s.

AWS's local emulator puts the error code in a body field ``Type`` and sends no
``x-amzn-ErrorType`` header, so botocore reports the bare HTTP status as the code (``"400"``).
``restore_error_code`` is an ``after-call`` hook that puts the body's ``Type`` back, so the
emulator's errors are classified, and raised by botocore, exactly like the service's.

``reject_unreadable_body`` is a ``before-parse`` hook for the data-plane calls: botocore reads a
success whose body is cut off or garbled as an empty answer, which for a checkpoint means "token
revoked". It raises a transient error instead, so the call is retried with the same ClientToken.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, cast

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from durable_backend._errors import (
    AccessDeniedError,
    CallbackNotOpenError,
    DurableError,
    InvalidRequestError,
    KMSError,
    NotFoundError,
    ServiceUnavailableError,
    StaleCheckpointTokenError,
    ThrottledError,
)
from durable_backend._protocol import INVALID_PARAMETER, RESOURCE_NOT_FOUND, STALE_TOKEN_PREFIX

_KMS_CODES = frozenset(
    {
        "KMSAccessDeniedException",
        "KMSDisabledException",
        "KMSInvalidStateException",
        "KMSNotFoundException",
    }
)
_ACCESS_CODES = frozenset(
    {
        "AccessDeniedException",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "ExpiredTokenException",
    }
)


def classify(exc: Exception, call: str) -> DurableError:
    """The typed error for a failed ``call``; the caller raises it ``from exc``."""
    if isinstance(exc, ClientError):
        return _classify_client_error(exc, call)
    if isinstance(exc, HTTPClientError | BotoConnectionError):
        return ServiceUnavailableError(
            f"no response from the service ({exc})", call=call, code=type(exc).__name__
        )
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return AccessDeniedError(str(exc), call=call, code=type(exc).__name__)
    if isinstance(exc, BotoCoreError):
        return InvalidRequestError(str(exc), call=call, code=type(exc).__name__)
    return DurableError(f"unexpected {type(exc).__name__}: {exc}", call=call)


def _classify_client_error(exc: ClientError, call: str) -> DurableError:
    response = _as_mapping(exc.response)
    error = _as_mapping(response.get("Error"))
    metadata = _as_mapping(response.get("ResponseMetadata"))
    status_value = metadata.get("HTTPStatusCode")
    status = status_value if isinstance(status_value, int) else None
    raw_code = str(error.get("Code") or "")
    # botocore falls back to the status as the code when it finds none: that is no code.
    code = None if not raw_code or raw_code.isdigit() else raw_code
    message = str(error.get("Message") or "") or "no message"
    kwargs: dict[str, Any] = {"call": call, "code": code or raw_code or None, "http_status": status}

    if code in _KMS_CODES:
        return KMSError(message, **kwargs)
    if code == "TooManyRequestsException" or (code is None and status == 429):
        return ThrottledError(message, retry_after_seconds=_retry_after(response), **kwargs)
    if code == "ServiceException" or (code is None and status is not None and status >= 500):
        return ServiceUnavailableError(message, **kwargs)
    if code in (None, INVALID_PARAMETER) and (status in (None, 400)):
        if message.startswith(STALE_TOKEN_PREFIX):
            return StaleCheckpointTokenError(message, **kwargs)
        return InvalidRequestError(message, **kwargs)
    if code == RESOURCE_NOT_FOUND or (code is None and status == 404):
        return NotFoundError(message, **kwargs)
    if code == "CallbackTimeoutException":
        return CallbackNotOpenError(message, **kwargs)
    if code in _ACCESS_CODES or (code is None and status in (401, 403)):
        return AccessDeniedError(message, **kwargs)
    if status is not None and status >= 500:
        return ServiceUnavailableError(message, **kwargs)
    return InvalidRequestError(message, **kwargs)


def _retry_after(response: Mapping[str, Any]) -> float | None:
    """``retryAfterSeconds`` (the modeled member, from the ``Retry-After`` header), if usable."""
    headers = _as_mapping(_as_mapping(response.get("ResponseMetadata")).get("HTTPHeaders"))
    for value in (response.get("retryAfterSeconds"), headers.get("retry-after")):
        if not isinstance(value, str | int | float):
            continue
        try:
            seconds = float(value)
        except ValueError:
            continue
        if seconds >= 0:
            return seconds
    return None


def restore_error_code(http_response: Any, parsed: dict[str, Any], **_: Any) -> None:
    """botocore ``after-call`` hook: take the error code from a body ``Type`` field.

    Only touches errors for which botocore found no code (it then reports the bare status).
    """
    error: object = parsed.get("Error")
    status: object = getattr(http_response, "status_code", None)
    if not isinstance(error, dict) or not isinstance(status, int) or status < 300:
        return
    fields = cast("dict[str, Any]", error)
    if str(fields.get("Code", "")) not in ("", str(status)):
        return
    try:
        body: object = json.loads(getattr(http_response, "content", None) or b"{}")
    except ValueError:
        return
    error_type = _as_mapping(body).get("Type")
    if isinstance(error_type, str) and error_type:
        fields["Code"] = error_type


def reject_unreadable_body(
    response_dict: Mapping[str, Any], operation_model: Any, **_: Any
) -> None:
    """botocore ``before-parse`` hook: a 2xx body that is not one whole JSON object was lost.

    The service answers every data-plane call with a JSON object (``{}`` at least), so a body
    that is empty, truncated or garbled is a response that did not arrive intact. Treating it
    as a lost response (retryable) keeps a checkpoint that was applied from reading as revoked.
    """
    status = response_dict.get("status_code")
    body = response_dict.get("body")
    if not isinstance(status, int) or status >= 300 or not isinstance(body, bytes):
        return
    try:
        parsed: object = json.loads(body)
    except ValueError:
        problem = "an empty body" if not body.strip() else f"{len(body)} bytes that are not JSON"
    else:
        if isinstance(parsed, dict):
            return
        problem = f"a JSON {type(parsed).__name__} instead of an object"
    raise ServiceUnavailableError(
        f"the HTTP {status} response was cut off or garbled ({problem}), so it is treated "
        "as lost",
        call=str(getattr(operation_model, "name", "")),
        code="UnreadableResponse",
        http_status=status,
    )


def _as_mapping(value: object) -> Mapping[str, Any]:
    return cast("Mapping[str, Any]", value) if isinstance(value, Mapping) else {}

"""A tiny local Lambda ``Invoke`` endpoint that runs registered Python callables.

AWS's emulator (``dex-local-runner``) runs a durable handler by calling Lambda ``Invoke``
(``POST /2015-03-31/functions/{name}/invocations``) on its ``--lambda-endpoint``. This server
answers those calls in-process: the payload is decoded as JSON and handed, with a small
Lambda-like context, to the callable registered under the function name; its return value is
the JSON response. An exception becomes a Lambda function error (``X-Amz-Function-Error``),
as the real service reports one. Each request runs on its own thread, so a handler may block
(for example while a test drives checkpoints with the invocation's token).
"""

from __future__ import annotations

import json
import threading
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from time import monotonic
from typing import Any
from urllib.parse import unquote

INVOKE_PREFIX = "/2015-03-31/functions/"
INVOKE_SUFFIX = "/invocations"

Handler = Callable[[dict[str, Any], "LocalLambdaContext"], Mapping[str, Any]]


@dataclass(frozen=True)
class LocalLambdaContext:
    """The attributes of the Lambda context object handlers commonly read."""

    function_name: str
    invoked_function_arn: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 128
    timeout_seconds: float = 900.0
    started: float = field(default_factory=monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (monotonic() - self.started)) * 1000))


class LambdaEndpoint:
    """Serve Lambda ``Invoke`` for registered callables on ``127.0.0.1`` (a free port by default).

    Names resolve exactly first, then without a ``:qualifier`` suffix, so ``fn`` serves
    ``fn:$LATEST`` and ``fn:1`` unless those are registered themselves.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        region: str = "us-east-1",
        account_id: str = "123456789012",
    ) -> None:
        self.region = region
        self.account_id = account_id
        self._handlers: dict[str, Handler] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, port), _make_request_handler(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def register(self, function_name: str, handler: Handler) -> None:
        with self._lock:
            self._handlers[function_name] = handler

    def unregister(self, function_name: str) -> None:
        with self._lock:
            self._handlers.pop(function_name, None)

    def resolve(self, function_name: str) -> Handler | None:
        with self._lock:
            handler = self._handlers.get(function_name)
            if handler is None and not function_name.startswith("arn:"):
                handler = self._handlers.get(function_name.split(":", 1)[0])
            return handler

    def start(self) -> LambdaEndpoint:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, name="lambda-endpoint", daemon=True
            )
            self._thread.start()
        return self

    def close(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> LambdaEndpoint:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.close()


def _make_request_handler(endpoint: LambdaEndpoint) -> type[BaseHTTPRequestHandler]:
    class _InvokeHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def do_POST(self) -> None:
            path = self.path.split("?", 1)[0]
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if not (path.startswith(INVOKE_PREFIX) and path.endswith(INVOKE_SUFFIX)):
                self._reply(404, {"Type": "UnknownOperationException", "message": path},
                            {"x-amzn-ErrorType": "UnknownOperationException"})
                return
            name = unquote(path[len(INVOKE_PREFIX):-len(INVOKE_SUFFIX)])
            handler = endpoint.resolve(name)
            if handler is None:
                message = f"Function not found: {name} (nothing registered on the LambdaEndpoint)"
                self._reply(404, {"Type": "ResourceNotFoundException", "Message": message},
                            {"x-amzn-ErrorType": "ResourceNotFoundException"})
                return
            bare = name.split(":", 1)[0]
            context = LocalLambdaContext(
                function_name=bare,
                invoked_function_arn=(
                    f"arn:aws:lambda:{endpoint.region}:{endpoint.account_id}:function:{name}"
                ),
            )
            headers = {"X-Amz-Executed-Version": "$LATEST"}
            try:
                event = json.loads(body or b"{}")
                result: Any = handler(event, context)
            except Exception as exc:
                headers["X-Amz-Function-Error"] = "Unhandled"
                result = {
                    "errorMessage": str(exc),
                    "errorType": type(exc).__name__,
                    "stackTrace": traceback.format_exception(exc),
                }
            self._reply(200, result, headers)

        def _reply(self, status: int, payload: Any, headers: Mapping[str, str]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: pytest shows failures, not every request."""

    return _InvokeHandler

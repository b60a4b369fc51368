"""``durable-backend ui``: a web console over the executions the CLI lists.

Stdlib only (``http.server``) and one static page of plain JavaScript: it runs offline, loads
nothing from a CDN and adds nothing to a Lambda artifact. The page renders the same timeline
model as ``history --json`` and polls the JSON API while an execution runs.

Executions of the handlers given on the command line are resumed after a callback is answered
from the page (in a background thread, waits skipped as in ``run``), so a user approves an
order and watches it finish. Others wait for ``run --resume``, and the page says so. With
``--aws`` the console reads the real service instead, which resumes executions itself.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from durable_backend._aws_executions import AwsExecutions
from durable_backend._errors import DurableError
from durable_backend._models import ErrorObject, ExecutionStatus
from durable_backend._timeline import build_timeline, json_default, timeline_to_json
from durable_backend.local import _rules as rules
from durable_backend.local._backend import LocalBackend
from durable_backend.local._clock import Clock, ManualClock, SkippingClock, system_clock
from durable_backend.local._runner import HandlerLike, LocalRunner

_PAGE = 100
_STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/console.js": ("console.js", "text/javascript; charset=utf-8"),
    "/console.css": ("console.css", "text/css; charset=utf-8"),
}
_MAX_BODY = 1 << 20


class ConsoleError(Exception):
    """A request the console refuses, with the HTTP status to answer it with."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


class ExecutionSource(Protocol):
    """Where the console reads executions and sends actions: the local file or the service."""

    @property
    def description(self) -> str: ...

    def executions(self) -> list[dict[str, Any]]: ...

    def timeline(self, arn: str) -> dict[str, Any]: ...

    def answer_callback(
        self, callback_id: str, result: str | None, error: ErrorObject | None
    ) -> str: ...

    def stop(self, arn: str) -> None: ...


class LocalSource:
    """The executions in a local SQLite file. Each request opens the file afresh, so runs in
    other processes show up as they happen; reads open it read-only."""

    def __init__(self, path: str, handlers: Mapping[str, HandlerLike] | None = None) -> None:
        self.path = path
        self.handlers = dict(handlers or {})
        self._resumers: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()

    @property
    def description(self) -> str:
        return f"local database {self.path}"

    @contextmanager
    def _open(self, *, read_only: bool, clock: Clock = system_clock) -> Iterator[LocalBackend]:
        with LocalBackend(self.path, clock=clock, read_only=read_only) as backend:
            yield backend

    def executions(self) -> list[dict[str, Any]]:
        with self._open(read_only=True) as backend:
            return _every_page(backend.list_executions)

    def timeline(self, arn: str) -> dict[str, Any]:
        with self._open(read_only=True) as backend:
            summary = backend.get_execution(arn)
            timeline = build_timeline(backend.history_events(arn), summary)
        out = timeline_to_json(timeline)
        out["function_name"] = _function_of(summary)
        out["resumable"] = out["function_name"] in self.handlers
        return out

    def answer_callback(
        self, callback_id: str, result: str | None, error: ErrorObject | None
    ) -> str:
        arn, _ = rules.parse_callback_id(callback_id, "SendDurableExecutionCallback")
        with self._open(read_only=True) as reader:
            latest = max(
                (e["EventTimestamp"] for e in reader.history_events(arn)),
                default=datetime.now(UTC),
            )
        # A time-skipping run may have stamped events ahead of the wall clock; never go behind.
        clock = ManualClock(max(latest, datetime.now(UTC)))
        with self._open(read_only=False, clock=clock) as backend:
            if error is None:
                backend.send_callback_success(callback_id, result)
            else:
                backend.send_callback_failure(callback_id, error)
            summary = backend.get_execution(arn)
        return self._resume(arn, _function_of(summary))

    def stop(self, arn: str) -> None:
        with self._open(read_only=False) as backend:
            backend.stop_execution(arn)

    def _resume(self, arn: str, function_name: str) -> str:
        handler = self.handlers.get(function_name)
        if handler is None:
            return f"answered; continue it with `run MODULE:HANDLER --resume {arn}`"
        with self._lock:
            running = self._resumers.get(arn)
            if running is not None and running.is_alive():
                return "answered; the console is already running it"
            worker = threading.Thread(
                target=self._run, args=(arn, handler), name=f"console-resume-{arn[-8:]}",
                daemon=True,
            )
            self._resumers[arn] = worker
            worker.start()
        return "answered; the console is running it now"

    def _run(self, arn: str, handler: HandlerLike) -> None:
        clock = SkippingClock()
        with self._open(read_only=False, clock=clock) as backend:
            runner = LocalRunner(backend, time_skipping=True, clock=clock)
            runner.bind(handler)
            summary = backend.get_execution(arn)
            if summary["Status"] == ExecutionStatus.RUNNING.value:
                runner.resume(arn, handler)

    def join(self, timeout: float | None = None) -> None:
        """Wait for executions the console resumed (tests and shutdown)."""
        for worker in list(self._resumers.values()):
            worker.join(timeout)


class AwsSource:
    """The executions of some functions in the real service (the service lists executions per
    function); the service itself resumes an execution once its callback is answered."""

    def __init__(self, executions: AwsExecutions, functions: list[str]) -> None:
        self._executions = executions
        self.functions = functions

    @property
    def description(self) -> str:
        return f"AWS, functions {', '.join(self.functions)}"

    def executions(self) -> list[dict[str, Any]]:
        rows = [row for function in self.functions
                for row in _every_page(self._executions.list_executions, function)]
        return sorted(rows, key=lambda row: str(row.get("StartTimestamp")), reverse=True)

    def timeline(self, arn: str) -> dict[str, Any]:
        summary = self._executions.get_execution(arn)
        out = timeline_to_json(build_timeline(self._executions.history_events(arn), summary))
        out["function_name"] = _function_of(summary)
        out["resumable"] = True
        return out

    def answer_callback(
        self, callback_id: str, result: str | None, error: ErrorObject | None
    ) -> str:
        if error is None:
            self._executions.send_callback_success(callback_id, result)
        else:
            self._executions.send_callback_failure(callback_id, error)
        return "answered; the service resumes the execution"

    def stop(self, arn: str) -> None:
        self._executions.stop_execution(arn)


def _every_page(
    list_executions: Callable[..., dict[str, Any]], *args: str
) -> list[dict[str, Any]]:
    """Every row of a ``list_executions`` (local or AWS), following ``NextMarker``."""
    rows: list[dict[str, Any]] = []
    marker = ""
    while True:
        page = list_executions(*args, marker=marker, max_items=_PAGE)
        rows.extend(page["DurableExecutions"])
        marker = page.get("NextMarker") or ""
        if not marker:
            return rows


def _function_of(summary: Mapping[str, Any]) -> str:
    """The function an execution belongs to, from its ARN (``...:function:NAME[:qualifier]``)."""
    arn = str(summary.get("DurableExecutionArn", ""))
    return arn.split(":function:", 1)[-1].split("/", 1)[0].split(":", 1)[0]


def _read_static(name: str) -> bytes:
    return resources.files("durable_backend").joinpath("_console_static", name).read_bytes()


def _json_body(handler: BaseHTTPRequestHandler) -> dict[str, Any]:
    length = int(handler.headers.get("Content-Length") or 0)
    if length > _MAX_BODY:
        raise ConsoleError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "the request body is too large")
    if not (handler.headers.get("Content-Type") or "").startswith("application/json"):
        raise ConsoleError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send the request as JSON")
    try:
        body = json.loads(handler.rfile.read(length) or b"{}")
    except ValueError as exc:
        raise ConsoleError(HTTPStatus.BAD_REQUEST, f"the request body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ConsoleError(HTTPStatus.BAD_REQUEST, "the request body must be a JSON object")
    return body


def _optional(body: Mapping[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise ConsoleError(HTTPStatus.BAD_REQUEST, f"{key!r} must be a string")
    return value


def _required(body: Mapping[str, Any], key: str) -> str:
    value = _optional(body, key)
    if not value:
        raise ConsoleError(HTTPStatus.BAD_REQUEST, f"{key!r} is required")
    return value


def make_handler(source: ExecutionSource) -> type[BaseHTTPRequestHandler]:
    """The request handler class serving the page and the JSON API over ``source``."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "durable-backend-console"

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the console's terminal shows where it listens, not every poll."""

        def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: HTTPStatus, data: object) -> None:
            body = json.dumps(data, default=json_default).encode()
            self._send(status, body, "application/json")

        def _guarded(self, action: Callable[[], object]) -> None:
            try:
                self._json(HTTPStatus.OK, action())
            except ConsoleError as exc:
                self._json(exc.status, {"error": str(exc)})
            except DurableError as exc:
                self._json(HTTPStatus.BAD_REQUEST, {"error": str(exc)})

        def _same_origin(self) -> None:
            """Refuse writes from other sites' pages (a browser sends their Origin)."""
            origin = self.headers.get("Origin")
            if origin is not None and urlsplit(origin).netloc != self.headers.get("Host"):
                raise ConsoleError(HTTPStatus.FORBIDDEN, "cross-origin requests are refused")

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path in _STATIC:
                name, content_type = _STATIC[url.path]
                self._send(HTTPStatus.OK, _read_static(name), content_type)
                return
            query = parse_qs(url.query)
            if url.path == "/api/executions":
                self._guarded(lambda: {
                    "source": source.description, "executions": source.executions(),
                })
            elif url.path == "/api/execution" and query.get("arn"):
                self._guarded(lambda: source.timeline(query["arn"][0]))
            else:
                self._json(HTTPStatus.NOT_FOUND, {"error": f"no such page: {url.path}"})

        def do_POST(self) -> None:
            path = urlsplit(self.path).path

            def callback() -> dict[str, str]:
                self._same_origin()
                body = _json_body(self)
                callback_id = _required(body, "callback_id")
                if body.get("action") == "succeed":
                    message = source.answer_callback(callback_id, _optional(body, "result"), None)
                elif body.get("action") == "fail":
                    error = ErrorObject(
                        error_type=_optional(body, "error_type"),
                        error_message=_optional(body, "error_message"),
                    )
                    message = source.answer_callback(callback_id, None, error)
                else:
                    raise ConsoleError(HTTPStatus.BAD_REQUEST, "'action' must be succeed or fail")
                return {"message": message}

            def stop() -> dict[str, str]:
                self._same_origin()
                source.stop(_required(_json_body(self), "arn"))
                return {"message": "stopped"}

            routes = {"/api/callback": callback, "/api/stop": stop}
            if path in routes:
                self._guarded(routes[path])
            else:
                self._json(HTTPStatus.NOT_FOUND, {"error": f"no such action: {path}"})

    return Handler


def serve(source: ExecutionSource, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """A started-but-not-serving server (call ``serve_forever``); port 0 picks a free one."""
    server = ThreadingHTTPServer((host, port), make_handler(source))
    server.daemon_threads = True
    return server

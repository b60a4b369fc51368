"""``durable-backend`` / ``python -m durable_backend``: run durable handlers on the local SQLite
backend, list executions, show a history as a timeline, and answer callbacks.

Every user mistake (a bad module path, bad JSON, an unknown ARN or callback id) ends with one
line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shlex
import sys
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from durable_backend._errors import DurableError
from durable_backend._handler import AsyncDurableHandler, DurableHandler
from durable_backend._models import ErrorObject, ExecutionStatus
from durable_backend.local import _rules as rules
from durable_backend.local._backend import LocalBackend
from durable_backend.local._clock import ManualClock, system_clock
from durable_backend.local._errors import DatabaseUnavailableError
from durable_backend.local._runner import HandlerLike, LocalRunner, RunResult

PROG = "durable-backend"
COMMAND = "python -m durable_backend"
DEFAULT_DB = os.path.join(".durable", "local.db")
EXIT_FAILED = 1
EXIT_USAGE = 2
POLL_SECONDS = 0.05
_DETAIL_WIDTH = 60


class UsageError(Exception):
    """A mistake in what the user asked for: reported as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


# --------------------------------------------------------------------------- helpers


def _parse_json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{what} is not valid JSON ({exc}): {text!r}") from None


def _load_object(spec: str) -> Any:
    """``module.path:attr`` imported from the current directory (as ``python -m`` would)."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise UsageError(f"expected MODULE:HANDLER (e.g. examples.order_workflow:handler), "
                         f"got {spec!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UsageError(f"cannot import module {module_name!r}: {exc}") from None
    target = module
    for part in attr.split("."):
        if not hasattr(target, part):
            raise UsageError(f"module {module_name!r} has no attribute {attr!r}")
        target = getattr(target, part)
    if not callable(target):
        raise UsageError(f"{spec!r} is not a handler (it is a {type(target).__name__})")
    return target


def _module_handlers(spec: str) -> dict[str, HandlerLike]:
    """The durable handlers defined beside ``spec``, by attribute name (chained targets)."""
    module = sys.modules[spec.partition(":")[0]]
    return {
        name: value
        for name, value in vars(module).items()
        if isinstance(value, DurableHandler | AsyncDurableHandler)
    }


def _open_backend(
    path: str, *, clock: ManualClock | None = None, read_only: bool = False
) -> LocalBackend:
    """The backend on ``path``; commands that only read open it read-only (a read-only file
    or mount still lists). Storage faults raise typed ``LocalStoreError``s."""
    if path != ":memory:" and not read_only:
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseUnavailableError(path, f"cannot create its directory ({exc})") from None
    return LocalBackend(path, clock=clock or system_clock, read_only=read_only)


def _require_db(path: str) -> None:
    if path != ":memory:" and not Path(path).exists():
        raise UsageError(f"no local database at {path!r}; run a workflow first or pass --db")


def _short(value: object, width: int = _DETAIL_WIDTH) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= width else text[: width - 1] + "…"


def _details(event: dict[str, Any]) -> str:
    """One readable line of an event's details: result, error, duration, ids, attempts."""
    details: dict[str, Any] = event.get(f"{event['EventType']}Details") or {}
    parts: list[str] = []
    for key in ("Input", "Result"):
        wrapped = details.get(key)
        if isinstance(wrapped, dict) and "Payload" in wrapped:
            parts.append(f"{key.lower()}={_short(wrapped['Payload'])}")
    error = details.get("Error")
    if isinstance(error, dict) and isinstance(error.get("Payload"), dict):
        payload = error["Payload"]
        parts.append(f"error={payload.get('ErrorType')}: {_short(payload.get('ErrorMessage'))}")
    retry = details.get("RetryDetails")
    if isinstance(retry, dict):
        parts.append(f"attempt={retry.get('CurrentAttempt')}")
        if retry.get("NextAttemptDelaySeconds"):
            parts.append(f"retry in {retry['NextAttemptDelaySeconds']}s")
    if "Duration" in details:
        parts.append(f"duration={details['Duration']}s")
    for key, label in (("FunctionName", "function"), ("CallbackId", "callback_id"),
                       ("Timeout", "timeout"), ("ExecutionTimeout", "timeout")):
        if key in details:
            parts.append(f"{label}={_short(str(details[key]), 24)}")
    if "Error" in details and not isinstance(details["Error"], dict):
        parts.append(f"error={details['Error']}")
    return "  ".join(parts)


def _time(value: object) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    return str(value or "")


def _event_line(index: int, event: dict[str, Any]) -> str:
    name = event.get("Name") or ""
    color = "red" if event["EventType"].endswith(("Failed", "TimedOut", "Stopped")) else (
        "green" if event["EventType"].endswith("Succeeded") else "cyan"
    )
    return (
        f"[dim]{index:>3} {_time(event['EventTimestamp'])}[/dim] "
        f"[{color}]{event['EventType']:<22}[/{color}] {escape(name)} "
        f"[dim]{escape(_details(event))}[/dim]"
    )


# --------------------------------------------------------------------------- commands


def _run(args: argparse.Namespace, out: Console) -> int:
    handler = _load_object(args.target)
    if not isinstance(handler, DurableHandler | AsyncDurableHandler):
        raise UsageError(f"{args.target!r} is not decorated with @durable_execution")
    payload = None if args.resume else json.dumps(_parse_json(args.input, "--input"))
    clock = None if args.real_time else ManualClock(datetime.now(UTC))
    with _open_backend(args.db, clock=clock) as backend:
        runner = LocalRunner(backend, time_skipping=clock is not None, clock=clock)
        for name, target in _module_handlers(args.target).items():
            runner.register(name, target)
        for spec in args.function:
            name, sep, target_spec = spec.partition("=")
            if not sep or not name:
                raise UsageError(f"--function expects NAME=MODULE:HANDLER, got {spec!r}")
            runner.register(name, _load_object(target_spec))
        if args.resume:
            runner.backend.get_execution(args.resume)
            arn = args.resume
            runner.bind(handler)
        else:
            module, _, attr = args.target.partition(":")
            function_name = module.rsplit(".", 1)[-1] if attr == "handler" else attr
            arn = runner.start(
                handler, input_payload=payload, name=args.name, function_name=function_name
            )
        out.print(f"[bold]execution[/bold] {escape(arn)}")
        result = _drive(runner, arn, handler, out)
    return _report(result, args, out)


def _drive(runner: LocalRunner, arn: str, handler: HandlerLike, out: Console) -> RunResult:
    """Run in a worker thread and print each history event as it lands (the live timeline)."""
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["result"] = runner.resume(arn, handler)
        except BaseException as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=work, name="durable-runner", daemon=True)
    worker.start()
    shown = 0
    while True:
        worker.join(POLL_SECONDS)
        events = runner.backend.history_events(arn)
        for index, event in enumerate(events[shown:], start=shown + 1):
            out.print(_event_line(index, event))
        shown = len(events)
        if not worker.is_alive():
            break
    if "error" in outcome:
        raise outcome["error"]
    result: RunResult = outcome["result"]
    return result


def _report(result: RunResult, args: argparse.Namespace, out: Console) -> int:
    status = result.status
    if status is ExecutionStatus.SUCCEEDED:
        out.print(f"[bold green]SUCCEEDED[/bold green] result: {escape(result.raw_result or '')}")
        return 0
    if status is ExecutionStatus.RUNNING:
        db = shlex.quote(args.db)
        out.print("[bold yellow]SUSPENDED[/bold yellow] waiting for the outside world")
        for callback in result.pending_callbacks:
            out.print(f"  callback [bold]{escape(callback.label or callback.operation_id)}"
                      f"[/bold] id: {escape(callback.callback_id)}")
            callback_id = shlex.quote(callback.callback_id)
            out.print("  answer it with one of:")
            out.print(escape(f"    {COMMAND} callback succeed {callback_id} --result '<json>' "
                             f"--db {db}"))
            out.print(escape(f"    {COMMAND} callback fail {callback_id} --error '<message>' "
                             f"--db {db}"))
        resume = f"{COMMAND} run {shlex.quote(args.target)} --resume {shlex.quote(result.arn)}"
        if args.real_time:
            resume += " --real-time"
        out.print("  then continue with:\n    " + escape(f"{resume} --db {db}"))
        return 0
    error = result.error or ErrorObject()
    out.print(f"[bold red]{status.value}[/bold red] {escape(error.error_type or '')}: "
              f"{escape(error.error_message or '')}")
    return EXIT_FAILED


def _list(args: argparse.Namespace, out: Console) -> int:
    _require_db(args.db)
    with _open_backend(args.db, read_only=True) as backend:
        page = backend.list_executions(max_items=args.limit)
    table = Table(title=f"executions in {args.db}")
    for column in ("name", "status", "function", "started", "ended"):
        table.add_column(column, no_wrap=True)
    table.add_column("ARN", overflow="fold")
    for row in page["DurableExecutions"]:
        table.add_row(
            row["DurableExecutionName"], row["Status"],
            row["FunctionArn"].rsplit(":function:", 1)[-1].split(":", 1)[0],
            _time(row["StartTimestamp"]), _time(row.get("EndTimestamp")),
            row["DurableExecutionArn"],
        )
    out.print(table)
    return 0


def _history(args: argparse.Namespace, out: Console) -> int:
    _require_db(args.db)
    with _open_backend(args.db, read_only=True) as backend:
        summary = backend.get_execution(args.arn)
        events = backend.history_events(args.arn)
    table = Table(title=f"{summary['DurableExecutionName']}: {summary['Status']}")
    for column in ("#", "time", "event"):
        table.add_column(column, no_wrap=True)
    for column in ("name", "subtype", "details"):
        table.add_column(column, overflow="fold")
    for event in events:
        table.add_row(
            str(event["EventId"]), _time(event["EventTimestamp"]), event["EventType"],
            escape(event.get("Name") or ""), event.get("SubType") or "",
            escape(_details(event)),
        )
    out.print(table)
    return 0


def _callback(args: argparse.Namespace, out: Console) -> int:
    _require_db(args.db)
    arn, _ = rules.parse_callback_id(args.callback_id, "SendDurableExecutionCallback")
    with _open_backend(args.db, read_only=True) as reader:
        latest = max(
            (e["EventTimestamp"] for e in reader.history_events(arn)), default=datetime.now(UTC)
        )
    # A time-skipping run may have stamped events ahead of the wall clock; never go behind them.
    clock = ManualClock(max(latest, datetime.now(UTC)))
    with _open_backend(args.db, clock=clock) as backend:
        if args.action == "succeed":
            if args.result is not None:
                _parse_json(args.result, "--result")
            backend.send_callback_success(args.callback_id, args.result)
        elif args.action == "fail":
            backend.send_callback_failure(
                args.callback_id, ErrorObject(error_message=args.error, error_type=args.error_type)
            )
        else:
            backend.send_callback_heartbeat(args.callback_id)
    out.print(f"callback {args.action} sent for execution {escape(arn)}")
    return 0


# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Run durable functions on the local SQLite backend and inspect them.",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def add_db(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--db", default=DEFAULT_DB,
                         help=f"the local SQLite database (default {DEFAULT_DB})")

    run = commands.add_parser(
        "run", help="run a handler until it ends or waits for a callback",
        description="Start an execution of MODULE:HANDLER (or --resume one) and invoke it until "
        "it ends, showing each history event as it happens. Waits and retries are skipped "
        "unless --real-time. Durable handlers defined in the same module are registered as "
        "chained-invoke targets under their attribute names.",
    )
    run.add_argument(
        "target", metavar="MODULE:HANDLER", help="e.g. examples.order_workflow:handler"
    )
    run.add_argument("--input", default="null", help="the input event as JSON (default null)")
    run.add_argument("--name", help="the execution name (default execution-<n>)")
    run.add_argument("--resume", metavar="ARN", help="continue this suspended execution")
    run.add_argument("--real-time", action="store_true",
                     help="sleep through waits and retry delays instead of skipping them")
    run.add_argument("--function", action="append", default=[], metavar="NAME=MODULE:HANDLER",
                     help="register another chained-invoke target (repeatable)")
    add_db(run)
    run.set_defaults(func=_run)

    listing = commands.add_parser("list", help="list executions, newest first",
                                  description="List the executions in the local database.")
    listing.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    add_db(listing)
    listing.set_defaults(func=_list)

    history = commands.add_parser("history", help="show an execution's history as a timeline",
                                  description="Show the history events of an execution.")
    history.add_argument("arn", metavar="ARN")
    add_db(history)
    history.set_defaults(func=_history)

    callback = commands.add_parser(
        "callback", help="answer a callback", description="Send a callback's answer."
    )
    actions = callback.add_subparsers(dest="action", required=True, parser_class=_Parser)
    succeed = actions.add_parser("succeed", help="complete a callback with a result",
                                 description="Complete a callback with a JSON result.")
    succeed.add_argument("callback_id", metavar="CALLBACK_ID")
    succeed.add_argument("--result", help="the result as JSON (sent as the raw text)")
    fail = actions.add_parser("fail", help="fail a callback", description="Fail a callback.")
    fail.add_argument("callback_id", metavar="CALLBACK_ID")
    fail.add_argument("--error", required=True, metavar="MSG", help="the error message")
    fail.add_argument("--error-type", default="CallbackError", help="the error type")
    heartbeat = actions.add_parser("heartbeat", help="keep a callback alive",
                                   description="Send a callback heartbeat.")
    heartbeat.add_argument("callback_id", metavar="CALLBACK_ID")
    for sub in (succeed, fail, heartbeat):
        add_db(sub)
    callback.set_defaults(func=_callback)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The console script; returns the exit code (0 ok, 1 execution failed, 2 usage error)."""
    args = build_parser().parse_args(argv)
    # Piped output (CI logs, tests) gets wide tables instead of folding at 80 columns.
    out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 240)
    try:
        code: int = args.func(args, out)
    except (UsageError, DurableError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; the execution is saved, continue it with run --resume",
              file=sys.stderr)
        return 130
    return code

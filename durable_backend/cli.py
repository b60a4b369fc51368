"""``durable-backend`` / ``python -m durable_backend``: run durable handlers on the local SQLite
backend, list executions, show a history as a timeline tree, list and answer callbacks, and
replay recorded histories with the current code.

Every user mistake (a bad module path, bad JSON, an unknown execution or callback id) ends with
one line on stderr and exit code 2, never a traceback. Output fits the terminal (or
``COLUMNS`` when piped); ids, ARNs and the commands it suggests are never cut.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import ipaddress
import json
import os
import shlex
import shutil
import sys
import threading
import typing
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, NoReturn

from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from durable_backend import _cli_replay as replay_command
from durable_backend._aws_executions import AwsExecutions
from durable_backend._errors import DurableError
from durable_backend._handler import AsyncDurableHandler, DurableHandler
from durable_backend._models import ErrorObject, ExecutionStatus
from durable_backend._timeline import Timeline, build_timeline, json_default, timeline_to_json
from durable_backend._timeline_view import (
    format_duration,
    outcome,
    render_timeline,
    status_text,
)
from durable_backend.local import _rules as rules
from durable_backend.local._backend import LocalBackend
from durable_backend.local._clock import ManualClock, SkippingClock, system_clock
from durable_backend.local._errors import DatabaseUnavailableError
from durable_backend.local._runner import HandlerLike, LocalRunner, RunResult, derive_function_name

PROG = "durable-backend"
DEFAULT_DB = os.path.join(".durable", "local.db")
EXIT_FAILED = 1
EXIT_USAGE = 2
POLL_SECONDS = 0.05
_PAGE = 1000


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


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


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
        kind = type(target).__name__
        raise UsageError(f"{spec!r} is not a handler (it is {_article(kind)} {kind})")
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


Source = LocalBackend | AwsExecutions
"""Where commands find executions: the same calls, in the service's shapes, on both."""


@contextmanager
def _reader(args: argparse.Namespace) -> Iterator[Source]:
    """The local database (read-only), or with ``--aws`` the service (boto3's configuration)."""
    if args.aws:
        with AwsExecutions() as service:
            yield service
        return
    _require_db(args.db)
    with _open_backend(args.db, read_only=True) as backend:
        yield backend


@contextmanager
def _writer(args: argparse.Namespace, arn: str | None) -> Iterator[Source]:
    """Where ``stop`` and ``callback`` change execution ``arn``: the service with ``--aws``."""
    if args.aws:
        with AwsExecutions() as service:
            yield service
        return
    _require_db(args.db)
    latest = datetime.now(UTC)
    if arn is not None:
        with _open_backend(args.db, read_only=True) as reader:
            latest = max([latest, *(e["EventTimestamp"] for e in reader.history_events(arn))])
    # A time-skipping run may have stamped events ahead of the wall clock; never go behind them.
    with _open_backend(args.db, clock=ManualClock(latest)) as backend:
        yield backend


def _time(value: object, form: str = "%Y-%m-%d %H:%M:%S") -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime(form)
    return str(value or "")


def _all_executions(reader: Source, function: str | None = None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    marker = ""
    while True:
        page = reader.list_executions(function, max_items=_PAGE, marker=marker)
        rows.extend(page["DurableExecutions"])
        marker = page.get("NextMarker") or ""
        if not marker:
            return rows


def _resolve(reader: Source, ref: str, function: str | None = None) -> str:
    """The ARN of the execution ``ref`` names: an ARN, or a name as ``list`` shows it (the
    service lists names per function, so with ``--aws`` and no ``--function`` it is an ARN)."""
    if ref.startswith("arn:") or (isinstance(reader, AwsExecutions) and function is None):
        return ref
    matches: list[str] = [row["DurableExecutionArn"] for row in _all_executions(reader, function)
                          if row["DurableExecutionName"] == ref]
    if not matches:
        raise UsageError(f"no execution named {ref!r}; `list` shows the executions")
    if len(matches) > 1:
        raise UsageError(f"{len(matches)} executions are named {ref!r}; pass the ARN instead "
                         f"(`list --json` shows ARNs)")
    return matches[0]


def _timeline(reader: Source, arn: str) -> tuple[Timeline, list[dict[str, Any]]]:
    summary = reader.get_execution(arn)
    events = reader.history_events(arn)
    return build_timeline(events, summary), events


def command_prefix(argv0: str | None = None) -> str:
    """How to run this CLI again, the way the user just did: ``durable-backend`` when it is
    on PATH, else its path (``.venv/bin/durable-backend``), or ``python -m durable_backend``
    with the interpreter that runs now (``.venv/bin/python -m durable_backend``)."""
    program = argv0 if argv0 is not None else sys.argv[0]
    if Path(program).name == PROG:
        found = shutil.which(PROG)
        if found and Path(found).resolve() == Path(program).resolve():
            return PROG
        return shlex.quote(_relative(program))
    python = sys.executable or "python3"
    found = shutil.which(Path(python).name)
    if found and Path(found).resolve() == Path(python).resolve():
        return f"{Path(python).name} -m durable_backend"
    return f"{shlex.quote(_relative(python))} -m durable_backend"


def _relative(path: str) -> str:
    """``path`` relative to the working directory when it lies below it."""
    absolute = Path(os.path.abspath(path))
    try:
        return str(absolute.relative_to(Path.cwd()))
    except ValueError:
        return str(absolute)


def _suffix(args: argparse.Namespace) -> str:
    """The options a follow-up command needs to reach the same data (``--db`` or ``--aws``)."""
    if getattr(args, "aws", False):
        return " --aws" + (f" --function {shlex.quote(args.function)}" if args.function else "")
    return "" if args.db == DEFAULT_DB else f" --db {shlex.quote(args.db)}"


def _dump(data: object) -> str:
    return json.dumps(data, indent=2, default=json_default)


def _print_tree(out: Console, timeline: Timeline, expand: bool) -> None:
    for line in render_timeline(timeline, out.width, expand=expand):
        out.print(line, soft_wrap=line.overflow == "ignore")


def _accepts_none(handler: HandlerLike) -> bool:
    """Whether the handler's event parameter admits ``None`` (the input when ``--input`` is
    not given)."""
    fn = handler.fn if isinstance(handler, DurableHandler | AsyncDurableHandler) else handler
    try:
        first = next(iter(inspect.signature(fn).parameters), None)
        hint = typing.get_type_hints(fn).get(first or "", Any)
    except (TypeError, ValueError, NameError):
        return True
    if hint in (Any, object, None, type(None)):
        return True
    return type(None) in typing.get_args(hint)


def _started_by(summary: Mapping[str, Any]) -> str:
    return str(summary["FunctionArn"]).rsplit(":function:", 1)[-1].split(":", 1)[0]


def _execution_ref(reader: LocalBackend, name: str, arn: str) -> str:
    """The shortest reference to an execution that ``_resolve`` maps back to it."""
    same = [row for row in _all_executions(reader) if row["DurableExecutionName"] == name]
    return shlex.quote(name if len(same) == 1 else arn)


def _callback_hints(out: Console, prefix: str, callback_id: str, suffix: str) -> None:
    quoted = shlex.quote(callback_id)
    out.print("  answer it with one of:")
    for command in (
        f"{prefix} callback succeed {quoted} --result '<text or JSON>'{suffix}",
        f"{prefix} callback fail {quoted} --error '<message>'{suffix}",
    ):
        out.print(f"    {escape(command)}", soft_wrap=True)


# --------------------------------------------------------------------------- commands


def _run(args: argparse.Namespace, out: Console) -> int:
    handler = _load_object(args.target)
    if not isinstance(handler, DurableHandler | AsyncDurableHandler):
        raise UsageError(f"{args.target!r} is not decorated with @durable_execution")
    if args.resume and args.input is not None:
        raise UsageError("--input starts a new execution and --resume continues one; "
                         "pass only one of them")
    payload = None if args.resume else json.dumps(_parse_json(args.input or "null", "--input"))
    module, _, attr = args.target.partition(":")
    function_name = derive_function_name(module, attr)
    clock = None if args.real_time else SkippingClock()
    with _open_backend(args.db, clock=clock) as backend:
        runner = LocalRunner(backend, time_skipping=clock is not None, clock=clock)
        for name, target in _module_handlers(args.target).items():
            runner.register(name, target)
        for spec in args.function:
            name, sep, target_spec = spec.partition("=")
            if not sep or not name:
                raise UsageError(f"--function expects NAME=MODULE:HANDLER, got {spec!r}")
            runner.register(name, _load_object(target_spec))
        if not args.resume and args.input is None and not _accepts_none(handler):
            raise UsageError(f"{args.target} takes an input event: pass it as JSON with --input "
                             f"(for example --input '{{\"order_id\": \"o-1\"}}')")
        if args.resume:
            arn = _resolve(backend, args.resume)
            summary = backend.get_execution(arn)
            if _started_by(summary) != function_name:
                raise UsageError(f"execution {args.resume} belongs to function "
                                 f"{_started_by(summary)!r}, not {function_name!r} "
                                 f"({args.target}); resume it with the handler that started it")
            if summary["Status"] != ExecutionStatus.RUNNING.value:
                raise UsageError(f"execution {args.resume} has already ended "
                                 f"({summary['Status']}); `history {args.resume}` shows it")
            runner.bind(handler)
        else:
            arn = runner.start(
                handler, input_payload=payload, name=args.name, function_name=function_name
            )
        name = backend.get_execution(arn)["DurableExecutionName"]
        if not (args.quiet or args.json):
            out.print(f"[bold]execution[/bold] {escape(name)}  [dim]{escape(arn)}[/dim]",
                      soft_wrap=True)
        live = out.is_terminal and not (args.quiet or args.json)
        result = _drive(runner, arn, handler, out, expand=args.expand, live=live)
        timeline = build_timeline(result.history, backend.get_execution(arn))
        ref = _execution_ref(backend, name, arn)
    if args.json:
        sys.stdout.write(_dump(timeline_to_json(timeline)) + "\n")
    elif not (args.quiet or live):
        _print_tree(out, timeline, args.expand)
    return _report(timeline, ref, args, out)


def _drive(
    runner: LocalRunner, arn: str, handler: HandlerLike, out: Console, *, expand: bool, live: bool
) -> RunResult:
    """Run in a worker thread; on a terminal, redraw the timeline as events land."""
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["result"] = runner.resume(arn, handler)
        except BaseException as exc:
            outcome["error"] = exc

    def tree() -> Group:
        timeline = build_timeline(
            runner.backend.history_events(arn), runner.backend.get_execution(arn)
        )
        return Group(*render_timeline(timeline, out.width, expand=expand))

    worker = threading.Thread(target=work, name="durable-runner", daemon=True)
    worker.start()
    if live:
        with Live(tree(), console=out, auto_refresh=False, vertical_overflow="visible") as view:
            while worker.is_alive():
                worker.join(POLL_SECONDS)
                view.update(tree(), refresh=True)
    worker.join()
    if "error" in outcome:
        raise outcome["error"]
    result: RunResult = outcome["result"]
    return result


def _report(timeline: Timeline, ref: str, args: argparse.Namespace, out: Console) -> int:
    status = timeline.status
    code = 0 if status in ("SUCCEEDED", "RUNNING") else EXIT_FAILED
    if args.json:
        return code
    if status == ExecutionStatus.RUNNING.value:
        pending = timeline.pending_callbacks()
        names = ", ".join(c.name or c.operation_id for c in pending)
        line = status_text(status)
        line.append(f"  suspended, waiting for callback {names}" if pending
                    else "  suspended, waiting")
        out.print(line, soft_wrap=True)
        prefix, suffix = command_prefix(), _suffix(args)
        for callback in pending:
            out.print(f"  callback [bold]{escape(callback.name or callback.operation_id)}[/bold]"
                      f" id: {escape(callback.callback_id)}", soft_wrap=True)
            _callback_hints(out, prefix, callback.callback_id, suffix)
        resume = f"{prefix} run {shlex.quote(args.target)} --resume {ref}"
        if args.real_time:
            resume += " --real-time"
        out.print("  then continue with:")
        out.print(f"    {escape(resume + suffix)}", soft_wrap=True)
        return code
    out.print(outcome(timeline), soft_wrap=True)
    return code


def _list(args: argparse.Namespace, out: Console) -> int:
    with _reader(args) as reader:
        page = reader.list_executions(args.function, max_items=args.limit)
    rows: list[dict[str, Any]] = page["DurableExecutions"]
    if args.json:
        sys.stdout.write(_dump(rows) + "\n")
        return 0
    longest = max((len(row["DurableExecutionName"]) for row in rows), default=4)
    where = f"of {args.function}" if args.aws else f"in {args.db}"
    table = Table(title=f"executions {where}", box=None, pad_edge=False,
                  collapse_padding=True, title_justify="left")
    # Name and status never shrink: the name is what `history` and `--resume` take.
    table.add_column("name", no_wrap=True, min_width=min(longest, 32), overflow="fold")
    table.add_column("status", no_wrap=True, min_width=len("✓ TIMED_OUT"))
    table.add_column("function", no_wrap=True, overflow="ellipsis", min_width=8)
    table.add_column("started (UTC)", no_wrap=True, min_width=14)
    table.add_column("took", no_wrap=True, justify="right", min_width=6)
    for row in rows:
        end = row.get("EndTimestamp")
        cells: list[Text | str] = [
            escape(row["DurableExecutionName"]), status_text(row["Status"]),
            escape(_started_by(row)), _time(row["StartTimestamp"], "%m-%d %H:%M:%S"),
            format_duration(end - row["StartTimestamp"]) if isinstance(end, datetime) else "",
        ]
        table.add_row(*cells)
    out.print(table)
    if not rows:
        out.print("no executions yet")
    else:
        out.print(f"[dim]`{escape(command_prefix())} history NAME` shows one; "
                  "`list --json` gives ARNs[/dim]", soft_wrap=True)
    return 0


def _history(args: argparse.Namespace, out: Console) -> int:
    with _reader(args) as reader:
        arn = _resolve(reader, args.execution, args.function)
        timeline, events = _timeline(reader, arn)
    if args.json:
        sys.stdout.write(_dump(timeline_to_json(timeline, events)) + "\n")
        return 0
    _print_tree(out, timeline, args.expand)
    if timeline.status != ExecutionStatus.RUNNING.value:
        out.print(outcome(timeline), soft_wrap=True)
    if timeline.pending_callbacks():
        out.print(f"[dim]`{escape(command_prefix())} callbacks{escape(_suffix(args))}` lists "
                  "the callbacks it waits for, with the commands that answer them[/dim]",
                  soft_wrap=True)
    return 0


def _callbacks(args: argparse.Namespace, out: Console) -> int:
    with _reader(args) as reader:
        if args.execution:
            arns = [_resolve(reader, args.execution, args.function)]
        else:
            arns = [row["DurableExecutionArn"] for row in _all_executions(reader, args.function)
                    if row["Status"] == ExecutionStatus.RUNNING.value]
        timelines = [_timeline(reader, arn)[0] for arn in arns]
    found = [(timeline, callback) for timeline in timelines
             for callback in timeline.pending_callbacks()]
    if args.json:
        sys.stdout.write(_dump([
            {"execution": timeline.name, "arn": timeline.arn, "name": callback.name,
             "callback_id": callback.callback_id, "operation_id": callback.operation_id,
             "started": callback.started}
            for timeline, callback in found
        ]) + "\n")
        return 0
    if not found:
        out.print("no callback is waiting for an answer")
        return 0
    prefix, suffix = command_prefix(), _suffix(args)
    for timeline, callback in found:
        out.print(f"[bold]{escape(callback.name or callback.operation_id)}[/bold] in execution "
                  f"{escape(timeline.name or '')}, waiting since {_time(callback.started)}",
                  soft_wrap=True)
        out.print(f"  id: {escape(callback.callback_id)}", soft_wrap=True)
        _callback_hints(out, prefix, callback.callback_id, suffix)
    return 0


def _replay(args: argparse.Namespace, out: Console) -> int:
    handler = _load_object(args.target)
    try:
        return replay_command.replay(handler, args, out)
    except (ValueError, OSError, BotoCoreError, ClientError) as exc:
        raise UsageError(str(exc)) from None


def _callback(args: argparse.Namespace, out: Console) -> int:
    # The service's callback ids are opaque; the local ones name their execution.
    arn = None if args.aws else rules.parse_callback_id(
        args.callback_id, "SendDurableExecutionCallback")[0]
    with _writer(args, arn) as target:
        summary = target.get_execution(arn) if arn is not None else None
        if args.action == "succeed":
            target.send_callback_success(args.callback_id, args.result)
            what = ("succeeded with no result (the handler receives None)"
                    if args.result is None else "succeeded")
        elif args.action == "fail":
            target.send_callback_failure(
                args.callback_id, ErrorObject(error_message=args.error, error_type=args.error_type)
            )
            what = "failed"
        else:
            target.send_callback_heartbeat(args.callback_id)
            what = "heartbeat sent"
    if summary is None:
        out.print(f"callback {what}; the service resumes the execution", soft_wrap=True)
        return 0
    name = summary["DurableExecutionName"]
    out.print(f"callback {what} for execution {escape(name)}", soft_wrap=True)
    if args.action != "heartbeat":
        out.print(f"  continue it with: {escape(command_prefix())} run MODULE:HANDLER "
                  f"--resume {escape(shlex.quote(name))}{escape(_suffix(args))}  (the handler "
                  f"of function {escape(_started_by(summary))})", soft_wrap=True)
    return 0


def _stop(args: argparse.Namespace, out: Console) -> int:
    with _reader(args) as reader:
        arn = _resolve(reader, args.execution, args.function)
    error = (ErrorObject(error_message=args.error, error_type=args.error_type)
             if args.error else None)
    with _writer(args, arn) as target:
        target.stop_execution(arn, error)
    out.print(f"execution {escape(args.execution)} stopped", soft_wrap=True)
    return 0


def _ui(args: argparse.Namespace, out: Console) -> int:
    from durable_backend._aws_executions import AwsExecutions
    from durable_backend._console import AwsSource, ExecutionSource, LocalSource, serve

    handlers: dict[str, HandlerLike] = {}
    for spec in args.targets:
        module, _, attr = spec.partition(":")
        handlers[derive_function_name(module, attr)] = _load_object(spec)
    source: ExecutionSource
    if args.aws:
        if not args.function or args.targets:
            raise UsageError("with --aws, name the functions to show (--function NAME, "
                             "repeatable) and no MODULE:HANDLER: the service runs them")
        source = AwsSource(AwsExecutions(), args.function)
        where = "AWS"
    else:
        _require_db(args.db)
        source = LocalSource(args.db, handlers)
        where = args.db
    try:
        server = serve(source, args.host, args.port)
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port} ({exc.strerror}); "
                         f"pick another --port") from None
    try:
        host, port = str(server.server_address[0]), server.server_address[1]
        out.print(f"console for {escape(where)} on [bold]http://{host}:{port}/[/bold]",
                  soft_wrap=True)
        if ipaddress.ip_address(host).is_loopback:
            out.print("listening on loopback only; --host 0.0.0.0 exposes it (it has no login)")
        else:
            out.print(f"[bold]warning:[/bold] listening on {host}: anyone who reaches this port "
                      "can answer callbacks and stop executions", soft_wrap=True)
        if handlers:
            out.print(f"resumes executions of {', '.join(sorted(handlers))} after a callback is "
                      "answered from the page", soft_wrap=True)
        out.print("Ctrl-C stops it")
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


# --------------------------------------------------------------------------- parser


def _version() -> str:
    try:
        return version("durable_backend")
    except PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Run durable functions on the local SQLite backend and inspect them.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def add_db(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--db", default=DEFAULT_DB,
                         help=f"the local SQLite database (default {DEFAULT_DB})")

    def add_source(sub: argparse.ArgumentParser, *, function: bool = True) -> None:
        add_db(sub)
        sub.add_argument("--aws", action="store_true",
                         help="act on the real service, configured as boto3 is (credentials, "
                         "AWS_REGION, AWS_ENDPOINT_URL_LAMBDA), instead of --db")
        if function:
            sub.add_argument("--function", metavar="NAME[:ALIAS]",
                             help="only this function's executions (the service lists "
                             "executions per function, so --aws needs it to find names)")

    def add_json(sub: argparse.ArgumentParser, what: str) -> None:
        sub.add_argument("--json", action="store_true", help=f"print {what} as JSON")

    def add_expand(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--expand", action="store_true",
                         help="show every item of big maps and parallels (by default a batch "
                         "shows its failures and first items, and counts the rest)")

    run = commands.add_parser(
        "run", help="run a handler until it ends or waits for a callback",
        description="Start an execution of MODULE:HANDLER (or --resume one) and invoke it until "
        "it ends, showing its timeline. Waits and retries are skipped unless --real-time. "
        "Durable handlers defined in the same module are registered as chained-invoke "
        "targets under their attribute names. The execution runs as function MODULE (the "
        "module's last part), or MODULE-HANDLER when the handler is not called `handler`.",
    )
    run.add_argument(
        "target", metavar="MODULE:HANDLER", help="e.g. examples.order_workflow:handler"
    )
    run.add_argument("--input", help="the input event as JSON (needed unless the handler's "
                     "event parameter accepts None)")
    run.add_argument("--name", help="the execution name (default execution-<n>)")
    run.add_argument("--resume", metavar="NAME|ARN",
                     help="continue this suspended execution (its name or ARN)")
    run.add_argument("--real-time", action="store_true",
                     help="sleep through waits and retry delays instead of skipping them")
    run.add_argument("--function", action="append", default=[], metavar="NAME=MODULE:HANDLER",
                     help="register another chained-invoke target (repeatable)")
    run.add_argument("--quiet", "-q", action="store_true",
                     help="print only the outcome (and what to do next), not the timeline")
    add_json(run, "the final timeline")
    add_expand(run)
    add_db(run)
    run.set_defaults(func=_run)

    listing = commands.add_parser("list", help="list executions, newest first",
                                  description="List the executions in the local database.")
    listing.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    add_json(listing, "the executions (with ARNs)")
    add_source(listing)
    listing.set_defaults(func=_list)

    history = commands.add_parser(
        "history", help="show an execution's timeline",
        description="Show an execution's operations as a tree (map items, parallel branches, "
        "child contexts and sagas nested), with attempts and durations.",
    )
    history.add_argument("execution", metavar="NAME|ARN",
                         help="the execution's name (as `list` shows it) or ARN")
    add_json(history, "the timeline and every history event")
    add_expand(history)
    add_source(history)
    history.set_defaults(func=_history)

    callbacks = commands.add_parser(
        "callbacks", help="list callbacks waiting for an answer, with their full ids",
        description="List the open callbacks of running executions (or of one).",
    )
    callbacks.add_argument("execution", metavar="NAME|ARN", nargs="?",
                           help="only this execution's callbacks")
    add_json(callbacks, "the callbacks")
    add_source(callbacks)
    callbacks.set_defaults(func=_callbacks)

    replay = commands.add_parser("replay", help="check that recorded executions still replay",
                                 description=replay_command.DESCRIPTION)
    replay_command.add_arguments(replay)
    add_db(replay)
    replay.set_defaults(func=_replay)

    callback = commands.add_parser(
        "callback", help="answer a callback", description="Send a callback's answer."
    )
    actions = callback.add_subparsers(dest="action", required=True, parser_class=_Parser)
    succeed = actions.add_parser(
        "succeed", help="complete a callback with a result",
        description="Complete a callback. The handler receives --result as the raw text "
        "(a string), unless its callback config names a serdes such as JsonSerDes; "
        "without --result it receives None.",
    )
    succeed.add_argument("callback_id", metavar="CALLBACK_ID")
    succeed.add_argument("--result", metavar="TEXT", help="the result, sent as raw text")
    fail = actions.add_parser("fail", help="fail a callback", description="Fail a callback.")
    fail.add_argument("callback_id", metavar="CALLBACK_ID")
    fail.add_argument("--error", required=True, metavar="MSG", help="the error message")
    fail.add_argument("--error-type", default="CallbackError", help="the error type")
    heartbeat = actions.add_parser("heartbeat", help="keep a callback alive",
                                   description="Send a callback heartbeat.")
    heartbeat.add_argument("callback_id", metavar="CALLBACK_ID")
    for sub in (succeed, fail, heartbeat):
        add_source(sub, function=False)
    callback.set_defaults(func=_callback)

    stop = commands.add_parser("stop", help="stop a running execution",
                               description="Stop a running execution: it ends STOPPED.")
    stop.add_argument("execution", metavar="NAME|ARN",
                      help="the execution's name (as `list` shows it) or ARN")
    stop.add_argument("--error", metavar="MSG", help="why, recorded as the execution's error")
    stop.add_argument("--error-type", default="ExecutionStopped", help="the error type")
    add_source(stop)
    stop.set_defaults(func=_stop)
    ui = commands.add_parser(
        "ui", help="serve a web console of the executions on 127.0.0.1",
        description="Serve a web console of the local executions: a list, each execution's "
        "timeline, and buttons that answer callbacks and stop executions. Executions of the "
        "MODULE:HANDLERs given are resumed (waits skipped) once a callback is answered from "
        "the page; others wait for `run --resume`.",
    )
    ui.add_argument("targets", nargs="*", metavar="MODULE:HANDLER",
                    help="handlers whose executions the console resumes")
    ui.add_argument("--host", default="127.0.0.1",
                    help="the address to listen on (default 127.0.0.1: this machine only)")
    ui.add_argument("--port", type=int, default=8765, help="the port (default 8765; 0: any)")
    ui.add_argument("--aws", action="store_true",
                    help="show executions in the real service (boto3's credentials, region and "
                    "AWS_ENDPOINT_URL_LAMBDA) instead of the local database")
    ui.add_argument("--function", action="append", default=[], metavar="NAME[:ALIAS]",
                    help="with --aws: a function whose executions to show (repeatable)")
    add_db(ui)
    ui.set_defaults(func=_ui)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The console script; returns the exit code (0 ok, 1 execution failed, 2 usage error)."""
    args = build_parser().parse_args(argv)
    # Rich honours COLUMNS, also when piped; without it a pipe gets 80 columns.
    out = Console(highlight=False)
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

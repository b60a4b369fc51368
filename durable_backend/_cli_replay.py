"""``durable-backend replay``: does a handler's current code still replay recorded histories?

Histories come from the local SQLite file (default), JSON exports (``--history``), or AWS
(``--aws``). One line per history; exit 0 when all replay, 1 when any diverges.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from durable_backend.local._runner import HandlerLike
from durable_backend.testing._histories import (
    History,
    histories_from_aws,
    histories_from_directory,
    histories_from_sqlite,
    history_from_json,
)
from durable_backend.testing._replayer import Replayer

EXIT_INCOMPATIBLE = 1

DESCRIPTION = (
    "Replay recorded executions with the current code of MODULE:HANDLER, without running step "
    "bodies, and report for each one 'compatible' or the first divergence (position, recorded "
    "versus new operation). Histories come from the local database (default), from JSON "
    "exports (--history: `aws lambda get-durable-execution-history --durable-execution-arn "
    "ARN --include-execution-data`, or GetDurableExecutionState output), or from AWS (--aws, "
    "with the usual boto3 credentials and region). Exit code 1 when any history diverges."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "target", metavar="MODULE:HANDLER", help="e.g. examples.order_workflow:handler"
    )
    parser.add_argument("--arn", action="append", default=[], metavar="ARN",
                        help="replay only this execution (repeatable)")
    parser.add_argument("--history", action="append", default=[], metavar="PATH",
                        help="a JSON export, or a directory of them (repeatable)")
    parser.add_argument("--aws", action="store_true",
                        help="read histories from AWS: the --arn executions and --function's")
    parser.add_argument("--function", metavar="NAME",
                        help="with --aws: replay this function's executions (see --status)")
    parser.add_argument("--status", default="RUNNING",
                        help="with --function: only executions in this status, or ALL "
                        "(default RUNNING: the ones a deploy would affect)")
    parser.add_argument("--no-strict", dest="strict", action="store_false",
                        help="do not flag clock or random calls in orchestration code")


def load_histories(args: argparse.Namespace) -> list[History]:
    """The histories the arguments name. Raises ValueError or OSError on bad input."""
    if args.aws:
        if not args.arn and not args.function:
            raise ValueError("--aws needs --arn ARN or --function NAME")
        status = None if args.status.upper() == "ALL" else args.status.upper()
        return histories_from_aws(args.arn, function_name=args.function, status=status)
    if args.function:
        raise ValueError("--function reads from AWS: add --aws")
    if args.history:
        histories: list[History] = []
        for spec in args.history:
            path = Path(spec)
            if path.is_dir():
                histories += histories_from_directory(path)
            elif path.exists():
                histories.append(history_from_json(path))
            else:
                raise FileNotFoundError(f"no history file or directory at {spec!r}")
        return histories
    return histories_from_sqlite(args.db, args.arn)


def replay(handler: HandlerLike, args: argparse.Namespace, out: Console) -> int:
    histories = load_histories(args)
    if not histories:
        raise ValueError("no recorded executions to replay")
    results = Replayer(handler, strict=args.strict).replay_all(histories)
    for result in results:
        if result.compatible:
            out.print(f"[green]compatible[/green]   {escape(str(result.history))} "
                      f"[dim]({result.replayed} of {result.recorded} operations)[/dim]",
                      soft_wrap=True)
        else:
            reason = result.divergence or result.error
            out.print(f"[bold red]incompatible[/bold red] {escape(str(result.history))}: "
                      f"{escape(str(reason))}", soft_wrap=True)
    bad = sum(not result.compatible for result in results)
    summary = f"{len(results)} replayed: {len(results) - bad} compatible, {bad} incompatible"
    out.print(f"[bold red]{summary}[/bold red]" if bad else f"[bold]{summary}[/bold]")
    return EXIT_INCOMPATIBLE if bad else 0

"""The timeline tree as terminal lines that fit a width: one line per operation, with its kind,
attempts and duration in fixed columns on the right, failed attempts and open callback ids on
lines of their own, and big batches collapsed to a few items and a count."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from rich.text import Text

from durable_backend._timeline import SAGA_COMPENSATION, Node, Timeline

COLLAPSE_AFTER = 5
"""A map or parallel with more items than this shows this many (failures first)."""
SHOWN_FAILED_ATTEMPTS = 3
_RIGHT = 23
_MIN_NAME = 8

_ICONS = {
    "SUCCEEDED": ("✓", "green"),
    "FAILED": ("✗", "red"),
    "TIMED_OUT": ("⏱", "red"),
    "STOPPED": ("■", "red"),
    "CANCELLED": ("⊘", "yellow"),
    "PENDING": ("↻", "yellow"),
    "STARTED": ("…", "yellow"),
    "RUNNING": ("…", "yellow"),
}
_KIND_LABELS = {
    "Map": "map",
    "MapIteration": "item",
    "Parallel": "parallel",
    "ParallelBranch": "branch",
    "WaitForCallback": "callback",
    "WaitForCondition": "condition",
    "RunInChildContext": "child",
    SAGA_COMPENSATION: "undo",
}
_BATCHES = frozenset({"Map", "Parallel"})


def format_duration(span: timedelta | None) -> str:
    """``12ms``, ``1.25s``, ``4m05s``, ``1h00m``, ``3d02h``; empty when unknown."""
    if span is None:
        return ""
    seconds = span.total_seconds()
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.2f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def _seconds(value: int) -> str:
    return format_duration(timedelta(seconds=value))


def status_text(status: str) -> Text:
    icon, color = _ICONS.get(status, ("?", "white"))
    return Text(f"{icon} {status}", style=f"bold {color}")


def _kind(node: Node) -> str:
    if node.kind == "Wait" and node.wait_seconds is not None:
        return f"wait {_seconds(node.wait_seconds)}"
    if node.kind == "ChainedInvoke":
        return "invoke"
    return _KIND_LABELS.get(node.sub_type or "", node.kind.lower())


def _detail(node: Node) -> str:
    if node.error is not None and node.status != "SUCCEEDED":
        return str(node.error)
    if node.sub_type in _BATCHES and node.children:
        counts = Counter(child.status for child in node.children)
        return ", ".join(f"{n} {status.lower()}" for status, n in counts.most_common())
    parts = []
    if node.function_name:
        parts.append(node.function_name)
    if node.status == "PENDING" and node.attempts and node.attempts[-1].retry_delay_seconds:
        parts.append(f"retry in {_seconds(node.attempts[-1].retry_delay_seconds)}")
    if node.result is not None and node.kind in ("Step", "Callback", "ChainedInvoke"):
        parts.append(f"→ {node.result}")
    return " ".join(parts)


class _Lines:
    """Builds fitted lines: ``guide icon name  detail ... kind attempts duration``."""

    def __init__(self, width: int, expand: bool) -> None:
        self.width = max(width, 40)
        self.expand = expand
        self.lines: list[Text] = []

    def node(self, node: Node, guide: str, more: str) -> None:
        icon, color = _ICONS.get(node.status, ("?", "white"))
        attempts = f"{len(node.attempts)}x" if len(node.attempts) > 1 else ""
        right = f"{_kind(node):<10.10}{attempts:>4} {format_duration(node.duration):>8}"
        room = self.width - _RIGHT - 1
        line = Text(guide, style="dim")
        line.append(f"{icon} ", style=color)
        name_room = max(room - len(guide) - 2, _MIN_NAME)
        name = Text(node.label, style="bold" if node.children else "")
        name.truncate(name_room, overflow="ellipsis")
        line.append_text(name)
        detail = _detail(node)
        spare = room - line.cell_len - 2
        if detail and spare >= 4:
            tail = Text(f"  {detail}", style="red" if node.error is not None else "dim")
            tail.truncate(spare + 2, overflow="ellipsis")
            line.append_text(tail)
        line.pad_right(max(room - line.cell_len, 0))
        line.append(" " + right.rjust(_RIGHT), style="dim")
        line.no_wrap = True
        line.overflow = "ellipsis"
        self.lines.append(line)
        self._extras(node, more)

    def _extras(self, node: Node, guide: str) -> None:
        # The node's own line already shows the error its last attempt ended with.
        tried = node.attempts[:-1] if node.status == "FAILED" else node.attempts
        failed = [a for a in tried if a.error is not None]
        hidden = len(failed) - SHOWN_FAILED_ATTEMPTS
        if hidden > 0:
            self._note(guide, f"… {hidden} earlier failed attempt(s)")
        for attempt in failed[-SHOWN_FAILED_ATTEMPTS:]:
            retry = (f" (retried after {_seconds(attempt.retry_delay_seconds)})"
                     if attempt.retry_delay_seconds else "")
            self._note(guide, f"attempt {attempt.number}: {attempt.error}{retry}")
        if node.kind == "Callback" and node.status == "STARTED" and node.callback_id:
            note = Text(guide, style="dim")
            note.append("callback id: ", style="dim")
            note.append(node.callback_id, style="bold")
            note.no_wrap, note.overflow = True, "ignore"  # whole, for copying: never cut
            self.lines.append(note)

    def _note(self, guide: str, message: str) -> None:
        note = Text(guide, style="dim")
        note.append(message, style="dim")
        note.truncate(self.width, overflow="ellipsis")
        note.no_wrap = True
        self.lines.append(note)

    def children(self, node: Node, prefix: str) -> None:
        shown, hidden = self._visible(node)
        for index, child in enumerate(shown):
            last = index == len(shown) - 1 and not hidden
            below = prefix + ("   " if last else "│  ")
            self.node(child, prefix + ("└─ " if last else "├─ "),
                      below + ("│  " if child.children else "   "))
            self.children(child, below)
        if hidden:
            counts = Counter(child.status for child in hidden)
            summary = ", ".join(f"{n} {status.lower()}" for status, n in counts.most_common())
            self._note(prefix + "└─ ", f"… {len(hidden)} more items ({summary}); "
                                      "--expand shows all")

    def _visible(self, node: Node) -> tuple[list[Node], list[Node]]:
        """The children to print and those folded into a count."""
        items = node.children
        if self.expand or node.sub_type not in _BATCHES or len(items) <= COLLAPSE_AFTER + 1:
            return items, []
        unhappy = [child for child in items if child.status != "SUCCEEDED"]
        keep = {id(child) for child in unhappy[:COLLAPSE_AFTER]}
        for child in items:
            if len(keep) >= COLLAPSE_AFTER:
                break
            keep.add(id(child))
        shown = [child for child in items if id(child) in keep]
        return shown, [child for child in items if id(child) not in keep]


def header(timeline: Timeline) -> Text:
    """``name  ✓ SUCCEEDED  in 1h00m  · 3 invocations, 24 events``."""
    line = Text()
    line.append(timeline.name or timeline.arn or "execution", style="bold")
    line.append("  ")
    line.append_text(status_text(timeline.status))
    took = format_duration(timeline.duration)
    if took:
        line.append(f"  in {took}")
    invocations = len(timeline.invocations)
    line.append(f"  · {invocations} invocation{'s' * (invocations != 1)}, "
                f"{timeline.event_count} events", style="dim")
    return line


def outcome(timeline: Timeline) -> Text:
    """``✓ SUCCEEDED  result: ...`` or ``✗ FAILED  Type: message``, never cut."""
    line = status_text(timeline.status)
    if timeline.error is not None:
        line.append(f"  {timeline.error}")
    elif timeline.result is not None:
        line.append(f"  result: {timeline.result}")
    line.no_wrap, line.overflow = True, "ignore"
    return line


def render_timeline(timeline: Timeline, width: int, *, expand: bool = False) -> list[Text]:
    """The header and the operations as a tree, fitted to ``width``."""
    lines = _Lines(width, expand)
    lines.lines.append(header(timeline))
    lines.children(Node(id="", kind="Execution", children=list(timeline.roots)), "")
    return lines.lines


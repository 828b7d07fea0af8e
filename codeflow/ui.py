"""What users see: progress bars while units run, and the summary table at the end."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

if TYPE_CHECKING:
    from codeflow.runner import RunSummary

console = Console(stderr=True)
_quiet = False


def set_quiet(quiet: bool) -> None:
    global _quiet
    _quiet = quiet


def run_with_progress(label: str, total: int, work: Callable[[], Any], done: Callable[[], int]) -> Any:
    """Run ``work`` in this thread while a side thread draws a bar fed by ``done()`` (committed shards).

    Polling the lake instead of hooking the engines keeps one bar for datatrove and Spark alike, and it
    counts resumed shards as already done. The work stays in the main thread so per-record time limits
    (``codeflow.timeouts``, SIGALRM) and Ctrl-C behave the same as in the engines' worker processes.
    """
    if _quiet or not sys.stderr.isatty():
        return work()
    stop = threading.Event()
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=False) as progress:
        task = progress.add_task(label, total=total)

        def poll() -> None:
            while not stop.wait(0.5):
                progress.update(task, completed=min(done(), total))

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        try:
            return work()
        finally:
            stop.set()
            poller.join()
            progress.update(task, completed=min(done(), total))


def summary_table(summaries: list[RunSummary]) -> Table:
    table = Table(title="codeflow summary", show_lines=False)
    for col in ("stage", "rows in", "kept", "rejected", "by reason", "shards (new/resumed)", "time", "output"):
        table.add_column(col, overflow="fold")
    for s in summaries:
        reasons = ", ".join(f"{k}={v}" for k, v in sorted(s.reasons.items())) or "-"
        table.add_row(s.stage, f"{s.rows_in:,}", f"{s.kept:,}", f"{s.rejected:,}", reasons,
                      f"{s.shards_new}/{s.shards_resumed}", f"{s.elapsed_s:.1f}s", s.out)
    return table


def print_summary(summaries: list[RunSummary]) -> None:
    out = Console()
    if not out.is_terminal:
        out = Console(width=160)
    out.print(summary_table(summaries))


def now() -> float:
    return time.perf_counter()

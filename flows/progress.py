"""Progress for long steps: a bar or a spinner on a terminal (stderr, so it never mixes with tables on stdout), and
each step's time, and the process's peak memory by its end, in the run's log wherever it runs (a worker has no
terminal; `--verbose` shows the log)."""

from __future__ import annotations

import functools
import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


@contextmanager
def progress_bar(description: str, total: int, enabled: bool) -> Iterator[Callable[[int], None]]:
    """Yields `advance(n)`: n more of `total` done."""
    if not enabled:
        yield lambda n: None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task_id = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task_id, n)


def timed(fn: Callable | None = None, *, spinner: bool = True) -> Callable:
    """`fn` with a spinner naming it while it runs (on a terminal; `spinner=False` where it draws its own bar) and
    its time logged when it ends, with the peak memory of the process it ran in so far: the step after which it
    rose is the one that raised it. Steps run in the flow's process; on a Dask runner the embedding's partitions do
    not, and their memory is the workers' (the line says whose it counts)."""
    if fn is None:
        return functools.partial(timed, spinner=spinner)
    what = fn.__name__.replace("_", " ")

    @functools.wraps(fn)
    def run(*args, **kwargs):
        start = time.perf_counter()
        status = Console(stderr=True).status(f"{what} ...") if spinner and sys.stderr.isatty() else None
        if status:
            status.start()
        try:
            return fn(*args, **kwargs)
        finally:
            if status:
                status.stop()
            _logger().info("%s: %.1f s%s", what, time.perf_counter() - start, _peak_so_far())

    return run


def _peak_so_far() -> str:
    """'; this process's peak memory so far 1,234 MB' (MB of 2**20 bytes): its high-water resident set; empty
    where the system keeps none."""
    try:
        import resource
    except ImportError:  # Windows
        return ""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KB on Linux, bytes on macOS
    return f"; this process's peak memory so far {peak / (2**20 if sys.platform == 'darwin' else 2**10):,.0f} MB"


def _logger() -> logging.Logger | logging.LoggerAdapter:
    from prefect.exceptions import MissingContextError
    from prefect.logging import get_run_logger

    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger("touchless")

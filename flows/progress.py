"""Progress for long steps: a bar or a spinner on a terminal (stderr, so it never mixes with tables on stdout), and
each step's time in the run's log wherever it runs (a worker has no terminal)."""

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
    its time logged when it ends."""
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
            _logger().info("%s: %.1f s", what, time.perf_counter() - start)

    return run


def _logger() -> logging.Logger | logging.LoggerAdapter:
    from prefect.exceptions import MissingContextError
    from prefect.logging import get_run_logger

    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger("touchless")

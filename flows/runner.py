"""The task runner a flow runs its tasks on: this machine's threads, or a Dask cluster."""

from __future__ import annotations

import socket

from pipeline.config import RunnerConfig


def task_runner(cfg: RunnerConfig):
    """Threads by default, one task at a time: the embedding model already uses every core, and partitions run side
    by side only fought over them (25 at once at 100k contacts, each with its own torch threads and ~84 MB).
    Dask: the scheduler at `address`, or a local cluster of `workers` processes (its dashboard on a free port, so
    two runs never fight over 8787)."""
    if cfg.kind == "threads":
        from prefect.task_runners import ThreadPoolTaskRunner

        return ThreadPoolTaskRunner(max_workers=1)
    from prefect_dask import DaskTaskRunner

    if cfg.address:
        return DaskTaskRunner(address=cfg.address)
    return DaskTaskRunner(
        cluster_kwargs={
            "n_workers": cfg.workers,
            "threads_per_worker": 1,
            "dashboard_address": f"127.0.0.1:{free_port()}",
        }
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

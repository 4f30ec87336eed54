"""One way to call a flow, for the CLI and for `serve`: the config loaded once, and the task runner it names."""

from __future__ import annotations

from typing import Any

from flows.runner import task_runner
from pipeline.config import Config, load_config
from pipeline.run.folder import stored_config


def settings(config_path: str | None, overrides: dict[str, Any] | None, stored_in: str | None = None) -> Config:
    """The config a run uses: the defaults, then (for `assign`, `stored_in` being its output folder) the config the
    run was made with, so the run keeps its own settings; then the user's file, then command-line overrides."""
    return load_config(config_path, overrides or None, base=stored_config(stored_in) if stored_in else None)


def configured(flow: Any, cfg: Config) -> Any:
    """The flow on the task runner the config names (threads, or a Dask cluster)."""
    return flow.with_options(task_runner=task_runner(cfg.runner))

"""touchless's scheduled runs, served by one long-running process: `touchless serve` (or `python -m flows.serve`).

Two deployments, both from `configs/deployments.yaml` (or the file given):
- `touchless-daily` runs `assign`: the contacts of the export not in the run yet go into its clusters and
  reasons; touches, ranking, touch index and trends are refreshed.
- `touchless-weekly` runs `discover` over the whole export: re-clustering (ids kept, lineage), proposals.

Point PREFECT_API_URL at your Prefect server first; the README's "Schedule it" section walks through it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

import flows  # noqa: F401  (Prefect settings)
from configs import CONFIG_DIR
from pipeline.config import read_yaml
from pipeline.errors import ConfigError, OutputError


class Schedule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cron: str
    timezone: str = "UTC"


class Deployments(BaseModel):
    model_config = ConfigDict(extra="forbid")
    out: str
    input: str
    volume: str | None = None
    taxonomy: str | None = None
    config: str | None = None
    daily: Schedule
    weekly: Schedule


def load_deployments(path: str | Path) -> Deployments:
    path = Path(path)
    try:
        return Deployments.model_validate(read_yaml(path, "deployments file"))
    except ValidationError as exc:
        problems = "; ".join(f"'{'.'.join(map(str, e['loc']))}': {e['msg']}" for e in exc.errors())
        raise ConfigError(f"deployments file {path} is not valid: {problems}") from None


def deployments(path: str | Path) -> list:
    from prefect.schedules import Cron

    from flows.assign import assign
    from flows.call import configured, settings
    from flows.discover import discover

    spec = load_deployments(path)
    overrides: dict[str, Any] = {"taxonomy": {"path": spec.taxonomy}} if spec.taxonomy else {}
    cfg = settings(spec.config, overrides)  # for the task runners; each run loads its config again when it starts
    try:  # the daily run keeps the settings of the run it adds to, its runner among them
        daily_cfg = settings(spec.config, overrides, stored_in=spec.out)
    except OutputError:  # no run yet: the first weekly discover makes it
        daily_cfg = cfg
    common = {
        "input_path": spec.input,
        "out_dir": spec.out,
        "config_path": spec.config,
        "overrides": overrides or None,
        "volume_path": spec.volume,
    }
    daily = configured(assign, daily_cfg).to_deployment(
        name="touchless-daily",
        schedule=Cron(spec.daily.cron, timezone=spec.daily.timezone),
        parameters=common,
        description="A day's new contacts into the existing clusters and reasons; touches, ranking, index, trends.",
        tags=["touchless"],
    )
    weekly = configured(discover, cfg).to_deployment(
        name="touchless-weekly",
        schedule=Cron(spec.weekly.cron, timezone=spec.weekly.timezone),
        parameters=common,
        description="Full re-discovery: re-cluster (ids kept, lineage), proposals, ranking, index, trends.",
        tags=["touchless"],
    )
    return [daily, weekly]


def main(path: str | Path = CONFIG_DIR / "deployments.yaml") -> None:
    from prefect import serve

    serve(*deployments(path))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else CONFIG_DIR / "deployments.yaml")

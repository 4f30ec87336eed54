"""touchless's scheduled runs, served by one long-running process: `touchless serve` (or `python -m flows.serve`).

Two deployments, both from `configs/deployments.yaml` (or the file given):
- `touchless-daily` runs `assign`: the contacts of the export not in the run yet go into its clusters and
  reasons; touches, ranking, touch index and trends are refreshed.
- `touchless-weekly` runs `discover` over the whole export: re-clustering (ids kept, lineage), proposals.

Point PREFECT_API_URL at your Prefect server first; the README's "Schedule it" section walks through it.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

import flows  # noqa: F401  (Prefect settings)
from configs import CONFIG_DIR
from pipeline.config import read_yaml
from pipeline.errors import ConfigError, OutputError


class Schedule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cron: str
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        from prefect.client.schemas.schedules import CronSchedule

        try:
            CronSchedule(cron="0 0 * * *", timezone=zone)  # as Prefect checks it (it refuses some zoneinfo names)
        except (ValueError, ValidationError):
            raise ValueError(f"'{zone}' is not a time zone (IANA names, e.g. Europe/Paris, UTC)") from None
        return zone

    @field_validator("cron")
    @classmethod
    def _a_cron(cls, cron: str) -> str:
        """Checked when the file is read, not once serving has begun (it failed as 'unexpected', after 'serving')."""
        from prefect.client.schemas.schedules import CronSchedule

        try:
            CronSchedule(cron=cron)
        except (ValueError, ValidationError):
            raise ValueError(
                f"'{cron}' is not a cron schedule (minute hour day month weekday, e.g. '0 6 * * *')"
            ) from None
        return cron


class Deployments(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field("touchless", pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")  # deployments <name>-daily, <name>-weekly
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
        problems = "; ".join(
            f"'{'.'.join(map(str, e['loc']))}': {e['msg'].removeprefix('Value error, ')}" for e in exc.errors()
        )
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
        "out_dir": place(spec.out),
        "config_path": spec.config,
        "overrides": overrides or None,
        "volume_path": spec.volume,
    }
    daily = configured(assign, daily_cfg).to_deployment(
        name=f"{spec.name}-daily",
        schedule=Cron(spec.daily.cron, timezone=spec.daily.timezone),
        parameters=common,
        description="A day's new contacts into the existing clusters and reasons; touches, ranking, index, trends.",
        tags=["touchless"],
    )
    weekly = configured(discover, cfg).to_deployment(
        name=f"{spec.name}-weekly",
        schedule=Cron(spec.weekly.cron, timezone=spec.weekly.timezone),
        parameters=common,
        description="Full re-discovery: re-cluster (ids kept, lineage), proposals, ranking, index, trends.",
        tags=["touchless"],
    )
    return [daily, weekly]


def main(
    path: str | Path = CONFIG_DIR / "deployments.yaml", announce: Callable[[Deployments], None] | None = None
) -> None:
    """Serve the deployments of the file at `path` until stopped (Ctrl-C, SIGTERM); all that can stop it (another
    folder's deployments under these names, the config) is checked before `announce` says it serves. What prefect's
    `serve` does, with one thing more: a run still going when serving stops is marked Crashed (`crash_unfinished`)."""
    import asyncio

    from prefect.exceptions import TerminationSignal
    from prefect.runner import Runner

    class _Runner(Runner):
        serving: asyncio.Task | None = None

        def handle_sigterm(self, *args, **kwargs) -> None:
            """SIGTERM stops serving as Ctrl-C does: the serving task is cancelled, and the runner pauses both
            schedules as it stops. Prefect's own answer (a stop it does not await, then `sys.exit` inside the event
            loop) left a schedule running when a run was going, and printed a traceback. Cancelling the task, not
            sending SIGINT, also works where serve was started with SIGINT ignored (a background job, nohup)."""
            if self.serving is not None:
                self.serving.get_loop().call_soon_threadsafe(self.serving.cancel)

    spec = load_deployments(path)
    refuse_taking_over(spec)
    runner = _Runner(pause_on_shutdown=True)
    for deployment in deployments(path):
        runner.add_deployment(deployment)
    if announce is not None:
        announce(spec)

    async def serve() -> None:
        runner.serving = asyncio.current_task()
        await runner.start()

    try:
        asyncio.run(serve())
    except (KeyboardInterrupt, TerminationSignal, asyncio.CancelledError):
        pass
    finally:
        crash_unfinished(spec)


def crash_unfinished(spec: Deployments, grace_s: float = 30.0) -> list[str]:
    """When serving stops, the runs of these deployments left Running or Pending though nothing runs them any more
    are marked Crashed, saying why: they stayed Running on the server for ever, in the UI and for automations (a run
    stopped by Ctrl-C in the middle of a step never reported). It first waits (up to `grace_s`) for the runs it
    started to end; while one of them still goes, that run reports its own end and nothing is marked. It takes the
    runs of these deployments for its own: one process serves a deployments file (`refuse_taking_over` refuses
    another folder's, and two processes serving one file pause each other's schedules when either stops). A run folder keeps its last complete output either way (a run replaces it whole, or not at all).
    Returns the ids marked."""
    import os
    import time

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.exceptions import Abort, ObjectNotFound
    from prefect.states import Crashed
    from prefect.utilities.engine import propose_state_sync

    deadline = time.monotonic() + grace_s
    while True:  # a child of this process is a run it started (prefect runs each flow run in a subprocess)
        try:
            if os.waitpid(-1, os.WNOHANG) == (0, 0):
                if time.monotonic() > deadline:
                    return []  # still running: it will report its own end
                time.sleep(0.2)
        except ChildProcessError:
            break
    marked = []
    with get_client(sync_client=True) as client:
        ids = []
        for flow_name, name in (("assign", f"{spec.name}-daily"), ("discover", f"{spec.name}-weekly")):
            with contextlib.suppress(ObjectNotFound):
                ids.append(client.read_deployment_by_name(f"{flow_name}/{name}").id)
        if not ids:
            return marked
        stranded = client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=ids)),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.RUNNING, StateType.PENDING]))
            ),
        )
        for flow_run in stranded:
            crashed = Crashed(
                message="touchless serve stopped while this run was going; its run folder keeps the last complete "
                "output"
            )
            try:
                propose_state_sync(client, crashed, flow_run_id=flow_run.id)
            except Abort:  # it ended meanwhile: its own state stands
                continue
            marked.append(str(flow_run.id))
    return marked


def place(out: str) -> str:
    """A run folder as one spelling: a local path made absolute (two teams' `runs/main` from two folders are two
    places; `./runs/main/` and `runs/main` one), a URL as given."""
    return out if "://" in out else str(Path(out).resolve())


def not_ready(spec: Deployments) -> list[str]:
    """What will make the scheduled runs fail until someone acts, said when serving starts (each run failed in the
    serve log, with a traceback, day after day)."""
    from pipeline.run.folder import read_manifest

    lines = []
    for key in ("input", "volume", "taxonomy"):  # a missing config stops serve itself
        given = getattr(spec, key)
        if given and "://" not in given and not Path(given).exists():
            lines.append(f"{key} {given} does not exist (yet): the runs fail until it does")
    if "://" not in spec.out and read_manifest(Path(spec.out)) is None:
        options = "".join(
            f" --{key} {value}"
            for key, value in (("config", spec.config), ("taxonomy", spec.taxonomy), ("volume", spec.volume))
            if value
        )
        lines.append(
            f"{spec.out} holds no run yet: the daily runs fail until the weekly one makes it; make it now with "
            f"`touchless discover {spec.input} --out {spec.out}{options}`"
        )
    return lines


def refuse_taking_over(spec: Deployments) -> None:
    """Deployments are named on the Prefect server: serving a second file under the same names replaced the first
    one's parameters without a word (its runs then wrote into the other folder), and stopping either paused both."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        for flow_name, name in (("assign", f"{spec.name}-daily"), ("discover", f"{spec.name}-weekly")):
            try:
                held = (client.read_deployment_by_name(f"{flow_name}/{name}").parameters or {}).get("out_dir")
            except ObjectNotFound:
                continue
            if held is not None and place(held) != place(spec.out):
                raise ConfigError(
                    f"the deployment '{flow_name}/{name}' on this Prefect server already keeps {held} up to date "
                    f"(another deployments file?); serving this one would take it over for {spec.out}. Give this file "
                    f"its own name: (e.g. name: {spec.name}-2), or, if it replaces that one, delete the old: prefect "
                    f"deployment delete '{flow_name}/{name}'"
                )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else CONFIG_DIR / "deployments.yaml")

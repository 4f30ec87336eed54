"""The README's route for teams that run Prefect workers: `prefect deploy --all` registers the two deployments of
prefect.yaml on a process work pool, and `prefect deployment ls` lists them (both answered 422 with the FastAPI
that Prefect 3.8.8's server was first pinned with)."""

from __future__ import annotations

import subprocess
import sys

import httpx

from tests.test_schedule import ROOT, prefect_server  # noqa: F401  (the fixture: a real server on 127.0.0.1)


def test_prefect_deploy_all_registers_both_deployments_and_lists_them(prefect_server):  # noqa: F811
    api, env = prefect_server
    env = {**env, "COLUMNS": "200"}  # Prefect's tables wrap names on a narrow terminal

    def prefect(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "prefect", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300
        )

    created = prefect("work-pool", "create", "touchless", "--type", "process")
    assert created.returncode == 0, created.stdout + created.stderr
    deployed = prefect("--no-prompt", "deploy", "--all")
    assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-3000:]
    listed = prefect("deployment", "ls")
    assert listed.returncode == 0, listed.stdout[-3000:] + listed.stderr[-3000:]
    assert "assign/touchless-daily" in listed.stdout and "discover/touchless-weekly" in listed.stdout
    found = {d["name"]: d for d in httpx.post(f"{api}/deployments/filter", json={}).json()}
    assert {found[n]["work_pool_name"] for n in ("touchless-daily", "touchless-weekly")} == {"touchless"}
    assert found["touchless-daily"]["schedules"][0]["schedule"]["cron"] == "0 6 * * *"
    assert found["touchless-weekly"]["parameters"]["out_dir"] == "runs/main"

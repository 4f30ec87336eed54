"""Scheduled like a data team runs it: a real Prefect server on 127.0.0.1, the deployments served, the daily flow
triggered through the API; then its outputs and its artifact are checked, and the server stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest
import yaml

from flows.runner import free_port
from tests.conftest import SIX_INTENTS

ROOT = Path(__file__).resolve().parents[1]


def wait(predicate, timeout: float, what: str, every: float = 1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture()
def prefect_server(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
    }
    env.pop("PREFECT_API_URL", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    api = f"http://127.0.0.1:{port}/api"

    def healthy():
        try:
            return httpx.get(f"{api}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait(healthy, 180, "the Prefect server to start")
        yield api, {**env, "PREFECT_API_URL": api, "PREFECT_RUNNER_POLL_FREQUENCY": "1"}
    finally:
        server.terminate()
        server.wait(timeout=60)


def test_the_daily_deployment_runs_from_the_api(prefect_server, tmp_path, test_config):
    api, env = prefect_server
    contacts = pd.read_csv(SIX_INTENTS)
    contacts["created_at"] = pd.date_range("2026-10-01", periods=len(contacts), freq="4h", tz="UTC").astype(str)
    contacts.iloc[:250].to_csv(tmp_path / "history.csv", index=False)
    contacts.to_csv(tmp_path / "export.csv", index=False)  # the export grew by 50 contacts since
    run = tmp_path / "run"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "flows.cli",
            "discover",
            str(tmp_path / "history.csv"),
            "--out",
            str(run),
            "--config",
            str(test_config),
        ],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    spec = tmp_path / "deployments.yaml"
    spec.write_text(
        yaml.safe_dump(
            {
                "out": str(run),
                "input": str(tmp_path / "export.csv"),
                "config": str(test_config),
                "daily": {"cron": "0 6 * * *"},
                "weekly": {"cron": "0 5 * * 1"},
            }
        )
    )
    served = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "serve", "--deployments", str(spec)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group, to be stopped as a service manager stops it
        # started as a background job is (nohup, `... &` in a script): with SIGINT ignored, which a SIGTERM answered
        # by sending SIGINT would not stop
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:

        def registered():  # `serve` registers them one after the other
            found = {d["name"]: d for d in httpx.post(f"{api}/deployments/filter", json={}).json()}
            return found if len(found) >= 2 else None

        found = wait(registered, 180, "the deployments to be registered")
        assert set(found) == {"touchless-daily", "touchless-weekly"}
        daily = found["touchless-daily"]
        assert daily["schedules"][0]["schedule"]["cron"] == "0 6 * * *"

        def create_run(deployment: dict, parameters: dict | None = None) -> dict:
            """A busy server answers 503 for a moment: ask again, as a client would. `parameters` override the
            deployment's."""

            def created():
                answer = httpx.post(
                    f"{api}/deployments/{deployment['id']}/create_flow_run",
                    json={"parameters": parameters or {}},
                    timeout=30,
                )
                return answer.json() if answer.status_code in (200, 201) else None

            return wait(created, 120, f"a run of {deployment['name']} to be created", every=3)

        def state_of(flow_run: dict) -> dict | None:
            """None while the server is too busy to answer, so that waiting asks again."""
            answer = httpx.get(f"{api}/flow_runs/{flow_run['id']}", timeout=30)
            return answer.json()["state"] if answer.status_code == 200 else None

        flow_run = create_run(daily)
        assert "id" in flow_run, flow_run

        def finished():
            state = state_of(flow_run)
            return state if state and state["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") else None

        state = wait(finished, 300, "the daily flow run to finish", every=2)
        assert state["type"] == "COMPLETED", state

        # a second team's file under the same names took these deployments over without a word
        other = tmp_path / "team-b.yaml"
        other.write_text(spec.read_text().replace(str(run), str(tmp_path / "team-b")))
        second = subprocess.run(
            [sys.executable, "-m", "flows.cli", "serve", "--deployments", str(other)],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert second.returncode == 2 and "already keeps" in second.stderr and "name:" in second.stderr, second.stderr
        assert httpx.get(f"{api}/deployments/{daily['id']}").json()["parameters"]["out_dir"] == str(run)

        # Ctrl-C while a run goes: serving stops, and the run is not left Running on the server for ever. It reads
        # the demo's 2,100 contacts, none embedded yet, so that it is still going when Ctrl-C comes: on the 300
        # contacts embedded before, the weekly run once completed between being seen Running and the signal
        stopped = create_run(
            found["touchless-weekly"], {"input_path": str(ROOT / "pipeline" / "demo" / "banking77_demo.csv")}
        )
        assert "id" in stopped, stopped

        def running():
            state = state_of(stopped)
            return state if state and state["type"] != "SCHEDULED" and state["type"] != "PENDING" else None

        assert wait(running, 120, "the weekly run to start", every=0.2)["type"] == "RUNNING"
        # what a service manager sends (systemd: to every process of the service): serve and the run it started.
        # serve answers it as Ctrl-C (SIGINT); Prefect's own answer left the weekly schedule running
        os.killpg(served.pid, signal.SIGTERM)
        served.wait(timeout=120)
        state = httpx.get(f"{api}/flow_runs/{stopped['id']}").json()["state"]
        assert state["type"] == "CRASHED", state
        for deployment in found.values():  # both schedules paused until serve starts again, as README says
            assert httpx.get(f"{api}/deployments/{deployment['id']}").json()["paused"], deployment["name"]
    finally:
        served.terminate()
        served.wait(timeout=60)
    assert len(pd.read_parquet(run / "contacts.parquet")) == 300
    artifacts = httpx.post(
        f"{api}/artifacts/filter", json={"artifacts": {"flow_run_id": {"any_": [flow_run["id"]]}}}
    ).json()
    summary = {a["key"]: a for a in artifacts}
    assert {"touchless-summary", "touchless-ranking"} <= set(summary)
    assert "Top causes by touches" in summary["touchless-summary"]["data"]


def test_what_will_make_the_scheduled_runs_fail_is_said_when_serving_starts(tmp_path, six_intents_run):
    """A missing export, or no run yet for the daily assign, failed each scheduled run in the serve log, day after
    day, with a traceback."""
    from flows.serve import load_deployments, not_ready

    spec = tmp_path / "deployments.yaml"
    daily = {"cron": "0 6 * * *"}
    spec.write_text(
        yaml.safe_dump(
            {"out": str(tmp_path / "run"), "input": str(tmp_path / "nope.csv"), "daily": daily, "weekly": daily}
        )
    )
    said = not_ready(load_deployments(spec))
    assert any("nope.csv does not exist" in s for s in said) and any("holds no run yet" in s for s in said), said
    spec.write_text(
        yaml.safe_dump({"out": str(six_intents_run[0]), "input": str(SIX_INTENTS), "daily": daily, "weekly": daily})
    )
    assert not_ready(load_deployments(spec)) == []

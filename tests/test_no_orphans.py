"""No process outlives the run that started it: the temporary Prefect server ends with its run, even on SIGKILL.

Each run is a fresh Python process in its own session, with no Prefect API configured (the session's test harness
is not inherited), so it starts the temporary server as the CLI does; afterwards no process of that session may
be left.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[1]
RUN = """
import sys, time
from pathlib import Path

import flows  # Prefect settings first, as the CLI does
from prefect import flow, task
from flows.server import local_prefect_api


@task
def double(x: int) -> int:
    return 2 * x


@flow
def tiny(n: int) -> int:
    return sum(double.map(range(n)).result())


if __name__ == "__main__":
    with local_prefect_api() as ready:
        url = ready()
        assert tiny(3) == 6
        Path(sys.argv[1]).write_text(str(url))
        if sys.argv[2] == "wait":
            time.sleep(600)
"""


@pytest.fixture(scope="module")
def prefect_home(tmp_path_factory) -> Path:
    """One Prefect home for this module's runs: the first migrates its database, the next reuses it."""
    return tmp_path_factory.mktemp("prefect-home")


def no_api_env(prefect_home: Path) -> dict[str, str]:
    """This environment without the harness's API, with its own Prefect home."""
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "PREFECT_API_KEY")}
    env.update(PREFECT_HOME=str(prefect_home), PREFECT_LOGGING_LEVEL="CRITICAL")
    return env


def start_run(tmp_path: Path, prefect_home: Path, mode: str) -> tuple[subprocess.Popen, Path]:
    script, ready = tmp_path / "run.py", tmp_path / "ready"
    script.write_text(RUN)
    run = subprocess.Popen(
        [sys.executable, str(script), str(ready), mode],
        cwd=ROOT,
        env=no_api_env(prefect_home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    return run, ready


def session_processes(session: int) -> list[psutil.Process]:
    """The live processes of a session (zombies are dead, only not yet reaped by whoever inherited them)."""
    found = []
    for process in psutil.process_iter():
        try:
            if os.getsid(process.pid) == session and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
        except (OSError, psutil.Error):
            pass
    return found


def left_after(session: int, seconds: float) -> list[str]:
    deadline = time.monotonic() + seconds
    while (left := session_processes(session)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return [" ".join(p.cmdline()) for p in left if p.is_running()]


def kill_session(session: int) -> None:
    for process in session_processes(session):
        process.kill()


def test_sigkill_of_the_run_leaves_no_process(tmp_path, prefect_home):
    run, ready = start_run(tmp_path, prefect_home, "wait")
    try:
        deadline = time.monotonic() + 240  # a first start migrates a new database
        while not ready.exists() and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert ready.exists(), run.stderr.read().decode() if run.poll() is not None else "no server in time"
        assert ready.read_text().startswith("http://127.0.0.1:")
        # the run's only child is our server: Prefect did not start its own
        children = psutil.Process(run.pid).children(recursive=True)
        assert [" ".join(c.cmdline()[1:3]) for c in children] == ["-m flows.server"]

        os.kill(run.pid, signal.SIGKILL)  # the run only: its server is not signalled
        run.wait()
        assert left_after(run.pid, 10) == []
    finally:
        kill_session(run.pid)


def test_a_normal_exit_leaves_no_process(tmp_path, prefect_home):
    run, ready = start_run(tmp_path, prefect_home, "exit")
    try:
        _, stderr = run.communicate(timeout=240)
        assert run.returncode == 0, stderr.decode()
        assert ready.read_text().startswith("http://127.0.0.1:")
        assert left_after(run.pid, 10) == []
    finally:
        kill_session(run.pid)


def test_a_server_whose_parent_is_gone_does_not_start():
    """The parent died before the server set its death signal: it ends at once instead of serving."""
    gone = subprocess.Popen(["true"])
    gone.wait()
    server = subprocess.run(
        [sys.executable, "-m", "flows.server", "--parent", str(gone.pid), "--port", "1"],
        cwd=ROOT,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert server.returncode == 1


def test_a_port_taken_before_the_server_binds_it_is_retried(monkeypatch, prefect_home):
    import flows.runner
    from flows.server import SERVER_ENV, _start, _stop

    free_port = flows.runner.free_port
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        ports = [taken.getsockname()[1]]  # "free" when picked, taken when the server binds it
        monkeypatch.setattr(flows.runner, "free_port", lambda: ports.pop() if ports else free_port())
        (server, _), url = _start({**no_api_env(prefect_home), **SERVER_ENV}, timeout=240)
        try:
            assert not ports and url != f"http://127.0.0.1:{taken.getsockname()[1]}/api"
        finally:
            _stop(server)


def test_the_command_starts_its_server_early_and_uses_that_one(tmp_path, prefect_home):
    """`touchless discover|assign|demo` launch the temporary server before their imports; the flow then runs on
    that same server (no second one), and a command that ends before any flow stops it without a word."""
    script = tmp_path / "early.py"
    script.write_text(
        """
import sys
import flows
from flows import server

server.launch_early(verbose=False)
(_, port), _ = server._early[0]
import flows.cli  # what the command imports before its flow: torch, spaCy, the flows
with server.local_prefect_api() as ready:
    url = ready()
    import psutil
    children = [" ".join(c.cmdline()[1:3]) for c in psutil.Process().children(recursive=True)]
    print(url == f"http://127.0.0.1:{port}/api", children == ["-m flows.server"])
"""
    )
    env = no_api_env(prefect_home)
    done = subprocess.run(
        [sys.executable, str(script)], cwd=ROOT, env=env, capture_output=True, timeout=240, start_new_session=True
    )
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.decode().split() == ["True", "True"]

    usage = subprocess.Popen(  # no --out: a usage error after the early launch, before any flow
        [sys.executable, "-m", "flows", "discover", "contacts.csv"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        _, stderr = usage.communicate(timeout=120)
        assert usage.returncode == 2
        assert "--out" in stderr.decode() and "Traceback" not in stderr.decode()
        assert left_after(usage.pid, 10) == []
    finally:
        kill_session(usage.pid)


PREPARE = """
import sys

import pandas as pd

from pipeline.config import load_config
from pipeline.text.prepare import read_and_prepare

texts = [f"card {i} charged twice at shop {i % 97}" for i in range(100_000)]
pd.DataFrame({"contact_id": range(len(texts)), "text": texts}).to_csv(sys.argv[1], index=False)
read_and_prepare(sys.argv[1], load_config(overrides={"prepare": {"processes": 2}}))
"""


@pytest.mark.parametrize("how", ["SIGKILL of the run", "Ctrl-C"])
def test_a_run_stopped_while_worker_processes_prepare_the_texts_leaves_no_process(tmp_path, how):
    """A large export is prepared in worker processes. Killing the run's process while they work leaves none of
    them; Ctrl-C (SIGINT to the whole process group, as a terminal sends it) stops the run, leaves none either, and
    no worker prints a traceback of its own. The workers are busy when the signal comes here; one idle between
    parts (which would print its own KeyboardInterrupt but for `_worker_start`) is not timed by this test."""
    script = tmp_path / "prepare.py"
    script.write_text(PREPARE)
    run = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "export.csv")],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
        # a terminal's SIGINT: started in the background of a shell without job control it is inherited ignored
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        workers: list[psutil.Process] = []
        deadline = time.monotonic() + 120
        while run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
            try:
                workers = psutil.Process(run.pid).children()
                if len(workers) == 2 and min(sum(w.cpu_times()[:2]) for w in workers) > 1:  # both at work
                    break
            except psutil.Error:  # a worker just ending
                pass
        assert run.poll() is None, run.stderr.read().decode()
        assert len(workers) == 2, "no workers at work in time"
        if how == "Ctrl-C":
            os.killpg(run.pid, signal.SIGINT)
            _, stderr = run.communicate(timeout=60)
            assert "KeyboardInterrupt" in stderr.decode()
            assert "ForkProcess" not in stderr.decode()  # a worker's own traceback starts "Process ForkProcess-1:"
        else:
            os.kill(run.pid, signal.SIGKILL)  # the run only: its workers are not signalled
            run.wait()
        assert left_after(run.pid, 10) == []
    finally:
        kill_session(run.pid)

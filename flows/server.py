"""A temporary Prefect API server that cannot outlive the run that started it.

With no PREFECT_API_URL, Prefect 3 starts its own temporary server (`SubprocessASGIServer`: `python -m uvicorn`)
and stops it only from `atexit`, which SIGKILL, the OOM killer and hard crashes skip: each such end left a
~225 MB server running for good. `local_prefect_api()` starts the same server itself, as a child that dies with
its parent however the parent ends, and points Prefect at it, so Prefect never starts its own.

The child is `python -m flows.server --parent PID --port N`: it asks Linux to SIGKILL it when its parent dies
(PR_SET_PDEATHSIG), watches its parent pid as well (the moment before prctl, and systems without prctl), then
serves Prefect's app in-process with uvicorn, as Prefect's own temporary server does.
"""

from __future__ import annotations

import argparse
import atexit
import http.client
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

from pipeline.runtime import die_with

HOST = "127.0.0.1"
# what Prefect's SubprocessASGIServer sets: no UI, a temporary server, settings already final
SERVER_ENV = {"PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}
PORT_TAKEN = 3  # uvicorn's exit status when it cannot bind (STARTUP_FAILURE)


@contextmanager
def local_prefect_api() -> Iterator[Callable[[], str | None]]:
    """Start a temporary local Prefect API for the block, unless the user configured one. Yields `ready`: call it
    before the first flow; it waits until the server answers, points Prefect at it and returns its URL (None with
    the user's server). The server starts at once, so its own start-up (importing Prefect's API, ~10 s) runs
    beside whatever the caller does before `ready()` (the CLI imports the flows and loads the config).

    Enter it from the thread that outlives the block (the main thread): Linux delivers the parent-death signal
    when the thread that started the child ends. Call flows synchronously inside it.
    """
    import prefect.context
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, temporary_settings

    if not _temporary_server_wanted():
        yield lambda: None  # the user's server, or Prefect's own error about having none
        return
    env = _server_env()
    timeout = float(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value())
    server = _take_early(env) or _launch(env)
    url: str | None = None
    with ExitStack() as pointed:

        def ready() -> str:
            nonlocal server, url
            if url is None:
                server, url = _start(env, timeout, server)
                pointed.enter_context(temporary_settings(updates={PREFECT_API_URL: url}))
                # Threads that did not copy the caller's context read the process-wide settings: point those at
                # it too, as prefect_test_harness does (a private helper, hence the fallback).
                global_settings = getattr(prefect.context, "_temporary_global_settings_context", None)
                if global_settings:
                    pointed.enter_context(global_settings(prefect.context.get_settings_context()))
                pointed.callback(_drain_prefect_workers)
            return url

        try:
            yield ready
        finally:
            pointed.close()  # logs and events sent while the server is still up
            # one never used (the command failed first, on a config error say) may still be starting: stopped
            # then, it prints a shutdown traceback into the terminal, above the command's one-line error
            (_stop if url is not None else _discard)(server[0])


def quiet_prefect(verbose: bool) -> None:
    """Prefect's own log lines (the server's too) only with --verbose: what a person sees is touchless's."""
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO" if verbose else "CRITICAL")


_early: list[tuple[tuple[subprocess.Popen, int], dict[str, str]]] = []  # launched by `launch_early`, with its env


def launch_early(verbose: bool) -> None:
    """Launch the temporary server before the command imports torch, spaCy and the flows (~3 s), so its own start
    runs beside them instead of after; `local_prefect_api` takes it over when Prefect's settings are still the
    same, else kills it, as it does one never taken over at exit. Nothing when the user has a server."""
    quiet_prefect(verbose)
    if not _temporary_server_wanted():
        return
    env = _server_env()
    _early.append((_launch(env), _prefect_part(env)))
    atexit.register(lambda: [_discard(server[0]) for server, _ in _early])


def _take_early(env: dict[str, str]) -> tuple[subprocess.Popen, int] | None:
    """The server `launch_early` started, when Prefect's settings are still those it was given."""
    if not _early:
        return None
    server, settings = _early.pop()
    if settings == _prefect_part(env) and server[0].poll() is None:
        return server
    _discard(server[0])
    return None


def _prefect_part(env: dict[str, str]) -> dict[str, str]:
    """What the server reads of its environment: Prefect's settings (torch sets OpenMP variables on import)."""
    return {k: v for k, v in env.items() if k.startswith("PREFECT_")}


def _discard(process: subprocess.Popen) -> None:
    """A server never used, perhaps still starting: killed, as a stop in the middle of its start-up makes it print
    a traceback (its database is SQLite's, safe from a kill)."""
    process.kill()
    process.wait()


def _temporary_server_wanted() -> bool:
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED

    return not PREFECT_API_URL.value() and bool(PREFECT_SERVER_EPHEMERAL_ENABLED.value())


def _server_env() -> dict[str, str]:
    from prefect.settings import get_current_settings

    env = {**os.environ, **SERVER_ENV, **get_current_settings().to_environment_variables(exclude_unset=True)}
    env.pop("PREFECT_API_URL", None)  # an empty one counts as unset
    return env


def _launch(env: dict[str, str]) -> tuple[subprocess.Popen, int]:
    """Start the server child on a free port picked here (bound there), without waiting for it."""
    from flows.runner import free_port

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "flows.server", "--parent", str(os.getpid()), "--port", str(port)],
        env=env,
        stdin=subprocess.DEVNULL,
        # its own process group: a Ctrl-C at the terminal reaches only the CLI, which still needs the server
        # to record the interrupted run; the parent stops it afterwards
        process_group=0 if os.name == "posix" else None,
    )
    return process, port


def _start(
    env: dict[str, str], timeout: float, launched: tuple[subprocess.Popen, int] | None = None
) -> tuple[tuple[subprocess.Popen, int], str]:
    """Wait until the server child (`launched`, else a new one) answers /api/health; ((process, port), URL). A
    port taken between picking and binding (uvicorn exits with 3) is retried on another, a few times only, since
    a failed start (a broken database) exits with 3 as well."""
    deadline = time.monotonic() + timeout
    server = launched or _launch(env)
    for attempt in range(3):
        process, port = server
        try:
            while (code := process.poll()) is None and time.monotonic() < deadline:
                if _healthy(port):
                    return server, f"http://{HOST}:{port}/api"
                time.sleep(0.1)
        except BaseException:  # Ctrl-C while waiting
            _stop(process)
            raise
        if code != PORT_TAKEN or attempt == 2:
            _stop(process)
            break
        server = _launch(env)
    raise RuntimeError(
        f"the temporary Prefect server did not start within {timeout:.0f} s"
        if code is None
        else f"the temporary Prefect server exited with status {code}"
        + " (run again with --verbose to see its own messages)"
    )


def _healthy(port: int) -> bool:
    """A plain HTTP request: no proxy from the environment may stand between us and 127.0.0.1."""
    connection = http.client.HTTPConnection(HOST, port, timeout=2)
    try:
        connection.request("GET", "/api/health")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def _drain_prefect_workers() -> None:
    """Send the logs and events Prefect still queues while the server is up, else they fail at exit, loudly."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        worker.drain_all(timeout=5)


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _serve(parent: int, port: int) -> None:
    die_with(parent)
    import uvicorn

    # quiet as the command that started it (Prefect's logs at CRITICAL unless --verbose): stopped while it was still
    # starting (a config error found first), uvicorn printed a shutdown traceback into the user's terminal
    quiet = os.environ.get("PREFECT_LOGGING_LEVEL", "").upper() == "CRITICAL"
    # sys.exit(3) when the port is taken, which the parent retries
    uvicorn.run(
        "prefect.server.api.server:create_app",
        factory=True,
        host=HOST,
        port=port,
        log_level="critical" if quiet else "error",
        lifespan="on",
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="a temporary Prefect API server that dies with its parent")
    parser.add_argument("--parent", type=int, required=True, help="the pid whose end ends this server")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    _serve(args.parent, args.port)

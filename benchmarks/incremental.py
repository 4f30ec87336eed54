"""A day's incremental run against a full re-discovery, and the fixed cost every run pays, side by side.

History: 13,000 simulated contacts over BANKING77 texts (real texts; times, customers and volume simulated by
pipeline/demo/simulate.py), already discovered, their embeddings cached. The day: 1,000 new contacts whose texts are
new (never embedded). Timed three ways:
- warm: in one process that has run flows before (imports loaded, Prefect up);
- fresh + server: a new process per run against a running Prefect server (how `touchless serve` runs each flow);
- fresh + ephemeral: a new process per run with no server (the CLI on a laptop; Prefect starts a temporary one).

    python -m benchmarks.incremental

With `--history 10000,1000000` it measures instead what the history costs a day's run: 1,000 new contacts
assigned onto simulated histories of each size (BANKING77 texts; the shipped example taxonomy; business volume),
each `discover` and `assign` in a fresh process through the CLI, with wall time and peak memory.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pandas as pd

import flows  # noqa: F401  (Prefect settings)
from benchmarks.datasets import banking77
from flows.runner import free_port
from pipeline.demo.simulate import simulate

ROOT = Path(__file__).resolve().parents[1]


def fresh(args: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, *args], cwd=ROOT, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def fixed_costs(env: dict) -> list[tuple[str, float]]:
    """What a fresh process pays before any contact is touched (each measured in its own new process)."""
    probes = [
        ("python + touchless CLI imports", "import flows.cli"),
        ("torch import", "import torch"),
        (
            "embedding model load (MiniLM, torch import included)",
            "from pipeline.config import load_config; from pipeline.model.embed import Embedder; Embedder(load_config().embedding).model",
        ),
        ("spaCy name recogniser load", "from pipeline.text.redact import ner; ner()"),
        (
            "Prefect: a first flow run, no server (ephemeral)",
            "import flows; from prefect import flow; flow(lambda: 1)()",
        ),
        (
            "numba compiling for UMAP (only cluster.method: hdbscan)",
            "import numpy as np, umap; umap.UMAP(n_components=2, random_state=0, n_jobs=1).fit(np.random.rand(200, 8))",
        ),
    ]
    base = fresh(["-c", "pass"], env)
    out = [("python start-up", base)]
    for name, code in probes:
        out.append((name, fresh(["-c", code], env) - base))
    return out


def onto_histories(sizes: list[int]) -> None:
    """A day's `assign` of 1,000 new contacts onto a history of each size; each history discovered first (fresh
    processes; the history's few distinct texts are embedded once, so discover's time here is not a cold one)."""
    from benchmarks.quality import run_measured

    texts = banking77("all").rename(columns={"label": "intent"})
    cli = [sys.executable, "-m", "flows"]
    rows = []
    with tempfile.TemporaryDirectory(prefix="touchless-histories-") as tmp:
        work = Path(tmp)
        config = work / "config.yaml"
        config.write_text(
            f"embedding:\n  cache_dir: {work / 'cache'}\ntaxonomy:\n  path: {ROOT / 'configs' / 'taxonomy.yaml'}\n"
        )
        for size in sizes:
            simulation = simulate(texts, weeks=12, contacts=int(size * 1.1) + 2_000, seed=21)
            timeline = simulation.contacts.head(size + 1_000)
            history, day = timeline.iloc[:size], timeline.iloc[size:].copy()
            day["text"] = day["text"] + f" Please help ({size})."  # new texts: the day's embeddings are not cached
            for name, frame in (("history", history), ("day", day), ("volume", simulation.volume)):
                frame.to_csv(work / f"{name}-{size}.csv", index=False)
            base, run = work / f"base-{size}", work / f"run-{size}"
            given = ["--config", str(config), "--volume", str(work / f"volume-{size}.csv")]
            discovered, discover_peak, _ = run_measured(
                [*cli, "discover", str(work / f"history-{size}.csv"), "--out", str(base), *given]
            )
            shutil.copytree(base, run)
            assigned, assign_peak, _ = run_measured(
                [*cli, "assign", str(work / f"day-{size}.csv"), "--out", str(run), *given]
            )
            rows.append((size, discovered, discover_peak, assigned, assign_peak))
            print(
                f"history {size:>9,}: discover {discovered:7.1f} s {discover_peak:6.0f} MB; "
                f"assign 1,000 {assigned:6.1f} s {assign_peak:6.0f} MB",
                flush=True,
            )
    first = rows[0]
    for size, _, _, assigned, peak in rows[1:]:
        print(
            f"assign onto {size:,} against onto {first[0]:,}: time {assigned / first[3]:.2f}x, "
            f"memory {peak / first[4]:.2f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--history", default=None, help="comma-separated history sizes: assign onto each")
    args = parser.parse_args()
    if args.history:
        print(f"reproduce: python -m benchmarks.incremental --history {args.history}", flush=True)
        onto_histories([int(n) for n in args.history.split(",")])
        return
    print("reproduce: python -m benchmarks.incremental", flush=True)
    from flows.assign import assign
    from flows.discover import discover

    texts = banking77("all").rename(columns={"label": "intent"})
    timeline = simulate(texts, weeks=12, contacts=14_300, seed=21).contacts.head(14_000)
    history, day = timeline.iloc[:13_000], timeline.iloc[13_000:].copy()
    day["text"] = day["text"] + " Please help."  # new texts: the day's embeddings are not cached
    with tempfile.TemporaryDirectory(prefix="touchless-incremental-") as tmp:
        work = Path(tmp)
        cache = work / "cache"
        config = work / "config.yaml"
        config.write_text(f"embedding:\n  cache_dir: {cache}\n")
        history.to_csv(work / "history.csv", index=False)
        day.to_csv(work / "day.csv", index=False)
        pd.concat([history, day]).to_csv(work / "all.csv", index=False)
        cli = ["-m", "flows"]
        env = {**os.environ, "PREFECT_LOGGING_LEVEL": "WARNING"}
        env.pop("PREFECT_API_URL", None)

        discover(input_path=str(work / "history.csv"), out_dir=str(work / "base"), config_path=str(config))
        day_cache = work / "day-cache"  # each arm starts with the history cached and the day not

        def arm(name: str) -> tuple[Path, Path]:
            shutil.copytree(work / "base", work / f"{name}-run")
            shutil.copytree(cache, day_cache / name)
            (work / f"{name}.yaml").write_text(f"embedding:\n  cache_dir: {day_cache / name}\n")
            return work / f"{name}-run", work / f"{name}.yaml"

        rows = []
        for mode in ("warm", "fresh + server", "fresh + ephemeral"):
            run_a, cfg_a = arm(f"{mode.replace(' ', '')}-assign")
            run_d, cfg_d = arm(f"{mode.replace(' ', '')}-discover")
            if mode == "warm":
                t_assign = _timed(assign, input_path=str(work / "day.csv"), out_dir=str(run_a), config_path=str(cfg_a))
                t_full = _timed(discover, input_path=str(work / "all.csv"), out_dir=str(run_d), config_path=str(cfg_d))
            else:
                run_env = dict(env)
                server = None
                if mode == "fresh + server":
                    server, run_env = _server(work, env)
                try:
                    t_assign = fresh(
                        cli + ["assign", str(work / "day.csv"), "--out", str(run_a), "--config", str(cfg_a)], run_env
                    )
                    t_full = fresh(
                        cli + ["discover", str(work / "all.csv"), "--out", str(run_d), "--config", str(cfg_d)], run_env
                    )
                finally:
                    if server:
                        server.terminate()
                        server.wait()
            rows.append((mode, t_assign, t_full))
        print("\n1,000 new contacts on a 13,000-contact history (seconds):")
        print(f"  {'':20s} {'daily assign':>13s} {'full discover (14,000)':>23s} {'ratio':>7s}")
        for mode, a, d in rows:
            print(f"  {mode:20s} {a:13.1f} {d:23.1f} {a / d:7.2f}")
        print("\nfixed cost of a fresh process, each part measured in its own new process (seconds):")
        for name, seconds in fixed_costs(env):
            print(f"  {name:58s} {seconds:6.1f}")


def _timed(fn, **kwargs) -> float:
    start = time.perf_counter()
    fn(**kwargs)
    return time.perf_counter() - start


def _server(work: Path, env: dict):
    port = free_port()
    server_env = {**env, "PREFECT_HOME": str(work / "prefect-home"), "PREFECT_UI_ENABLED": "false"}
    server = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=server_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    api = f"http://127.0.0.1:{port}/api"
    for _ in range(180):
        try:
            if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(1)
    return server, {**server_env, "PREFECT_API_URL": api}


if __name__ == "__main__":
    main()

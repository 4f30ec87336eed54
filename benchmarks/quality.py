"""Discovery quality and speed on labelled customer-service data, side by side with BERTopic's defaults.

Every dataset runs through the real `touchless evaluate` command in a fresh process (Prefect included), and through
BERTopic 0.17 with default settings on the same embeddings, in the same run. Scores count every contact (noise is
one more cluster for NMI/ARI and never a correct match for ACC). On all of BANKING77 it also times, end to end:
touchless with an empty embedding cache, touchless with the cache warm, and BERTopic embedding its own texts.

    pip install -e ".[bench]"
    python -m benchmarks.quality                       # every dataset (BERTopic beside each: the longest part)
    python -m benchmarks.quality --datasets dstc11,b77-test
    python -m benchmarks.quality --sweep-size          # the resolution-vs-size sweep behind cluster.SIZE_EXPONENT

Peak memory is the process's own maximum resident set (Prefect's temporary server runs beside it, not counted).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks import datasets as ds

ROOT = Path(__file__).resolve().parents[1]
DATASETS = {
    "b77-test": lambda: ds.banking77("test"),
    "b77-all": lambda: ds.banking77("all"),
    "dstc11": ds.dstc11,
    "hwu64": ds.hwu64,
    "b77-18r": ds.banking77_few,  # few reasons in a small set
    "mix141": ds.banking_and_home,  # many fine reasons across domains
    # chats as messages exports: one contact per conversation, its reason the main turn intent
    "mdg-airline": lambda: ds.multidogo_messages("airline", "test"),
    "mdg-finance": lambda: ds.multidogo_messages("finance", "test"),
    "mdg-media": lambda: ds.multidogo_messages("media", "test"),
}


# A process started from this one counts this one's high-water RSS in its own peak (Linux keeps it across exec): a
# benchmark that built a large set in memory first would see every command peak at least that high. A small
# launcher starts the command instead, times it and reports the command's own peak (the largest single process).
_LAUNCHER = (
    "import os, subprocess, sys, time; start = time.perf_counter(); p = subprocess.Popen(sys.argv[2:]); "
    "_, status, usage = os.wait4(p.pid, 0); "
    "code = os.waitstatus_to_exitcode(status); "
    "open(sys.argv[1], 'w').write(f'{time.perf_counter() - start} {usage.ru_maxrss} {code}'); "
    "sys.exit(code)"
)


class MeasuredFailure(RuntimeError):
    """A measured command that failed or was killed, with what it had cost by then (a method that runs out of
    memory at a size is a result to print, not a crash of the benchmark)."""

    def __init__(self, message: str, wall: float, peak: float, signal: int | None) -> None:
        super().__init__(message)
        self.wall, self.peak, self.signal = wall, peak, signal


def run_measured(cmd: list[str]) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in MB, stdout) of one command in a process of its own, started by a small launcher
    so that its peak is its own."""
    with (
        tempfile.TemporaryFile("w+") as out,
        tempfile.TemporaryFile("w+") as err,
        tempfile.NamedTemporaryFile("r") as measured,
    ):
        done = subprocess.run([sys.executable, "-c", _LAUNCHER, measured.name, *cmd], stdout=out, stderr=err, cwd=ROOT)
        out.seek(0)
        err.seek(0)
        wall, peak_kb, code = measured.read().split() or ("nan", "0", "1")
        if done.returncode:
            signal = -int(code) if int(code) < 0 else None  # a negative code: ended by that signal
            raise MeasuredFailure(
                f"{' '.join(cmd)} failed:\n{err.read()[-3000:]}", float(wall), int(peak_kb) / 1024, signal
            )
        return float(wall), int(peak_kb) / 1024, out.read()


def touchless_run(csv: Path, out: Path, cache: Path, more_config: str = "") -> tuple[dict, float, float]:
    """`more_config`: YAML lines added to the run's config (e.g. another runner)."""
    config = out.with_suffix(".yaml")
    config.write_text(f"embedding:\n  cache_dir: {cache}\n{more_config}")
    cmd = [
        sys.executable,
        "-m",
        "flows",
        "evaluate",
        str(csv),
        "--label-column",
        "label",
        "--out",
        str(out),
        "--config",
        str(config),
    ]
    wall, peak, _ = run_measured(cmd)
    return json.loads((out / "metrics.json").read_text()), wall, peak


def require_bertopic(parser: argparse.ArgumentParser) -> None:
    """Stop before any work when BERTopic, the baseline, is not installed (it is the `bench` extra): the first
    BERTopic run would otherwise fail minutes in, after touchless's."""
    if importlib.util.find_spec("bertopic") is None:
        parser.error('BERTopic, the baseline, is not installed: pip install -e ".[bench]"')


def bertopic_run(csv: Path, result: Path, cache: Path | None) -> tuple[dict, float, float]:
    cmd = [sys.executable, "-m", "benchmarks.bertopic_baseline", str(csv), str(result)]
    if cache is not None:
        cmd += ["--embedding-cache", str(cache)]
    wall, peak, _ = run_measured(cmd)
    return json.loads(result.read_text()), wall, peak


def row(dataset: str, n: int, k: int, method: str, m: dict, wall: float, peak: float) -> dict:
    e = m["every_contact"]
    return {
        "dataset": dataset,
        "contacts": n,
        "true reasons": k,
        "method": method,
        "clusters": m["clusters"],
        "noise": f"{m['noise_share']:.1%}",
        "NMI": round(e["nmi"], 3),
        "ARI": round(e["ari"], 3),
        "ACC": round(e["acc"], 3),
        "wall s": round(wall, 1),
        "peak MB": round(peak),
    }


def quality(names: list[str], work: Path) -> None:
    cache = work / "embeddings"
    rows, speed = [], []
    for name in names:
        data = DATASETS[name]()
        csv = work / f"{name}.csv"
        data.to_csv(csv, index=False)
        n = data["conversation_id"].nunique() if "conversation_id" in data else len(data)
        k = data["label"].nunique()
        if name == "b77-all":  # the speed comparison, end to end, in one run
            cold = work / "cold-cache"
            m, wall, peak = touchless_run(csv, work / f"{name}-cold", cold)
            speed.append(("touchless, nothing cached", wall, peak))
            _, wall_warm, peak_warm = touchless_run(csv, work / f"{name}-warm", cold)
            speed.append(("touchless, embeddings cached", wall_warm, peak_warm))
            _, wall_b, peak_b = bertopic_run(csv, work / f"{name}-bertopic-e2e.json", None)
            speed.append(("BERTopic defaults, embedding included", wall_b, peak_b))
        touch, wall, peak = touchless_run(csv, work / name, cache)
        rows.append(row(name, n, k, "touchless", touch, wall, peak))
        base, wall_b, peak_b = bertopic_run(csv, work / f"{name}-bertopic.json", cache)
        rows.append(row(name, n, k, "BERTopic defaults", base, wall_b, peak_b))
        print(pd.DataFrame(rows[-2:]).to_string(index=False), flush=True)
    table = pd.DataFrame(rows)
    print("\nQuality, every contact counted (same MiniLM embeddings for both methods):")
    print(table.to_string(index=False))
    pivot = table.pivot(index="dataset", columns="method", values=["NMI", "ARI"])
    gap = (pivot["NMI"]["touchless"] - pivot["NMI"]["BERTopic defaults"]).mean()
    print(
        f"\nmean NMI gain over BERTopic defaults: {gap:+.3f}; "
        f"mean ARI gain: {(pivot['ARI']['touchless'] - pivot['ARI']['BERTopic defaults']).mean():+.3f}"
    )
    if speed:
        print("\nSpeed, all 13,083 BANKING77 texts, end to end in fresh processes:")
        base = speed[-1][1]
        for what, wall, peak in speed:
            print(f"  {what:40s} {wall:7.1f} s  {peak:7.0f} MB  {wall / base:5.2f}x BERTopic")


def sweep_size() -> None:
    """Best resolution by sample size on BANKING77 train (tuning data): why resolution scales with n ** -0.6."""
    from pipeline.config import load_config
    from pipeline.model.cluster import knn_graph, leiden
    from pipeline.model.embed import Embedder
    from pipeline.model.evaluate import evaluate

    data = ds.banking77("train")
    vectors = Embedder(load_config().embedding).embed(data["text"].tolist()).vectors
    rng = np.random.default_rng(0)
    rows = []
    for n in (1250, 2500, 5000, len(data)):
        idx = np.sort(rng.choice(len(data), n, replace=False)) if n < len(data) else np.arange(len(data))
        graph = knn_graph(vectors[idx], 15)
        for resolution in (2, 3, 4, 6, 8, 12, 16):
            e = evaluate(data["label"].to_numpy()[idx], leiden(graph, resolution, 42))
            rows.append(
                {
                    "n": n,
                    "resolution": resolution,
                    "clusters": e.clusters,
                    "NMI": round(e.every_contact.nmi, 3),
                    "ARI": round(e.every_contact.ari, 3),
                    "ACC": round(e.every_contact.acc, 3),
                }
            )
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    best = table.loc[table.groupby("n")["ACC"].idxmax()]
    print("\nbest resolution by ACC per size:\n" + best[["n", "resolution", "clusters", "ACC"]].to_string(index=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default=",".join(DATASETS), help="comma-separated: " + ", ".join(DATASETS))
    parser.add_argument("--work", type=Path, default=None, help="folder for inputs and runs (default: a temp folder)")
    parser.add_argument("--sweep-size", action="store_true", help="print the resolution-vs-size sweep instead")
    args = parser.parse_args()
    print("reproduce: python -m benchmarks.quality " + " ".join(sys.argv[1:]), flush=True)
    if args.sweep_size:
        sweep_size()
        return
    names = [n.strip() for n in args.datasets.split(",") if n.strip()]
    unknown = [n for n in names if n not in DATASETS]
    if unknown:
        parser.error(f"unknown datasets {unknown}; choose from {list(DATASETS)}")
    require_bertopic(parser)
    if args.work:
        args.work.mkdir(parents=True, exist_ok=True)
        quality(names, args.work)
    else:
        with tempfile.TemporaryDirectory(prefix="touchless-quality-") as tmp:
            quality(names, Path(tmp))


if __name__ == "__main__":
    main()

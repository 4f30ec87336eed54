"""A run killed in the middle of embedding: the last good output stays, nothing embedded is embedded again, and
the next run gives exactly what an uninterrupted run gives."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
from sklearn.metrics import adjusted_rand_score

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "pipeline" / "demo" / "banking77_demo.csv"


def cached(cache: Path) -> int:
    try:
        with sqlite3.connect(cache / "embeddings.sqlite", timeout=1) as db:
            return db.execute("SELECT count(*) FROM vectors").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_killed_while_embedding_then_run_again(tmp_path, six_intents_run):
    import shutil

    from flows.discover import discover

    cache = tmp_path / "cache"
    config = tmp_path / "config.yaml"
    config.write_text(f"embedding:\n  cache_dir: {cache}\n  partition_size: 100\n")
    out = tmp_path / "out"
    shutil.copytree(six_intents_run[0], out)  # a previous good output the crash must not touch
    before = {p.name: p.read_bytes() for p in out.glob("*.parquet")}
    run = subprocess.Popen(
        [sys.executable, "-m", "flows", "discover", str(DEMO), "--out", str(out), "--config", str(config)],
        cwd=ROOT,
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 180
    while cached(cache) < 300 and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    done_before_kill = cached(cache)
    assert 300 <= done_before_kill < 2000, done_before_kill  # killed half-way through the ~2,100 texts
    assert {p.name: p.read_bytes() for p in out.glob("*.parquet")} == before  # the last good output, untouched

    again = discover(input_path=str(DEMO), out_dir=str(out), config_path=str(config))
    assert again.embedded_cached == done_before_kill  # nothing embedded twice
    reference = tmp_path / "reference"
    discover(input_path=str(DEMO), out_dir=str(reference), config_path=str(config))
    # the same result; only cluster ids may differ (the killed folder had an earlier run, whose ids carry over)
    a, b = (pd.read_parquet(f / "contacts.parquet") for f in (out, reference))
    assert adjusted_rand_score(a["cluster_id"], b["cluster_id"]) == 1.0
    ids = ["cluster_id", "issue_id"]
    pd.testing.assert_frame_equal(a.drop(columns=ids), b.drop(columns=ids))
    for table, key in (("clusters", "label"), ("ranking", "name")):
        a, b = (
            pd.read_parquet(f / f"{table}.parquet")
            .drop(columns=["cluster_id", "rank"], errors="ignore")
            .sort_values(key)
            .reset_index(drop=True)
            for f in (out, reference)
        )
        pd.testing.assert_frame_equal(a, b)
    contacts = pd.read_parquet(out / "contacts.parquet")
    assert contacts["contact_id"].is_unique and len(contacts) == len(pd.read_csv(DEMO))  # nothing double-counted


def test_ctrl_c_while_embedding_ends_130_saying_aborted_and_leaves_the_last_output(tmp_path, six_intents_run):
    """A scheduler reads the exit status: an interrupted run must not end 0 (typer hands Ctrl-C's 130 back as a
    return value outside its standalone mode, and the command ended 0 with nothing said)."""
    import shutil

    cache = tmp_path / "cache"
    config = tmp_path / "config.yaml"
    config.write_text(f"embedding:\n  cache_dir: {cache}\n  partition_size: 100\n")
    out = tmp_path / "out"
    shutil.copytree(six_intents_run[0], out)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    run = _discover_to_interrupt("--out", str(out), "--config", str(config))
    deadline = time.monotonic() + 180
    while cached(cache) < 300 and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(run.pid, signal.SIGINT)  # what a terminal's Ctrl-C sends: the whole process group
    _, stderr = run.communicate(timeout=120)
    assert run.returncode == 130, stderr.decode()
    assert "error: aborted" in stderr.decode() and "Traceback" not in stderr.decode()
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before


def test_ctrl_c_while_the_command_starts_ends_130_without_a_traceback(tmp_path):
    """The command's imports (torch, spaCy, Prefect) take seconds before its own error handling is in place."""
    run = _discover_to_interrupt("--out", str(tmp_path / "out"))
    deadline, loading = time.monotonic() + 60, False
    while not loading and run.poll() is None and time.monotonic() < deadline:  # inside the command's imports
        loading = "libtorch" in Path(f"/proc/{run.pid}/maps").read_text()
        time.sleep(0.02)
    assert loading, "the command never loaded torch"
    os.killpg(run.pid, signal.SIGINT)
    _, stderr = run.communicate(timeout=60)
    assert run.returncode == 130, stderr.decode()
    assert "aborted" in stderr.decode() and "Traceback" not in stderr.decode()
    assert not (tmp_path / "out").exists()


def _discover_to_interrupt(*args: str) -> subprocess.Popen:
    """`touchless discover` of the demo data in a process group of its own, its errors kept, as a terminal starts it:
    a command started in the background of a shell without job control inherits SIGINT ignored, and Python then
    never turns it into KeyboardInterrupt, so the child gets SIGINT's default back."""
    return subprocess.Popen(
        [sys.executable, "-m", "flows", "discover", str(DEMO), *args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def test_ctrl_c_after_the_new_run_is_in_place_says_it_was_written(tmp_path, six_intents_run, test_config):
    """Ctrl-C while the summary, artifacts and events were made said only 'aborted', though the new run was in place
    (a scheduler or a person took the day for lost)."""
    import shutil

    out = tmp_path / "out"
    shutil.copytree(six_intents_run[0], out)
    env = {**os.environ, "TOUCHLESS_INTERRUPT_AT": "written"}
    day = tmp_path / "day.csv"
    day.write_text("contact_id,text\nnew-1,my card has still not arrived\n")
    command = [sys.executable, "-m", "flows", "assign", str(day), "--out", str(out), "--config", str(test_config)]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    said = " ".join(done.stderr.split())
    assert done.returncode == 130 and f"aborted after the new run was written: {out.resolve()} holds it" in said, said
    assert "new-1" in set(pd.read_parquet(out / "contacts.parquet")["contact_id"])
    # an error there (a full disk as the old run is removed) said "nothing was changed in the output folder"
    day.write_text("contact_id,text\nnew-2,where is my new card\n")
    env = {**os.environ, "TOUCHLESS_FAIL_AT": "written"}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    said = " ".join(done.stderr.split())
    assert done.returncode == 2 and "after the new run was written" in said and "nothing was changed" not in said, said

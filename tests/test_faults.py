"""Fault injection: a run killed (SIGKILL) or failed (a full disk) at every write step leaves a whole run for
readers, the previous one or the new one, and the next run writes normally; no process outlives a killed CLI.

The write path is driven in a small subprocess that saves a changed copy of a real run (seconds each); one test
kills the real `touchless` command while it writes, with Prefect and all.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import psutil
import pyarrow.parquet as pq
import pytest

from pipeline.errors import OutputError
from pipeline.run.folder import DATABASE, TABLES, Run, locate_run, output_lock, read_manifest
from tests.conftest import SIX_INTENTS, tree_digest

ROOT = Path(__file__).resolve().parents[1]
POINTS = [
    "lock",
    "staging",
    *(f"table:{name}" for name in TABLES),
    "duckdb",
    "extras",
    "manifest",
    "swap:start",
    "swap:exchanged",
    "swap:done",
]
TWO_RENAMES = ["swap:moved-old", "swap:moved-new", "swap:done"]  # a filesystem without an atomic exchange


def save_changed(source: Path, out: Path) -> None:
    """Save the run in `source` to `out` with every cluster label upper-cased: the "new" run."""
    import pyarrow.compute as pc

    old = Run.load(source)
    tables = {name: old.tables[name] for name in old.tables}
    clusters = tables["clusters"]
    tables["clusters"] = clusters.set_column(
        clusters.schema.get_field_index("label"), "label", pc.utf8_upper(clusters["label"])
    )
    with output_lock(out):
        Run(old.manifest, tables, old.cluster_model, old.sources, review="<p>new</p>").save(out)


def whole_run(out: Path) -> str:
    """Which run a reader finds in `out` ('old' or 'new'), after checking that it is whole: a valid manifest, every
    file it lists and nothing else, every table readable in Parquet and in DuckDB."""
    manifest = read_manifest(out)
    assert manifest is not None, f"no run in {out}"
    folder = locate_run(out)
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert present == set(manifest.files), present ^ set(manifest.files)
    with duckdb.connect(str(folder / DATABASE), read_only=True) as db:
        for name in TABLES:
            rows = pq.read_table(folder / f"{name}.parquet").num_rows
            assert db.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] == rows
    labels = Run.load(out).frame("clusters")["label"]
    return "new" if (labels == labels.str.upper()).all() else "old"


@pytest.fixture()
def previous(six_intents_run, tmp_path) -> Path:
    out = tmp_path / "out"
    shutil.copytree(six_intents_run[0], out)
    return out


def save_in_subprocess(source: Path, out: Path, **env: str) -> subprocess.CompletedProcess:
    script = (
        f"from pathlib import Path; from tests.test_faults import save_changed; "
        f"save_changed(Path({str(source)!r}), Path({str(out)!r}))"
    )
    return subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, env={**os.environ, **env}, timeout=120
    )


@pytest.mark.parametrize("swap, point", [("exchange", p) for p in POINTS] + [("two renames", p) for p in TWO_RENAMES])
def test_killed_at_any_write_step_a_reader_finds_a_whole_run(swap, point, previous, six_intents_run, tmp_path):
    before = tree_digest(previous)
    env = {"TOUCHLESS_KILL_AT": point, **({"TOUCHLESS_FAULT_NO_EXCHANGE": "1"} if swap == "two renames" else {})}
    killed = save_in_subprocess(six_intents_run[0], previous, **env)
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]
    found = whole_run(previous)
    late = point in ("swap:exchanged", "swap:moved-new", "swap:done")
    assert found == ("new" if late else "old")
    if found == "old" and locate_run(previous) == previous:
        assert tree_digest(previous) == before  # not a byte changed
    save_changed(six_intents_run[0], previous)  # the next run writes normally and cleans up
    assert whole_run(previous) == "new"
    assert [p.name for p in previous.parent.iterdir() if p.name.startswith(".")] == []  # no lock file either


@pytest.mark.parametrize("point", POINTS[:-2])
def test_a_full_disk_at_any_write_step_changes_nothing(point, previous, six_intents_run, monkeypatch):
    before = tree_digest(previous)
    monkeypatch.setenv("TOUCHLESS_FAIL_AT", point)
    expected = OSError if point == "lock" else OutputError  # the command turns either into one message
    with pytest.raises(expected, match="disk is full|No space left"):
        save_changed(six_intents_run[0], previous)
    assert tree_digest(previous) == before
    assert [p.name for p in previous.parent.iterdir() if p.name.startswith(".")] == []  # no lock file either


def test_a_second_writer_is_refused_while_the_first_holds_the_lock(previous):
    with output_lock(previous):
        with pytest.raises(OutputError, match="another touchless run is writing"):
            with output_lock(previous):
                pass


def test_the_killed_command_leaves_a_whole_run_and_no_process(previous, test_config, tmp_path):
    """The real CLI, Prefect's server and all, killed while it writes the DuckDB file."""
    env = {**os.environ, "TOUCHLESS_KILL_AT": "duckdb", "PREFECT_HOME": str(tmp_path / "prefect")}
    env.pop("PREFECT_API_URL", None)  # the command starts its own temporary server, as a user's would
    before = tree_digest(previous)
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flows",  # the installed command's entry: its server is launched early (flows/launch.py)
            "discover",
            str(SIX_INTENTS),
            "--out",
            str(previous),
            "--config",
            str(test_config),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    assert run.wait(timeout=300) == -signal.SIGKILL
    assert tree_digest(previous) == before and whole_run(previous) == "old"
    deadline = time.monotonic() + 15
    while (left := [p for p in psutil.process_iter() if _session(p) == run.pid]) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not left, [p.cmdline() for p in left]


def _session(process: psutil.Process) -> int | None:
    try:
        return os.getsid(process.pid)
    except (ProcessLookupError, PermissionError):
        return None

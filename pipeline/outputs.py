"""Write a run's outputs so that readers only ever see a whole run: the previous one or the new one.

Everything is written into a staging folder beside the output folder, then swapped in with two renames; a crash
before the swap leaves the last good output as it was, and the window between the renames is repaired on the next
write. A lock file beside the folder keeps two runs from writing the same output at once.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.errors import OutputError
from pipeline.runtime import cache_home

MANIFEST = "run.json"
DATABASE = "touchless.duckdb"


@contextmanager
def output_lock(out_dir: Path) -> Iterator[None]:
    """Held for a whole run; a second run on the same folder fails at once with a clear message."""
    out_dir = Path(out_dir).resolve()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    lock_path = out_dir.parent / f".{out_dir.name}.lock"
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            raise OutputError(
                f"another touchless run is writing {out_dir} ({holder}); wait for it to finish or choose another --out"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} since {_now()}".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the lock, also when the process dies


def check_output_folder(out_dir: Path) -> None:
    """Refuse folders touchless did not write: the swap replaces the whole folder."""
    out_dir = Path(out_dir)
    _recover(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"--out {out_dir} is a file; give a folder")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / MANIFEST).is_file():
        raise OutputError(
            f"--out {out_dir} already holds files touchless did not write; "
            "choose a new or empty folder (touchless replaces the whole folder on each run)"
        )


def write_run(
    out_dir: Path,
    tables: dict[str, pa.Table],
    manifest: dict[str, Any],
    extra: Callable[[Path], None] | None = None,
) -> None:
    """Parquet files, one DuckDB file with every table, the manifest, and whatever `extra` adds; then swap."""
    out_dir = Path(out_dir).resolve()
    check_output_folder(out_dir)
    for stale in out_dir.parent.glob(f".{out_dir.name}.staging-*"):  # left by a run that was killed; we hold the lock
        shutil.rmtree(stale, ignore_errors=True)
    staging = out_dir.parent / f".{out_dir.name}.staging-{uuid.uuid4().hex[:8]}"
    staging.mkdir(parents=True)
    try:
        for name, table in tables.items():
            pq.write_table(table, staging / f"{name}.parquet")
        with duckdb.connect(str(staging / DATABASE)) as db:
            for name in tables:
                db.execute(f'CREATE TABLE "{name}" AS SELECT * FROM read_parquet(?)', [str(staging / f"{name}.parquet")])
        if extra is not None:
            extra(staging)
        (staging / MANIFEST).write_text(json.dumps({**manifest, "written_at": _now()}, indent=2, default=str))
        _swap(staging, out_dir)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def is_remote(location: str | Path) -> bool:
    return "://" in str(location) and not str(location).startswith("file://")


@contextmanager
def local_copy(out_dir: str | Path) -> Iterator[Path]:
    """The folder a run works in. A local folder is itself. For a URL (s3://, gcs://, az:// ... with the matching
    fsspec package installed) it is a mirror under the user cache: the last run is pulled before, and the new one
    pushed after the run succeeds, into a staging prefix first and then over the old folder. Object stores cannot
    rename atomically, so the push is a copy; the lock guards this machine only."""
    if not is_remote(out_dir):
        yield Path(out_dir)
        return
    import fsspec

    fs, remote = fsspec.core.url_to_fs(str(out_dir))
    remote = remote.rstrip("/")
    mirror = cache_home() / "mirrors" / hashlib.sha1(str(out_dir).encode()).hexdigest()[:16] / "run"
    if mirror.exists():
        shutil.rmtree(mirror)
    mirror.mkdir(parents=True)
    if fs.exists(f"{remote}/{MANIFEST}"):
        for path in fs.find(remote):
            target = mirror / path[len(remote) + 1 :]
            target.parent.mkdir(parents=True, exist_ok=True)
            fs.get_file(path, str(target))
    yield mirror
    staging = f"{remote}.staging-{uuid.uuid4().hex[:8]}"
    for path in mirror.rglob("*"):
        if path.is_file():
            fs.put_file(str(path), f"{staging}/{path.relative_to(mirror).as_posix()}")
    if fs.exists(remote):
        fs.rm(remote, recursive=True)
    fs.mv(staging, remote, recursive=True)


def remember_last_run(out_dir: Path) -> None:
    """So `touchless proposals` can find the latest run without being told."""
    marker = cache_home() / "last_run"
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(str(Path(out_dir).resolve()))


def last_run() -> Path | None:
    marker = cache_home() / "last_run"
    return Path(marker.read_text().strip()) if marker.is_file() else None


def read_manifest(out_dir: Path) -> dict[str, Any] | None:
    path = Path(out_dir) / MANIFEST
    return json.loads(path.read_text()) if path.is_file() else None


def _swap(staging: Path, out_dir: Path) -> None:
    previous = out_dir.parent / f".{out_dir.name}.previous"
    if previous.exists():
        shutil.rmtree(previous)
    if out_dir.exists():
        os.rename(out_dir, previous)
    os.rename(staging, out_dir)
    shutil.rmtree(previous, ignore_errors=True)


def _recover(out_dir: Path) -> None:
    """A crash between the two renames leaves only `.previous`: put it back."""
    previous = out_dir.parent / f".{out_dir.name}.previous"
    if previous.is_dir() and not out_dir.exists():
        os.rename(previous, out_dir)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")

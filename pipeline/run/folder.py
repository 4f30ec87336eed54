"""A run folder: what touchless writes, how it recognises its own folders, and how it replaces them atomically.

A run folder holds the tables (Parquet and one DuckDB file), the review page, the chart, the run's models and a
manifest, `run.json`, that touchless writes last: a format marker and version, and the list of every file it
wrote. A folder is touchless's only when its manifest says so and it holds nothing else: a folder holding any
other file is refused with the names of those files, so touchless never deletes a file it did not write.

Everything is written into a staging folder beside the output folder first, then swapped in with one atomic
`renameat2(RENAME_EXCHANGE)` (Linux); readers see the previous run or the new one, never a mix or nothing. Where
the exchange is not available, two renames are used and readers recover a run caught between them
(`locate_run`). A lock file beside the folder keeps two runs from writing the same output at once; the run removes
it when it ends.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, ValidationError

from pipeline import __version__
from pipeline.errors import OutputError
from pipeline.faults import checkpoint, exchange_unavailable
from pipeline.model.centres import ClusterModel
from pipeline.model.lineage import PreviousClusters
from pipeline.read.digests import DETAILS, with_details
from pipeline.run.schemas import TABLES
from pipeline.run.views import create_views
from pipeline.runtime import cache_home, cores
from pipeline.taxonomy.reasons import Readers

MANIFEST = "run.json"
DATABASE = "touchless.duckdb"
REVIEW = "review.html"
REPORT = "report.html"
CHART = "touch_index.png"
OWNERS_CHART = "owners.png"
METRICS = "metrics.json"
MODEL = "models/clusters.npz"
SOURCES = "models/sources.parquet"  # contact id -> digest of its words and details as read: a change is read again
READERS = "models/readers.npz"  # the classifiers that read the run's reasons: `assign` reads a day's contacts with them
FORMAT = "touchless-run"
FORMAT_VERSION = 2  # 1: touchless 0.1's run.json, which had no marker and no list of files
# what touchless 0.1 wrote into a run folder: such a folder is recognised (and upgraded on its next write)
_LEGACY_FILES = {f"{name}.parquet" for name in TABLES} | {DATABASE, MANIFEST, REVIEW, CHART, METRICS, MODEL}
_CHARTS = (CHART, OWNERS_CHART)
_LOCK_TEXT = re.compile(rb"(pid \d+ since \S+)?\Z")  # what a run writes in its lock file
_SHOWN = 8  # foreign files named in a refusal before "and N more"
# the run folders (or URLs) this command replaced with a new run: an interruption or an error after that (while the
# summary, artifacts and events are made) must not read as "nothing was written". A URL's local mirror is not one
WRITTEN: list[Path | str] = []


class EmbeddingInfo(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str
    fingerprint: str


class Manifest(BaseModel):
    """`run.json`: the marker that makes a folder touchless's, the files it wrote, and what the run read."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["touchless-run"] = FORMAT
    format_version: int = FORMAT_VERSION
    touchless_version: str | None = None  # None: written before the version was recorded
    kind: Literal["discover", "assign"]
    written_at: str = ""
    files: list[str] = []
    input: str | None
    input_sha256: str | None
    contacts: int
    volume: str | None = None
    taxonomy: str | None = None
    taxonomy_version: int | None = None
    taxonomy_sha256: str | None = None  # of the taxonomy file the reasons were read with
    reason_assignment: dict[str, Any] | None = None
    embedding: EmbeddingInfo
    next_cluster_id: int
    watermark: str | None = None
    config: dict[str, Any]
    report: dict[str, Any]  # what reading the discover input found and set aside
    assigned_input: str | None = None
    assigned_input_sha256: str | None = None
    assign_report: dict[str, Any] | None = None


@contextmanager
def output_lock(out_dir: Path) -> Iterator[None]:
    """Held for a whole run; a second run on the same folder fails at once with a clear message."""
    out_dir = Path(out_dir).resolve()
    enclosing = next((p for p in out_dir.parents if read_manifest(p) is not None), None)
    if enclosing is not None:  # checked before the lock file, which would lie in it as a file it does not list
        raise OutputError(
            f"--out {out_dir} lies inside the run folder {enclosing}, which touchless replaces as a whole on each "
            "run: choose a folder outside it"
        )
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocking = next(p for p in reversed(out_dir.parents) if p.exists() and not p.is_dir())
        raise OutputError(f"--out {out_dir} cannot be made: {blocking} is a file, not a folder") from None
    lock_path = out_dir.parent / f".{out_dir.name}.lock"
    fd = _hold_lock(lock_path, out_dir)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} since {_now()}".encode(), 0)
        checkpoint("lock")
        yield
    finally:
        # removed while still held, so a run waiting on it finds it gone (and makes its own) rather than locking a
        # file no longer there; a killed run leaves it, and the next run takes it over
        if _names(lock_path, fd):
            os.unlink(lock_path)
        os.close(fd)  # closing releases the lock, also when the process dies


def _hold_lock(lock_path: Path, out_dir: Path) -> int:
    """The open lock file, locked. A run ending removes its lock file while another may have opened it: the lock is
    held only once the path still names the file locked, else it is taken again on the path's new file."""
    while True:
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        except OSError as exc:
            if exc.errno not in (errno.ELOOP, errno.EISDIR):
                raise
            raise _not_our_lock(lock_path) from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # a pipe or device of that name: not ours, never read or locked
            os.close(fd)
            raise _not_our_lock(lock_path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise OutputError(
                f"another touchless run is writing {out_dir} ({holder}); wait for it to finish or choose another --out"
            ) from None
        if not _names(lock_path, fd):
            os.close(fd)
            continue
        if not _LOCK_TEXT.match(os.pread(fd, 200, 0)):  # empty, or what a killed run wrote, is ours to take over
            os.close(fd)
            raise _not_our_lock(lock_path)
        return fd


def _not_our_lock(lock_path: Path) -> OutputError:
    return OutputError(f"{lock_path} is not touchless's lock file: move it away, or choose another --out")


def _names(path: Path, fd: int) -> bool:
    """Whether `path` is still the file open as `fd`."""
    try:
        found = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (found.st_dev, found.st_ino) == (held.st_dev, held.st_ino)


def check_output_folder(out_dir: Path, user_files: Iterable[str | Path | None] = ()) -> None:
    """Refuse to write where a file touchless did not write could be lost: a folder holding such files (named in
    the message), a file given as --out, or an input, taxonomy, volume or config file inside the output folder."""
    out_dir = Path(out_dir)
    _recover(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"--out {out_dir} is a file; give a folder")
    try:
        here: Path | None = Path.cwd()
    except FileNotFoundError:  # the folder the command runs in is gone already
        here = None
    if here is not None and _is_within(here, out_dir):
        raise OutputError(
            f"--out {out_dir} is the folder this command runs in, or holds it: touchless replaces the output folder "
            "whole on each run, which would take it from under you (and your shell); run from another folder (cd "
            "..) and give --out its path"
        )
    inside = [str(f) for f in user_files if f is not None and _is_within(f, out_dir)]
    if inside:
        raise OutputError(
            f"{', '.join(inside)} lies inside the output folder {out_dir}, which touchless replaces as a whole on "
            f"each run: move it out of {out_dir} first"
        )
    if not out_dir.is_dir() or not any(out_dir.iterdir()):
        return
    manifest = read_manifest(out_dir)
    present = _files_in(out_dir)
    foreign = sorted(present - set(manifest.files)) if manifest else sorted(present)
    if manifest is None or foreign:
        raise _foreign_files(out_dir, foreign, manifest is None)


def _foreign_files(out_dir: str | Path, foreign: list[str], no_run: bool) -> OutputError:
    shown = ", ".join(foreign[:_SHOWN]) + (f" and {len(foreign) - _SHOWN} more" if len(foreign) > _SHOWN else "")
    what = " and no touchless run" if no_run else ""
    return OutputError(
        f"--out {out_dir} holds files touchless did not write ({shown}){what}; touchless replaces the whole "
        "folder on each run, so it will not write there: move those files out, or choose a new or empty folder"
    )


def write_run(
    out_dir: Path,
    tables: dict[str, pa.Table],
    manifest: Manifest,
    extra: Callable[[Path], None] | None = None,
) -> Manifest:
    """Parquet files, one DuckDB file with every table, whatever `extra` adds, and the manifest last; then swap."""
    out_dir = Path(out_dir).resolve()
    check_output_folder(out_dir)
    for stale in [*out_dir.parent.glob(f".{out_dir.name}.staging-*"), _previous(out_dir)]:
        shutil.rmtree(stale, ignore_errors=True)  # left by a run that was killed; we hold the lock
    staging = out_dir.parent / f".{out_dir.name}.staging-{uuid.uuid4().hex[:8]}"
    staging.mkdir(parents=True)
    _keep_access(out_dir, staging)
    try:
        checkpoint("staging")
        # the DuckDB file is built from the tables in memory while the Parquet files and the extras are written:
        # at a million contacts it is the longest part of a write (~2.2 s), and DuckDB works outside Python's lock
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="touchless-duckdb") as pool:
            database = pool.submit(_write_database, staging, tables)
            for name, table in tables.items():
                pq.write_table(table, staging / f"{name}.parquet")
                checkpoint(f"table:{name}")
            if extra is not None:
                extra(staging)
                checkpoint("extras")
            database.result()
        checkpoint("duckdb")
        files = sorted(_files_in(staging) | {MANIFEST})
        written = manifest.model_copy(
            update={
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "touchless_version": __version__,
                "written_at": _now(),
                "files": files,
            }
        )
        (staging / MANIFEST).write_text(written.model_dump_json(indent=2))
        checkpoint("manifest")
        _sync_tree(staging)
        _swap(staging, out_dir)
        checkpoint("written")
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT) and out_dir not in WRITTEN:
            raise OutputError(
                f"the disk is full while writing {out_dir}: nothing was changed there; free some space and run again"
            ) from None
        raise  # after the swap the new run is in place: the command says so (flows.cli)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return written


def _write_database(staging: Path, tables: dict[str, pa.Table]) -> None:
    """Every table in one DuckDB file in `staging`, in the same types as its Parquet file, and the views. On all
    cores but the one that writes the rest of the run (on 2 cores, one thread built a million contacts' table in
    2.0 s and 250 MB more memory, two in 2.4 s and 410 MB), and in bounded memory: DuckDB writes the table's blocks
    out as it goes instead of holding them all (with 200 MB, 130 MB more instead of 250 in the same time), spilling,
    if ever, into a folder beside the staging folder (on the run's disk, not in a temporary folder that may be
    memory; named so that a killed run's is removed with its staging folder by the next run)."""
    with tempfile.TemporaryDirectory(prefix=f"{staging.name}-spill-", dir=staging.parent) as spill:
        config = {"threads": max(1, cores() - 1), "memory_limit": "256MB", "temp_directory": spill}
        with duckdb.connect(str(staging / DATABASE), config=config) as db:
            for name, table in tables.items():
                db.register("written", table)
                db.execute(f'CREATE TABLE "{name}" AS SELECT * FROM written')
                db.unregister("written")
            create_views(db)


def locate_run(out_dir: Path) -> Path | None:
    """The folder that holds the whole run for `out_dir`: itself, or, when a run was killed between the two renames
    of a swap where the atomic exchange is not available, the previous run beside it. None when there is no run."""
    out_dir = Path(out_dir)
    for folder in (out_dir, _previous(out_dir)):
        if (folder / MANIFEST).is_file():
            return folder
        if folder == out_dir and out_dir.exists():
            return None
    return None


def no_run(folder: str | Path, then: str) -> OutputError:
    """The error for a folder that holds no run, `then` saying what to do; a run.json that cannot be read is named
    as such, not taken for no run at all."""
    if not is_remote(folder) and (Path(folder) / MANIFEST).is_file():
        return OutputError(
            f"{Path(folder) / MANIFEST} cannot be read as a touchless run's manifest (damaged, or not touchless's): "
            f"restore it, or {then}"
        )
    return OutputError(f"{folder} holds no touchless run: {then}")


def read_manifest(out_dir: Path) -> Manifest | None:
    """The run's manifest, or None when the folder holds no touchless run (no manifest, or one touchless did not
    write: `{}` in a run.json does not make a folder a run)."""
    folder = locate_run(out_dir)
    if folder is None:
        return None
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    if "format" not in data and _legacy(data, folder):
        data = {**data, "format": FORMAT, "format_version": 1, "files": sorted(_files_in(folder))}
    if data.get("format") != FORMAT:
        return None
    if not isinstance(data.get("format_version"), int):
        return None
    if data["format_version"] > FORMAT_VERSION:
        raise OutputError(
            f"{out_dir} was written by a newer touchless (run format {data['format_version']}); "
            "upgrade touchless to read it"
        )
    try:
        return Manifest.model_validate(data)
    except ValidationError:
        return None


class _Tables(Mapping[str, pa.Table]):
    """A run's tables, each read from its Parquet file when first asked for (and kept); `read` reads some columns,
    or a whole table once, without keeping it: a day's `assign` onto a million contacts held them twice, as read
    and as the run's new table."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._read: dict[str, pa.Table] = {}

    def __getitem__(self, name: str) -> pa.Table:
        if name not in self._read:
            self._read[name] = self.read(name)
        return self._read[name]

    def __contains__(self, name: object) -> bool:  # without reading the table
        return name in self._read or (name in TABLES and (self._folder / f"{name}.parquet").is_file())

    def read(self, name: str, columns: list[str] | None = None) -> pa.Table:
        if name in self._read:
            return self._read[name].select(columns) if columns is not None else self._read[name]
        if name not in self:
            raise KeyError(name)
        return pq.read_table(self._folder / f"{name}.parquet", columns=columns)

    def column_names(self, name: str) -> list[str]:
        if name in self._read:
            return self._read[name].column_names
        return pq.read_schema(self._folder / f"{name}.parquet").names

    def __iter__(self) -> Iterator[str]:
        return (name for name in TABLES if (self._folder / f"{name}.parquet").is_file())

    def __len__(self) -> int:
        return sum(1 for _ in self)


@dataclass(frozen=True)
class Run:
    """A whole run: what `discover` or `assign` writes, and what later commands read back.

    `Run.load(folder)` reads the manifest at once and each table when first asked for; `run.save(folder)` writes
    everything atomically (see `write_run`). `review`, `report`, `charts` and `metrics` are written, never read
    back."""

    manifest: Manifest
    tables: Mapping[str, pa.Table]
    cluster_model: ClusterModel | None
    sources: pd.Series | None = None  # source hash by contact id
    review: str | None = None  # the review page (HTML)
    report: str | None = None  # the run's report with its charts (HTML, for e-mail)
    charts: dict[str, Callable[[Path], None]] | None = None  # file name -> draws that chart into the file
    metrics: dict[str, Any] | None = None  # scores against known reasons (evaluate)
    readers: Readers | None = None  # what read the contacts' reasons (`pipeline.taxonomy.reasons.Readers`)

    @classmethod
    def load(cls, out_dir: Path) -> Run:
        manifest = read_manifest(out_dir)
        if manifest is None:
            raise no_run(out_dir, f"run `touchless discover ... --out {out_dir}` first")
        folder = locate_run(out_dir)
        model = None
        if (folder / MODEL).is_file():
            with np.load(folder / MODEL) as arrays:
                model = ClusterModel.from_arrays(arrays)
        readers = None  # a run made without a taxonomy, or before readers were kept, has none
        if (folder / READERS).is_file():
            with np.load(folder / READERS) as arrays:
                readers = Readers.from_saved(arrays)
        sources = None
        if (folder / SOURCES).is_file():
            table = pq.read_table(folder / SOURCES)
            # as Arrow-backed text, not a million Python strings (0.8 s at a million contacts)
            sources = table.to_pandas().set_index("contact_id")["source_hash"].rename_axis(None)
        return cls(manifest, _Tables(folder), model, sources, readers=readers)

    def frame(self, name: str, columns: list[str] | None = None) -> pd.DataFrame:
        """One table as a pandas frame (only `columns`, when given: none for an empty list, its rows kept)."""
        if name not in self.tables:
            if f"{name}.parquet" in self.manifest.files:  # listed when written, gone since
                raise OutputError(
                    f"this run's {name}.parquet, which its run.json lists, is missing: the folder was changed after "
                    "touchless wrote it; restore the file, or run discover again"
                )
            raise OutputError(
                f"this run holds no {name} table: it was written by an older touchless; run discover again"
            )
        return self.arrow(name, columns).to_pandas()

    def arrow(self, name: str, columns: list[str] | None = None) -> pa.Table:
        """One table as Arrow (only `columns`, when given); a loaded run reads it from its file (see `_Tables`)."""
        if isinstance(self.tables, _Tables):
            return self.tables.read(name, columns)
        return self.tables[name].select(columns) if columns is not None else self.tables[name]

    def column_names(self, name: str) -> list[str]:
        if isinstance(self.tables, _Tables):
            return self.tables.column_names(name)
        return self.tables[name].column_names

    def descriptions(self) -> pd.DataFrame:
        """What `discover` said of each cluster (name, keywords, examples, group), for `assign` to carry on."""
        clusters = self.frame("clusters")
        return clusters[
            [c for c in ("cluster_id", "label", "keywords", "examples", "group_id", "group_label") if c in clusters]
        ]

    def reason_keywords(self) -> dict[str, list[str]]:
        """Each reason's distinctive keywords as `discover` found them (none from a run made before they were)."""
        reasons = self.frame("reasons")
        if "keywords" not in reasons:
            return {}
        return {r: list(k) for r, k in zip(reasons["reason_id"], reasons["keywords"])}

    def details(self, ids: np.ndarray, fields: list[str]) -> pd.DataFrame:
        """The `fields` the run holds of the contacts with these `ids`, by contact id (fields its table lacks left
        out): what a daily export without them keeps of contacts it carries again."""
        held = self.column_names("contacts")
        table = self.arrow("contacts", ["contact_id", *[f for f in fields if f in held]])
        wanted = pa.array([str(i) for i in ids], type=table.schema.field("contact_id").type)
        return table.filter(pc.is_in(table["contact_id"], value_set=wanted)).to_pandas().set_index("contact_id")

    def sources_by_contact(self, dimensions: Sequence[str]) -> pd.Series:
        """Source digest by contact id for every contact the run holds (null where a run made before digests were
        kept does not know it): what `assign` leaves out, unless a contact's text or details changed. A digest of
        the words alone (a run made before details were digested) gets the details this run holds of the contact
        (`dimensions`: `input.dimensions`), so a change of them is seen from now on."""
        ids = self.frame("contacts", ["contact_id"])["contact_id"].to_numpy()
        if self.sources is None:
            return pd.Series(None, index=ids, dtype=object)
        # a reindex, not a Series of objects built from the mapped ids: 0.21 -> 0.10 s at a million contacts
        digests = self.sources.reindex(ids)
        words_only = (digests.notna() & ~digests.astype(str).str.contains(":", regex=False)).to_numpy()
        if words_only.any():
            held = self.column_names("contacts")
            details = self.frame("contacts", [c for c in [*DETAILS, *dimensions] if c in held])[words_only]
            digests = digests.astype(object)
            digests[words_only] = with_details(digests[words_only].tolist(), details, dimensions)
        return digests

    def conversations(self, dimensions: Sequence[str]) -> pd.DataFrame | None:
        """The conversations the run holds (messages input), by id: their text (cleaned and redacted), first and
        last times, turn counts, customer, channel and `dimensions`, for `assign` to continue one that a later
        export carries on. None when the run holds none."""
        names = self.column_names("contacts")
        if not {"conversation_id", "created_at", "last_at"} <= set(names):
            return None  # a run too old to say where its conversations end: they are read again whole
        if not pc.any(pc.is_valid(self.arrow("contacts", ["conversation_id"])["conversation_id"])).as_py():
            return None  # a run of tickets or e-mails: its texts are not read a second time for nothing
        wanted = ["contact_id", "text", "created_at", "last_at", "turns", "customer_turns", "customer_id", "channel"]
        columns = [c for c in dict.fromkeys([*wanted, *dimensions]) if c in names]
        table = self.arrow("contacts", [*columns, "conversation_id"])
        held = table.filter(pc.is_valid(table["conversation_id"])).drop_columns("conversation_id")
        if not held.num_rows:
            return None
        held = held.to_pandas().set_index("contact_id")
        return held.assign(**{c: held[c] if c in held else 0 for c in ("turns", "customer_turns")})

    def previous_clusters(self, fingerprint: str) -> PreviousClusters | None:
        """This run's clusters as the previous run for stable ids; None when it used another embedding model."""
        if self.cluster_model is None or self.cluster_model.fingerprint != fingerprint:
            return None
        members = self.frame("contacts", ["contact_id", "cluster_id"])
        return PreviousClusters(
            self.cluster_model.ids,
            self.cluster_model.centres,
            members[members["cluster_id"] >= 0],
            self.manifest.next_cluster_id,
        )

    def save(self, out_dir: Path) -> Manifest:
        def extras(folder: Path) -> None:
            if self.cluster_model is not None:
                (folder / MODEL).parent.mkdir(parents=True, exist_ok=True)
                np.savez(folder / MODEL, **self.cluster_model.arrays())
            if self.readers is not None:
                (folder / READERS).parent.mkdir(parents=True, exist_ok=True)
                np.savez(folder / READERS, **self.readers.saved())
            if self.sources is not None:
                (folder / SOURCES).parent.mkdir(parents=True, exist_ok=True)
                pq.write_table(
                    pa.table(
                        {
                            "contact_id": pa.array(self.sources.index.astype(str), pa.string()),
                            "source_hash": pa.array(self.sources.to_numpy(), pa.string()),
                        }
                    ),
                    folder / SOURCES,
                )
            for name, page in ((REVIEW, self.review), (REPORT, self.report)):
                if page is not None:
                    (folder / name).write_text(page, encoding="utf-8")
            for name, draw in (self.charts or {}).items():
                assert name in _CHARTS, f"{name} is not a chart a run writes"
                draw(folder / name)
            if self.metrics is not None:
                (folder / METRICS).write_text(json.dumps(self.metrics, indent=2))

        return write_run(out_dir, dict(self.tables), self.manifest, extras)


def stored_config(location: str | Path) -> dict[str, Any]:
    """The config the run at `location` (a folder or a URL) was made with; an error when it holds no run."""
    if is_remote(location):
        import fsspec

        fs, remote = fsspec.core.url_to_fs(str(location))
        path = f"{remote.rstrip('/')}/{MANIFEST}"
        data = json.loads(fs.cat_file(path)) if fs.exists(path) else {}
        config = data.get("config") if isinstance(data, dict) else None
    else:
        manifest = read_manifest(local_path(location))
        config = manifest.config if manifest else None
        # a run made before taxonomy paths were kept absolute stored the path as given; its manifest names the file
        # it read, absolute: that one, not whatever the same relative path names where assign runs
        given = (config or {}).get("taxonomy", {}).get("path") if isinstance(config, dict) else None
        if isinstance(given, str) and "://" not in given and not Path(given).is_absolute() and manifest.taxonomy:
            config = {**config, "taxonomy": {**config["taxonomy"], "path": manifest.taxonomy}}
    if not isinstance(config, dict):
        raise no_run(location, f"run `touchless discover ... --out {location}` first")
    return config


def is_remote(location: str | Path) -> bool:
    return "://" in str(location) and not str(location).startswith("file://")


def local_path(location: str | Path) -> Path:
    """A location that is not remote as a path: a file:// URL is its path (as a Path, 'file:///x' is 'file:/x')."""
    return Path(str(location).removeprefix("file://"))


@contextmanager
def local_copy(out_dir: str | Path) -> Iterator[Path]:
    """The folder a run works in. A local folder is itself. For a URL (s3://, gcs://, az:// ... with the matching
    fsspec package installed) it is a mirror under the user cache: the last run is pulled before, and the new one
    pushed after the run succeeds, into a staging prefix first and then over the old folder. Object stores cannot
    rename atomically, so the push is a copy; the lock guards this machine only."""
    if not is_remote(out_dir):
        yield local_path(out_dir)
        return
    import fsspec

    fs, remote = fsspec.core.url_to_fs(str(out_dir))
    remote = remote.rstrip("/")
    mirror = cache_home() / "mirrors" / hashlib.sha1(str(out_dir).encode()).hexdigest()[:16] / "run"
    if mirror.exists():
        shutil.rmtree(mirror)
    mirror.mkdir(parents=True)
    present = fs.find(remote) if fs.exists(remote) else []
    if present and not fs.exists(f"{remote}/{MANIFEST}"):  # not a run: the push below would replace it whole
        raise _foreign_files(out_dir, sorted(path[len(remote) + 1 :] for path in present), True)
    if present:
        for path in present:
            target = mirror / path[len(remote) + 1 :]
            target.parent.mkdir(parents=True, exist_ok=True)
            fs.get_file(path, str(target))
    try:
        yield mirror
    finally:
        if mirror in WRITTEN:  # the mirror is no output: the URL is, once pushed
            WRITTEN.remove(mirror)
    staging = f"{remote}.staging-{uuid.uuid4().hex[:8]}"
    for path in mirror.rglob("*"):
        if path.is_file():
            fs.put_file(str(path), f"{staging}/{path.relative_to(mirror).as_posix()}")
    if fs.exists(remote):
        fs.rm(remote, recursive=True)
    fs.mv(staging, remote, recursive=True)
    WRITTEN.append(str(out_dir))


def remember_last_run(out_dir: Path) -> None:
    """So `touchless proposals` can find the latest run made from this working directory without being told; runs
    made from other directories (other projects) are never taken for it."""
    record = _last_runs()
    record[str(Path.cwd().resolve())] = str(Path(out_dir).resolve())
    path = cache_home() / "last_runs.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record, indent=1))
    tmp.replace(path)


def last_run() -> Path | None:
    """The latest run made from this working directory, if any."""
    folder = _last_runs().get(str(Path.cwd().resolve()))
    return Path(folder) if folder else None


def _last_runs() -> dict[str, str]:
    path = cache_home() / "last_runs.json"
    try:
        record = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return record if isinstance(record, dict) else {}


def _previous(out_dir: Path) -> Path:
    return out_dir.parent / f".{out_dir.name}.previous"


def _files_in(folder: Path) -> set[str]:
    """Every file below `folder` (links and other entries included) as a relative POSIX path; folders themselves
    are not listed, only what they hold (an empty folder counts as an entry)."""
    found = set()
    for root, dirs, files in os.walk(folder):
        base = Path(root).relative_to(folder)
        found.update((base / f).as_posix() for f in files)
        # a link to a folder is an entry of its own (os.walk does not follow it), as is an empty folder
        found.update((base / d).as_posix() for d in dirs if (Path(root) / d).is_symlink())
        found.update(
            (base / d).as_posix() + "/"
            for d in dirs
            if not (Path(root) / d).is_symlink() and not any(os.scandir(Path(root) / d))
        )
    return found


def _legacy(data: dict[str, Any], folder: Path) -> bool:
    """A run.json of touchless 0.1 (no format marker) in a folder holding only what 0.1 wrote."""
    return {"kind", "config", "input_sha256"} <= set(data) and _files_in(folder) <= _LEGACY_FILES


def _is_within(path: str | Path, folder: Path) -> bool:
    if is_remote(path):
        return False
    try:
        Path(path).resolve().relative_to(folder.resolve())
    except (ValueError, OSError, RuntimeError):
        return False
    return True


def _sync_tree(folder: Path) -> None:
    """Flush the staging folder to disk before the swap, so a power cut cannot swap in a half-written run."""
    for root, _, files in os.walk(folder):
        for name in files:
            fd = os.open(Path(root) / name, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _sync_dir(Path(root))


def _sync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux renameat2 RENAME_EXCHANGE); False where the system cannot."""
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None or exchange_unavailable():
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):  # a filesystem or kernel without it
        return False
    raise OSError(code, os.strerror(code), str(b))


def _keep_access(out_dir: Path, staging: Path) -> None:
    """The new folder gets the one it replaces' permissions and group (before anything is written into it, so a
    set-group-id folder's files take its group): a folder a team shares stays shared, one kept private stays so."""
    try:
        st = out_dir.stat()
    except FileNotFoundError:
        return
    try:
        os.chown(staging, -1, st.st_gid)
    except PermissionError:  # a group this user is not in: the mode is still kept
        pass
    os.chmod(staging, stat.S_IMODE(st.st_mode) | stat.S_IRWXU)  # touchless must still write it


def _swap(staging: Path, out_dir: Path) -> None:
    checkpoint("swap:start")
    if not out_dir.exists():
        os.rename(staging, out_dir)
        WRITTEN.append(out_dir)
    elif _exchange(staging, out_dir):
        WRITTEN.append(out_dir)
        checkpoint("swap:exchanged")  # the new run is in place; the old one lies in the staging folder
    else:
        previous = _previous(out_dir)
        os.rename(out_dir, previous)
        checkpoint("swap:moved-old")
        os.rename(staging, out_dir)
        WRITTEN.append(out_dir)
        checkpoint("swap:moved-new")
        shutil.rmtree(previous, ignore_errors=True)
    _sync_dir(out_dir.parent)
    checkpoint("swap:done")


def _recover(out_dir: Path) -> None:
    """A run killed between the two renames of a swap leaves only `.previous`: put it back."""
    previous = _previous(out_dir)
    if previous.is_dir() and not out_dir.exists():
        os.rename(previous, out_dir)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")

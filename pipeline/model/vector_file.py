"""A big run's vectors live in a memory-mapped temporary file, not in the process's own memory.

A million contacts' vectors are 1.5 GB: held in the process they were a third of discover's peak. Mapped from a
file they are pages of the kernel's page cache, which it can take back under memory pressure, and `release` hands
back the pages a step has touched, so the process's own memory (its resident set) does not grow with them. Steps
read them as any array: in blocks of rows (`releasing`, `blockwise`) or, for rows scattered over the file (a
cluster's contacts), with `take`; the values are the same bits either way.

The file is created already unlinked (`tempfile.TemporaryFile`), in the embedding cache's folder (on disk, beside
the vectors it caches; a temporary folder may be memory): it disappears when the run ends, however it ends.
"""

from __future__ import annotations

import mmap
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TypeVar

import numpy as np

MAP_FROM_BYTES = 256 << 20  # smaller sets (under ~175,000 contacts of 384 numbers) stay in memory: no file, no I/O
BLOCK = 65_536  # rows a `blockwise` call reads, or a `take` gathers from, at once (96 MB at 384 numbers)

Item = TypeVar("Item")


class _VectorMap(mmap.mmap):
    """A mapping `allocate` made (shared, of its own file): the only kind `release` hands back, since on a private
    copy-on-write mapping dropping the pages would drop what was written."""


def allocate(rows: int, dim: int, folder: Path) -> np.ndarray:
    """A float32 (rows, dim) array: in memory when small, else mapped from an unlinked file in `folder`. The file's
    disk space is reserved first: a mapped write to a full disk would kill the process (SIGBUS) with no message,
    so where the space cannot be had, or not reserved (no posix_fallocate: macOS), the vectors stay in memory (the
    same values; only the memory differs)."""
    size = rows * dim * 4
    if size >= MAP_FROM_BYTES and hasattr(os, "posix_fallocate") and hasattr(mmap, "MADV_DONTNEED"):
        try:
            with tempfile.TemporaryFile(dir=folder, prefix="touchless-vectors-") as handle:
                os.posix_fallocate(handle.fileno(), 0, size)
                mapped = _VectorMap(handle.fileno(), size)  # has its own descriptor: the file lives with the map
            return np.frombuffer(mapped, dtype=np.float32).reshape(rows, dim)
        except OSError:
            pass
    return np.empty((rows, dim), dtype=np.float32)


def release(vectors: np.ndarray) -> None:
    """Hand the pages of mapped `vectors` that this process has touched back to the kernel (their data stays in
    the file and, while memory allows, in the page cache); nothing for vectors held in memory."""
    mapped = _mapping(vectors)
    if mapped is not None and not mapped.closed:
        mapped.madvise(mmap.MADV_DONTNEED)


def releasing(items: Iterable[Item], vectors: np.ndarray) -> Iterator[Item]:
    """`items`, with the pages of mapped `vectors` that a loop's body touched handed back after each: a loop over a
    million contacts' vectors then holds a block's pages, not 1.5 GB of them."""
    for item in items:
        yield item
        release(vectors)


def blockwise(fn: Callable[[np.ndarray], np.ndarray], vectors: np.ndarray) -> np.ndarray:
    """`fn(vectors)` (a row-wise function, e.g. a classifier's predict); for mapped vectors, a block of rows at a
    time. Vectors in memory get one call: a product split in blocks can differ in the last bits (4.5e-8 seen in a
    probability, with a last block of one row), and those runs keep their results."""
    if _mapping(vectors) is None or len(vectors) <= BLOCK:
        return fn(vectors)
    return np.concatenate(
        [fn(vectors[start : start + BLOCK]) for start in releasing(range(0, len(vectors), BLOCK), vectors)]
    )


def take(vectors: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """`vectors[rows]` (indices or a mask), a copy. From a mapped file the rows are gathered a `BLOCK` of the file
    at a time, its pages handed back after each: reading one row maps the pages around it as well (64 KB; seen:
    gathering 5% of 200,000 rows scattered over the file made all of its 291 MB resident, with or without
    MADV_RANDOM), so a cluster's contacts would otherwise make the whole file resident at once."""
    if _mapping(vectors) is None:
        return vectors[rows]
    rows = _positions(vectors, rows)
    order = np.argsort(rows, kind="stable")
    ordered = rows[order]
    out = np.empty((len(rows), *vectors.shape[1:]), dtype=vectors.dtype)
    bounds = np.searchsorted(ordered, np.arange(0, len(vectors) + BLOCK, BLOCK))
    for low, high in zip(bounds[:-1], bounds[1:]):
        if high > low:
            out[order[low:high]] = vectors[ordered[low:high]]
            release(vectors)
    return out


def likeness(vectors: np.ndarray, rows: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """`take(vectors, rows) @ vector`. From a mapped file the rows are gathered a `BLOCK` at a time: the largest
    reason group of a million contacts' run held 569,456 of them, 834 MB of vectors gathered whole (a product split
    so may differ in the last bit of a value). Vectors in memory get one product, as `blockwise` gives them."""
    if _mapping(vectors) is None:
        return vectors[rows] @ vector
    rows = _positions(vectors, rows)
    parts = [take(vectors, rows[start : start + BLOCK]) @ vector for start in range(0, len(rows), BLOCK)]
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.result_type(vectors, vector))


def _positions(vectors: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """`rows` (indices, negative ones too, or a mask) as positions in `vectors`; an index outside or a mask of
    another length is an error, as in `vectors[rows]`."""
    rows = np.asarray(rows)
    if rows.dtype == bool:
        if len(rows) != len(vectors):
            raise IndexError(f"a mask of {len(rows)} rows for {len(vectors)} vectors")
        return np.flatnonzero(rows)
    if len(rows) and (rows.min() < -len(vectors) or rows.max() >= len(vectors)):
        raise IndexError(f"rows {rows.min()}..{rows.max()} outside {len(vectors)} vectors")
    return np.where(rows < 0, rows + len(vectors), rows)


def _mapping(array: np.ndarray) -> _VectorMap | None:
    base = array
    while isinstance(base, np.ndarray):
        base = base.base
    if isinstance(base, memoryview):
        base = base.obj
    return base if isinstance(base, _VectorMap) else None

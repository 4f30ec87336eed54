"""Big runs keep their vectors in a memory-mapped temporary file: same values, no file left, pages handed back."""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.model import vector_file
from tests.conftest import SIX_INTENTS

STATUS = Path("/proc/self/status")
needs_proc = pytest.mark.skipif(not STATUS.exists(), reason="reads resident memory from Linux's /proc")


def _resident_file_mb() -> float:
    """This process's resident pages of mapped files, in MB (RssShmem where the temporary folder is memory)."""
    status = STATUS.read_text()
    return sum(int(re.search(rf"{kind}:\s+(\d+) kB", status).group(1)) for kind in ("RssFile", "RssShmem")) / 1024


@needs_proc
def test_mapped_vectors_leave_no_file_and_hand_their_pages_back(tmp_path, monkeypatch):
    monkeypatch.setattr(vector_file, "MAP_FROM_BYTES", 0)
    monkeypatch.setattr(vector_file, "BLOCK", 4_096)
    vectors = vector_file.allocate(32_768, 384, tmp_path)  # 48 MB
    assert list(tmp_path.iterdir()) == []  # unlinked from the start: nothing to clean up, whatever ends the run
    values = np.random.default_rng(0).random((32_768, 384), dtype=np.float32)
    before = _resident_file_mb()
    vectors[:] = values
    assert _resident_file_mb() - before > 40  # written pages are resident...
    vector_file.release(vectors[100:200])  # (a view of them releases the whole mapping)
    assert _resident_file_mb() - before < 8  # ...until handed back
    assert np.array_equal(vectors, values)  # the data stays in the file
    total = sum(float(block.sum()) for block in vector_file.releasing([vectors[:16_384], vectors[16_384:]], vectors))
    assert abs(total - float(values.sum(dtype=np.float64))) < 1.0
    assert _resident_file_mb() - before < 8
    assert np.array_equal(vector_file.blockwise(lambda b: b[:, 0] * 2, vectors), values[:, 0] * 2)


def test_likeness_of_many_rows_is_gathered_a_block_at_a_time(tmp_path, monkeypatch):
    """A reason group of a million contacts' run can hold over half of them: from a mapped file their likeness to
    the group's centre is read a block of rows at a time (not 834 MB of them gathered at once), and is `take(vectors,
    rows) @ centre` (a product split in blocks may differ in a value's last bit); vectors in memory get one product,
    the values such runs always had. A mask of another length is an error, as in `vectors[mask]`."""
    import tracemalloc

    monkeypatch.setattr(vector_file, "MAP_FROM_BYTES", 0)
    monkeypatch.setattr(vector_file, "BLOCK", 2_048)  # 3 MB of a 48 MB file
    vectors = vector_file.allocate(32_768, 384, tmp_path)
    rng = np.random.default_rng(3)
    values = rng.random((32_768, 384), dtype=np.float32)
    vectors[:] = values
    vector_file.release(vectors)
    centre = rng.random(384, dtype=np.float32)
    mask = rng.random(32_768) < 0.9  # most rows: 43 MB gathered at once
    tracemalloc.start()
    found = vector_file.likeness(vectors, mask, centre)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 8 * 2**20, peak / 2**20  # a block (3 MB) at a time
    np.testing.assert_allclose(found, values[mask] @ centre, rtol=1e-6)
    assert np.array_equal(vector_file.likeness(vectors, np.flatnonzero(mask) - 32_768, centre), found)
    assert np.array_equal(vector_file.likeness(values, mask, centre), values[mask] @ centre)
    assert vector_file.likeness(vectors, np.array([], dtype=int), centre).shape == (0,)
    with pytest.raises(IndexError):
        vector_file.likeness(vectors, mask[:-1], centre)


@needs_proc
def test_take_gathers_scattered_rows_a_block_of_the_file_at_a_time(tmp_path, monkeypatch):
    """A cluster's rows lie all over the file, and reading one maps the pages around it: `take` gathers a block
    of the file at a time and leaves nothing resident, and gives exactly `vectors[rows]` (any order, repeats, a
    negative index or a mask; an index outside is an error, as there)."""
    monkeypatch.setattr(vector_file, "MAP_FROM_BYTES", 0)
    monkeypatch.setattr(vector_file, "BLOCK", 2_048)  # 3 MB of a 48 MB file
    vectors = vector_file.allocate(32_768, 384, tmp_path)
    values = np.random.default_rng(1).random((32_768, 384), dtype=np.float32)
    vectors[:] = values
    vector_file.release(vectors)
    rows = np.random.default_rng(2).choice(32_768, 1_600, replace=True)  # 5%, unsorted, some twice
    before = _resident_file_mb()
    assert np.array_equal(vector_file.take(vectors, rows), values[rows])
    assert _resident_file_mb() - before < 8  # (`vectors[rows]` would map the pages around every row it reads)
    mask = values[:, 0] > 0.5
    assert np.array_equal(vector_file.take(vectors, mask), values[mask])
    assert np.array_equal(vector_file.take(vectors, np.array([-1, 0])), values[[-1, 0]])
    with pytest.raises(IndexError):
        vector_file.take(vectors, np.array([32_768]))
    assert np.array_equal(vector_file.take(values, rows), values[rows])  # in memory: a plain gather


def test_small_vectors_stay_in_memory(tmp_path):
    vectors = vector_file.allocate(1_000, 384, tmp_path)
    assert vectors.base is None  # an array of its own, no mapping
    vector_file.release(vectors)  # nothing to hand back, and no error


def test_vectors_stay_in_memory_where_the_disk_is_full(tmp_path, monkeypatch):
    def full(fd, offset, length):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(vector_file, "MAP_FROM_BYTES", 0)
    monkeypatch.setattr(os, "posix_fallocate", full, raising=False)
    vectors = vector_file.allocate(1_000, 384, tmp_path)
    assert vectors.shape == (1_000, 384) and vectors.base is None
    assert list(tmp_path.iterdir()) == []


def test_discover_with_mapped_vectors_finds_the_same_run(six_intents_run, tmp_path, test_config, monkeypatch):
    """Every step reads the vectors from the mapped file (and hands pages back as it goes) and the run is the same
    as the one made with the vectors in memory."""
    from flows.discover import discover

    monkeypatch.setattr(vector_file, "MAP_FROM_BYTES", 0)
    out = tmp_path / "mapped"
    discover(input_path=str(SIX_INTENTS), out_dir=str(out), config_path=str(test_config))
    for table in ("contacts", "clusters"):
        mapped = pd.read_parquet(out / f"{table}.parquet")
        held = pd.read_parquet(six_intents_run[0] / f"{table}.parquet")
        pd.testing.assert_frame_equal(mapped, held)


def test_embedding_into_a_mapped_file_gives_the_same_vectors(tmp_path, monkeypatch):
    """Cached texts, texts new to the cache and repeats (copied from their first row through `take`) land in the
    mapped file where they belong, with their pages handed back every few vectors."""
    from pipeline.config import load_config
    from pipeline.model import embed

    embedder = embed.Embedder(load_config(overrides={"embedding": {"cache_dir": str(tmp_path)}}).embedding)
    embedder.embed(["card lost", "refund please"])
    texts = ["refund please", "new text here", "card lost", "new text here", "refund please", "card lost"]
    monkeypatch.setattr(vector_file, "MAP_FROM_BYTES", 0)
    monkeypatch.setattr(embed, "_RELEASE_EVERY", 2)
    mapped = embedder.embed(texts).vectors
    monkeypatch.undo()
    held = embedder.embed(texts).vectors  # in memory, all from the cache now
    assert vector_file._mapping(mapped) is not None and vector_file._mapping(held) is None
    assert np.array_equal(mapped, held)

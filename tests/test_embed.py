"""The embedding model: touchless's own mean-pooling encoder (plain torch) gives sentence-transformers' vectors."""

from __future__ import annotations

import os
import platform
import threading
from math import inf
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from pipeline.model.embed import alike_together, registered_models, resolve_model
from pipeline.model.encoders import MeanPoolingEncoder, _softmax_over_keys, plain_dense
from tests.conftest import SIX_INTENTS

STATM = Path("/proc/self/statm")

PLAIN_TORCH = [name for name, entry in registered_models().items() if entry.get("encoder") == "mean_pooling"]
assert PLAIN_TORCH, "the registry serves no model with touchless's own encoder: these tests would test nothing"


@pytest.mark.parametrize("name", PLAIN_TORCH)
def test_own_encoder_matches_sentence_transformers(name):
    """Every registered model that runs as plain torch gives sentence-transformers' vectors."""
    from sentence_transformers import SentenceTransformer

    path = Path(resolve_model(name).path)
    texts = pd.read_csv(SIX_INTENTS)["text"].head(40).tolist() + [
        "",
        "ok",
        "Ünïcödé café — naïve façade ✓ 日本語",
        "card " * 600,  # empty, short, non-ASCII, past 256 tokens
        "I lost my card",
        "i  LOST my card",  # the same tokens: computed once, still each text's vector
    ]
    assert MeanPoolingEncoder.fits(path)
    with torch.inference_mode():
        ours = MeanPoolingEncoder(path).encode(texts, batch_size=16)
        reference = SentenceTransformer(str(path), device="cpu", local_files_only=True).encode(
            texts, batch_size=16, normalize_embeddings=True, convert_to_numpy=True
        )
    assert ours.shape == reference.shape == (len(texts), 384)
    assert np.abs(ours - reference).max() < 1e-5
    assert np.array_equal(ours[-1], ours[-2])


def test_texts_differing_in_case_and_spacing_are_embedded_side_by_side():
    """So they fall in one partition, where the encoder computes them once."""
    texts = ["Card lost", "where is my refund", "card arrived", "a new card", "card   LOST", "CARD ARRIVED"]
    ordered = alike_together(texts)
    assert sorted(ordered) == sorted(texts)
    for first, second in (("Card lost", "card   LOST"), ("card arrived", "CARD ARRIVED")):
        assert abs(ordered.index(first) - ordered.index(second)) == 1


def test_embedding_through_the_cache_gives_each_text_its_own_vector(tmp_path):
    """Repeated texts, texts cached by an earlier call and texts new to the cache come back in the order asked,
    each with the encoder's own vector for it (the result is filled in place: a million vectors are held once)."""
    from pipeline.config import load_config
    from pipeline.model.embed import Embedder

    cfg = load_config(overrides={"embedding": {"cache_dir": str(tmp_path)}}).embedding
    embedder = Embedder(cfg)
    first = embedder.embed(["card lost", "refund please", "card lost"])
    assert (first.computed, first.cached) == (2, 0)
    texts = ["refund please", "new text here", "card lost", "new text here", "refund please"]
    again = embedder.embed(texts)
    assert (again.computed, again.cached) == (1, 2)
    direct = embedder.encode(["refund please", "new text here", "card lost"])
    expected = direct[[0, 1, 2, 1, 0]]
    assert again.vectors.shape == (5, 384)
    assert np.abs(again.vectors - expected).max() < 1e-5
    assert np.array_equal(first.vectors[0], first.vectors[2])
    assert embedder.embed([]).vectors.shape[0] == 0


def test_a_cache_file_of_the_earlier_layout_is_read_and_written(tmp_path):
    """Cache files made before rows were appended by rowid keep their layout (rows in key order, WITHOUT ROWID):
    what they hold is found, and new vectors go in beside it."""
    import sqlite3

    from pipeline.config import load_config
    from pipeline.model.embed import Embedder

    cfg = load_config(overrides={"embedding": {"cache_dir": str(tmp_path)}}).embedding
    fresh = Embedder(load_config(overrides={"embedding": {"cache_dir": str(tmp_path / "fresh")}}).embedding)
    known = fresh.encode(["card lost"])[0]
    with sqlite3.connect(tmp_path / "embeddings.sqlite") as db:
        db.execute("CREATE TABLE vectors (key BLOB PRIMARY KEY, vec BLOB NOT NULL) WITHOUT ROWID")
        db.execute("INSERT INTO vectors VALUES (?, ?)", (fresh.key("card lost"), known.tobytes()))
    embedder = Embedder(cfg)
    first = embedder.embed(["card lost", "refund please"])
    assert (first.computed, first.cached) == (1, 1)
    assert np.array_equal(first.vectors[0], known)
    assert (embedder.embed(["refund please"]).cached, len(embedder.cache.holds([fresh.key("refund please")]))) == (1, 1)
    with sqlite3.connect(tmp_path / "embeddings.sqlite") as db:
        (schema,) = db.execute("SELECT sql FROM sqlite_master WHERE name = 'vectors'").fetchone()
    assert "WITHOUT ROWID" in schema
    with sqlite3.connect(tmp_path / "fresh" / "embeddings.sqlite") as db:
        (schema,) = db.execute("SELECT sql FROM sqlite_master WHERE name = 'vectors'").fetchone()
    assert "WITHOUT ROWID" not in schema  # new files append rows


@pytest.mark.parametrize("name", PLAIN_TORCH)
def test_bf16_encoder_keeps_fp32_vectors(name):
    """bf16 (what `precision: auto` picks on a CPU with bf16 units) computes on bf16 weights: its vectors stay
    those of fp32, short and long texts alike (torch runs bf16 on any CPU, slowly where it lacks the units)."""
    path = Path(resolve_model(name).path)
    texts = pd.read_csv(SIX_INTENTS)["text"].head(40).tolist() + ["", "ok", "card " * 600, "I lost my card"]
    with torch.inference_mode():
        exact = MeanPoolingEncoder(path, "fp32").encode(texts, batch_size=16)
        fast = MeanPoolingEncoder(path, "bf16")
        vectors = fast.encode(texts, batch_size=16)
    assert next(iter(fast.weights.values())).dtype == torch.bfloat16
    assert vectors.dtype == np.float32 and vectors.shape == exact.shape
    cosine = np.sum(vectors * exact, axis=1)
    assert cosine.min() >= 0.999, cosine.min()
    assert not np.array_equal(vectors, exact)  # computed in bf16, not fp32 under another name


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_fused_dense_layers_give_the_plain_layers_vectors(precision):
    """On x86 (torch's builds there carry oneDNN) the encoder's fp32 dense layers are single products with the bias
    and GELU inside (`fused_dense`); its vectors are those of torch's plain `linear` and `gelu`, the fallback
    elsewhere: to 1e-5 in fp32 (a tanh GELU or a lost bias would be far off), and in bf16, which rounds the product
    before a plain GELU but not inside the fused one, to the cosine of bf16's own rounding (0.99983 measured)."""
    path = Path(resolve_model(PLAIN_TORCH[0]).path)
    texts = pd.read_csv(SIX_INTENTS)["text"].head(40).tolist() + ["", "ok", "card " * 600, "I lost my card"]
    encoder = MeanPoolingEncoder(path, precision)
    if precision == "fp32" and platform.machine().lower() in ("x86_64", "amd64"):
        assert encoder.dense is not plain_dense  # else this test would compare the plain layers with themselves
    with torch.inference_mode():
        fused = encoder.encode(texts, batch_size=16)
        encoder.dense = plain_dense
        plain = encoder.encode(texts, batch_size=16)
    if precision == "fp32":
        assert np.abs(fused - plain).max() < 1e-5
    else:
        assert np.sum(fused * plain, axis=1).min() >= 0.9995


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_attention_weights_are_torchs_softmax_over_the_keys(dtype, monkeypatch):
    """The encoder's softmax (one shift for the whole batch) gives torch's: with padded keys at -inf, with a text
    whose scaled scores lie 45 below another's (still one shift: torch's softmax is not called), and with one 100
    below (e^-100: one shift would leave it nothing, so the batch takes torch's softmax)."""
    generator = torch.Generator().manual_seed(0)
    base = (torch.randn((3, 2, 5, 4), generator=generator) * 4).to(dtype)  # batch, heads, keys, queries
    base[0, :, 3:, :] = -inf  # the first text's last two keys are padding
    tolerance = 1e-5 if dtype == torch.float32 else 8e-3
    softmax = torch.softmax
    for below, one_shift in ((0, True), (90, True), (200, False)):  # scale 0.5: 0, 45 and 100 below
        scores = base.clone()
        scores[2] -= below
        theirs = softmax(scores.float() * 0.5, dim=-2).to(dtype)
        with monkeypatch.context() as patched:
            if one_shift:
                patched.setattr(torch, "softmax", lambda *args, **kwargs: pytest.fail("torch's softmax was called"))
            ours = _softmax_over_keys(scores, 0.5)
        assert ours.dtype == dtype and torch.isfinite(ours).all() and (ours[0, :, 3:, :] == 0).all()
        assert torch.allclose(ours.float(), theirs.float(), atol=tolerance), below
        assert torch.allclose(ours.sum(dim=-2).float(), torch.ones(3, 2, 4), atol=2e-2)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_batches_side_by_side_give_the_vectors_of_one_after_the_other(precision):
    """With torch on two threads the encoder runs its batches on two threads of one torch thread each: every text
    keeps the vector it gets from the batches run in turn on one thread, both threads do batches, and the caller's
    thread count and the process's (which a thread started later takes) are left as they were."""
    path = Path(resolve_model(PLAIN_TORCH[0]).path)
    texts = pd.read_csv(SIX_INTENTS)["text"].head(60).tolist() + ["", "ok", "card " * 600, "I lost my card"]
    encoder = MeanPoolingEncoder(path, precision)
    forward, threads_seen = encoder._forward, set()

    def seen(ids, mask):  # the encoder's own forward pass, noting the thread that runs it
        threads_seen.add((threading.get_ident(), torch.get_num_threads()))
        return forward(ids, mask)

    encoder._forward = seen
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        in_turn = encoder.encode(texts, batch_size=1)  # 128 tokens a batch: many batches
        assert {n for _, n in threads_seen} == {1} and len(threads_seen) == 1
        threads_seen.clear()
        torch.set_num_threads(2)
        side_by_side = encoder.encode(texts, batch_size=1)
        assert torch.get_num_threads() == 2
        started_later = []  # a thread started after the streams takes the process's count, not theirs
        thread = threading.Thread(target=lambda: started_later.append(torch.get_num_threads()))
        thread.start()
        thread.join()
        assert started_later == [2]
    finally:
        torch.set_num_threads(before)
    assert len(threads_seen) == 2 and {n for _, n in threads_seen} == {1}
    assert threading.get_ident() not in {t for t, _ in threads_seen}
    assert np.abs(side_by_side - in_turn).max() < 1e-6


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc" or not STATM.exists(), reason="glibc's arenas, Linux's /proc")
def test_memory_a_finished_thread_freed_is_handed_back():
    """glibc keeps what a thread frees in that thread's arena: after a cold million contacts' embedding 377 MB of it
    stayed held through the rest of the run. `hand_back_freed_memory` (which the embed step calls once its
    partitions ran) gives it back."""
    from flows.steps import hand_back_freed_memory

    def resident_mb() -> float:
        return int(STATM.read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    kept = []

    def work() -> None:
        blocks = [bytearray(4000) for _ in range(50_000)]  # 200 MB in this thread's arena
        kept.append(blocks[-1])  # the last stays: the arena cannot shrink from its top by itself
        del blocks

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    held = resident_mb()
    hand_back_freed_memory()
    assert held - resident_mb() > 150

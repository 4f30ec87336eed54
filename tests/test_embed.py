"""The embedding model: touchless's own mean-pooling encoder (plain torch) gives sentence-transformers' vectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from pipeline.model.embed import alike_together, registered_models, resolve_model
from pipeline.model.encoders import MeanPoolingEncoder
from tests.conftest import SIX_INTENTS

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

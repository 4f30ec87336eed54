"""Reduce embeddings to a few dimensions where density-based clustering works (UMAP)."""

from __future__ import annotations

import numpy as np

from pipeline.config import ReduceConfig


def fit_reducer(vectors: np.ndarray, cfg: ReduceConfig, seed: int):
    """Returns (points, fitted reducer). Seeded, hence single-threaded and the same on every run."""
    import umap

    n = len(vectors)
    reducer = umap.UMAP(
        n_components=min(cfg.n_components, max(2, n - 2)),
        n_neighbors=min(cfg.n_neighbors, max(2, n - 1)),
        min_dist=cfg.min_dist,
        metric=cfg.metric,
        random_state=seed,
        n_jobs=1,
        low_memory=True,
    )
    points = reducer.fit_transform(vectors)
    return points.astype(np.float32), reducer

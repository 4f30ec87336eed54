"""Find dense groups of contacts (HDBSCAN); contacts in no group are noise (-1)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.config import ClusterConfig


@dataclass(frozen=True)
class Clustering:
    labels: np.ndarray  # (n,) int32, -1 = noise; 0 is the largest cluster
    probabilities: np.ndarray  # (n,) float32, strength of membership, 0 for noise


def cluster_points(points: np.ndarray, cfg: ClusterConfig) -> Clustering:
    import hdbscan

    model = hdbscan.HDBSCAN(
        min_cluster_size=min(cfg.min_cluster_size, max(2, len(points) // 2)),
        min_samples=cfg.min_samples,
        cluster_selection_method=cfg.selection_method,
        cluster_selection_epsilon=cfg.selection_epsilon,
        metric="euclidean",
    ).fit(points)
    labels = renumber_by_size(model.labels_)
    return Clustering(labels=labels, probabilities=model.probabilities_.astype(np.float32))


def renumber_by_size(labels: np.ndarray) -> np.ndarray:
    """Cluster ids 0..k-1 from largest to smallest (ties: first member first), so ids read as a ranking."""
    labels = np.asarray(labels)
    ids = [c for c in np.unique(labels) if c >= 0]
    order = sorted(ids, key=lambda c: (-int(np.sum(labels == c)), int(np.argmax(labels == c))))
    mapping = {old: new for new, old in enumerate(order)}
    return np.array([mapping.get(int(c), -1) for c in labels], dtype=np.int32)

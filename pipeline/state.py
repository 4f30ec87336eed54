"""What a run leaves for the next one: its fitted cluster model (`<out>/models/clusters.npz`).

The model holds each cluster's stable id, centre and acceptance threshold, and the embedding model's fingerprint.
`touchless assign` puts new contacts into these clusters without re-clustering; the next `discover` matches its
clusters to them so ids stay put.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.cluster import centroids, nearest_centre
from pipeline.errors import ModelError
from pipeline.lineage import PreviousClusters
from pipeline.outputs import locate_run, read_manifest, read_output

MODEL_FILE = Path("models") / "clusters.npz"
_PERCENTILE = 5  # a new contact joins a cluster when at least as alike as the least alike 5% of its members


@dataclass(frozen=True)
class ClusterModel:
    ids: np.ndarray
    centres: np.ndarray
    thresholds: np.ndarray
    fingerprint: str

    def save(self, folder: Path) -> None:
        path = folder / MODEL_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, ids=self.ids, centres=self.centres, thresholds=self.thresholds,
                 fingerprint=np.array(self.fingerprint))

    def assign(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(cluster id or -1, similarity to that cluster's centre) for each vector."""
        if len(self.ids) == 0 or len(vectors) == 0:
            return np.full(len(vectors), -1, dtype=np.int32), np.zeros(len(vectors), dtype=np.float32)
        best, score = nearest_centre(vectors, self.centres)
        labels = np.where(score >= self.thresholds[best], self.ids[best], -1).astype(np.int32)
        return labels, score


def fit_cluster_model(vectors: np.ndarray, labels: np.ndarray, floor: float, fingerprint: str) -> ClusterModel:
    ids, centres = centroids(vectors, labels)
    thresholds = np.array([
        max(floor, float(np.percentile(vectors[labels == c] @ centre, _PERCENTILE))) for c, centre in zip(ids, centres)
    ], dtype=np.float32)
    return ClusterModel(ids.astype(np.int32), centres, thresholds, fingerprint)


def load_cluster_model(out_dir: Path) -> ClusterModel | None:
    folder = locate_run(out_dir)
    path = folder / MODEL_FILE if folder else None
    if path is None or not path.is_file():
        return None
    with np.load(path) as data:
        return ClusterModel(data["ids"], data["centres"], data["thresholds"], str(data["fingerprint"]))


def previous_clusters(out_dir: Path, fingerprint: str) -> PreviousClusters | None:
    """The last run in `out_dir`, for stable ids; None when there is none or it used another embedding model."""
    model = load_cluster_model(out_dir)
    manifest = read_manifest(out_dir)
    if model is None or manifest is None or model.fingerprint != fingerprint:
        return None
    members = read_output(out_dir, "contacts", columns=["contact_id", "cluster_id"])
    next_id = manifest.get("next_cluster_id", int(model.ids.max(initial=-1)) + 1)
    return PreviousClusters(model.ids, model.centres, members[members["cluster_id"] >= 0], next_id)


def require_model(out_dir: Path, fingerprint: str) -> ClusterModel:
    model = load_cluster_model(out_dir)
    if model is None:
        raise ModelError(f"{out_dir} holds no clusters to assign to: run `touchless discover ... --out {out_dir}` first")
    if model.fingerprint != fingerprint:
        raise ModelError(f"the run in {out_dir} was made with another embedding model; run discover again")
    return model

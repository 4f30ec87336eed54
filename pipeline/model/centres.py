"""The run's cluster model: what a run leaves for the next one (saved by `pipeline.run.folder`).

It holds each cluster's stable id, centre, acceptance threshold and its links to the other clusters, and the
embedding model's fingerprint. `touchless assign` puts new contacts into these clusters without re-clustering and
judges proposals with the same facts `discover` used; the next `discover` matches its clusters to them so ids
stay put.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.model.cluster import Clustering, centroids, nearest_centre
from pipeline.model.vector_file import likeness

_PERCENTILE = 5  # a new contact joins a cluster when at least as alike as the least alike 5% of its members


@dataclass(frozen=True)
class ClusterModel:
    ids: np.ndarray  # (k,) stable cluster ids
    centres: np.ndarray  # (k, dim) unit-length mean embeddings
    thresholds: np.ndarray  # (k,) cosine a new contact needs to join
    fingerprint: str  # the embedding model's weights hash: centres mean nothing in another model's space
    links: np.ndarray | None = None  # (k, k) neighbour-graph links between clusters (see Clustering.links)
    # names the chain of runs in which these ids mean the same clusters (a discover into the folder keeps the ids it
    # can, `pipeline.model.lineage`): a decision on cluster 9 of this chain holds for cluster 9 of a later run of it
    lineage: str | None = None

    def assign(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(cluster id or -1, similarity to that cluster's centre) for each vector."""
        if len(self.ids) == 0 or len(vectors) == 0:
            return np.full(len(vectors), -1, dtype=np.int32), np.zeros(len(vectors), dtype=np.float32)
        best, score = nearest_centre(vectors, self.centres)
        labels = np.where(score >= self.thresholds[best], self.ids[best], -1).astype(np.int32)
        return labels, score

    def place(self, vectors: np.ndarray, rows: np.ndarray, n: int, twins: np.ndarray | None = None) -> Clustering:
        """New contacts in these clusters: the contacts at `rows` (whose vectors these are) of `n`; the others, and
        those not alike enough to any cluster, are noise until the next `discover`. `twins`: for each vector, the
        cluster the run holds the same text in, or -1 (`pipeline.run.contacts.clusters_of_texts`): a copy of a text
        joins its twin's cluster, whatever the centres say, so that one text is never in two places."""
        labels, similarity = self.assign(vectors)
        known = np.isin(twins, self.ids) if twins is not None else np.zeros(len(labels), dtype=bool)
        if known.any():
            order = np.argsort(self.ids)
            at = order[np.searchsorted(self.ids, twins[known], sorter=order)]
            labels[known] = twins[known]
            similarity[known] = np.einsum("ij,ij->i", vectors[known], self.centres[at])
        placed = Clustering(labels, np.where(labels >= 0, similarity, 0).astype(np.float32), labels < 0)
        return placed.expand(rows, n)

    def relabelled(self, mapping: dict[int, int]) -> ClusterModel:
        """The same model under other cluster ids (e.g. the stable ids of `pipeline.model.lineage`), in id order."""
        ids = np.array([mapping[int(c)] for c in self.ids], dtype=np.int32)
        order = np.argsort(ids, kind="stable")
        links = None if self.links is None else self.links[np.ix_(order, order)]
        return ClusterModel(
            ids[order], self.centres[order], self.thresholds[order], self.fingerprint, links, self.lineage
        )

    def arrays(self) -> dict[str, np.ndarray]:
        arrays = {
            "ids": self.ids,
            "centres": self.centres,
            "thresholds": self.thresholds,
            "fingerprint": np.array(self.fingerprint),
        }
        if self.lineage is not None:
            arrays["lineage"] = np.array(self.lineage)
        return arrays if self.links is None else {**arrays, "links": self.links}

    @classmethod
    def from_arrays(cls, arrays) -> ClusterModel:
        links = arrays["links"] if "links" in arrays else None  # runs before links were kept have none
        lineage = str(arrays["lineage"]) if "lineage" in arrays else None  # nor a lineage
        return cls(arrays["ids"], arrays["centres"], arrays["thresholds"], str(arrays["fingerprint"]), links, lineage)


def fit_cluster_model(vectors: np.ndarray, clustering: Clustering, floor: float, fingerprint: str) -> ClusterModel:
    """Centres and thresholds of the clusters in `clustering` (its labels are the stable ids)."""
    labels = clustering.labels
    ids, centres = centroids(vectors, labels)
    thresholds = np.array(
        [
            max(floor, float(np.percentile(likeness(vectors, labels == c, centre), _PERCENTILE)))
            for c, centre in zip(ids, centres)
        ],
        dtype=np.float32,
    )
    links = clustering.links[np.ix_(ids, ids)] if clustering.links is not None else None
    return ClusterModel(ids.astype(np.int32), centres, thresholds, fingerprint, links)

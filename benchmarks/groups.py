"""Reason groups against a known second level: HWU64's 64 intents in 18 scenarios, and MultiDoGO's three domains.

    python -m benchmarks.groups

Each set is clustered as discover clusters it; the clusters are grouped (pipeline/model/groups.py) and each
contact's group is scored against the known upper level (NMI, ARI). For reference: the same grouping of the *true*
intents' centres (an oracle that knows the intents), cut at the true number of upper-level groups.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.cluster.hierarchy import fcluster, linkage
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from benchmarks.datasets import hwu64, multidogo_conversations
from pipeline.config import load_config
from pipeline.model.cluster import centroids, cluster_contacts
from pipeline.model.embed import embedder
from pipeline.model.groups import group_clusters


def sets() -> dict[str, tuple[list[str], np.ndarray, np.ndarray]]:
    """name -> (texts, intents, upper level)."""
    hwu = hwu64()
    parts = [multidogo_conversations(d).assign(domain=d) for d in ("airline", "finance", "media")]
    chats = pd.concat(parts, ignore_index=True)
    return {
        "hwu64 (18 scenarios)": (hwu["text"].tolist(), hwu["label"].to_numpy(), hwu["scenario"].to_numpy()),
        "multidogo (3 domains)": (chats["text"].tolist(), chats["label"].to_numpy(), chats["domain"].to_numpy()),
    }


def main() -> None:
    print("reproduce: python -m benchmarks.groups", flush=True)
    cfg = load_config()
    print(f"{'set':24s} {'clusters':>8s} {'groups':>6s} {'NMI':>6s} {'ARI':>6s}   oracle (true intents) NMI / ARI")
    for name, (texts, intents, upper) in sets().items():
        vectors = embedder(cfg.embedding).embed(texts).vectors
        labels = cluster_contacts(vectors, cfg.cluster, cfg.reduce, cfg.seed, texts).labels
        ids, centres = centroids(vectors, labels)
        groups = group_clusters(centres, np.bincount(labels[labels >= 0])[ids], cfg.describe.max_groups)
        lookup = np.full(ids.max() + 2, -1)
        lookup[ids] = groups
        found = lookup[labels]
        names, position = np.unique(intents, return_inverse=True)
        true_centres = np.vstack([vectors[position == i].mean(axis=0) for i in range(len(names))])
        true_centres /= np.linalg.norm(true_centres, axis=1, keepdims=True)
        cut = fcluster(linkage(true_centres, "average", metric="cosine"), len(np.unique(upper)), "maxclust")
        oracle = cut[position]
        print(
            f"{name:24s} {len(ids):8d} {len(np.unique(groups)):6d} {normalized_mutual_info_score(upper, found):6.3f} "
            f"{adjusted_rand_score(upper, found):6.3f}   {normalized_mutual_info_score(upper, oracle):.3f} / "
            f"{adjusted_rand_score(upper, oracle):.3f}",
            flush=True,
        )


if __name__ == "__main__":
    main()

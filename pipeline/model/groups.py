"""Reason groups: the clusters of a run gathered into a short list (at most `describe.max_groups`), the first level
of a taxonomy a person can start from.

Clusters are grouped by the average-linkage hierarchy of their centres (cosine), cut where the groups are most
clearly apart (the best silhouette of the centres over 2 to `max_groups` groups): no number is fitted to a data
set. On HWU64, whose 64 intents sit in 18 scenarios, the contacts' groups score NMI 0.75 against the scenarios
(benchmarks/groups.py); on MultiDoGO's three domains the cut finds the three.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.cluster.hierarchy import fcluster, linkage
from sklearn.metrics import silhouette_score

from pipeline.config import DescribeConfig
from pipeline.model.describe import TermCounts, describe_clusters


def group_clusters(centres: np.ndarray, sizes: np.ndarray, max_groups: int) -> np.ndarray:
    """The group (0 = the group with the most contacts) of each cluster, one per row of `centres`."""
    k = len(centres)
    if k <= 2:
        groups = np.arange(k)
    else:
        tree = linkage(centres, method="average", metric="cosine")
        best, groups = -2.0, np.zeros(k, dtype=int)
        for n in range(2, min(max_groups, k - 1) + 1):
            cut = fcluster(tree, n, criterion="maxclust")
            if len(np.unique(cut)) < 2:
                continue
            score = silhouette_score(centres, cut, metric="cosine")
            if score > best:
                best, groups = score, cut
    weight = np.bincount(groups, weights=sizes)
    order = np.argsort(-weight[np.unique(groups)], kind="stable")
    rank = np.empty(len(order), dtype=int)
    rank[order] = np.arange(len(order))
    return rank[np.searchsorted(np.unique(groups), groups)]


def describe_groups(
    texts: Sequence[str],
    counts: TermCounts,
    vectors: np.ndarray,
    labels: np.ndarray,
    ids: np.ndarray,
    centres: np.ndarray,
    cfg: DescribeConfig,
) -> pd.DataFrame:
    """`cluster_id`, `group_id`, `group_label` of each cluster (`ids`, one per row of `centres`); a group is named
    like a cluster, from the key phrases of its most typical contacts. `counts`: the terms' counts per cluster,
    summed per group."""
    sizes = np.array([(labels == c).sum() for c in ids])
    group = group_clusters(centres, sizes, cfg.max_groups)
    lookup = np.full(int(ids.max(initial=-1)) + 2, -1)
    lookup[ids] = group
    named = describe_clusters(
        texts, counts.merged(dict(zip(ids.tolist(), group.tolist()))), vectors, lookup[labels], cfg
    )
    return pd.DataFrame(
        {
            "cluster_id": ids,
            "group_id": group.astype(np.int32),
            "group_label": pd.Series(named["label"].to_numpy(), index=named["cluster_id"]).reindex(group).to_numpy(),
        }
    )

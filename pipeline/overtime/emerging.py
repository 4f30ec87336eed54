"""New topics inside older clusters: recent contacts whose nearest neighbours are mostly recent too.

A reason born a few weeks ago with a few dozen contacts is often absorbed by an older cluster that talks about
something near it (one cluster, half an old reason and half a new one), and its rate then hides in the old
cluster's. Its contacts still give it away: their nearest neighbours are each other, so they are mostly recent,
while the neighbours of an old reason's recent contacts are recent only as often as recent contacts are common.

`split_emerging` finds, inside each cluster, the recent contacts (the last `trends.emerging_days`) whose
`neighbours` nearest contacts are at least `trends.emerging_min_recent` recent, keeps the groups of them linked to
each other in the neighbour graph, and gives each group of at least `trends.emerging_min_contacts` distinct texts (that is not
most of its cluster already) a cluster of its own; its rate then steps up from nothing and the trends flag it.
A pure function of the vectors, the times and a clustering: discover calls it between clustering and stable ids.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from scipy.stats import binom

from pipeline.config import TrendsConfig
from pipeline.model.cluster import Clustering, cluster_links, knn_graph, membership, top_neighbours


def recent_groups(
    vectors: np.ndarray, times: np.ndarray, labels: np.ndarray, cfg: TrendsConfig, neighbours: int
) -> list[np.ndarray]:
    """Groups of contacts (indices) inside older clusters that are a new topic, largest first. Only the recent
    contacts' neighbours are searched (exact, in blocks): the cost is recent contacts x all contacts."""
    times = pd.DatetimeIndex(pd.to_datetime(times, utc=True)).tz_localize(None).to_numpy()
    known = ~np.isnat(times)
    if known.sum() < 2 or len(vectors) <= neighbours:
        return []
    end = times[known].max()
    recent = known & (times > end - np.timedelta64(int(cfg.emerging_days * 86400), "s"))
    share = recent.sum() / known.sum()
    if share <= 0 or share >= cfg.emerging_min_recent:
        return []
    rows = np.flatnonzero(recent)
    directed, _ = top_neighbours(vectors, neighbours, rows)
    k = directed.shape[1]
    hits = np.zeros(len(vectors), dtype=np.int64)
    hits[rows] = recent[directed].sum(axis=1)
    dense = recent & (hits >= cfg.emerging_min_recent * k)
    n = len(vectors)
    edges = sparse.csr_matrix((np.ones(len(rows) * k), (np.repeat(rows, k), directed.ravel())), shape=(n, n))
    candidates = []
    for c in np.unique(labels[labels >= 0]):
        members = np.flatnonzero((labels == c) & dense)
        if len(members) < cfg.emerging_min_contacts:
            continue
        count, parts = connected_components(edges[members][:, members], directed=False)
        size = int((labels == c).sum())
        for part in range(count):
            group = members[parts == part]
            # distinct texts: one text pasted by many (a template, a campaign) is a clique of copies, not a topic
            distinct = len(np.unique(vectors[group], axis=0))
            if distinct >= cfg.emerging_min_contacts and len(group) <= cfg.emerging_max_share * size:
                candidates.append(group)
    # each group's neighbours are recent far more often than recent contacts are common (one-sided binomial test,
    # Bonferroni across the groups tested)
    groups = [
        g
        for g in candidates
        if binom.sf(int(hits[g].sum()) - 1, len(g) * k, share) <= cfg.false_discovery_rate / len(candidates)
    ]
    return sorted(groups, key=lambda g: (-len(g), int(g[0])))


def split_emerging(
    vectors: np.ndarray, times: np.ndarray, clustering: Clustering, cfg: TrendsConfig, neighbours: int
) -> Clustering:
    """The clustering with each new topic found inside an older cluster (`recent_groups`) as a cluster of its own
    (the next free ids); links and memberships recomputed. `times`: each contact's creation time (any form
    pandas reads as times, zone-aware or not; NaT: unknown)."""
    labels = clustering.labels.copy()
    groups = recent_groups(vectors, times, labels, cfg, neighbours)
    if not groups:
        return clustering
    next_id = int(labels.max()) + 1
    for group in groups:
        labels[group] = next_id
        next_id += 1
    graph = knn_graph(vectors, neighbours)
    links = cluster_links(graph, labels, np.ones(len(labels)))
    probabilities = np.where(labels >= 0, membership(graph, labels), 0.0).astype(np.float32)
    return Clustering(labels, probabilities, clustering.was_noise, links)

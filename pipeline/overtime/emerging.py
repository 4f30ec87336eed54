"""New topics inside older clusters: recent contacts whose nearest neighbours are mostly recent too.

A reason born a few weeks ago with a few dozen contacts is often absorbed by an older cluster that talks about
something near it (one cluster, half an old reason and half a new one), and its rate then hides in the old
cluster's. Its contacts still give it away: their nearest neighbours are each other, so they are mostly recent,
while the neighbours of an old reason's recent contacts are recent only as often as recent contacts are common.

`split_emerging` finds, inside each cluster, the recent contacts (the last `trends.emerging_days`) whose
`neighbours` nearest contacts are at least `trends.emerging_min_recent` recent, keeps the groups of them linked to
each other in the neighbour graph, and gives each group of at least `trends.emerging_min_contacts` distinct texts a
cluster of its own; its rate then steps up from nothing and the trends flag it. Two new topics born near each other
can be linked into one group: it is cut into its Leiden communities, merged (the least apart first) until each
sends less than `trends.emerging_separate_below` of its links to the rest of the group; two or more left are
separate topics, each tested and split out on its own. It is its own threshold, not
`taxonomy.proposals.fragment_min_links`: that one is measured between whole clusters of the full neighbour graph,
this one inside a few dozen recent contacts. On the MultiDoGO timelines of `benchmarks.over_time` (5 seeds), the
communities of a group that was one intent each sent 0.27-0.85 of their links to the rest of it, and a community
that was an intent of its own 0.05-0.21 (measured once, by a scratch probe of this function). A community's share
of links to the whole rest of its group, not to any one other community, keeps one large topic whole: Leiden cuts it
into more communities as it grows, and the share between any two of them falls with their number. Topics that are
most of their cluster already (over `trends.emerging_max_share`) leave the largest in it: the cluster is new on its
own, and the others get their own (split out whole, they would leave the old cluster empty or a sliver).
Neighbours here are by embeddings alone, as the clustering's links and memberships are (`cluster.word_weight`
weighs words in finding the clusters only).
A pure function of the vectors, the times and a clustering: discover calls it between clustering and stable ids.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from scipy.stats import binom

from pipeline.config import TrendsConfig
from pipeline.model.cluster import (
    Clustering,
    cluster_links,
    distinct_rows,
    knn_graph,
    leiden,
    membership,
    top_neighbours,
)


def recent_groups(
    vectors: np.ndarray,
    times: np.ndarray,
    labels: np.ndarray,
    cfg: TrendsConfig,
    neighbours: int,
    seed: int = 0,
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
    directed, alike = top_neighbours(vectors, neighbours, rows)
    k = directed.shape[1]
    hits = np.zeros(len(vectors), dtype=np.int64)
    hits[rows] = recent[directed].sum(axis=1)
    dense = recent & (hits >= cfg.emerging_min_recent * k)
    n = len(vectors)
    edges = sparse.csr_matrix(
        (np.clip(alike.ravel(), 1e-6, None), (np.repeat(rows, k), directed.ravel())), shape=(n, n)
    )
    candidates = []
    for c in np.unique(labels[labels >= 0]):
        members = np.flatnonzero((labels == c) & dense)
        if len(members) < cfg.emerging_min_contacts:
            continue
        count, parts = connected_components(edges[members][:, members], directed=False)
        topics = []
        for part in range(count):
            group = members[parts == part]
            if _distinct(vectors, group) >= cfg.emerging_min_contacts:
                topics += _topics(vectors, group, edges, cfg.emerging_min_contacts, cfg.emerging_separate_below, seed)
        # topics that are most of their cluster leave the largest in it (the cluster is new on its own) and only
        # the others out: split out whole, they would leave the cluster empty or a sliver
        if sum(len(t) for t in topics) > cfg.emerging_max_share * (labels == c).sum():
            topics.pop(max(range(len(topics)), key=lambda i: (len(topics[i]), -int(topics[i][0]))))
        candidates += topics
    # each group's neighbours are recent far more often than recent contacts are common (one-sided binomial test,
    # Bonferroni across the groups tested)
    groups = [
        g
        for g in candidates
        if binom.sf(int(hits[g].sum()) - 1, len(g) * k, share) <= cfg.false_discovery_rate / len(candidates)
    ]
    return sorted(groups, key=lambda g: (-len(g), int(g[0])))


def _distinct(vectors: np.ndarray, group: np.ndarray) -> int:
    """Distinct texts in a group: one text pasted by many (a template, a campaign) is a clique of copies, not a
    topic."""
    return len(distinct_rows(vectors[group])[0])


def _topics(
    vectors: np.ndarray, group: np.ndarray, edges: sparse.csr_matrix, min_contacts: int, below: float, seed: int
) -> list[np.ndarray]:
    """The group as one topic, or as several: its Leiden communities are merged, the least separate first, into the
    one each links to most (as a share of the smaller one's links, `cluster_links`), until each left keeps all but
    less than `below` of its links inside (a topic too small to stand alone is merged first). The share that leaves a
    topic for the rest of its group is what tells two intents from one: a pairwise share would fall as Leiden cuts a
    large topic into more communities."""
    if below <= 0:
        return [group]
    graph = edges[group][:, group]
    graph = graph.maximum(graph.T).tocsr()
    text = distinct_rows(vectors[group])[1]  # each contact's distinct text, to count a topic's texts
    topic = leiden(graph, 1.0, seed)
    while topic.max() > 0:
        links = cluster_links(graph, topic, np.ones(len(group)))
        leaves = 1.0 - np.diag(links)
        small = [t for t in range(len(links)) if len(np.unique(text[topic == t])) < min_contacts]
        if small:
            worst = min(small, key=lambda t: (np.sum(topic == t), t))
        elif leaves.max() >= below:
            worst = int(np.argmax(leaves))
        else:
            break
        np.fill_diagonal(links, -1.0)
        into = int(np.argmax(links[worst]))
        topic = np.unique(np.where(topic == worst, into, topic), return_inverse=True)[1]
    return [group[topic == t] for t in range(topic.max() + 1)]


def split_emerging(
    vectors: np.ndarray,
    times: np.ndarray,
    clustering: Clustering,
    cfg: TrendsConfig,
    neighbours: int,
    seed: int = 0,
) -> Clustering:
    """The clustering with each new topic found inside an older cluster (`recent_groups`) as a cluster of its own
    (the next free ids); links and memberships recomputed. `times`: each contact's creation time (any form
    pandas reads as times, zone-aware or not; NaT: unknown)."""
    labels = clustering.labels.copy()
    groups = recent_groups(vectors, times, labels, cfg, neighbours, seed)
    if not groups:
        return clustering
    next_id = int(labels.max()) + 1
    for group in groups:
        labels[group] = next_id
        next_id += 1
    graph = knn_graph(vectors, neighbours)
    links = cluster_links(graph, labels, np.ones(len(labels)))
    probabilities = np.where(labels >= 0, membership(graph, labels), 0.0).astype(np.float32)
    return replace(clustering, labels=labels, probabilities=probabilities, links=links)

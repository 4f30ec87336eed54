"""Group contacts into reasons without being told how many there are.

The default method builds a k-nearest-neighbour graph of the embeddings (cosine, with the contacts' words
re-ranking each one's nearest: `Words`) and finds its communities with Leiden: on customer-service text it beat
UMAP + HDBSCAN on every tuning set, leaves no contact out, and needs no UMAP fit (benchmarks/quality.py). UMAP +
HDBSCAN stays available (`cluster.method: hdbscan`). Both are followed by the same clean-up: groups too small to be
a reason become noise, near-duplicate clusters merge, and noise joins its nearest cluster when close enough (the
original noise flag is kept).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import sparse

from pipeline.config import ClusterConfig, ReduceConfig
from pipeline.errors import InputError
from pipeline.model.vector_file import releasing, take
from pipeline.text.redact import PLACEHOLDER

GRANULARITY = {"coarse": 0.3, "medium": 1.0, "fine": 2.5}  # multiplies the chosen resolution
# Modularity finds more communities in a bigger graph at one resolution, so the resolution is set for 10,000
# contacts and scaled by (10,000 / n) ** 0.6: the exponent that kept the best resolution on BANKING77 train
# subsamples of 1,250 to 10,000 texts (benchmarks/quality.py --sweep-size).
MIN_CONTACTS = 10
SILHOUETTE_SAMPLE = 3000  # contacts the silhouette is measured on
REFERENCE_SIZE = 10_000
MIN_SCALED_SIZE = 1_000
SIZE_EXPONENT = 0.6
RESOLUTION_STEPS = range(-7, 2)  # choose_resolution weighs resolutions base x 2^step: 1/128 to 2 times the base
WORD_CANDIDATES = 3  # words re-rank each contact's 3 x k nearest by meaning (as good as an exact search on both)
WORD_CHARS = 1500  # about what the embedding model reads (256 tokens)
MAX_DOUBLINGS = 10  # a taxonomy's floor raises the resolution at most 2^10 times (`_at_least`)
WALK_STEP = 2**0.5  # target_reasons walks the resolution by this factor (`_in_range`)


@dataclass(frozen=True)
class Floor:
    """Where a taxonomy's floor (`cluster.taxonomy_floor`) raised the resolution: a run says so, since its clusters
    then follow the taxonomy's granularity rather than the data's alone."""

    reasons: int  # the fewest clusters asked for: the reasons `min_cluster_size` contacts each are read as
    found: int  # the clusters the data's own resolution kept, fewer than that
    reached: int  # the clusters the raised resolution keeps: `reasons` or more, fewer where the data hold no more


@dataclass(frozen=True)
class Clustering:
    labels: np.ndarray  # (n,) int32; -1 = noise; 0 is the largest cluster
    probabilities: np.ndarray  # (n,) float32 in [0, 1]: how firmly a contact belongs to its cluster
    was_noise: np.ndarray  # (n,) bool: the clusterer left it out (it may have been reassigned since)
    # (k, k): between two clusters, their neighbour-graph edge weight over the smaller one's total: near 0 when
    # nothing links them, higher when they blur into each other; on the diagonal, each cluster's cohesion (the share
    # of its edge weight that stays inside it; above 0.5 it is a community in the weak sense of Radicchi et al.)
    links: np.ndarray | None = None
    floor: Floor | None = None  # set where a taxonomy's floor raised the resolution

    def expand(self, rows: np.ndarray, n: int) -> Clustering:
        """The same clustering over `n` contacts of which only `rows` were clustered; the others are noise."""
        labels = np.full(n, -1, dtype=np.int32)
        probabilities = np.zeros(n, dtype=np.float32)
        was_noise = np.ones(n, dtype=bool)
        labels[rows], probabilities[rows], was_noise[rows] = self.labels, self.probabilities, self.was_noise
        return replace(self, labels=labels, probabilities=probabilities, was_noise=was_noise)


@dataclass(frozen=True)
class Words:
    """Each contact's words as unit-length TF-IDF rows, and their share of the likeness that links contacts in the
    neighbour graph: (1 - weight) x the embeddings' cosine + weight x the words' cosine.

    Sentence embeddings place reasons that differ by a word or two side by side ("set an alarm" / "what alarms do I
    have"); the words a contact shares with its neighbours tell them apart. The weight (0, 0.1 or 0.2) was chosen
    leave-one-dataset-out on nine labelled sets, three Leiden seeds each: every fold chose 0.1, and the held-out NMI
    was 0.754 on the mean and 0.238 on the worst set (MultiDoGO media) against 0.728 and 0.169 without words; NMI
    rose on every set (a scratch sweep, stop 34's note). benchmarks/graph_weights.py compares the graphs with and
    without words at one seed; benchmarks/quality.py scores the default against BERTopic."""

    matrix: sparse.csr_matrix
    weight: float

    @classmethod
    def of(cls, texts: Sequence[str], cfg: ClusterConfig) -> Words | None:
        """The words of `texts` (None where `cluster.word_weight` is 0 or the method is not the graph)."""
        if cfg.word_weight <= 0 or cfg.method != "graph":
            return None
        return cls(word_matrix(texts), cfg.word_weight)

    def __getitem__(self, rows) -> Words:
        return Words(self.matrix[rows], self.weight)

    def rerank(
        self, queries: Words, candidates: np.ndarray, alike: np.ndarray, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Of each query's `candidates` (rows of these words) and their embeddings' cosines `alike`, the `k` most
        alike once words count, and that likeness; each query's words are `queries`' row of the same position."""
        n, m = candidates.shape
        shared = queries.matrix[np.repeat(np.arange(n), m)].multiply(self.matrix[candidates.ravel()])
        likeness = (1 - self.weight) * alike + self.weight * np.asarray(shared.sum(axis=1)).reshape(n, m)
        best = np.argsort(-likeness, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(candidates, best, 1), np.take_along_axis(likeness, best, 1).astype(
            np.float32, copy=False
        )


def word_matrix(texts: Sequence[str]) -> sparse.csr_matrix:
    """Unit-length TF-IDF rows of the words of `texts` (placeholders of redaction are not words; a word in one
    distinct text only links nothing and is left out); weighed over distinct texts, so a text pasted many times
    does not make its words look common."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    # the words the model reads: a 5,000-character text would hold far more than its 256 tokens
    codes, distinct = pd.factorize(pd.Series([text[:WORD_CHARS] for text in texts], dtype=object))
    vectorizer = TfidfVectorizer(sublinear_tf=True, min_df=2, token_pattern=r"(?u)\b[^\W\d_]{2,}\b", dtype=np.float32)
    try:
        matrix = vectorizer.fit_transform([PLACEHOLDER.sub(" ", text) for text in distinct])
    except ValueError:  # no word in two distinct texts
        matrix = sparse.csr_matrix((len(distinct), 1), dtype=np.float32)
    return sparse.csr_matrix(matrix)[codes]


def most_alike(sims: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(columns, values) of the `k` largest values in each row of `sims`, in no order: torch's top-k over the same
    memory (no copy), not numpy's argpartition, which took a third of the vote's time at a million contacts on 2
    AVX2 cores (`python -m benchmarks.scale` prints both)."""
    import torch

    values, columns = torch.topk(torch.from_numpy(sims), k, dim=1, sorted=False)
    return columns.numpy(), values.numpy()


def top_neighbours(
    vectors: np.ndarray, k: int, rows: np.ndarray | None = None, block: int = 512, words: Words | None = None
):
    """(indices, similarities), each (len(rows), k): the k most alike other contacts of each of `rows` (default:
    every contact), by exact cosine on unit vectors, in blocks so memory stays at `block` rows of similarities.
    With `words` (one row per contact), the likeness counts them too (`Words`)."""
    return _neighbours(vectors, k, rows, block, words)[0]


def _neighbours(vectors: np.ndarray, k: int, rows: np.ndarray | None, block: int, words: Words | None):
    """`top_neighbours`, and with `words` the k nearest by embeddings alone as well (found in the same pass)."""
    n = len(vectors)
    rows = np.arange(n) if rows is None else np.asarray(rows)
    k = min(k, n - 1)
    pool = k if words is None else min(WORD_CANDIDATES * k, n - 1)
    indices = np.empty((len(rows), k), dtype=np.int64)
    weights = np.empty((len(rows), k), dtype=np.float32)
    by_embedding = None if words is None else (np.empty_like(indices), np.empty_like(weights))
    for start in range(0, len(rows), block):
        chunk = rows[start : start + block]
        sims = vectors[chunk] @ vectors.T
        sims[np.arange(len(chunk)), chunk] = -np.inf  # not its own neighbour
        found, alike = most_alike(sims, pool)
        if words is not None:
            nearest = np.argpartition(-alike, k - 1, axis=1)[:, :k]
            by_embedding[0][start : start + block] = np.take_along_axis(found, nearest, 1)
            by_embedding[1][start : start + block] = np.take_along_axis(alike, nearest, 1)
            found, alike = words.rerank(words[chunk], found, alike, k)
        indices[start : start + block], weights[start : start + block] = found, alike
    return (indices, weights), by_embedding


def knn_graph(vectors: np.ndarray, k: int, words: Words | None = None) -> sparse.csr_matrix:
    """Symmetric graph of each contact's k most similar contacts (exact cosine on unit vectors; with `words`, the
    likeness of `Words`), weighted by similarity. Exact search in blocks: a few seconds at 13k contacts and nothing
    to compile."""
    return knn_graphs(vectors, k, words)[0]


def knn_graphs(vectors: np.ndarray, k: int, words: Words | None) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
    """(`knn_graph` with `words`, the same by embeddings alone), from one search; without words both are one."""
    found, by_embedding = _neighbours(vectors, k, None, 512, words)
    graph = _symmetric(*found)
    return graph, graph if by_embedding is None else _symmetric(*by_embedding)


def _symmetric(indices: np.ndarray, weights: np.ndarray) -> sparse.csr_matrix:
    n = len(indices)
    graph = sparse.csr_matrix(
        (np.clip(weights.ravel(), 1e-6, None), (np.repeat(np.arange(n), indices.shape[1]), indices.ravel())),
        shape=(n, n),
    )
    return graph.maximum(graph.T).tocsr()


def leiden(graph: sparse.csr_matrix, resolution: float, seed: int) -> np.ndarray:
    """Leiden communities. scikit-network's refinement step draws from C's `rand()`, not from `random_state`, so
    without seeding it the result depended on how many draws the process had made before (a second run in one
    process could differ from the first)."""
    from sknetwork.clustering import Leiden

    _seed_c_rand(seed)
    return Leiden(resolution=resolution, random_state=seed).fit_predict(graph).astype(np.int32)


def _seed_c_rand(seed: int) -> None:
    import ctypes

    try:
        ctypes.CDLL(None).srand(ctypes.c_uint(seed))
    except (OSError, AttributeError):  # no C library to reach (not Linux or macOS): draws stay process-dependent
        pass


def resolution_for(cfg: ClusterConfig, n: int) -> float:
    """The resolution for `n` contacts before the silhouette check (sizes under 1,000 count as 1,000)."""
    return cfg.resolution * (REFERENCE_SIZE / max(n, MIN_SCALED_SIZE)) ** SIZE_EXPONENT


def graph_clusters(
    vectors: np.ndarray,
    cfg: ClusterConfig,
    seed: int,
    weights: np.ndarray | None = None,
    words: Words | None = None,
    at_least: int = 0,
) -> tuple[np.ndarray, sparse.csr_matrix, Floor | None]:
    """Leiden communities of the neighbour graph (with `words`, of their likeness) at a resolution chosen for the
    data (`choose_resolution`), then scaled by the granularity, and raised where that gives fewer than `at_least`
    clusters (`_at_least`; the `Floor` returned says so when that kept more clusters); with `target_reasons`, the
    resolution is searched until the count is in range (and `at_least` is not used). The graph returned beside them
    is the embeddings' own: the clusters' links and memberships are read on it, as the thresholds proposals hold
    links to (`taxonomy.proposals`) were measured (a first version read them on the words' graph: BANKING77's
    new-reason precision in benchmarks/taxonomy.py fell 0.63 -> 0.39 over 3 seeds, and no proposal kept a
    confidence of 0.8)."""
    graph, by_embedding = knn_graphs(vectors, cfg.neighbors, words)
    resolution = resolution_for(cfg, len(vectors))
    if cfg.target_reasons is not None:
        return _in_range(graph, cfg, seed, resolution, weights), by_embedding, None
    if cfg.silhouette_tolerance > 0:
        resolution = choose_resolution(vectors, graph, cfg, seed)
    resolution *= GRANULARITY[cfg.granularity]
    labels = leiden(graph, resolution, seed)
    kept = _kept(labels, cfg, weights)
    if kept >= at_least:
        return labels, by_embedding, None
    raised = _at_least(graph, cfg, seed, resolution, weights, at_least, labels)
    reached = _kept(raised, cfg, weights)
    return raised, by_embedding, Floor(at_least, kept, reached) if reached > kept else None


def choose_resolution(vectors: np.ndarray, graph: sparse.csr_matrix, cfg: ClusterConfig, seed: int) -> float:
    """The resolution nearest the size-scaled one among those whose partition's silhouette is within
    `silhouette_tolerance` of the best, over resolutions from 1/128 to 2 times it.

    The size-scaled resolution suits sets of many fine reasons (BANKING77); where a much coarser partition separates
    the contacts clearly better (long chats with a few reasons, or a few reasons in a small set), the silhouette
    overrules it.
    """
    base = resolution_for(cfg, len(vectors))
    sample, distances = silhouette_sample(vectors, seed)
    scores = {step: silhouette(distances, leiden(graph, base * 2.0**step, seed)[sample]) for step in RESOLUTION_STEPS}
    return base * 2.0 ** preferred_step(scores, cfg.silhouette_tolerance)


def silhouette_sample(vectors: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, their cosine distances): the seeded sample of up to SILHOUETTE_SAMPLE contacts partitions are scored on."""
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(len(vectors), min(len(vectors), SILHOUETTE_SAMPLE), replace=False))
    distances = np.clip(1.0 - vectors[sample] @ vectors[sample].T, 0.0, 2.0)
    np.fill_diagonal(distances, 0.0)
    return sample, distances


def silhouette(distances: np.ndarray, labels: np.ndarray) -> float:
    """The silhouette of a partition of the sample (-1 when it has one cluster or only singletons)."""
    from sklearn.metrics import silhouette_score

    found = len(np.unique(labels))
    return float(silhouette_score(distances, labels, metric="precomputed")) if 1 < found < len(labels) else -1.0


def preferred_step(scores: dict[int, float], tolerance: float) -> int:
    """Of resolution steps (base x 2^step) and their silhouettes, the step nearest 0 whose silhouette is within
    `tolerance` of the best (on a tie, the coarser)."""
    best = max(scores.values())
    return min(
        (step for step, score in scores.items() if score >= best - tolerance), key=lambda step: (abs(step), step)
    )


def _in_range(
    graph: sparse.csr_matrix, cfg: ClusterConfig, seed: int, resolution: float, weights: np.ndarray | None
) -> np.ndarray:
    """The partition whose clusters, once small ones are dropped (counting each text for all its contacts, as the
    clean-up after does), number within `target_reasons`; where none does, the one nearest the range.

    The clusters kept rise with the resolution, then fall (every group a sliver below `min_cluster_size`): a small
    set's size-scaled resolution may already be past that peak. So the side is read first (one step), the
    resolution walked by steps of WALK_STEP towards the range until the count crosses into or past it, and the
    last step bisected on a log scale; the count is not smooth (21, 26, 20 clusters at three steps of 2^0.5), so
    the walk stops only where the count fell back below the one a step before. (A plain bisection that took the
    count to grow with the resolution walked past the peak to a partition of no cluster at all, every contact
    noise, without a word.)"""
    low, high = cfg.target_reasons
    tried: dict[float, tuple[np.ndarray, int]] = {}

    def at(r: float) -> int:
        if r not in tried:
            labels = leiden(graph, r, seed)
            tried[r] = (labels, _kept(labels, cfg, weights))
        return tried[r][1]

    def off(r: float) -> tuple[int, int]:  # how far from the range; on a tie, more clusters
        return max(low - tried[r][1], tried[r][1] - high, 0), -tried[r][1]

    count = at(resolution)
    if not low <= count <= high:
        more = count < low
        rising = at(resolution * WALK_STEP) >= count
        step = WALK_STEP if more == rising else 1 / WALK_STEP
        near, far = resolution, resolution * step
        for _ in range(2 * MAX_DOUBLINGS):
            found = at(far)
            if low <= found <= high or (found > high if more else found < low):
                for _ in range(8):  # the walk crossed the range between `near` and `far`
                    middle = float(np.sqrt(near * far))
                    found = at(middle)
                    if low <= found <= high:
                        break
                    if (found < low) == more:
                        near = middle
                    else:
                        far = middle
                break
            if (found < tried[near][1]) == more and found != tried[near][1]:
                break  # past the peak (or the trough): the nearest the data hold was before
            near, far = far, far * step
    return tried[min(tried, key=off)][0]


def _at_least(
    graph: sparse.csr_matrix,
    cfg: ClusterConfig,
    seed: int,
    resolution: float,
    weights: np.ndarray | None,
    at_least: int,
    labels: np.ndarray,
    steps: int = 5,
) -> np.ndarray:
    """The partition at the lowest resolution above `resolution` (whose `labels` keep fewer) that keeps at least
    `at_least` clusters once small ones are dropped: the resolution is doubled until one does, then bisected on a
    log scale `steps` times (5 find it within 2.2%). The clusters kept first grow with the resolution, then fall
    (every group a sliver); where the floor is past their peak, the partition that keeps the most is returned."""
    best, most = labels, _kept(labels, cfg, weights)
    low = high = resolution
    for _ in range(MAX_DOUBLINGS):
        high *= 2.0
        found = leiden(graph, high, seed)
        kept = _kept(found, cfg, weights)
        if kept >= at_least:
            break
        if kept < most:  # past the peak: the data hold no more clusters than `most`
            return best
        if kept > most:
            best, most = found, kept
        low = high
    else:
        return best
    for _ in range(steps):
        middle = float(np.sqrt(low * high))
        labels = leiden(graph, middle, seed)
        if _kept(labels, cfg, weights) >= at_least:
            high, found = middle, labels
        else:
            low = middle
    return found


def _kept(labels: np.ndarray, cfg: ClusterConfig, weights: np.ndarray | None) -> int:
    """How many clusters a partition keeps once groups under `min_cluster_size` contacts are dropped."""
    return _count(drop_small(labels, cfg.min_cluster_size, weights))


def hdbscan_clusters(vectors: np.ndarray, cfg: ClusterConfig, reduce_cfg: ReduceConfig, seed: int) -> np.ndarray:
    import hdbscan

    from pipeline.model.reduce import fit_reducer

    points, _ = fit_reducer(vectors, reduce_cfg, seed)
    model = hdbscan.HDBSCAN(
        min_cluster_size=max(2, min(cfg.hdbscan.min_cluster_size, len(points) // 2)),
        min_samples=cfg.hdbscan.min_samples,
        cluster_selection_method=cfg.hdbscan.selection_method,
        cluster_selection_epsilon=cfg.hdbscan.selection_epsilon,
    ).fit(points)
    return model.labels_.astype(np.int32)


def drop_small(labels: np.ndarray, min_size: int, weights: np.ndarray | None = None) -> np.ndarray:
    """Groups under `min_size` contacts are slivers, not reasons: they become noise. `weights`: contacts per point."""
    labels = labels.copy()
    sizes = np.bincount(labels[labels >= 0], weights=None if weights is None else weights[labels >= 0])
    labels[(labels >= 0) & (sizes[np.maximum(labels, 0)] < min_size)] = -1
    return labels


def centroids(vectors: np.ndarray, labels: np.ndarray, block: int = 16_384) -> tuple[np.ndarray, np.ndarray]:
    """(cluster ids, unit-length mean vectors) of the clusters in `labels`. Summed in float64 a block of contacts
    at a time: the whole float32 matrix cast to float64 at once was 3 GB more at a million contacts."""
    ids = np.unique(labels[labels >= 0])
    members = sparse.csc_matrix(
        (np.ones(int((labels >= 0).sum())), (np.searchsorted(ids, labels[labels >= 0]), np.flatnonzero(labels >= 0))),
        shape=(len(ids), len(labels)),
    )
    centres = np.zeros((len(ids), vectors.shape[1]))
    for start in releasing(range(0, len(labels), block), vectors):
        centres += members[:, start : start + block] @ vectors[start : start + block].astype(np.float64)
    centres /= np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-12)
    return ids, centres.astype(np.float32)


def merge_near_duplicates(vectors: np.ndarray, labels: np.ndarray, min_similarity: float) -> np.ndarray:
    """Merge clusters whose centres are at least `min_similarity` alike (average linkage over centres)."""
    ids, centres = centroids(vectors, labels)
    if len(ids) < 2 or min_similarity >= 1.0:
        return labels
    from scipy.cluster.hierarchy import fcluster, linkage

    groups = fcluster(linkage(centres, method="average", metric="cosine"), t=1.0 - min_similarity, criterion="distance")
    mapping = np.full(labels.max() + 2, -1, dtype=np.int32)
    mapping[ids] = groups
    return mapping[labels]  # labels == -1 indexes the last slot, which stays -1


def nearest_centre(vectors: np.ndarray, centres: np.ndarray, chunk: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """(index of the most alike centre, its cosine) for each unit vector, in chunks so memory stays bounded."""
    best = np.empty(len(vectors), dtype=np.int64)
    score = np.empty(len(vectors), dtype=np.float32)
    for start in releasing(range(0, len(vectors), chunk), vectors):
        sims = vectors[start : start + chunk] @ centres.T
        best[start : start + chunk] = sims.argmax(axis=1)
        score[start : start + chunk] = sims[np.arange(len(sims)), best[start : start + chunk]]
    return best, score


def reassign_noise(vectors: np.ndarray, labels: np.ndarray, min_similarity: float) -> np.ndarray:
    """Noise joins the cluster whose centre is most alike, when at least `min_similarity` alike; the rest stays
    noise (a real outlier, or a reason too rare to name yet)."""
    labels = labels.copy()
    noise = np.flatnonzero(labels < 0)
    if len(noise) == 0 or (labels >= 0).sum() == 0:
        return labels
    ids, centres = centroids(vectors, labels)
    best, score = nearest_centre(vectors[noise], centres)
    close = score >= min_similarity
    labels[noise[close]] = ids[best[close]]
    return labels


def membership(graph: sparse.csr_matrix, labels: np.ndarray) -> np.ndarray:
    """Share of a contact's neighbourhood (by edge weight) that lies in its own cluster; 0 for noise."""
    coo = graph.tocoo()
    same = (labels[coo.row] == labels[coo.col]) & (labels[coo.row] >= 0)
    inside = np.bincount(coo.row, weights=coo.data * same, minlength=len(labels))
    total = np.bincount(coo.row, weights=coo.data, minlength=len(labels))
    return np.where(labels >= 0, inside / np.maximum(total, 1e-12), 0.0).astype(np.float32)


def cluster_links(graph: sparse.csr_matrix, labels: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Edge weight between each pair of clusters over the smaller cluster's volume (points weighted by contacts);
    on the diagonal, the share of each cluster's volume that stays inside it (see `Clustering.links`)."""
    k = int(labels.max()) + 1 if (labels >= 0).any() else 0
    clustered = np.flatnonzero(labels >= 0)
    member = sparse.csr_matrix(
        (weights[clustered].astype(float), (labels[clustered], clustered)), shape=(k, len(labels))
    )
    between = (member @ graph @ member.T).toarray()
    volume = between.sum(axis=1)
    links = between / np.maximum(np.minimum.outer(volume, volume), 1e-12)
    np.fill_diagonal(links, np.where(volume > 0, np.diag(between) / np.maximum(volume, 1e-12), 1.0))
    return links


def renumber_by_size(labels: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Cluster ids 0..k-1 from largest to smallest (ties: first member first), so ids read as a ranking."""
    clustered = labels >= 0
    ids, first = np.unique(labels[clustered], return_index=True)
    sizes = np.bincount(labels[clustered], weights=None if weights is None else weights[clustered])[ids]
    order = np.lexsort((first, -sizes))
    mapping = np.full(labels.max() + 2, -1, dtype=np.int32)
    mapping[ids[order]] = np.arange(len(ids), dtype=np.int32)
    return mapping[labels]


def cluster_contacts(
    vectors: np.ndarray,
    cfg: ClusterConfig,
    reduce_cfg: ReduceConfig,
    seed: int,
    texts: Sequence[str] | None = None,
    at_least: int = 0,
) -> Clustering:
    """The clustering step: find groups, drop slivers, merge near-duplicates, reassign close noise. `texts`: the
    contacts' texts, whose words the graph method weighs beside the vectors (`Words`; None: vectors alone).
    `at_least`: the fewest groups the graph method may find (the reasons a taxonomy holds that the contacts are
    read as: `pipeline.taxonomy.reasons.Reading.present`); the merge of near-duplicates may still join a few.

    Identical texts (identical vectors) are clustered once and weigh as many contacts as they stand for, so a
    complaint pasted many times forms one group instead of a clique that breaks the graph.
    """
    if len(vectors) < MIN_CONTACTS:
        raise InputError(
            f"only {len(vectors)} contacts have text; touchless needs at least {MIN_CONTACTS} to find reasons"
        )
    first, pick, weights = distinct_rows(vectors)
    words = None if texts is None else Words.of(texts, cfg)
    if words is not None:
        words = words[first]  # one row per distinct vector
    if len(first) > cfg.sample_size:  # the distinct vectors are never copied out whole (1.5 GB at 1M contacts)
        found = _cluster_sample(vectors, first, weights, cfg, reduce_cfg, seed, words, at_least)
    else:
        found = _cluster_distinct(take(vectors, first), weights, cfg, reduce_cfg, seed, words, at_least)
    return replace(
        found, labels=found.labels[pick], probabilities=found.probabilities[pick], was_noise=found.was_noise[pick]
    )


def distinct_rows(matrix: np.ndarray, block: int = 16_384) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct rows of `matrix` (bit for bit) in order of first appearance: (index of each one's first row,
    each row's distinct id, how many rows each stands for).

    The grouping `np.unique(matrix, axis=0)` makes, without its sorted copies of the whole matrix (3 GB of transient
    memory at a million contacts): rows are grouped by a 64-bit hash of their bits computed in blocks, then every row
    is checked bit for bit against its group's first row; a hash collision (never seen) falls back to `np.unique`.
    """
    rows = np.ascontiguousarray(matrix).view(np.uint8).reshape(len(matrix), -1)
    words = rows.view(np.uint32) if rows.shape[1] % 4 == 0 else rows
    mix = np.random.default_rng(0).integers(1, 2**63, size=words.shape[1], dtype=np.uint64) | np.uint64(1)
    hashes = np.concatenate(
        [
            words[start : start + block].astype(np.uint64) @ mix
            for start in releasing(range(0, len(words), block), matrix)
        ]
    )
    ids, _ = pd.factorize(hashes)  # ids in order of first appearance
    _, first = np.unique(ids, return_index=True)
    if all(
        np.array_equal(rows[start : start + block], take(rows, first[ids[start : start + block]]))
        for start in releasing(range(0, len(rows), block), matrix)
    ):
        return first, ids.astype(np.int64), np.bincount(ids)
    _, first, inverse, counts = np.unique(matrix, axis=0, return_index=True, return_inverse=True, return_counts=True)
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return first[order], rank[inverse.ravel()], counts[order]


def _cluster_sample(
    vectors: np.ndarray,
    distinct: np.ndarray,
    weights: np.ndarray,
    cfg: ClusterConfig,
    reduce_cfg: ReduceConfig,
    seed: int,
    words: Words | None = None,
    at_least: int = 0,
) -> Clustering:
    """Very large sets: of the distinct vectors (`vectors` at rows `distinct`, each weighing `weights`; `words`: one
    row per distinct one), cluster a seeded sample of `sample_size`, then every other one takes the cluster most of
    its nearest sampled neighbours are in (as the graph would have placed it), when its nearest neighbour is at
    least `reassign_similarity` alike (else noise). Memory and time stay bounded: the neighbours are found in
    blocks. Labels are per distinct row."""
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(len(distinct), cfg.sample_size, replace=False))
    sampled = take(vectors, distinct[sample])
    sampled_words = None if words is None else words[sample]
    found = _cluster_distinct(sampled, weights[sample], cfg, reduce_cfg, seed, sampled_words, at_least)
    out = found.expand(sample, len(distinct))
    rest = np.setdiff1d(np.arange(len(distinct)), sample)
    labelled = np.flatnonzero(found.labels >= 0)
    label, share, nearest = neighbour_vote(
        vectors,
        sampled[labelled],
        found.labels[labelled],
        cfg.neighbors,
        rows=distinct[rest],
        query_words=None if words is None else words[rest],
        point_words=None if words is None else sampled_words[labelled],
    )
    close = nearest >= cfg.reassign_similarity
    out.labels[rest[close]] = label[close]
    out.probabilities[rest[close]] = share[close]
    out.was_noise[rest] = ~close
    return out


def neighbour_vote(
    queries: np.ndarray,
    points: np.ndarray,
    labels: np.ndarray,
    k: int,
    block: int = 256,
    rows: np.ndarray | None = None,
    query_words: Words | None = None,
    point_words: Words | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each query (each of `queries` at `rows`, when given): the label most of its `k` nearest points carry
    (votes weighted by cosine; with `query_words`, one row per query, and `point_words`, by the likeness of
    `Words`), that label's share of the votes, and the cosine of the nearest point. Exact, in blocks of queries
    (bounded memory: the queries at `rows` are gathered a block at a time, never copied whole)."""
    rows = np.arange(len(queries)) if rows is None else rows
    k = min(k, len(points))
    pool = k if point_words is None else min(WORD_CANDIDATES * k, len(points))
    n_labels = int(labels.max()) + 1
    label = np.empty(len(rows), dtype=np.int32)
    share = np.empty(len(rows), dtype=np.float32)
    nearest = np.empty(len(rows), dtype=np.float32)
    for start in releasing(range(0, len(rows), block), queries):
        sims = queries[rows[start : start + block]] @ points.T
        top, alike = most_alike(sims, pool)
        nearest[start : start + len(top)] = alike.max(axis=1)  # the nearest is among them: no second pass
        if point_words is not None:
            top, alike = point_words.rerank(query_words[start : start + block], top, alike, k)
        weight = alike.clip(min=0)
        voter = np.repeat(np.arange(len(top)), k)
        votes = np.zeros((len(top), n_labels), dtype=np.float32)
        np.add.at(votes, (voter, labels[top].ravel()), weight.ravel())
        label[start : start + len(top)] = votes.argmax(axis=1)
        share[start : start + len(top)] = votes.max(axis=1) / np.maximum(votes.sum(axis=1), 1e-12)
    return label, share, nearest


def _cluster_distinct(
    vectors: np.ndarray,
    weights: np.ndarray,
    cfg: ClusterConfig,
    reduce_cfg: ReduceConfig,
    seed: int,
    words: Words | None = None,
    at_least: int = 0,
) -> Clustering:
    floor = None
    if len(vectors) < 3:  # one or two distinct texts: each is its own group
        raw, graph = np.arange(len(vectors), dtype=np.int32), None
    elif cfg.method == "graph":
        raw, graph, floor = graph_clusters(vectors, cfg, seed, weights, words, at_least)
    else:
        raw, graph = hdbscan_clusters(vectors, cfg, reduce_cfg, seed), knn_graph(vectors, cfg.neighbors)
    labels, was_noise = clean_up(vectors, raw, weights, cfg)
    labels = renumber_by_size(labels, weights)
    if graph is None:
        return Clustering(labels, (labels >= 0).astype(np.float32), was_noise)
    return Clustering(labels, membership(graph, labels), was_noise, cluster_links(graph, labels, weights), floor)


def clean_up(
    vectors: np.ndarray, raw: np.ndarray, weights: np.ndarray, cfg: ClusterConfig
) -> tuple[np.ndarray, np.ndarray]:
    """(labels, was_noise) after the clean-up every method gets: groups too small to be a reason become noise,
    near-duplicate clusters merge, noise close enough to a cluster joins it (`was_noise` keeps who was noise)."""
    labels = drop_small(raw, cfg.min_cluster_size, weights)
    was_noise = labels < 0
    labels = merge_near_duplicates(vectors, labels, cfg.merge_similarity)
    return reassign_noise(vectors, labels, cfg.reassign_similarity), was_noise


def relabel(clustering: Clustering, mapping: dict[int, int]) -> Clustering:
    """The same clustering under other cluster ids (e.g. the stable ids of `pipeline.lineage`)."""
    lookup = np.full(max(mapping, default=-1) + 2, -1, dtype=np.int64)
    for old, new in mapping.items():
        lookup[old] = new
    labels = lookup[clustering.labels].astype(np.int32)
    links = None
    if clustering.links is not None and mapping:
        size = max(mapping.values()) + 1
        links = np.zeros((size, size))
        old = np.array(list(mapping))
        new = np.array([mapping[o] for o in old])
        links[np.ix_(new, new)] = clustering.links[np.ix_(old, old)]
    return replace(clustering, labels=labels, links=links)


def _count(labels: np.ndarray) -> int:
    return len(np.unique(labels[labels >= 0]))

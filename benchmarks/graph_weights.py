"""Neighbour-graph edge weights (cosine alone, cosine with the contacts' words as touchless weighs them, UMAP's fuzzy
graph, or shared neighbours) and the base resolution, chosen leave-one-dataset-out.

    python -m benchmarks.graph_weights [--datasets b77-test,dstc11,...] [--work DIR]

Every labelled set of benchmarks/quality.py is prepared and embedded as `touchless evaluate` does (flows/steps.py,
without a Prefect server), and its distinct vectors' neighbour graph built with each weighting. Leiden runs at the
resolutions 2^(j/2) x touchless's size scale (j = -14 .. 9); each partition gets discover's clean-up, is scored on
every contact and its silhouette is taken on touchless's sample. Then touchless's rule (a base resolution; a much
coarser or finer one wins when its silhouette is better by more than the tolerance) is replayed for every base
resolution and tolerance: the pair that scores best (mean of NMI and ARI) on all sets but one is scored on the one
left out. A constant is only as good as its score on the set it was not chosen on.
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.quality import DATASETS

WEIGHTS = ("cosine", "words", "fuzzy", "jaccard")
STEPS = range(-14, 10)  # resolution 2^(j/2) x size scale: 1/128 .. 16
BASES = range(-6, 10)  # base resolutions tried by the leave-one-out choice: 1/8 .. 16
TOLERANCES = (None, 0.0, 0.01, 0.025, 0.05, 0.1)  # None: no silhouette check
SHIPPED = (4, 0.025)  # cluster.resolution 4.0 = 2^(4/2), silhouette_tolerance 0.025


def sweep(name: str, work: Path) -> pd.DataFrame:
    """One row per weighting and resolution step: clusters, NMI, ARI, ACC (every contact) and the silhouette."""
    from flows import steps
    from pipeline.config import load_config
    from pipeline.model import cluster as c
    from pipeline.model.embed import embedder
    from pipeline.model.evaluate import evaluate_run, load_labels

    cfg = load_config(overrides={"embedding": {"cache_dir": str(work / "embeddings")}})
    csv = work / f"{name}.csv"
    DATASETS[name]().to_csv(csv, index=False)
    contacts, report = steps.prepare.fn(str(csv), cfg)
    usable = steps.usable_rows(contacts, report, at_least=c.MIN_CONTACTS)
    texts = contacts["text"].iloc[usable].tolist()
    vectors = embedder(cfg.embedding).embed(texts).vectors
    known = load_labels(csv, cfg.input, "label")
    first, same_as, weights = c.distinct_rows(vectors)
    distinct = vectors[first]
    words = c.Words.of(texts, cfg.cluster)[first]  # as discover weighs them
    scale = c.resolution_for(cfg.cluster, len(distinct)) / cfg.cluster.resolution
    sample, distances = c.silhouette_sample(distinct, cfg.seed)
    graphs = {
        "cosine": c.knn_graph(distinct, cfg.cluster.neighbors),
        "words": c.knn_graph(distinct, cfg.cluster.neighbors, words),
        "fuzzy": fuzzy_graph(distinct, cfg.cluster.neighbors, cfg.seed),
        "jaccard": jaccard_graph(distinct, cfg.cluster.neighbors),
    }
    rows = []
    for weighting, graph in graphs.items():
        for step in STEPS:
            raw = c.leiden(graph, 2 ** (step / 2) * scale, cfg.seed)
            labels, _ = c.clean_up(distinct, raw, weights, cfg.cluster)
            cluster_id = np.full(len(contacts), -1)
            cluster_id[usable] = labels[same_as]
            e = evaluate_run(pd.DataFrame({"contact_id": contacts["contact_id"], "cluster_id": cluster_id}), known)
            rows.append(
                {
                    "dataset": name,
                    "weights": weighting,
                    "step": step,
                    "silhouette": c.silhouette(distances, raw[sample]),
                    "clusters": e.clusters,
                    "NMI": e.every_contact.nmi,
                    "ARI": e.every_contact.ari,
                    "ACC": e.every_contact.acc,
                }
            )
    return pd.DataFrame(rows)


def fuzzy_graph(vectors: np.ndarray, k: int, seed: int):
    """UMAP's fuzzy neighbour graph (umap.umap_.fuzzy_simplicial_set; k counts the contact itself, as UMAP's
    n_neighbors does) over touchless's exact neighbours: each contact's edges are scaled by its own neighbourhood."""
    from umap.umap_ import fuzzy_simplicial_set

    from pipeline.model.cluster import top_neighbours

    indices, similarities = top_neighbours(vectors, k - 1)
    n = len(vectors)
    knn_indices = np.c_[np.arange(n), indices]
    knn_dists = np.c_[np.zeros(n), 1.0 - similarities].astype(np.float32)
    order = np.argsort(knn_dists, axis=1, kind="stable")
    knn_indices, knn_dists = np.take_along_axis(knn_indices, order, 1), np.take_along_axis(knn_dists, order, 1)
    graph, _, _ = fuzzy_simplicial_set(
        vectors, k, np.random.RandomState(seed), "cosine", knn_indices=knn_indices, knn_dists=knn_dists
    )
    return graph.tocsr()


def jaccard_graph(vectors: np.ndarray, k: int):
    """The shared-nearest-neighbour graph of PhenoGraph (Levine et al. 2015): each neighbour edge weighted by the
    Jaccard overlap of the two contacts' neighbourhoods (each with the contact itself), so an edge between two
    contacts that share no neighbours (a bridge between two reasons) weighs little whatever its cosine."""
    from scipy import sparse

    from pipeline.model.cluster import top_neighbours

    indices, _ = top_neighbours(vectors, k)
    n, kk = indices.shape
    rows = np.repeat(np.arange(n), kk + 1)
    members = sparse.csr_matrix((np.ones(n * (kk + 1)), (rows, np.c_[np.arange(n), indices].ravel())), shape=(n, n))
    edges = sparse.csr_matrix((np.ones(n * kk), (np.repeat(np.arange(n), kk), indices.ravel())), shape=(n, n))
    edges = edges.maximum(edges.T).tocoo()
    shared = np.asarray(members[edges.row].multiply(members[edges.col]).sum(axis=1)).ravel()
    weights = np.clip(shared / (2 * (kk + 1) - shared), 1e-6, None)
    return sparse.csr_matrix((weights, (edges.row, edges.col)), shape=(n, n))


def chosen(table: pd.DataFrame, base: int, tolerance: float | None) -> pd.Series:
    """The row touchless's rule picks in one set's sweep (`table`, one weighting)."""
    by_step = table.set_index("step")
    if tolerance is None:
        return by_step.loc[base]
    from pipeline.model.cluster import RESOLUTION_STEPS, preferred_step

    scores = {s: by_step.loc[base + 2 * s, "silhouette"] for s in RESOLUTION_STEPS if base + 2 * s in by_step.index}
    return by_step.loc[base + 2 * preferred_step(scores, tolerance)]


def leave_one_out(sweeps: pd.DataFrame, weightings: tuple[str, ...]) -> pd.DataFrame:
    names = list(dict.fromkeys(sweeps["dataset"]))
    tables = {key: t for key, t in sweeps.groupby(["dataset", "weights"])}

    def score(rule: tuple, name: str) -> float:
        row = chosen(tables[(name, rule[0])], rule[1], rule[2])
        return (row["NMI"] + row["ARI"]) / 2

    rows = []
    for held_out in names:
        others = [n for n in names if n != held_out]
        rule = max(
            itertools.product(weightings, BASES, TOLERANCES), key=lambda r: np.mean([score(r, n) for n in others])
        )
        row = chosen(tables[(held_out, rule[0])], rule[1], rule[2])
        rows.append(
            {
                "left out": held_out,
                "chosen on the others": f"{rule[0]}, resolution {2 ** (rule[1] / 2):g}, tolerance {rule[2]}",
                "clusters": int(row["clusters"]),
                "NMI": round(row["NMI"], 3),
                "ARI": round(row["ARI"], 3),
            }
        )
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default=",".join(DATASETS), help="comma-separated: " + ", ".join(DATASETS))
    parser.add_argument("--work", type=Path, default=None, help="folder for inputs, the embedding cache and sweeps.csv")
    args = parser.parse_args()
    print(f"reproduce: python -m benchmarks.graph_weights --datasets {args.datasets}", flush=True)
    work = args.work or Path(tempfile.mkdtemp(prefix="touchless-weights-"))
    work.mkdir(parents=True, exist_ok=True)
    sweeps = []
    for name in args.datasets.split(","):
        sweeps.append(sweep(name, work))
        best = sweeps[-1].loc[sweeps[-1].groupby("weights")["NMI"].idxmax()]
        print(f"{name}: best NMI over resolutions " + ", ".join(f"{w} {n:.3f}" for w, n in zip(best.weights, best.NMI)))
    sweeps = pd.concat(sweeps, ignore_index=True)
    sweeps.to_csv(work / "sweeps.csv", index=False)  # every partition's scores, for trying other rules offline
    print(f"every partition's scores: {work / 'sweeps.csv'}")
    tables = {key: t for key, t in sweeps.groupby(["dataset", "weights"])}
    fixed = pd.DataFrame(
        {
            f"{w}, resolution {2 ** (base / 2):g}": {
                name: f"{r['NMI']:.3f} / {r['ARI']:.3f} ({int(r['clusters'])})"
                for (name, weighting), t in tables.items()
                if weighting == w
                for r in [chosen(t, base, tol)]
            }
            for w, base, tol in (("words", *SHIPPED), ("cosine", *SHIPPED), ("fuzzy", 2, 0.025), ("jaccard", 4, 0.025))
        }
    )
    print(
        "\nNMI / ARI (clusters) at fixed settings, silhouette tolerance 0.025 "
        "(words at resolution 4: the shipped default; cosine 4: the same without words):"
    )
    print(fixed.to_string())
    for weightings in [(w,) for w in WEIGHTS] + [WEIGHTS]:
        table = leave_one_out(sweeps, weightings)
        print(
            f"\nLeave one dataset out, choosing among {' and '.join(weightings)}: "
            f"NMI mean {table['NMI'].mean():.3f}, worst {table['NMI'].min():.3f}; "
            f"ARI mean {table['ARI'].mean():.3f}, worst {table['ARI'].min():.3f}"
        )
        print(table.to_string(index=False))


if __name__ == "__main__":
    main()

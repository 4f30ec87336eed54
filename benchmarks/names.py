"""Cluster names: the weight of a name's likeness to other clusters (`names.Meaning.contrast`) and the shortlist,
chosen leave-one-dataset-out.

Each set of benchmarks/harness.py (BANKING77, HWU64, DSTC11 development, MultiDoGO conversations) is clustered once
as benchmarks/taxonomy.py does (the same cache with $TOUCHLESS_BENCH_CACHE); its clusters are then described with
every pair of contrast and shortlist (pipeline/model/describe.py). A name is right when, of a cluster at least 70%
one intent, the intent's own name is the nearest of all intent names to it (MiniLM cosine; benchmarks/taxonomy.py's
`name_score`). For each set, the pair with the best mean on the other sets is
scored on it. The shipped values are `describe.name_contrast` and `describe.name_shortlist` (configs/default.yaml).

    python -m benchmarks.names
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import pandas as pd

from benchmarks.harness import SETS, cached_base, config, load_set, prepare_base, scratch
from benchmarks.taxonomy import name_score

CONTRASTS = (0.0, 0.25, 0.5, 0.75, 1.0)
SHORTLISTS = (5, 10)


def names_with(base, contrast: float, shortlist: int) -> pd.DataFrame:
    """cluster_id, label: the base's clusters described (describe.py) with these name settings."""
    from pipeline.model.describe import TermCounts, describe_clusters
    from pipeline.model.embed import embedder

    cfg = config({"describe": {"name_contrast": contrast, "name_shortlist": shortlist}})
    contacts = base.contacts.iloc[base.usable]
    return describe_clusters(
        contacts["text"].tolist(),
        TermCounts.of(contacts["terms"].tolist(), base.clustering.labels),
        base.vectors,
        base.clustering.labels,
        cfg.describe,
        embedder(cfg.embedding).encode,
    )[["cluster_id", "label"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", default=",".join(SETS))
    args = parser.parse_args()
    print(f"reproduce: python -m benchmarks.names --sets {args.sets}", flush=True)
    import torch

    torch.set_num_threads(1)
    cfg = config()
    scores = {}
    for name in args.sets.split(","):
        labelled = load_set(name)
        with scratch() as tmp:
            base = cached_base(f"taxonomy-{name}-50", lambda d=labelled.data, w=Path(tmp): prepare_base(d, cfg, w))
        truth = labelled.data.set_index("contact_id")["label"]
        contacts = pd.DataFrame(
            {
                "contact_id": base.contacts["contact_id"].iloc[base.usable].to_numpy(),
                "cluster_id": base.clustering.labels,
            }
        )
        contacts["label"] = contacts["contact_id"].map(truth)
        for contrast, shortlist in itertools.product(CONTRASTS, SHORTLISTS):
            right, pure = name_score(contacts, names_with(base, contrast, shortlist), labelled)
            scores[(contrast, shortlist, name)] = right
        print(f"  {name}: {pure} clusters at least 70% one intent", flush=True)
    table = pd.Series(scores).unstack()
    table.index.names = ["contrast", "shortlist"]
    sets = list(table.columns)
    print("\nnames right, every setting (rows) and set (columns):")
    print(table.assign(mean=table.mean(axis=1), worst=table[sets].min(axis=1)).round(3).to_string())
    rows = []
    for held_out in sets:
        others = [s for s in sets if s != held_out]
        pick = table[others].mean(axis=1).idxmax()
        rows.append(
            {"left out": held_out, "chosen on the others": pick, "names right": round(table.loc[pick, held_out], 3)}
        )
    chosen = pd.DataFrame(rows)
    print("\nLeave one dataset out:")
    print(chosen.to_string(index=False))
    print(f"held out: mean {chosen['names right'].mean():.3f}, worst {chosen['names right'].min():.3f}")


if __name__ == "__main__":
    main()

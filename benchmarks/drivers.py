"""Driver recovery: plant known over-represented values in real texts and count what comes back.

    python -m benchmarks.drivers

BANKING77's test set (real texts, 77 intents) gets two simulated dimensions per seed: `app_version` (six values,
uneven) and `region` (five values); for 5 intents chosen at random, a value of one of them is planted in a share of
their contacts (40%, 60% or 80%; the value is rare elsewhere), and the rest is random. The texts are clustered as
discover clusters them and the drivers are found per cluster. A planted driver is recovered when the cluster
holding most of its planted contacts has it; a driver is false when most of its contacts with the value were not
planted (the value is there by chance, not by cause).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmarks.datasets import banking77
from pipeline.config import load_config
from pipeline.model.cluster import cluster_contacts
from pipeline.model.embed import embedder
from pipeline.overtime.drivers import drivers

SEEDS = (1, 2, 3, 4, 5)
VALUES = {
    "app_version": ["5.0", "5.1", "5.2", "5.3", "6.0", "6.1"],
    "region": ["north", "south", "east", "west", "abroad"],
}
BASE = {"app_version": [0.3, 0.3, 0.02, 0.2, 0.15, 0.03], "region": [0.3, 0.3, 0.2, 0.18, 0.02]}


def main() -> None:
    print("reproduce: python -m benchmarks.drivers", flush=True)
    cfg = load_config()
    data = banking77("test")
    vectors = embedder(cfg.embedding).embed(data["text"].tolist()).vectors
    labels = cluster_contacts(vectors, cfg.cluster, cfg.reduce, cfg.seed, data["text"].tolist()).labels
    frame = data.assign(cluster_id=labels, reason_id=None)
    print(f"{len(data):,} texts, {labels.max() + 1} clusters")
    print(f"{'seed':>4s} {'share':>5s} {'planted':>7s} {'found':>5s} {'false':>5s}")
    totals = {"planted": 0, "found": 0, "false": 0, "drivers": 0}
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        planted_rows = []
        planted = np.zeros(len(frame), dtype=bool)
        for column, values in VALUES.items():
            frame[column] = rng.choice(values, len(frame), p=BASE[column])
        for intent in rng.choice(sorted(data["label"].unique()), 5, replace=False):
            column = rng.choice(list(VALUES))
            value = VALUES[column][int(np.argmin(BASE[column]))]  # a value rare elsewhere
            share = rng.choice([0.4, 0.6, 0.8])
            rows = (frame["label"] == intent).to_numpy() & (rng.random(len(frame)) < share)
            frame.loc[rows, column] = value
            planted |= rows
            planted_rows.append((intent, column, value, share, rows))
        found = drivers(frame, list(VALUES), cfg.drivers.false_discovery_rate, cfg.drivers.min_contacts)
        for intent, column, value, share, rows in planted_rows:
            home = pd.Series(labels[rows]).value_counts().index[0]  # the cluster holding most of them
            hit = ((found["cluster_id"] == home) & (found["column"] == column) & (found["value"] == value)).any()
            totals["found"] += int(hit)
            print(f"{seed:4d} {share:5.0%} {intent[:34]:>34s} {column}={value}: {'found' if hit else 'missed'}")
        false = 0
        for r in found.itertuples():
            holding = (labels == r.cluster_id) & (frame[r.column] == r.value).to_numpy()
            false += int(planted[holding].mean() < 0.5)
        totals["planted"] += len(planted_rows)
        totals["false"] += false
        totals["drivers"] += len(found)
        print(f"     seed {seed}: {len(found)} drivers, {false} false")
    print(
        f"\nrecall {totals['found']}/{totals['planted']} ({totals['found'] / totals['planted']:.0%}); "
        f"false drivers {totals['false']} of {totals['drivers']} ({totals['false'] / max(totals['drivers'], 1):.0%})"
    )


if __name__ == "__main__":
    main()

"""Does touchless find what a taxonomy is missing? Seeded scenarios over four labelled sets.

Each set (BANKING77, HWU64, DSTC11 development, MultiDoGO conversations; benchmarks/harness.py) is sampled to at most
50 contacts per intent and clustered once. For each of 5 seeds, a starting taxonomy holds the set's intents as
reasons (three real examples each, drawn from texts outside the sample), except that about 10% of the intents are
left out and about 7% are merged in pairs of the same domain into one reason each (name 'A or b', three examples:
two of one, one of the other) -- the proportions of a 150-reason taxonomy missing 15 and merging 10 pairs.

- a `new_reason` is right when its cluster is at least 70% one left-out intent (recall: left-out intents found);
  `new_reachable` is the share of left-out intents that have such a cluster at all, proposed or not: the recall the
  proposals could reach on this clustering (an intent mixed into another reason's cluster cannot be proposed);
- a `split` is right when its reason is a merged pair and its parts are mostly the pair's two intents;
- `merge`, `retire`, `secondary` proposals are wrong here: nothing of the kind was planted;
- assignment: contacts of reasons that exist given their own reason; contacts of left-out intents given a reason
  anyway (they should stay unassigned);
- names: of the clusters at least 70% one intent, the share whose label is nearer (MiniLM cosine) to that intent's
  name than to any other intent's name;
- the clustering: its clusters, NMI and ARI against the intents (usable contacts, noise as one more cluster). With
  the scenario's taxonomy, discover finds at least as many clusters as the reasons the contacts are read as
  (`cluster.taxonomy_floor`); `--override '{"cluster":{"taxonomy_floor":false}}'` shows the clustering without.

Prints, per set, the mean and the worst over the seeds, the reliability of the proposals' confidence, and writes every
judged proposal to benchmarks/out/taxonomy-proposals.parquet. The scores move when nothing but the vectors' rounding
does (bf16 against fp32: up to 0.10 in a set's new-reason recall, 0.05 in its names, over 5 seeds); `--jitter N`
clusters and scores every scenario again on N seeded jitters of the contacts' vectors (`harness.jittered`; the
reasons' vectors, and those the refresh embeds again for its merge and retire tests, stay as computed) and prints
each metric's band over the runs: a change that moves a metric less than its band is not shown to help.

    python -m benchmarks.taxonomy                       # all sets
    python -m benchmarks.taxonomy --sets banking77,dstc11 --seeds 3
    python -m benchmarks.taxonomy --jitter 2          # and each metric's band over 2 more runs on jittered vectors
    python -m benchmarks.taxonomy --sets mix141         # BANKING77 + HWU64: 141 reasons, ~7,000 contacts (a
                                                        # stand-in for a 150-reason multi-domain set; not in the default)
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from benchmarks.harness import (
    SETS,
    LabelledSet,
    cached_base,
    config,
    load_set,
    prepare_base,
    readable,
    scratch,
    with_taxonomy,
)
from pipeline.config import Config
from pipeline.taxonomy.tree import slug

OUT = Path(__file__).resolve().parent / "out"
MISSING_SHARE, MERGED_SHARE = 0.10, 0.067
BINS = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0001]


def scenario(labelled: LabelledSet, seed: int) -> tuple[list[str], list[tuple[str, str]]]:
    """(left-out intents, merged pairs of the same domain), drawn with `seed`."""
    rng = np.random.default_rng(seed)
    intents = sorted(labelled.names)
    domain = labelled.data.groupby("label")["domain"].first().to_dict()
    n_missing = max(2, round(MISSING_SHARE * len(intents)))
    n_pairs = max(1, round(MERGED_SHARE * len(intents)))
    pairs, used = [], set()
    for i in rng.permutation(len(intents)):
        a = intents[i]
        if a in used or len(pairs) == n_pairs:
            continue
        mates = [b for b in intents if b != a and b not in used and domain[b] == domain[a]]
        if mates:
            b = mates[rng.integers(len(mates))]
            pairs.append(tuple(sorted((a, b))))
            used |= {a, b}
    rest = [i for i in intents if i not in used]
    missing = sorted(rng.choice(rest, n_missing, replace=False).tolist())
    return missing, pairs


def reason_id(intent: str, pairs: list[tuple[str, str]]) -> str:
    for a, b in pairs:
        if intent in (a, b):
            return slug(f"{a} or {b}")
    return slug(intent)


def build_taxonomy(labelled: LabelledSet, missing: list[str], pairs: list[tuple[str, str]], seed: int) -> dict:
    rng = np.random.default_rng(seed + 1000)

    def examples(intent: str, n: int) -> list[str]:
        pool = labelled.pool.loc[labelled.pool["label"] == intent, "text"].tolist()
        if len(pool) < n:
            pool = labelled.data.loc[labelled.data["label"] == intent, "text"].tolist()
        return [pool[i] for i in rng.choice(len(pool), n, replace=False)]

    merged = {a: b for a, b in pairs}
    inside = {b for _, b in pairs}
    reasons = []
    for intent in sorted(labelled.names):
        if intent in missing or intent in inside:
            continue
        name, description = labelled.names[intent]
        if intent in merged:
            other = merged[intent]
            name2, description2 = labelled.names[other]
            reasons.append(
                {
                    "id": reason_id(intent, pairs),
                    "name": f"{name} or {name2.lower()}",
                    "description": f"{description} {description2}".strip(),
                    "examples": examples(intent, 2) + examples(other, 1),
                }
            )
        else:
            reasons.append(
                {
                    "id": reason_id(intent, pairs),
                    "name": name,
                    "description": description,
                    "examples": examples(intent, 3),
                }
            )
    return {"version": 1, "reasons": reasons}


def judge(
    contacts: pd.DataFrame, proposals: list, missing: list[str], pairs: list[tuple[str, str]], min_contacts: int = 10
) -> dict:
    """The scores above; `min_contacts`: the smallest cluster that makes a proposal (a smaller one is not reachable)."""
    clustered = contacts[contacts["cluster_id"] >= 0]
    purity = clustered.groupby("cluster_id")["label"].agg(
        lambda v: (v.value_counts().index[0], v.value_counts().iloc[0] / len(v))
    )
    pair_of = {reason_id(a, pairs): (a, b) for a, b in pairs}
    found_missing, found_pairs, rows = set(), set(), []
    for p in proposals:
        right = False
        if p.kind == "new_reason":
            intent, share = purity[p.cluster_ids[0]]
            right = intent in missing and share >= 0.7
            if right:
                found_missing.add(intent)
        elif p.kind == "split" and p.reason_ids[0] in pair_of:
            majors = {purity[c][0] for c in p.cluster_ids}
            right = set(pair_of[p.reason_ids[0]]) <= majors
            if right:
                found_pairs.add(p.reason_ids[0])
        rows.append(
            {
                "kind": p.kind,
                "right": right,
                "confidence": p.confidence,
                "contacts": p.contacts,
                "cluster_ids": list(p.cluster_ids),
                "reason_ids": list(p.reason_ids),
                "evidence": p.evidence,
            }
        )
    judged = pd.DataFrame(
        rows, columns=["kind", "right", "confidence", "contacts", "cluster_ids", "reason_ids", "evidence"]
    )
    sizes = clustered["cluster_id"].value_counts()
    reachable = {
        intent
        for c, (intent, share) in purity.items()
        if intent in missing and share >= 0.7 and sizes[c] >= min_contacts
    }
    truth = contacts["label"].map(lambda i: None if i in missing else reason_id(i, pairs))
    exists = truth.notna()
    return {
        "judged": judged,
        "new_recall": len(found_missing) / len(missing),
        "new_reachable": len(reachable) / len(missing),
        "new_precision": judged.loc[judged["kind"] == "new_reason", "right"].mean()
        if (judged["kind"] == "new_reason").any()
        else float("nan"),
        "split_recall": len(found_pairs) / max(len(pairs), 1),
        "wrong": float((~judged["right"]).mean()) if len(judged) else 0.0,
        "proposals": len(judged),
        "merge": int((judged["kind"] == "merge").sum()),
        "retire": int((judged["kind"] == "retire").sum()),
        "accuracy": float((contacts.loc[exists, "reason_id"] == truth[exists]).mean()),
        "missing_assigned": float(contacts.loc[~exists, "reason_id"].notna().mean()) if (~exists).any() else 0.0,
    }


def name_score(contacts: pd.DataFrame, descriptions: pd.DataFrame, labelled: LabelledSet) -> tuple[float, int]:
    """Share of clusters >= 70% one intent whose label is nearest (MiniLM cosine) to that intent's own name."""
    from pipeline.model.embed import embedder

    cfg = config()
    clustered = contacts[contacts["cluster_id"] >= 0]
    intents = sorted(labelled.names)
    names = [readable(i.split("_", 1)[1] if labelled.name == "multidogo" else i) for i in intents]
    pure = []
    for c, v in clustered.groupby("cluster_id")["label"]:
        top = v.value_counts()
        if top.iloc[0] / len(v) >= 0.7:
            pure.append((int(c), top.index[0]))
    if not pure:
        return float("nan"), 0
    labels = descriptions.set_index("cluster_id")["label"]
    model = embedder(cfg.embedding)
    name_vectors = model.embed(names).vectors
    label_vectors = model.embed([str(labels[c]) for c, _ in pure]).vectors
    nearest = (label_vectors @ name_vectors.T).argmax(axis=1)
    return float(np.mean([intents[n] == intent for n, (_, intent) in zip(nearest, pure)])), len(pure)


def reliability(judged: pd.DataFrame) -> pd.DataFrame:
    bins = pd.cut(judged["confidence"], BINS, right=False, labels=["0-0.2", "0.2-0.4", "0.4-0.6", "0.6-0.8", ">=0.8"])
    table = judged.groupby(bins, observed=False)["right"].agg(proposals="size", right="sum")
    table["precision"] = (table["right"] / table["proposals"].replace(0, np.nan)).round(2)
    return table


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--per-label", type=int, default=50)
    parser.add_argument("--override", default=None, help="config overrides as JSON, to tune a setting")
    parser.add_argument(
        "--jitter",
        type=int,
        default=0,
        metavar="N",
        help="also score N runs on vectors jittered by bf16-sized noise, and print each metric's band over the runs",
    )
    args = parser.parse_args()
    print(
        f"reproduce: python -m benchmarks.taxonomy --sets {args.sets} --seeds {args.seeds}"
        + (f" --per-label {args.per_label}" if args.per_label != 50 else "")
        + (f" --override {shlex.quote(args.override)}" if args.override else "")
        + (f" --jitter {args.jitter}" if args.jitter else ""),
        flush=True,
    )
    import torch

    torch.set_num_threads(1)
    import json

    cfg = config(json.loads(args.override) if args.override else None)
    sets = args.sets.split(",")
    table, judged = score_sets(sets, args.seeds, args.per_label, cfg)
    OUT.mkdir(exist_ok=True)
    judged.to_parquet(OUT / "taxonomy-proposals.parquet")
    print_summary(table, judged)
    if args.jitter:
        jittered_runs = [score_sets(sets, args.seeds, args.per_label, cfg, j)[0] for j in range(1, args.jitter + 1)]
        print_band([table, *jittered_runs])
    sys.stdout.flush()


def score_sets(
    sets: list[str], seeds: int, per_label: int, cfg: Config, jitter: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(a row of scores per set and seed, every judged proposal); with `jitter`, on the contacts' vectors jittered
    with that seed (`harness.jittered`)."""
    rows, judged_all = [], []
    for name in sets:
        labelled = load_set(name, per_label)
        start = time.perf_counter()
        with scratch() as tmp:
            work = Path(tmp)
            truth = labelled.data.set_index("contact_id")["label"]
            clusters, pure = [], []
            for seed in range(seeds):
                missing, pairs = scenario(labelled, seed)
                taxonomy = build_taxonomy(labelled, missing, pairs, seed)
                key = f"taxonomy-{name}-{per_label}-{seed}" + ("" if cfg.cluster.taxonomy_floor else "-nofloor")
                base = cached_base(  # clustered as discover does with this taxonomy (`cluster.taxonomy_floor`)
                    key + (f"-jitter{jitter}" if jitter else ""),
                    lambda w=work, d=labelled.data, t=taxonomy: prepare_base(d, cfg, w, taxonomy=t, jitter=jitter),
                )
                refreshed = with_taxonomy(base, taxonomy, cfg, work)
                contacts = refreshed.contacts.assign(label=refreshed.contacts["contact_id"].map(truth))
                names, n_pure = name_score(contacts, base.descriptions, labelled)
                found = base.clustering.labels  # usable contacts; noise (-1) counts as one more cluster
                known = base.contacts["contact_id"].iloc[base.usable].map(truth).to_numpy()
                clusters.append(len(base.model.ids))
                pure.append(n_pure)
                result = judge(
                    contacts, refreshed.proposals, missing, pairs, cfg.taxonomy.proposals.min_cluster_contacts
                )
                judged_all.append(result.pop("judged").assign(set=name, seed=seed))
                rows.append(
                    {
                        "set": name,
                        "seed": seed,
                        "reasons": len(labelled.names),
                        "missing": len(missing),
                        "pairs": len(pairs),
                        "contacts": len(labelled.data),
                        "names": names,
                        "clusters": len(base.model.ids),
                        "nmi": normalized_mutual_info_score(known, found),
                        "ari": adjusted_rand_score(known, found),
                        **result,
                    }
                )
        named = [r["names"] for r in rows if r["set"] == name]
        print(
            f"  {name}{f' (jitter {jitter})' if jitter else ''}: {len(labelled.data):,} contacts, "
            f"{min(clusters)}-{max(clusters)} clusters over the seeds, {time.perf_counter() - start:.0f} s; names "
            f"right in {np.mean(named):.0%} of {min(pure)}-{max(pure)} pure clusters",
            flush=True,
        )
    return pd.DataFrame(rows), pd.concat(judged_all, ignore_index=True)


def print_band(runs: list[pd.DataFrame]) -> None:
    """Each metric's mean over the seeds, lowest to highest over the runs (the first on the vectors as computed, the
    others jittered): a difference between two versions of the code inside this band is not evidence."""
    print(f"\nper set: mean over seeds, lowest-highest over {len(runs)} runs (1 as computed, {len(runs) - 1} jittered)")
    means = pd.concat([run.groupby("set", sort=False)[list(METRICS)].mean() for run in runs])
    print(means.groupby(level=0, sort=False).agg(lambda v: f"{v.min():.2f}-{v.max():.2f}").to_string())


METRICS = {  # metric -> worse is lower (True) or higher (False)
    "new_recall": True,
    "new_reachable": True,
    "new_precision": True,
    "split_recall": True,
    "wrong": False,
    "merge": False,
    "retire": False,
    "missing_assigned": False,
    "accuracy": True,
    "names": True,
    "nmi": True,
    "ari": True,
}


def print_summary(table: pd.DataFrame, judged: pd.DataFrame) -> None:
    pd.set_option("display.width", 200)
    print("\nper set: mean over seeds (worst seed)")
    out = {}
    for name, group in table.groupby("set", sort=False):
        row = {}
        for metric, low_is_bad in METRICS.items():
            worst = group[metric].min() if low_is_bad else group[metric].max()
            row[metric] = f"{group[metric].mean():.2f} ({worst:.2f})"
        row["proposals"] = f"{group['proposals'].mean():.1f}"
        out[name] = row
    print(pd.DataFrame(out).T.to_string())
    print("\nper seed:")
    print(table.drop(columns=["names"]).round(2).to_string(index=False))
    print("\nreliability of confidence, all sets (a proposal is right as judged above):")
    print(reliability(judged).to_string())
    for name, group in judged.groupby("set", sort=False):
        print(f"\nreliability, {name}:")
        print(reliability(group).to_string())
    print("\nproposals by kind, all sets:")
    kinds = judged.groupby("kind")["right"].agg(proposals="size", right="sum")
    print(kinds.to_string())


if __name__ == "__main__":
    main()

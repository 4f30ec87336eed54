"""Over time, on a simulated timeline over BANKING77 (real texts; times, customers, repeat contacts and business
volume simulated by benchmarks/simulate.py): 12 weeks, ~13,000 contacts, 5 intents that appear only in the last
two weeks, a taxonomy of the other 72 intents.

Prints:
- the ranking's top 10 against the 10 intents with the most total touches (overlap);
- which of the 5 new intents are flagged new or growing, and how many others are;
- the share of unchanged clusters that keep their id when discover runs again with one more week of data;
- assign's cost: 1,000 new contacts onto a 13,000-contact run and onto a 1,300-contact run, and a full discover,
  in one warm process (like a Prefect worker) and in fresh processes (like a cron job).

    python -m benchmarks.over_time
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

import flows  # noqa: F401  (Prefect settings)
from benchmarks.banking77_reasons import REASONS
from benchmarks.datasets import banking77
from pipeline.demo.simulate import simulate
from pipeline.taxonomy.tree import slug

NEW = ("apple_pay_or_google_pay", "card_swallowed", "lost_or_stolen_phone", "age_limit", "country_support")
ROOT = Path(__file__).resolve().parents[1]


def taxonomy(texts: pd.DataFrame) -> dict:
    rng = np.random.default_rng(3)
    reasons = []
    for intent, (name, description) in sorted(REASONS.items()):
        if intent in NEW:
            continue
        pool = texts.loc[texts["intent"] == intent, "text"].tolist()
        reasons.append(
            {
                "id": slug(intent),
                "name": name,
                "description": description,
                "examples": [pool[i] for i in rng.choice(len(pool), 3, replace=False)],
            }
        )
    return {"version": 1, "reasons": reasons}


def majority(contacts: pd.DataFrame) -> pd.Series:
    clustered = contacts[contacts["cluster_id"] >= 0]
    return clustered.groupby("cluster_id")["intent"].agg(lambda v: v.value_counts().index[0])


def ranking_check(out: Path, truth: pd.DataFrame) -> None:
    contacts = pd.read_parquet(out / "contacts.parquet").merge(truth[["contact_id", "intent"]], on="contact_id")
    ranking = pd.read_parquet(out / "ranking.parquet")
    by_cluster = majority(contacts)
    intent_of = {slug(i): i for i in REASONS}
    ranked = [intent_of.get(r.reason_id) if r.reason_id else by_cluster.get(r.cluster_id) for r in ranking.itertuples()]
    top_true = truth["intent"].value_counts().head(10).index.tolist()
    top_ranked = list(dict.fromkeys(ranked))[:10]
    print(
        f"\nranking: {len(set(top_true) & set(top_ranked))} of the 10 intents with the most total touches are in "
        f"the ranking's top 10"
    )
    print("  true top 10:  " + ", ".join(top_true))
    print("  ranked top 10: " + ", ".join(str(i) for i in top_ranked))

    clusters = pd.read_parquet(out / "clusters.parquet").set_index("cluster_id")
    reasons = pd.read_parquet(out / "reasons.parquet")
    flagged_clusters = clusters[clusters["trend"].isin(["new", "growing"])]
    found = {i: sorted(c for c in flagged_clusters.index if by_cluster.get(c) == i) for i in NEW}
    others = [c for c in flagged_clusters.index if by_cluster.get(c) not in NEW]
    other_reasons = reasons[reasons["trend"].isin(["new", "growing"])]["reason_id"].tolist()
    detail = ", ".join(f"{i}: {clusters.loc[v, 'trend'].tolist() if v else '-'}" for i, v in found.items())
    print(f"trends: {sum(bool(v) for v in found.values())} of {len(NEW)} new intents flagged new or growing ({detail})")
    clustered = contacts[contacts["cluster_id"] >= 0]
    home = {
        i: int(clustered.loc[clustered["intent"] == i, "cluster_id"].value_counts().index[0])
        for i in NEW
        if (clustered["intent"] == i).any()
    }  # the cluster holding most of the intent's contacts
    held = ", ".join(
        f"{i}: cluster {c} ({clusters.loc[c, 'trend']}, {(clustered['cluster_id'] == c).sum()} contacts, "
        f"{(clustered.loc[clustered['cluster_id'] == c, 'intent'] == i).mean():.0%} the intent)"
        for i, c in home.items()
    )
    print(
        f"  the cluster holding most of each new intent: "
        f"{sum(clusters.loc[c, 'trend'] in ('new', 'growing') for c in home.values())} of {len(NEW)} flagged ({held})"
    )
    print(
        f"  flagged new or growing otherwise: {len(others)} cluster(s) {others}, {len(other_reasons)} reason(s) "
        f"{other_reasons}"
    )


def stable_ids_check(before: pd.DataFrame, after: pd.DataFrame) -> None:
    both = before.merge(after, on="contact_id", suffixes=("_before", "_after"))
    both = both[both["cluster_id_before"] >= 0]
    unchanged, kept = 0, 0
    for old, group in both.groupby("cluster_id_before"):
        top = group["cluster_id_after"].value_counts()
        if top.iloc[0] / len(group) >= 0.9:  # its contacts stayed together: an unchanged cluster
            unchanged += 1
            kept += int(top.index[0] == old)
    print(
        f"\nstable ids: {kept} of {unchanged} unchanged clusters kept their id ({kept / max(unchanged, 1):.1%}); "
        f"{both['cluster_id_before'].nunique()} clusters before"
    )


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def cli(*args: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "flows.cli", *args], check=True, cwd=ROOT, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    print("reproduce: python -m benchmarks.over_time", flush=True)
    from flows.assign import assign
    from flows.discover import discover

    texts = banking77("all").rename(columns={"label": "intent"})
    timeline = simulate(texts, weeks=12, contacts=13_000, new_intents=NEW, seed=11)
    contacts = timeline.contacts
    when = pd.to_datetime(contacts["created_at"])
    print(
        f"simulated {len(contacts):,} contacts, {contacts['customer_id'].nunique():,} customers, "
        f"{when.min():%Y-%m-%d} to {when.max():%Y-%m-%d}"
    )
    with tempfile.TemporaryDirectory(prefix="touchless-time-") as tmp:
        work = Path(tmp)
        (work / "taxonomy.yaml").write_text(yaml.safe_dump(taxonomy(texts), sort_keys=False))
        timeline.volume.to_csv(work / "volume.csv", index=False)
        last_week = when > when.max() - pd.Timedelta(days=7)
        contacts[~last_week].to_csv(work / "weeks1-11.csv", index=False)
        contacts.to_csv(work / "weeks1-12.csv", index=False)
        common = {
            "volume_path": str(work / "volume.csv"),
            "overrides": {"taxonomy": {"path": str(work / "taxonomy.yaml")}},
        }

        discover(input_path=str(work / "weeks1-11.csv"), out_dir=str(work / "run"), **common)
        before = pd.read_parquet(work / "run" / "contacts.parquet", columns=["contact_id", "cluster_id"])
        full = timed(lambda: discover(input_path=str(work / "weeks1-12.csv"), out_dir=str(work / "run"), **common))
        after = pd.read_parquet(work / "run" / "contacts.parquet", columns=["contact_id", "cluster_id"])
        ranking_check(work / "run", contacts)
        stable_ids_check(before, after)

        # a day of 1,000 new contacts (texts of the timeline, new ids) onto a large and a small run
        day = contacts.sample(1000, random_state=1).assign(contact_id=lambda f: "new-" + f["contact_id"])
        day.to_csv(work / "day.csv", index=False)
        contacts.head(1300).to_csv(work / "small.csv", index=False)
        discover(input_path=str(work / "small.csv"), out_dir=str(work / "small"), **common)
        for name in ("run", "small"):
            shutil.copytree(work / name, work / f"{name}-copy")
        warm_big = timed(lambda: assign(input_path=str(work / "day.csv"), out_dir=str(work / "run")))
        warm_small = timed(lambda: assign(input_path=str(work / "day.csv"), out_dir=str(work / "small")))
        cold_big = cli("assign", str(work / "day.csv"), "--out", str(work / "run-copy"))
        cold_small = cli("assign", str(work / "day.csv"), "--out", str(work / "small-copy"))
        cold_full = cli(
            "discover",
            str(work / "weeks1-12.csv"),
            "--out",
            str(work / "cold-full"),
            "--taxonomy",
            str(work / "taxonomy.yaml"),
            "--volume",
            str(work / "volume.csv"),
        )
        print("\nassign 1,000 new contacts (embeddings of the day's texts cached in both; times in seconds):")
        print(f"  {'':34s} {'warm process':>12s} {'fresh process':>14s}")
        print(f"  {'onto a 13,000-contact run':34s} {warm_big:12.1f} {cold_big:14.1f}")
        print(f"  {'onto a 1,300-contact run':34s} {warm_small:12.1f} {cold_small:14.1f}")
        print(f"  {'full discover of all contacts':34s} {full:12.1f} {cold_full:14.1f}")
        print(
            f"  big/small: {warm_big / warm_small:.2f} warm, {cold_big / cold_small:.2f} fresh; "
            f"assign/discover: {warm_big / full:.2f} warm, {cold_big / cold_full:.2f} fresh"
        )


if __name__ == "__main__":
    main()

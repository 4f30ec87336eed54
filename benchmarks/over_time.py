"""Emerging reasons over time: seeded timelines over four labelled sets, 5 seeds each.

Each set (BANKING77, HWU64, DSTC11 development, MultiDoGO conversations; benchmarks/harness.py) gets 12 simulated
weeks (THE TEXTS ARE REAL; TIMES, CUSTOMERS, FOLLOW-UPS AND BUSINESS VOLUME ARE SIMULATED here): business volume
that grows 40%, a contact rate per order that falls 20%, the set's intents in a fixed mix, and 4 intents (drawn with
the seed) born between 10 and 28 days before the end, about 30 contacts each from their birth on; a taxonomy holds
the other intents. One discover (discover's own steps, benchmarks/harness.py) over the whole timeline must flag each
newborn as new or growing, as its own cluster (a flagged cluster whose majority is that intent), and flag little else.

Prints per set the mean and the worst over the seeds of: newborns flagged (own cluster), newborns whose contacts'
home cluster is flagged, flagged again (a newborn's flagged clusters past its first: one reason cut in parts; worst
with `--newborn-contacts 90`), false flags (flagged clusters whose majority is an old intent, and flagged reasons: every
reason of the taxonomy is an old intent; of the clusters, those that are some newborn's home are shown apart: the
newborn's contacts made them grow, though they stay mostly old), and how many `new_reason` proposals are right
(their cluster at least 70% one newborn). `--no-split` leaves out the split of recent topics out of older clusters
(pipeline/overtime/emerging.py, as discover does unless `trends.split_new_topics` is off).

    python -m benchmarks.over_time
    python -m benchmarks.over_time --sets dstc11 --seeds 2
    python -m benchmarks.over_time --newborn-contacts 90   # larger newborns: is one cut into several clusters?
    python -m benchmarks.over_time --legacy      # the earlier BANKING77 timeline: ranking, stable ids, assign cost
"""

from __future__ import annotations

import argparse
import json
import shlex
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
from benchmarks.harness import SETS, LabelledSet, config, load_set, prepare_base, scratch, with_taxonomy
from pipeline.demo.simulate import simulate
from pipeline.taxonomy.tree import slug

N_NEW, WEEKS, NEWBORN_CONTACTS = 4, 12, 30
CONTACTS = {"banking77": 4000, "hwu64": 4000, "dstc11": 2500, "multidogo": 3000}


def timeline(
    labelled: LabelledSet, seed: int, contacts: int, newborn: int = NEWBORN_CONTACTS
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(contacts, daily volume, {newborn intent: birth day}); about `newborn` contacts of each newborn intent, of
    intents with at least that many distinct texts. Simulated times over real texts."""
    rng = np.random.default_rng(seed)
    pool = distinct_texts(labelled)
    intents = sorted(pool)
    eligible = [i for i in intents if len(pool[i]) >= newborn]
    new = sorted(rng.choice(eligible, N_NEW, replace=False).tolist())
    old = [i for i in intents if i not in new]
    days = pd.date_range("2026-08-31", periods=WEEKS * 7, freq="D", tz="UTC")
    growth = np.linspace(1.0, 1.4, len(days))
    weekday = np.where(days.day_of_week >= 5, 0.7, 1.0)
    orders = np.round(10_000 * growth * weekday * rng.normal(1.0, 0.03, len(days)))
    rate = np.linspace(1.0, 0.8, len(days))
    per_order = contacts / 1.2 / float((orders * rate).sum())
    mix = rng.dirichlet(np.full(len(old), 2.0))
    birth = {i: len(days) - int(rng.integers(10, 29)) for i in new}
    rows = []

    def add(intent: str, when: pd.Timestamp, customer: str) -> None:
        choices = pool[intent]
        rows.append(
            {
                "text": choices[rng.integers(len(choices))],
                "created_at": when,
                "customer_id": customer,
                "ticket_id": f"T{len(rows):07d}",
                "channel": "chat",
                "handle_time_s": float(np.round(rng.lognormal(5.5, 0.5))),
                "intent": intent,
            }
        )

    def customer() -> str:
        return f"K{int(rng.integers(contacts)):06d}"

    for d, day in enumerate(days):
        for _ in range(rng.poisson(orders[d] * rate[d] * per_order)):
            intent = old[rng.choice(len(old), p=mix)]
            when = day + pd.Timedelta(seconds=int(rng.integers(8 * 3600, 20 * 3600)))
            who = customer()
            add(intent, when, who)
            if rng.random() < 0.2 and when + pd.Timedelta(days=2) < days[-1]:
                add(intent, when + pd.Timedelta(hours=float(rng.exponential(24))), who)
        for intent, b in birth.items():
            if d >= b:
                for _ in range(rng.poisson(newborn / (len(days) - b))):
                    add(intent, day + pd.Timedelta(seconds=int(rng.integers(8 * 3600, 20 * 3600))), customer())
    frame = pd.DataFrame(rows).sort_values("created_at", kind="stable").reset_index(drop=True)
    frame.insert(0, "contact_id", [f"S{seed}-{i:06d}" for i in range(1, len(frame) + 1)])
    frame["created_at"] = frame["created_at"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    volume = pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "volume": orders.astype(int)})
    return frame, volume, {i: str(days[b].date()) for i, b in birth.items()}


def distinct_texts(labelled: LabelledSet) -> dict[str, list[str]]:
    """Each intent's distinct texts."""
    texts = pd.concat([labelled.data, labelled.pool], ignore_index=True)
    return {i: g["text"].drop_duplicates().tolist() for i, g in texts.groupby("label")}


def taxonomy_of(labelled: LabelledSet, old: list[str], seed: int) -> dict:
    rng = np.random.default_rng(seed + 2000)
    texts = pd.concat([labelled.pool, labelled.data], ignore_index=True)
    reasons = []
    for intent in old:
        reasons.append(reason(intent, *labelled.names[intent], texts.loc[texts["label"] == intent, "text"], rng))
    return {"version": 1, "reasons": reasons}


def reason(intent: str, name: str, description: str, texts: pd.Series, rng: np.random.Generator) -> dict:
    """A taxonomy reason for an intent, with three of its real texts as examples."""
    pool = texts.tolist()
    examples = [pool[i] for i in rng.choice(len(pool), 3, replace=False)]
    return {"id": slug(intent), "name": name, "description": description, "examples": examples}


def judge(contacts: pd.DataFrame, refreshed, new: list[str]) -> dict:
    clustered = contacts[contacts["cluster_id"] >= 0]
    majority = clustered.groupby("cluster_id")["intent"].agg(lambda v: v.value_counts().index[0])
    trend = refreshed.time.cluster_trends["trend"]
    flagged = [int(c) for c in trend.index if trend[c] in ("new", "growing")]
    own = {i: [c for c in flagged if majority.get(c) == i] for i in new}
    home = {}
    for i in new:
        held = clustered.loc[clustered["intent"] == i, "cluster_id"].value_counts()
        home[i] = int(held.index[0]) if len(held) else None
    purity = clustered.groupby("cluster_id")["intent"].agg(lambda v: v.value_counts().iloc[0] / len(v))
    proposed = [p.cluster_ids[0] for p in refreshed.proposals if p.kind == "new_reason"]
    right = [c for c in proposed if majority.get(c) in new and purity.get(c, 0.0) >= 0.7]
    reason_trend = refreshed.time.reason_trends["trend"]
    false_clusters = [c for c in flagged if majority.get(c) not in new]
    homes = {h for h in home.values() if h is not None}
    false_reasons = [r for r in reason_trend.index if reason_trend[r] in ("new", "growing")]
    return {
        "flagged_own": sum(bool(v) for v in own.values()) / len(new),
        "flagged_home": sum(home[i] is not None and trend.get(home[i]) in ("new", "growing") for i in new) / len(new),
        "flagged_twice": sum(max(len(v) - 1, 0) for v in own.values()),
        "false_clusters": len(false_clusters),
        "false_homes": len(set(false_clusters) & homes),
        "false_reasons": len(false_reasons),
        "false_flags": len(false_clusters) + len(false_reasons),
        "new_reasons": len(proposed),
        "new_reasons_right": len(right),
        "detail": "; ".join(
            f"{i}: {'flagged ' + str(own[i]) if own[i] else 'home ' + str(home[i]) + ' ' + str(trend.get(home[i]))}"
            for i in new
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--no-split", action="store_true")
    parser.add_argument(
        "--newborn-contacts", type=int, default=NEWBORN_CONTACTS, help="contacts of each newborn intent (30)"
    )
    parser.add_argument("--legacy", action="store_true")
    parser.add_argument("--override", default=None, help="config overrides as JSON, to tune a setting")
    args = parser.parse_args()
    if args.legacy:
        if args.override or args.newborn_contacts != NEWBORN_CONTACTS:
            parser.error(
                "--legacy runs the earlier timeline with the shipped config: no --override, --newborn-contacts"
            )
        return legacy_main()
    print(
        f"reproduce: python -m benchmarks.over_time --sets {args.sets} --seeds {args.seeds}"
        + (" --no-split" if args.no_split else "")
        + (f" --newborn-contacts {args.newborn_contacts}" if args.newborn_contacts != NEWBORN_CONTACTS else "")
        + (f" --override {shlex.quote(args.override)}" if args.override else ""),
        flush=True,
    )
    import torch

    torch.set_num_threads(1)
    overrides = json.loads(args.override) if args.override else {}
    if args.no_split:
        overrides = {**overrides, "trends": {**overrides.get("trends", {}), "split_new_topics": False}}
    cfg = config(overrides or None)
    rows = []
    for name in args.sets.split(","):
        labelled = load_set(name, per_label=10**6)
        if sum(len(t) >= args.newborn_contacts for t in distinct_texts(labelled).values()) < N_NEW:
            print(f"  {name}: skipped, fewer than {N_NEW} intents have {args.newborn_contacts} distinct texts")
            continue
        for seed in range(args.seeds):
            start = time.perf_counter()
            frame, volume, birth = timeline(labelled, seed, CONTACTS[name], args.newborn_contacts)
            new = sorted(birth)
            old = sorted(i for i in labelled.names if i not in birth)
            taxonomy = taxonomy_of(labelled, old, seed)
            with scratch() as tmp:
                work = Path(tmp)
                base = prepare_base(frame, cfg, work, volume, taxonomy)
                refreshed = with_taxonomy(base, taxonomy, cfg, work)
            contacts = refreshed.contacts.merge(frame[["contact_id", "intent"]], on="contact_id")
            result = judge(contacts, refreshed, new)
            sizes = frame["intent"].value_counts()
            rows.append({"set": name, "seed": seed, "contacts": len(frame), **result})
            print(
                f"  {name} seed {seed}: {len(frame):,} contacts, {len(base.model.ids)} clusters, "
                f"{time.perf_counter() - start:.0f} s; born "
                + ", ".join(f"{i} {birth[i]} ({sizes[i]})" for i in new)
                + f"\n    {result['detail']}",
                flush=True,
            )
    if not rows:
        sys.exit(f"no set has {N_NEW} intents of {args.newborn_contacts} distinct texts: nothing was measured")
    table = pd.DataFrame(rows)
    print("\nper set: mean over seeds (worst seed)")
    out = {}
    for name, group in table.groupby("set", sort=False):
        out[name] = {
            "newborns flagged (own cluster)": f"{group['flagged_own'].mean():.2f} ({group['flagged_own'].min():.2f})",
            "home cluster flagged": f"{group['flagged_home'].mean():.2f} ({group['flagged_home'].min():.2f})",
            "flagged again": f"{group['flagged_twice'].mean():.1f} ({group['flagged_twice'].max()})",
            "false flags": f"{group['false_flags'].mean():.1f} ({group['false_flags'].max()})",
            "of which clusters": f"{group['false_clusters'].mean():.1f} ({group['false_clusters'].max()})",
            "(newborns' homes)": f"{group['false_homes'].mean():.1f} ({group['false_homes'].max()})",
            "of which reasons": f"{group['false_reasons'].mean():.1f} ({group['false_reasons'].max()})",
            "new_reason proposals right": f"{group['new_reasons_right'].sum()} of {group['new_reasons'].sum()}",
        }
    pd.set_option("display.width", 200)
    print(pd.DataFrame(out).T.to_string())
    print(table.drop(columns=["detail"]).round(2).to_string(index=False))
    sys.stdout.flush()


NEW = ("apple_pay_or_google_pay", "card_swallowed", "lost_or_stolen_phone", "age_limit", "country_support")
ROOT = Path(__file__).resolve().parents[1]


def taxonomy(texts: pd.DataFrame) -> dict:
    rng = np.random.default_rng(3)
    reasons = []
    for intent, (name, description) in sorted(REASONS.items()):
        if intent in NEW:
            continue
        reasons.append(reason(intent, name, description, texts.loc[texts["intent"] == intent, "text"], rng))
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
    subprocess.run([sys.executable, "-m", "flows", *args], check=True, cwd=ROOT, capture_output=True)
    return time.perf_counter() - start


def legacy_main() -> None:
    print("reproduce: python -m benchmarks.over_time --legacy", flush=True)
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

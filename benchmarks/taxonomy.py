"""Does touchless find what a taxonomy is missing? A seeded scenario over all 13,083 BANKING77 texts.

The starting taxonomy holds BANKING77's intents as reasons (names and descriptions written by hand in
banking77_reasons.py, three real examples each from the train split), except that 10 intents are left out and
10 pairs of intents (drawn with a seed) are merged into one reason each.
One discover run over all texts must bring them back:

- a `new_reason` is right when its cluster is at least 70% one left-out intent (recall: left-out intents found);
- a `split` is right when its reason is a merged pair and its parts are mostly the pair's two intents, one each
  (recall: merged pairs found);
- `merge`, `retire` and `secondary` proposals are wrong here: nothing of the kind was planted;
- assignment accuracy: contacts of reasons that exist, given their own reason (unassigned counts as wrong).

A second run gives each contact an agent-chosen reason (its true reason, with 5% random mistakes and three
planted systematic ones at 35%) to measure the agent-trained classifier and `mislabel` proposals. Agents' reasons
are simulated; the texts are real.

    python -m benchmarks.taxonomy                 # merged pairs drawn at random
    python -m benchmarks.taxonomy --alike-pairs   # merged pairs drawn among the most alike intents (harder)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

import flows  # noqa: F401  (Prefect settings)
from benchmarks.banking77_reasons import REASONS
from benchmarks.datasets import banking77
from pipeline.config import load_config
from pipeline.model.embed import Embedder
from pipeline.taxonomy.tree import slug

SEED = 11
MISSING, MERGED, MISLABELLED = 10, 10, 3


def scenario(data: pd.DataFrame, vectors: np.ndarray, alike: bool) -> tuple[list[str], list[tuple[str, str]]]:
    """(left-out intents, merged pairs). Pairs are drawn at random, or with `alike` among the 60 most alike pairs
    of intents (the harder case: an owner who merged what customers themselves blur)."""
    rng = np.random.default_rng(SEED)
    intents = sorted(REASONS)
    centres = np.stack([vectors[(data["label"] == i).to_numpy()].mean(axis=0) for i in intents])
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    sims = centres @ centres.T
    np.fill_diagonal(sims, -1)
    order = [(i, j) for i, j in zip(*np.unravel_index(np.argsort(-sims, axis=None), sims.shape)) if i < j]
    pairs, used = [], set()
    candidates = order[:60] if alike else order
    for k in rng.permutation(len(candidates)):
        i, j = candidates[k]
        if i not in used and j not in used and len(pairs) < MERGED:
            pairs.append((intents[i], intents[j]))
            used |= {i, j}
    rest = [intents[i] for i in range(len(intents)) if i not in used]
    missing = sorted(rng.choice(rest, MISSING, replace=False).tolist())
    return missing, pairs


def build_taxonomy(data: pd.DataFrame, missing: list[str], pairs: list[tuple[str, str]]) -> dict:
    rng = np.random.default_rng(SEED)
    train = data[data["contact_id"].str.startswith("b77-train")]

    def examples(intent: str, n: int) -> list[str]:
        texts = train.loc[train["label"] == intent, "text"].tolist()
        return [texts[i] for i in rng.choice(len(texts), n, replace=False)]

    merged = {a: b for a, b in pairs}
    inside = {b for _, b in pairs}
    reasons = []
    for intent in sorted(REASONS):
        if intent in missing or intent in inside:
            continue
        name, description = REASONS[intent]
        if intent in merged:
            other = merged[intent]
            name2, description2 = REASONS[other]
            reasons.append(
                {
                    "id": reason_id(intent, pairs),
                    "name": f"{name} or {name2.lower()}",
                    "description": f"{description} {description2}",
                    "examples": examples(intent, 2) + examples(other, 2),
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


def reason_id(intent: str, pairs: list[tuple[str, str]]) -> str:
    for a, b in pairs:
        if intent in (a, b):
            return slug(f"{a} or {b}")
    return slug(intent)


def judge(out: Path, data: pd.DataFrame, missing: list[str], pairs: list[tuple[str, str]]) -> dict:
    contacts = pd.read_parquet(out / "contacts.parquet").merge(data[["contact_id", "label"]], on="contact_id")
    proposals = pd.read_parquet(out / "proposals.parquet")
    purity = (
        contacts[contacts["cluster_id"] >= 0]
        .groupby("cluster_id")["label"]
        .agg(lambda v: (v.value_counts().index[0], v.value_counts().iloc[0] / len(v)))
    )
    pair_of = {reason_id(a, pairs): (a, b) for a, b in pairs}
    found_missing, found_pairs, rows = set(), set(), []
    for p in proposals.itertuples():
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
        elif p.kind == "mislabel":
            right = tuple(p.reason_ids) in PLANTED_MISLABELS
        rows.append({"kind": p.kind, "right": right})
    judged = pd.DataFrame(rows, columns=["kind", "right"])
    truth = contacts["label"].map(lambda i: None if i in missing else reason_id(i, pairs))
    exists = truth.notna()
    accuracy = float((contacts.loc[exists, "reason_id"] == truth[exists]).mean())
    coverage = float(contacts.loc[exists, "reason_id"].notna().mean())
    return {
        "judged": judged,
        "found_missing": len(found_missing),
        "found_pairs": len(found_pairs),
        "accuracy": accuracy,
        "coverage": coverage,
    }


PLANTED_MISLABELS: set[tuple[str, str]] = set()


def agent_labels(data: pd.DataFrame, missing: list[str], pairs: list[tuple[str, str]]) -> pd.Series:
    """Simulated agents: the true reason, 5% random mistakes, and three reasons often filed under another."""
    rng = np.random.default_rng(SEED)
    truth = data["label"].map(lambda i: None if i in missing else reason_id(i, pairs))
    ids = sorted(truth.dropna().unique())
    agent = truth.copy()
    noise = rng.random(len(agent)) < 0.05
    agent[noise] = rng.choice(ids, noise.sum())
    for source in rng.choice(ids, MISLABELLED, replace=False):
        target = ids[(ids.index(source) + 7) % len(ids)]
        PLANTED_MISLABELS.add((target, source))  # filed under `target`, reads like `source`
        mask = (truth == source).to_numpy() & (rng.random(len(agent)) < 0.35)
        agent[mask] = target
    return agent


def run(data: pd.DataFrame, taxonomy: dict, work: Path, name: str, agent: pd.Series | None) -> Path:
    from flows.discover import discover

    frame = data[["contact_id", "text"]].copy()
    if agent is not None:
        frame["reason"] = agent.to_numpy()
    frame.to_csv(work / f"{name}.csv", index=False)
    path = work / f"{name}-taxonomy.yaml"
    path.write_text(yaml.safe_dump(taxonomy, sort_keys=False))
    out = work / name
    discover(input_path=str(work / f"{name}.csv"), out_dir=str(out), overrides={"taxonomy": {"path": str(path)}})
    return out


def report(title: str, result: dict, missing: list[str], pairs: list[tuple[str, str]], out: Path) -> None:
    judged = result["judged"]
    print(f"\n{title}")
    table = judged.groupby("kind")["right"].agg(proposals="size", right="sum")
    table["precision"] = (table["right"] / table["proposals"]).round(2)
    recall = {"new_reason": result["found_missing"] / len(missing), "split": result["found_pairs"] / len(pairs)}
    table["recall"] = [round(recall[k], 2) if k in recall else None for k in table.index]
    print(table.to_string())
    wrong = int((~judged["right"]).sum())
    print(f"left-out intents found as new reasons (>=70% pure): {result['found_missing']} of {len(missing)}")
    print(f"merged pairs found as splits: {result['found_pairs']} of {len(pairs)}")
    print(f"wrong proposals: {wrong} of {len(judged)} ({wrong / max(len(judged), 1):.0%})")
    print(f"assignment accuracy on reasons that exist: {result['accuracy']:.3f} (assigned: {result['coverage']:.1%})")
    run_info = yaml.safe_load((out / "run.json").read_text())["reason_assignment"]
    print(f"assignment method: {run_info['method']}; held-out accuracy: {run_info['held_out_accuracy']}")


def main() -> None:
    alike = "--alike-pairs" in sys.argv
    print("reproduce: python -m benchmarks.taxonomy" + (" --alike-pairs" if alike else ""), flush=True)
    data = banking77("all")
    vectors = Embedder(load_config().embedding).embed(data["text"].tolist()).vectors
    missing, pairs = scenario(data, vectors, alike)
    print("left out:", ", ".join(missing))
    print("merged:", "; ".join(f"{a} + {b}" for a, b in pairs))
    taxonomy = build_taxonomy(data, missing, pairs)
    with tempfile.TemporaryDirectory(prefix="touchless-taxonomy-") as tmp:
        work = Path(tmp)
        out = run(data, taxonomy, work, "zero-shot", None)
        report("Run 1: texts only (zero-shot assignment)", judge(out, data, missing, pairs), missing, pairs, out)
        agent = agent_labels(data, missing, pairs)
        out = run(data, taxonomy, work, "agents", agent)
        print(f"\nplanted mislabels (filed under -> reads like): {sorted(PLANTED_MISLABELS)}")
        report("Run 2: with agent-chosen reasons", judge(out, data, missing, pairs), missing, pairs, out)
    sys.stdout.flush()


if __name__ == "__main__":
    main()

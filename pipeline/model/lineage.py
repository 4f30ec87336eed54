"""Cluster ids that stay put from run to run, and the lineage between runs.

A run's clusters are matched to the previous run's by the contacts they share (Jaccard, over contacts present in
both runs) or, when they share none, by the similarity of their centres; a match keeps the old id. Between runs a
cluster is `continued`, `split` (an old cluster's contacts went to several new ones), `merged` (a new cluster took
contacts of several old ones), `born` or `died`. New clusters get ids never used before.

Each relation is read from the old cluster's side, so one old cluster has one relation: where did the contacts it
held, and this run holds too, go? A new cluster is its successor when it took at least `MIN_PART` of them, or took
its id. No successor: it `died` (its contacts went to noise or were spread thin). Several: it `split`, on every row.
One, which took no other old cluster's contacts: `continued`; one shared with other old clusters: `merged`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

MIN_JACCARD = 0.3  # shared contacts needed to call a new cluster the same as an old one
MIN_CENTRE_SIMILARITY = 0.9  # without shared contacts: centres this alike are the same cluster
MIN_PART = 0.2  # a share of an old cluster's contacts that makes a new cluster its successor


def chain_id() -> str:
    """The id of a chain of runs that starts here (`ClusterModel.lineage`): random, so that no other folder's
    clusters, made from the same export or not, share it (a copy of a run folder does: its decisions are the same)."""
    return uuid.uuid4().hex[:16]


@dataclass(frozen=True)
class PreviousClusters:
    ids: np.ndarray  # stable ids
    centres: np.ndarray  # unit-length, one row per id
    members: pd.DataFrame  # contact_id, cluster_id (stable) of the previous run's clustered contacts
    next_id: int


def stable_ids(
    previous: PreviousClusters | None, contact_ids: np.ndarray, labels: np.ndarray, centres: np.ndarray
) -> tuple[dict[int, int], pd.DataFrame, int]:
    """(this run's label -> stable id, lineage rows, next unused id). `labels`/`contact_ids`: the clustered
    contacts of this run; `centres`: one row per label 0..k-1."""
    k = int(labels.max()) + 1 if (labels >= 0).any() else 0
    sizes = np.bincount(labels[labels >= 0], minlength=k)
    if previous is None or len(previous.ids) == 0:
        mapping = {c: c for c in range(k)}
        lineage = pd.DataFrame(
            {
                "previous_cluster_id": pd.array([pd.NA] * k, dtype="Int64"),
                "cluster_id": range(k),
                "relation": "born",
                "shared_contacts": 0,
                "similarity": np.nan,
            }
        )
        return mapping, lineage, max(k, previous.next_id if previous else 0)
    old_ids = previous.ids
    # contacts per (old, new) pair, over contacts in both runs
    now = pd.DataFrame({"contact_id": contact_ids, "new": labels})
    held = previous.members.merge(now, on="contact_id")
    both = held[held["new"] >= 0]
    shared = np.zeros((len(old_ids), k))
    if len(both):
        position = {int(c): i for i, c in enumerate(old_ids)}
        counts = both.groupby(["cluster_id", "new"]).size()
        for (old, new), n in counts.items():
            if old in position:
                shared[position[old], new] = n
    old_size = shared.sum(axis=1)
    new_size = shared.sum(axis=0)
    # an old cluster's contacts this run holds, noise included: those that went to noise count against a successor
    old_held = held.groupby("cluster_id").size().reindex(old_ids, fill_value=0).to_numpy()
    union = old_size[:, None] + new_size[None, :] - shared
    jaccard = np.divide(shared, union, out=np.zeros_like(shared), where=union > 0)
    similarity = previous.centres @ centres.T if k else np.zeros((len(old_ids), 0))
    # where neither cluster shares any contact with the other run (a new period), only the centres can tell
    by_centre = (old_size[:, None] == 0) & (new_size[None, :] == 0)
    score = np.where(
        by_centre,
        np.where(similarity >= MIN_CENTRE_SIMILARITY, similarity, 0.0),
        np.where(jaccard >= MIN_JACCARD, jaccard, 0.0),
    )
    rows, cols = linear_sum_assignment(-score) if k else (np.array([], int), np.array([], int))
    mapping = {int(c): int(old_ids[r]) for r, c in zip(rows, cols) if score[r, c] > 0}
    next_id = previous.next_id
    for c in sorted(set(range(k)) - set(mapping), key=lambda c: (-sizes[c], c)):
        mapping[c] = next_id
        next_id += 1
    return mapping, _lineage(old_ids, mapping, shared, similarity, old_held), next_id


def _lineage(old_ids, mapping, shared, similarity, old_held) -> pd.DataFrame:
    part_of_old = np.divide(shared, old_held[:, None], out=np.zeros_like(shared), where=old_held[:, None] > 0)
    keeps_id = {c: i for c, stable in mapping.items() for i in np.flatnonzero(old_ids == stable)}
    successors = {
        i: [c for c in sorted(mapping) if part_of_old[i, c] >= MIN_PART or keeps_id.get(c) == i]
        for i in range(len(old_ids))
    }
    sources = {c: [i for i in successors if c in successors[i]] for c in mapping}
    rows = []
    for i, after in successors.items():
        if not after:
            rows.append((int(old_ids[i]), None, "died", 0, np.nan))
            continue
        for c in after:
            relation = "split" if len(after) > 1 else "merged" if len(sources[c]) > 1 else "continued"
            rows.append((int(old_ids[i]), mapping[c], relation, int(shared[i, c]), float(similarity[i, c])))
    rows += [(None, mapping[c], "born", 0, np.nan) for c in sorted(mapping) if not sources[c]]
    frame = pd.DataFrame(
        rows, columns=["previous_cluster_id", "cluster_id", "relation", "shared_contacts", "similarity"]
    )
    frame[["previous_cluster_id", "cluster_id"]] = frame[["previous_cluster_id", "cluster_id"]].astype("Int64")
    return frame

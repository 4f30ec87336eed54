"""Lineage between two runs: one relation per old cluster, read from where its contacts went."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.model.lineage import PreviousClusters, stable_ids


def unit(*rows: list[float]) -> np.ndarray:
    out = np.array(rows, dtype=float)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def previous_run(groups: dict[int, list[str]], centres: np.ndarray) -> PreviousClusters:
    members = pd.DataFrame(
        [(c, cluster) for cluster, contacts in groups.items() for c in contacts], columns=["contact_id", "cluster_id"]
    )
    return PreviousClusters(ids=np.array(sorted(groups)), centres=centres, members=members, next_id=max(groups) + 1)


def relations(previous: PreviousClusters, now: dict[str, int], centres: np.ndarray) -> pd.DataFrame:
    contacts = np.array(list(now))
    mapping, lineage, _ = stable_ids(previous, contacts, np.array(list(now.values())), centres)
    return lineage.assign(label=lineage["cluster_id"].map({v: k for k, v in mapping.items()}))


def old_relations(lineage: pd.DataFrame) -> dict[int, set[str]]:
    return lineage.dropna(subset=["previous_cluster_id"]).groupby("previous_cluster_id")["relation"].agg(set).to_dict()


def test_a_small_cluster_whose_contacts_went_to_two_clusters_split_and_did_not_die():
    big_a, big_b = [f"a{i}" for i in range(40)], [f"b{i}" for i in range(40)]
    small = ["s1", "s2", "s3", "s4"]
    previous = previous_run({0: big_a, 1: big_b, 2: small}, unit([1, 0, 0], [0, 1, 0], [0, 0, 1]))
    now = {c: 0 for c in big_a} | {c: 1 for c in big_b} | {"s1": 0, "s2": 0, "s3": 1, "s4": -1}
    lineage = relations(previous, now, unit([1, 0, 0.1], [0, 1, 0.1]))
    assert old_relations(lineage)[2] == {"split"}
    assert set(lineage.loc[lineage["previous_cluster_id"] == 2, "shared_contacts"]) == {2, 1}
    assert "died" not in set(lineage["relation"])


def test_an_old_cluster_reads_one_relation_even_when_a_few_contacts_left_it():
    kept, strays = [f"k{i}" for i in range(15)], ["x1", "x2", "x3"]  # 3 of 18 (under MIN_PART) went elsewhere
    previous = previous_run({0: kept + strays}, unit([1, 0]))
    now = {c: 0 for c in kept} | {c: 1 for c in strays + [f"n{i}" for i in range(7)]}  # 3 of the new cluster's 10
    lineage = relations(previous, now, unit([1, 0], [0.3, 1]))
    assert old_relations(lineage) == {0: {"continued"}}
    assert lineage.loc[lineage["relation"] == "born", "label"].tolist() == [1]
    assert len(lineage) == 2


def test_relations_continued_split_merged_born_and_died():
    groups = {c: [f"{c}-{i}" for i in range(20)] for c in range(5)}
    previous = previous_run(groups, np.eye(5))
    now = {f"0-{i}": 0 for i in range(20)}  # 0 continues
    now |= {f"1-{i}": 1 if i < 10 else 2 for i in range(20)}  # 1 splits in two
    now |= {f"{c}-{i}": 3 for c in (2, 3) for i in range(20)}  # 2 and 3 merge
    now |= {f"4-{i}": -1 for i in range(20)}  # 4's contacts all went to noise
    now |= {f"n{i}": 4 for i in range(20)}  # a new cluster of new contacts
    lineage = relations(
        previous,
        now,
        unit([1, 0, 0, 0, 0.0], [0, 1, 0, 0, 0], [0, 1, 0.5, 0, 0], [0, 0, 1, 1, 0], [0.5, 0.5, 0.5, 0.5, 0.5]),
    )
    assert old_relations(lineage) == {0: {"continued"}, 1: {"split"}, 2: {"merged"}, 3: {"merged"}, 4: {"died"}}
    born = lineage[lineage["relation"] == "born"]
    assert born["label"].tolist() == [4] and born["cluster_id"].iloc[0] >= 5  # a new id, never used before
    assert lineage.loc[lineage["relation"] == "split", "label"].nunique() == 2


def test_a_new_period_matches_by_centres_alone():
    previous = previous_run({0: ["a", "b"], 1: ["c", "d"]}, unit([1, 0], [0, 1]))
    now = {"e": 0, "f": 0, "g": 1}
    mapping, lineage, _ = stable_ids(
        previous, np.array(list(now)), np.array(list(now.values())), unit([0.05, 1], [1, 0.6])
    )
    assert mapping == {0: 1, 1: 2}  # the second is no longer alike (cosine 0.86 < 0.9): a new id
    assert old_relations(lineage) == {1: {"continued"}, 0: {"died"}}
    assert lineage.loc[lineage["relation"] == "continued", "shared_contacts"].tolist() == [0]
    assert set(lineage["relation"]) == {"continued", "died", "born"}

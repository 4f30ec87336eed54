"""Turn step results into the output tables: one row per contact, one row per cluster."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pandas as pd
import pyarrow as pa

from pipeline.cluster import Clustering
from pipeline.describe import ClusterDescription
from pipeline.proposals import Proposal
from pipeline.schemas import CLUSTERS, CONTACTS, PROPOSALS, REASONS, to_table
from pipeline.taxonomy import Taxonomy


def contacts_table(contacts: pd.DataFrame, clustering: Clustering) -> pa.Table:
    """Every input contact once, with its cluster; `contacts.text` must already be prepared text."""
    out = contacts.copy()
    out["cluster_id"] = clustering.labels
    out["probability"] = clustering.probabilities
    out["was_noise"] = clustering.was_noise
    return to_table(out, CONTACTS)


def clusters_table(
    contacts: pd.DataFrame, clustering: Clustering, descriptions: list[ClusterDescription]
) -> pa.Table:
    if not descriptions:
        return CLUSTERS.empty_table()
    frame = pd.DataFrame(
        {
            "cluster_id": [d.cluster_id for d in descriptions],
            "label": [d.label for d in descriptions],
            "keywords": [d.keywords for d in descriptions],
            "examples": [d.examples for d in descriptions],
        }
    )
    members = contacts.assign(cluster_id=clustering.labels)
    members = members[members["cluster_id"] >= 0]
    grouped = members.groupby("cluster_id")
    stats = pd.DataFrame({"size": grouped.size()})
    for column, name, per in (
        ("customer_id", "customers", "contacts_per_customer"),
        ("ticket_id", "tickets", "contacts_per_ticket"),
    ):
        if contacts[column].notna().any():
            stats[name] = grouped[column].nunique()
            stats[per] = grouped[column].count() / stats[name].replace(0, np.nan)
        else:
            stats[name] = pd.NA
            stats[per] = np.nan
    frame = frame.merge(stats, left_on="cluster_id", right_index=True, how="left")
    frame["share"] = frame["size"] / max(len(contacts), 1)
    frame[["customers", "tickets"]] = frame[["customers", "tickets"]].astype("Int64")
    return to_table(frame, CLUSTERS)


def reasons_table(contacts: pd.DataFrame, taxonomy: Taxonomy | None) -> pa.Table:
    """One row per assignable reason: how many contacts it got and where they clustered."""
    if taxonomy is None:
        return REASONS.empty_table()
    assigned = contacts[contacts["reason_id"].notna()]
    rows = []
    for reason in taxonomy.assignable():
        mine = assigned[assigned["reason_id"] == reason.id]
        top = mine.loc[mine["cluster_id"] >= 0, "cluster_id"].value_counts().head(5)
        rows.append({
            "reason_id": reason.id, "name": reason.name, "parent": reason.parent, "kind": reason.kind,
            "contacts": len(mine), "share": len(mine) / max(len(contacts), 1),
            "mean_score": float(mine["reason_score"].mean()) if len(mine) else np.nan,
            "cluster_ids": [int(c) for c in top.index],
        })
    return to_table(pd.DataFrame(rows, columns=REASONS.names), REASONS)


def proposals_table(proposals: list[Proposal]) -> pa.Table:
    if not proposals:
        return PROPOSALS.empty_table()
    frame = pd.DataFrame([asdict(p) for p in proposals])
    frame["rank"] = np.arange(1, len(frame) + 1)
    return to_table(frame, PROPOSALS)

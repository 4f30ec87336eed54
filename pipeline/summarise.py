"""Turn step results into the output tables: one row per contact, one row per cluster."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from pipeline.cluster import Clustering
from pipeline.describe import ClusterDescription
from pipeline.schemas import CLUSTERS, CONTACTS, to_table


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

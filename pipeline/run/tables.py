"""Turn a refreshed run into its output tables: contacts, clusters, reasons, proposals, ranking, touch index,
lineage (their columns and types are `pipeline.run.schemas`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa

from pipeline.overtime.measures import OverTime
from pipeline.run.schemas import (
    CLUSTERS,
    DRIVERS,
    LINEAGE,
    OWNERS,
    PROPOSALS,
    RANKING,
    REASONS,
    TOUCH_INDEX,
    contacts_schema,
    to_table,
)
from pipeline.taxonomy.proposals import Proposal
from pipeline.taxonomy.tree import Taxonomy

if TYPE_CHECKING:
    from pipeline.run.refresh import Refreshed


def clusters_table(contacts: pd.DataFrame, descriptions: pd.DataFrame, time: OverTime) -> pa.Table:
    """One row per cluster: its description, size, customers and tickets, touches and trend."""
    if descriptions.empty:
        return CLUSTERS.empty_table()
    members = contacts.loc[contacts["cluster_id"] >= 0, ["cluster_id", "customer_id", "ticket_id"]]  # not the texts
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
    touch = time.cluster_stats.drop(columns="contacts")
    frame = descriptions.merge(stats, left_on="cluster_id", right_index=True, how="left")
    frame = frame.merge(touch, left_on="cluster_id", right_index=True, how="left")
    frame["trend"] = frame["cluster_id"].map(time.cluster_trends["trend"])
    frame["size"] = frame["size"].fillna(0).astype("int64")
    frame["share"] = frame["size"] / max(len(contacts), 1)
    frame[["customers", "tickets"]] = frame[["customers", "tickets"]].astype("Int64")
    for column in ("group_id", "group_label"):  # a run made before groups existed has none
        if column not in frame:
            frame[column] = None
    return to_table(frame, CLUSTERS)


def reasons_table(
    contacts: pd.DataFrame, taxonomy: Taxonomy | None, time: OverTime, keywords: dict[str, list[str]]
) -> pa.Table:
    """One row per assignable reason: how many contacts it got, where they clustered, touches, trend, its
    distinctive `keywords`, owner, action and cost."""
    if taxonomy is None or not taxonomy.assignable():
        return REASONS.empty_table()
    assigned = contacts.loc[contacts["reason_id"].notna(), ["reason_id", "reason_score", "cluster_id"]]
    by_reason = dict(tuple(assigned.groupby("reason_id", sort=False)))  # one pass, not one per reason
    rows = []
    for reason in taxonomy.assignable():
        mine = by_reason.get(reason.id, assigned.iloc[:0])
        top = mine.loc[mine["cluster_id"] >= 0, "cluster_id"].value_counts().head(5)
        rows.append(
            {
                "reason_id": reason.id,
                "name": reason.name,
                "parent": reason.parent,
                "kind": reason.kind,
                "contacts": len(mine),
                "share": len(mine) / max(len(contacts), 1),
                "mean_score": float(mine["reason_score"].mean()) if len(mine) else np.nan,
                "cluster_ids": [int(c) for c in top.index],
                "touches": len(mine),
                "keywords": keywords.get(reason.id, []),
                "owner": taxonomy.owner_of(reason.id),
                "action": reason.action,
            }
        )
    frame = pd.DataFrame(rows).merge(
        time.reason_stats.drop(columns="contacts"), left_on="reason_id", right_index=True, how="left"
    )
    frame["trend"] = frame["reason_id"].map(time.reason_trends["trend"])
    frame["issues"] = frame["issues"].fillna(0).astype("int64")
    return to_table(frame, REASONS)


def ranking_table(time: OverTime) -> pa.Table:
    if time.ranking.empty:
        return RANKING.empty_table()
    return to_table(time.ranking.rename(columns={"total_touches": "touches"}), RANKING)


def touch_index_table(time: OverTime) -> pa.Table:
    return frame_table(time.touch_index, TOUCH_INDEX)


def lineage_table(lineage: pd.DataFrame) -> pa.Table:
    return frame_table(lineage, LINEAGE)


def proposals_table(proposals: list[Proposal]) -> pa.Table:
    if not proposals:
        return PROPOSALS.empty_table()
    frame = pd.DataFrame([p.model_dump() for p in proposals])
    frame["rank"] = np.arange(1, len(frame) + 1)
    return to_table(frame, PROPOSALS)


def frame_table(frame: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    """A table that may be empty, in its schema."""
    return to_table(frame, schema) if len(frame) else schema.empty_table()


def run_tables(
    refreshed: Refreshed,
    descriptions: pd.DataFrame,
    lineage: pd.DataFrame,
    taxonomy: Taxonomy | None,
    reason_keywords: dict[str, list[str]],
    dimensions: list[str],
) -> dict[str, pa.Table]:
    """Every output table of a run, in the order they are written."""
    contacts, time = refreshed.contacts, refreshed.time
    return {
        "contacts": to_table(contacts, contacts_schema(dimensions)),
        "clusters": clusters_table(contacts, descriptions, time),
        "reasons": reasons_table(contacts, taxonomy, time, reason_keywords),
        "proposals": proposals_table(refreshed.proposals),
        "ranking": ranking_table(time),
        "touch_index": touch_index_table(time),
        "lineage": lineage_table(lineage),
        "drivers": frame_table(time.drivers, DRIVERS),
        "owners": frame_table(time.owners, OWNERS),
    }

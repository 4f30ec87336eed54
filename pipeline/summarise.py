"""Turn step results into the output tables: contacts, clusters, reasons, proposals, ranking, touch index, lineage."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from pipeline.describe import ClusterDescription
from pipeline.proposals import Proposal
from pipeline.config import Config
from pipeline.ranking import rank_causes
from pipeline.schemas import CLUSTERS, CONTACTS, LINEAGE, PROPOSALS, RANKING, REASONS, TOUCH_INDEX, to_table
from pipeline.touch_index import touch_index
from pipeline.touches import touch_stats
from pipeline.trends import trends
from pipeline.taxonomy import Taxonomy


@dataclass
class OverTime:
    """Touches, trends, ranking and touch index of a run: everything that needs time and identity."""

    cluster_stats: pd.DataFrame
    reason_stats: pd.DataFrame
    cluster_trends: pd.DataFrame
    reason_trends: pd.DataFrame
    ranking: pd.DataFrame
    touch_index: pd.DataFrame


def over_time(
    contacts: pd.DataFrame, volume: pd.DataFrame | None, taxonomy: Taxonomy | None, cluster_names: dict[int, str],
    cfg: Config,
) -> OverTime:
    """`contacts` needs `cluster_id`, `reason_id`, `issue_id`, `created_at`, `handle_time_s`."""
    clustered = contacts[contacts["cluster_id"] >= 0]
    names = {r.id: r.name for r in taxonomy.reasons} if taxonomy else {}
    ranked = [r.id for r in taxonomy.assignable() if r.kind == "reason"] if taxonomy else []
    ranking = rank_causes(contacts, names, cluster_names, ranked, cfg.ranking, taxonomy is not None)
    cluster_trends = trends(clustered, "cluster_id", volume, cfg.trends)
    reason_trends = trends(contacts[contacts["reason_id"].notna()], "reason_id", volume, cfg.trends)
    if len(ranking):
        ranking["trend"] = [
            reason_trends["trend"].get(r.reason_id) if r.reason_id is not None else cluster_trends["trend"].get(r.cluster_id)
            for r in ranking.itertuples()
        ]
    index = pd.DataFrame()
    if volume is not None:
        top = ranking.head(cfg.ranking.index_reasons)
        groups = {_scope(r): (contacts["reason_id"] == r.reason_id) if r.reason_id is not None
                  else (contacts["cluster_id"] == r.cluster_id) for r in top.itertuples()}
        index = touch_index(contacts, volume, groups)
        meta = {_scope(r): (r.reason_id, r.cluster_id, r.name) for r in top.itertuples()}
        index["reason_id"] = index["scope"].map(lambda s: meta.get(s, (None,))[0])
        index["cluster_id"] = index["scope"].map(lambda s: meta.get(s, (None, None))[1])
        index["name"] = index["scope"].map(lambda s: meta.get(s, (None, None, "all contacts"))[2])
        index["scope"] = index["scope"].map(lambda s: s.split(":")[0])
    return OverTime(
        cluster_stats=touch_stats(clustered, "cluster_id"),
        reason_stats=touch_stats(contacts, "reason_id"),
        cluster_trends=cluster_trends,
        reason_trends=reason_trends,
        ranking=ranking,
        touch_index=index,
    )


def _scope(row) -> str:
    return f"reason:{row.reason_id}" if row.reason_id is not None else f"cluster:{row.cluster_id}"


def contacts_table(contacts: pd.DataFrame) -> pa.Table:
    """Every input contact once, with its cluster and reason; `contacts.text` must already be redacted."""
    return to_table(contacts, CONTACTS)


def descriptions_frame(descriptions: list[ClusterDescription]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "cluster_id": [d.cluster_id for d in descriptions],
            "label": [d.label for d in descriptions],
            "keywords": [d.keywords for d in descriptions],
            "examples": [d.examples for d in descriptions],
        }
    )


def clusters_table(contacts: pd.DataFrame, descriptions: pd.DataFrame, time: OverTime) -> pa.Table:
    """One row per cluster: its description, size, customers and tickets, touches and trend."""
    if descriptions.empty:
        return CLUSTERS.empty_table()
    members = contacts[contacts["cluster_id"] >= 0]
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
    return to_table(frame, CLUSTERS)


def reasons_table(contacts: pd.DataFrame, taxonomy: Taxonomy | None, time: OverTime) -> pa.Table:
    """One row per assignable reason: how many contacts it got, where they clustered, touches and trend."""
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
    frame = pd.DataFrame(rows).merge(time.reason_stats.drop(columns="contacts"), left_on="reason_id",
                                     right_index=True, how="left")
    frame["trend"] = frame["reason_id"].map(time.reason_trends["trend"])
    frame["issues"] = frame["issues"].fillna(0).astype("int64")
    return to_table(frame, REASONS)


def ranking_table(time: OverTime) -> pa.Table:
    if time.ranking.empty:
        return RANKING.empty_table()
    return to_table(time.ranking.rename(columns={"total_touches": "touches"}), RANKING)


def touch_index_table(time: OverTime) -> pa.Table:
    if time.touch_index.empty:
        return TOUCH_INDEX.empty_table()
    return to_table(time.touch_index, TOUCH_INDEX)


def lineage_table(lineage: pd.DataFrame) -> pa.Table:
    return to_table(lineage, LINEAGE) if len(lineage) else LINEAGE.empty_table()


def proposals_table(proposals: list[Proposal]) -> pa.Table:
    if not proposals:
        return PROPOSALS.empty_table()
    frame = pd.DataFrame([asdict(p) for p in proposals])
    frame["rank"] = np.arange(1, len(frame) + 1)
    return to_table(frame, PROPOSALS)

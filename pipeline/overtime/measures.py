"""Everything about a run that needs time and identity: touch statistics, trends, the ranking and the touch index."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from pipeline.config import Config
from pipeline.overtime.ranking import rank_causes
from pipeline.overtime.touch_index import touch_index
from pipeline.overtime.touches import touch_stats
from pipeline.overtime.trends import trends
from pipeline.taxonomy.tree import Taxonomy


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
    contacts: pd.DataFrame,
    volume: pd.DataFrame | None,
    taxonomy: Taxonomy | None,
    cluster_names: dict[int, str],
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
            reason_trends["trend"].get(r.reason_id)
            if r.reason_id is not None
            else cluster_trends["trend"].get(r.cluster_id)
            for r in ranking.itertuples()
        ]
    index = pd.DataFrame()
    if volume is not None:
        top = ranking.head(cfg.ranking.index_reasons)
        groups = {
            _scope(r): (contacts["reason_id"] == r.reason_id)
            if r.reason_id is not None
            else (contacts["cluster_id"] == r.cluster_id)
            for r in top.itertuples()
        }
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

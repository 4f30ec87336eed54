"""Everything about a run that needs time and identity: touch statistics, trends, drivers, costs and owners, the
ranking and the touch index."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from pipeline.config import Config
from pipeline.overtime.costs import contact_costs, owner_index, owners_of
from pipeline.overtime.drivers import drivers, strongest
from pipeline.overtime.ranking import cluster_cause_contacts, rank_causes
from pipeline.overtime.touch_index import touch_index
from pipeline.overtime.touches import touch_stats
from pipeline.overtime.trends import trends
from pipeline.taxonomy.tree import Taxonomy


@dataclass
class OverTime:
    """Touches, trends, drivers, costs, ranking and touch index of a run: everything that needs time and identity."""

    cluster_stats: pd.DataFrame  # touch statistics by cluster id, with `cost`
    reason_stats: pd.DataFrame  # by reason id, with `cost`
    cluster_trends: pd.DataFrame
    reason_trends: pd.DataFrame
    ranking: pd.DataFrame
    touch_index: pd.DataFrame
    drivers: pd.DataFrame
    owners: pd.DataFrame  # week x owner: contacts, cost, touch index


def over_time(
    contacts: pd.DataFrame,
    volume: pd.DataFrame | None,
    taxonomy: Taxonomy | None,
    cluster_names: dict[int, str],
    cfg: Config,
    cluster_trends: pd.DataFrame | None = None,
) -> OverTime:
    """`contacts` needs `cluster_id`, `reason_id`, `issue_id`, `created_at`, `handle_time_s` and the columns of
    `input.dimensions`. `cluster_trends`: already computed (`trends` by cluster_id), else computed here."""
    clustered = contacts[contacts["cluster_id"] >= 0]
    costs = contact_costs(contacts, cfg.cost)
    owners = owners_of(contacts, taxonomy)
    names = {r.id: r.name for r in taxonomy.reasons} if taxonomy else {}
    ranked = [r.id for r in taxonomy.assignable() if r.kind == "reason"] if taxonomy else []
    found = drivers(contacts, cfg.input.dimensions, cfg.drivers.false_discovery_rate, cfg.drivers.min_contacts)
    ranking = rank_causes(contacts, names, cluster_names, ranked, cfg.ranking, taxonomy is not None)
    if cluster_trends is None:
        cluster_trends = trends(clustered, "cluster_id", volume, cfg.trends)
    reason_trends = trends(contacts[contacts["reason_id"].notna()], "reason_id", volume, cfg.trends)
    cluster_stats, reason_stats = (
        _with_cost(touch_stats(part, key), part, key, costs)
        for part, key in ((clustered, "cluster_id"), (contacts, "reason_id"))
    )
    # a cluster's row counts its contacts with no reason: its trend, cost and touch index are theirs too
    loose = cluster_cause_contacts(contacts, taxonomy is not None)
    if len(ranking):
        causes = contacts.assign(cluster_id=contacts["cluster_id"].where(loose).astype("Int64"))  # the run's span
        cause_trends = trends(causes, "cluster_id", volume, cfg.trends) if taxonomy else cluster_trends
        cause_costs = costs[loose].groupby(contacts.loc[loose, "cluster_id"]).sum() if costs is not None else None
        ranking = _describe_causes(
            ranking, taxonomy, reason_trends, cause_trends, reason_stats, cause_costs, strongest(found)
        )
    index = pd.DataFrame()
    if volume is not None:
        top = ranking.head(cfg.ranking.index_reasons)
        groups = {
            _scope(r): (contacts["reason_id"] == r.reason_id)
            if r.reason_id is not None
            else (loose & (contacts["cluster_id"] == r.cluster_id))
            for r in top.itertuples()
        }
        index = touch_index(contacts, volume, groups, costs)
        meta = {_scope(r): (r.reason_id, r.cluster_id, r.name) for r in top.itertuples()}
        index["reason_id"] = index["scope"].map(lambda s: meta.get(s, (None,))[0])
        index["cluster_id"] = index["scope"].map(lambda s: meta.get(s, (None, None))[1])
        index["name"] = index["scope"].map(lambda s: meta.get(s, (None, None, "all contacts"))[2])
        index["scope"] = index["scope"].map(lambda s: s.split(":")[0])
    return OverTime(
        cluster_stats=cluster_stats,
        reason_stats=reason_stats,
        cluster_trends=cluster_trends,
        reason_trends=reason_trends,
        ranking=ranking,
        touch_index=index,
        drivers=found,
        owners=owner_index(contacts, owners, volume, costs),
    )


def _with_cost(stats: pd.DataFrame, contacts: pd.DataFrame, key: str, costs: pd.Series | None) -> pd.DataFrame:
    if costs is None or stats.empty:
        return stats.assign(cost=float("nan"))
    return stats.assign(cost=costs.reindex(contacts.index).groupby(contacts[key]).sum().reindex(stats.index))


def _describe_causes(
    ranking: pd.DataFrame,
    taxonomy: Taxonomy | None,
    reason_trends: pd.DataFrame,
    cause_trends: pd.DataFrame,
    reason_stats: pd.DataFrame,
    cause_costs: pd.Series | None,
    notes: dict[tuple[str, object], str],
) -> pd.DataFrame:
    """Each ranked cause's trend, owner, action and cost, and its strongest driver in its `why`. `cause_trends`,
    `cause_costs`: by cluster, over the contacts a cluster's row counts."""
    reasons = taxonomy.by_id() if taxonomy else {}
    is_reason = ranking["reason_id"].notna()
    ranking = ranking.assign(
        trend=[
            reason_trends["trend"].get(r.reason_id)
            if r.reason_id is not None
            else cause_trends["trend"].get(r.cluster_id)
            for r in ranking.itertuples()
        ],
        owner=[taxonomy.owner_of(r) if reason else None for r, reason in zip(ranking["reason_id"], is_reason)],
        action=[
            reasons[r].action if reason and r in reasons else None for r, reason in zip(ranking["reason_id"], is_reason)
        ],
        cost=[
            reason_stats["cost"].get(r.reason_id)
            if r.reason_id is not None
            else (cause_costs.get(r.cluster_id) if cause_costs is not None else float("nan"))
            for r in ranking.itertuples()
        ],
    )
    ranking["why"] = [
        f"{why}; {notes[key]}" if (key := ("reason", r) if reason else ("cluster", int(c))) in notes else why
        for why, r, c, reason in zip(ranking["why"], ranking["reason_id"], ranking["cluster_id"], is_reason)
    ]
    return ranking


def _scope(row) -> str:
    return f"reason:{row.reason_id}" if row.reason_id is not None else f"cluster:{row.cluster_id}"

"""Rank the causes of contact so the worst go first.

Rows are the taxonomy's reasons (process steps left out) and the clusters no reason holds (with no taxonomy:
every cluster). The default scoring follows the book: reasons that take many touches first (total touches =
issues x touches per issue), volume (issues) next. Other scorings: total handle time, or a weighted mix. Every row
carries the parts of its score and a sentence saying why it ranks where it does; ties break on the id.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.config import RankingConfig
from pipeline.overtime.touches import touch_stats


def unmatched_clusters(contacts: pd.DataFrame, has_taxonomy: bool, min_share: float = 0.5) -> list[int]:
    """Clusters whose contacts mostly have no reason (all clusters when there is no taxonomy)."""
    clustered = contacts[contacts["cluster_id"] >= 0]
    if not has_taxonomy:
        return sorted(int(c) for c in clustered["cluster_id"].unique())
    without = clustered["reason_id"].isna().groupby(clustered["cluster_id"]).mean()
    return sorted(int(c) for c in without.index[without >= min_share])


def cluster_cause_contacts(contacts: pd.DataFrame, has_taxonomy: bool) -> pd.Series:
    """Which contacts a cluster's row counts: those with no reason, in the clusters whose contacts mostly have none
    (every clustered contact without a taxonomy). A contact with a reason counts under its reason only."""
    unmatched = contacts["cluster_id"].isin(unmatched_clusters(contacts, has_taxonomy))
    return unmatched & (contacts["reason_id"].isna() | (not has_taxonomy))


def rank_causes(
    contacts: pd.DataFrame,
    names: dict[str, str],
    cluster_names: dict[int, str],
    ranked_reasons: list[str],
    cfg: RankingConfig,
    has_taxonomy: bool,
) -> pd.DataFrame:
    """`contacts` needs `reason_id`, `cluster_id`, `issue_id`, `handle_time_s`; `ranked_reasons`: reason ids to rank."""
    by_reason = touch_stats(contacts[contacts["reason_id"].isin(ranked_reasons)], "reason_id")
    by_cluster = touch_stats(contacts[cluster_cause_contacts(contacts, has_taxonomy)], "cluster_id")
    rows = [
        by_reason.assign(
            reason_id=by_reason.index.astype(str), cluster_id=pd.NA, name=[names.get(r, r) for r in by_reason.index]
        ),
        by_cluster.assign(
            reason_id=None,
            cluster_id=by_cluster.index.astype("int64"),
            name=[cluster_names.get(int(c), f"cluster {c}") for c in by_cluster.index],
        ),
    ]
    rows = [r.reset_index(drop=True) for r in rows if len(r)]
    if not rows:
        return pd.DataFrame()
    table = pd.concat(rows, ignore_index=True)
    table["total_touches"] = table["contacts"].astype(float)  # issues x touches per issue, exactly (no 25.999...)
    table["score"] = _score(table, cfg)
    table["key"] = table["reason_id"].fillna("~cluster " + table["cluster_id"].astype(str).str.zfill(6))
    table = table.sort_values(["score", "issues", "key"], ascending=[False, False, True], kind="stable")
    table["rank"] = np.arange(1, len(table) + 1)
    table["why"] = [_why(r, cfg) for r in table.itertuples()]
    return table.drop(columns="key").reset_index(drop=True)


def _score(table: pd.DataFrame, cfg: RankingConfig) -> pd.Series:
    if cfg.score == "touches":
        return table["total_touches"]
    if cfg.score == "handle_time":
        return table["handle_time_s"].fillna(0.0)
    parts = {
        "touches": table["total_touches"] / max(table["total_touches"].max(), 1),
        "repeat": table["repeat_contact_rate"],
        "handle_time": table["handle_time_s"].fillna(0.0) / max(table["handle_time_s"].fillna(0.0).max(), 1.0),
    }
    return sum(cfg.weights[k] * parts[k] for k in cfg.weights)


def _why(row, cfg: RankingConfig) -> str:
    text = (
        f"{row.total_touches:,.0f} touches from {row.issues:,} issues ({row.touches_per_issue:.2f} per issue, "
        f"{row.repeat_contact_rate:.0%} repeat contacts)"
    )
    if cfg.score == "handle_time" and pd.notna(row.handle_time_s):
        text = f"{row.handle_time_s / 3600:,.1f} agent hours; " + text
    elif cfg.score == "weighted":
        text = f"weighted score {row.score:.3f}; " + text
    return text


def emerging(ranking: pd.DataFrame) -> list[str]:
    """Names of the ranked reasons and clusters whose trend is new or growing, worst first."""
    if ranking.empty:
        return []
    rising = ranking[ranking["trend"].isin(["new", "growing"])]
    return [f"{r.name} ({r.trend})" for r in rising.itertuples()]

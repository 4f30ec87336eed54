"""Touches: every contact is a touch; an issue is one customer's problem, however many touches it takes.

Contacts are touches of one issue when they share a ticket, are the same text pasted again by the same customer
(`duplicate_group`), or come from the same customer about the same reason (its cluster where it has no reason)
within `window_days` of the issue's previous contact. Without customers, tickets or times, each contact is its
own issue.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

STAT_COLUMNS = ["contacts", "issues", "touches_per_issue", "repeat_contact_rate", "one_touch_rate", "handle_time_s"]


def issues(contacts: pd.DataFrame, window_days: float) -> pd.DataFrame:
    """`issue_id` (the first contact of the issue) and `touch` (1 for the first contact, 2 for the next ...).

    Contacts are nodes, "same issue" links are edges, issues are the connected components (vectorised: a day's
    refresh over a long history stays fast)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    frame = contacts.reset_index(drop=True)
    n = len(frame)
    position = np.arange(n)
    edges = []
    for columns in (["ticket_id"], ["customer_id", "duplicate_group"]):  # a pasted text is one issue per customer
        first = frame.assign(_pos=position).groupby(columns, sort=False)["_pos"].transform("first")
        linked = first.notna().to_numpy() & (first.to_numpy(dtype=float, na_value=-1) != position)
        edges.append((first.to_numpy(dtype=float, na_value=-1)[linked].astype(int), position[linked]))
    topic = frame["reason_id"].where(frame["reason_id"].notna(), "cluster:" + frame["cluster_id"].astype(str))
    topic = topic.where(frame["reason_id"].notna() | (frame["cluster_id"] >= 0))
    timed = frame.assign(_topic=topic, _pos=position).dropna(subset=["customer_id", "_topic", "created_at"])
    timed = timed.sort_values(["customer_id", "_topic", "created_at"], kind="stable")
    same = (timed["customer_id"].to_numpy()[1:] == timed["customer_id"].to_numpy()[:-1]) & (
        timed["_topic"].to_numpy()[1:] == timed["_topic"].to_numpy()[:-1]
    )
    close = np.diff(timed["created_at"].to_numpy(dtype="datetime64[ns]")) <= np.timedelta64(
        int(window_days * 86400), "s"
    )
    chained = np.flatnonzero(same & close)
    edges.append((timed["_pos"].to_numpy()[chained], timed["_pos"].to_numpy()[chained + 1]))
    rows = np.concatenate([a for a, _ in edges]) if edges else np.array([], int)
    cols = np.concatenate([b for _, b in edges]) if edges else np.array([], int)
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    order = frame.assign(_root=component).sort_values(["created_at", "row"], na_position="last", kind="stable")
    first = order.groupby("_root")["contact_id"].transform("first")
    touch = order.groupby("_root").cumcount() + 1
    return pd.DataFrame({"issue_id": first, "touch": touch}).sort_index().set_index(contacts.index)


def touch_stats(contacts: pd.DataFrame, by: str) -> pd.DataFrame:
    """Per value of `by` (reason_id or cluster_id): contacts, issues, touches per issue, the share of contacts that
    repeat an issue, the share of issues settled in one touch, and total handle time (NaN without it)."""
    rows = contacts.dropna(subset=[by])
    if rows.empty:
        return pd.DataFrame(columns=STAT_COLUMNS)
    grouped = rows.groupby(by)
    per_issue = rows.groupby([by, "issue_id"]).size()
    stats = pd.DataFrame({"contacts": grouped.size(), "issues": grouped["issue_id"].nunique()})
    stats["touches_per_issue"] = stats["contacts"] / stats["issues"]
    stats["repeat_contact_rate"] = (stats["contacts"] - stats["issues"]) / stats["contacts"]
    stats["one_touch_rate"] = (per_issue == 1).groupby(level=0).mean()
    stats["handle_time_s"] = grouped["handle_time_s"].sum(min_count=1)
    return stats[STAT_COLUMNS]

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
    """`issue_id` (the first contact of the issue) and `touch` (1 for the first contact, 2 for the next ...)."""
    n = len(contacts)
    parent = np.arange(n)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i: int, j: int) -> None:
        a, b = find(i), find(j)
        if a != b:
            parent[max(a, b)] = min(a, b)

    frame = contacts.reset_index(drop=True)
    for columns in (["ticket_id"], ["customer_id", "duplicate_group"]):  # a pasted text is one issue per customer
        for rows in frame.groupby(columns, sort=False).indices.values():
            for r in rows[1:]:
                union(rows[0], r)
    topic = frame["reason_id"].where(frame["reason_id"].notna(), "cluster:" + frame["cluster_id"].astype(str))
    topic = topic.where(frame["reason_id"].notna() | (frame["cluster_id"] >= 0))
    timed = frame.assign(_topic=topic, _pos=np.arange(n)).dropna(subset=["customer_id", "_topic", "created_at"])
    window = pd.Timedelta(days=window_days)
    for _, group in timed.sort_values("created_at", kind="stable").groupby(["customer_id", "_topic"], sort=False):
        times, positions = group["created_at"].to_numpy(), group["_pos"].to_numpy()
        for k in range(1, len(group)):
            if times[k] - times[k - 1] <= window:
                union(int(positions[k - 1]), int(positions[k]))
    roots = np.array([find(i) for i in range(n)])
    order = frame.assign(_root=roots, _pos=np.arange(n)).sort_values(["created_at", "row"], na_position="last", kind="stable")
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

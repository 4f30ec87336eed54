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
    # keys as integer codes (-1: missing) sorted with one lexsort, not ids as strings (a million contacts, two
    # comparisons: 2.22-2.48 s -> 1.48-1.62 s and 1.73-2.10 s -> 1.24-1.26 s, the same issues)
    ticket = pd.factorize(frame["ticket_id"])[0]
    customer = pd.factorize(frame["customer_id"])[0]
    pasted = _pair_codes(customer, pd.factorize(frame["duplicate_group"])[0])  # a pasted text: one issue a customer
    edges = [_to_first_of_group(ticket), _to_first_of_group(pasted)]
    reason, reasons = pd.factorize(frame["reason_id"])
    cluster = frame["cluster_id"].to_numpy(dtype=np.int64)
    topic = np.where(reason >= 0, reason, np.where(cluster >= 0, len(reasons) + cluster, -1))
    created = frame["created_at"]
    timed = np.flatnonzero((customer >= 0) & (topic >= 0) & created.notna().to_numpy())
    times = created.to_numpy(dtype="datetime64[ns]")[timed].astype(np.int64)  # nanoseconds
    order = np.lexsort((times, topic[timed], customer[timed]))  # stable: ties keep the contacts' order
    timed, times = timed[order], times[order]
    same = (customer[timed][1:] == customer[timed][:-1]) & (topic[timed][1:] == topic[timed][:-1])
    close = np.diff(times) <= int(window_days * 86400) * 10**9
    chained = np.flatnonzero(same & close)
    edges.append((timed[chained], timed[chained + 1]))
    rows = np.concatenate([a for a, _ in edges])
    cols = np.concatenate([b for _, b in edges])
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    order = frame.assign(_root=component).sort_values(["created_at", "row"], na_position="last", kind="stable")
    first = order.groupby("_root")["contact_id"].transform("first")
    touch = order.groupby("_root").cumcount() + 1
    return pd.DataFrame({"issue_id": first, "touch": touch}).sort_index().set_index(contacts.index)


def _pair_codes(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """One code for each pair of codes present in both (-1 where either is missing)."""
    both = (a >= 0) & (b >= 0)
    return np.where(both, a.astype(np.int64) * (int(b.max(initial=0)) + 1) + b, -1)


def _to_first_of_group(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Edges (positions) from each contact with a code to the first contact with the same code."""
    present = np.flatnonzero(codes >= 0)
    _, first_at, group = np.unique(codes[present], return_index=True, return_inverse=True)
    first = present[first_at][group]
    linked = first != present
    return first[linked], present[linked]


def touch_stats(contacts: pd.DataFrame, by: str) -> pd.DataFrame:
    """Per value of `by` (reason_id or cluster_id): contacts, issues, touches per issue, the share of contacts that
    repeat an issue, the share of issues settled in one touch, and total handle time (NaN without it)."""
    rows = contacts.dropna(subset=[by])
    if rows.empty:
        return pd.DataFrame(columns=STAT_COLUMNS)
    grouped = rows.groupby(by, observed=True)  # `reason_id` may be a category (`refresh._facts`): only its values
    per_issue = rows.groupby([by, "issue_id"], observed=True).size()  # its issues: one pass, not a second for nunique
    stats = pd.DataFrame({"contacts": grouped.size(), "issues": per_issue.groupby(level=0).size()})
    stats["issues"] = stats["issues"].fillna(0).astype("int64")  # a value whose contacts have no issue id
    stats["touches_per_issue"] = stats["contacts"] / stats["issues"]
    stats["repeat_contact_rate"] = (stats["contacts"] - stats["issues"]) / stats["contacts"]
    stats["one_touch_rate"] = (per_issue == 1).groupby(level=0).mean()
    stats["handle_time_s"] = grouped["handle_time_s"].sum(min_count=1)
    return stats[STAT_COLUMNS]

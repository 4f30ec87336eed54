"""Group contacts that are the same text pasted again (auto-replies, copy-paste), exactly or nearly.

A group is one issue told several times: touches are counted per group, not per contact. Exact duplicates match
after lower-casing and dropping punctuation ("hasn't" = "hasnt"); near-exact ones are pairs in one cluster whose
embeddings are at least `similarity` alike.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

_PUNCTUATION = re.compile(r"[^\w\s]|_")


def duplicate_groups(contacts: pd.DataFrame, vectors: np.ndarray, rows: np.ndarray, labels: np.ndarray,
                     similarity: float) -> pd.Series:
    """For every contact, the id of the first contact (earliest, then first row) of its duplicate group; null
    for contacts with no duplicate. `vectors` and `labels` belong to the contacts at `rows`."""
    parent = np.arange(len(contacts))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i: int, j: int) -> None:
        a, b = find(i), find(j)
        if a != b:
            parent[max(a, b)] = min(a, b)

    keys = [" ".join(_PUNCTUATION.sub("", t.lower()).split()) for t in contacts["text"]]
    first: dict[str, int] = {}
    for i, key in enumerate(keys):
        if key:
            union(first.setdefault(key, i), i)
    for c in np.unique(labels[labels >= 0]):
        members = np.flatnonzero(labels == c)
        sims = vectors[members] @ vectors[members].T
        a, b = np.nonzero(np.triu(sims >= similarity, k=1))
        for i, j in zip(rows[members[a]], rows[members[b]]):
            union(int(i), int(j))
    roots = np.array([find(i) for i in range(len(contacts))])
    order = contacts.assign(_root=roots, _pos=np.arange(len(contacts))).sort_values(
        ["created_at", "row"], na_position="last", kind="stable"
    )
    representative = order.groupby("_root")["contact_id"].first()
    sizes = pd.Series(roots).value_counts()
    in_group = sizes.reindex(roots).to_numpy() > 1
    return pd.Series(np.where(in_group, representative.reindex(roots).to_numpy(), None), index=contacts.index)

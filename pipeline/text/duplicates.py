"""Group contacts that are the same text pasted again (auto-replies, copy-paste), exactly or nearly.

A group is one issue told several times: touches are counted per group, not per contact. Exact duplicates match
after lower-casing and dropping punctuation ("hasn't" = "hasnt"); near-exact ones are pairs in one cluster whose
embeddings are at least `similarity` alike.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from pipeline.model.cluster import distinct_rows
from pipeline.model.vector_file import take

_PUNCTUATION = re.compile(r"[^\w\s]|_")
# similarities computed at once (a block of a cluster's members against the members from the block's first on):
# 2**25 float32 values, 128 MiB, whatever the cluster's size; blocks of 2,048 members against a million's largest
# cluster (42,011 contacts) held 2,048 x 42,011 of them, 328 MiB
_BLOCK_SIMILARITIES = 2**25


def duplicate_groups(
    contacts: pd.DataFrame, vectors: np.ndarray, rows: np.ndarray, labels: np.ndarray, similarity: float
) -> pd.Series:
    """For every contact, the id of the first contact (earliest, then first row) of its duplicate group; null
    for contacts with no duplicate. `vectors` and `labels` belong to the contacts at `rows`.

    Contacts are nodes; the same key or near-identical vectors in one cluster are edges; groups are the connected
    components."""
    n = len(contacts)
    keys = np.array([" ".join(_PUNCTUATION.sub("", t.lower()).split()) for t in contacts["text"]], dtype=object)
    first = _first_alike(pd.factorize(keys)[0])  # hashed, not sorted: a million texts' keys in 0.3 s, not 1.8
    same_text = (keys != "") & (first != np.arange(n))
    edges = [(first[same_text].astype(np.int64), np.flatnonzero(same_text))]
    for c in np.unique(labels[labels >= 0]):
        members = np.flatnonzero(labels == c)
        mine = take(vectors, members)  # gathered once (a block's product used to gather them all again)
        # identical vectors are linked to their first, and only distinct ones are compared: a text pasted 30 times
        # adds 29 edges, not 435 (find duplicates took 138 s at 1M contacts of ~205k distinct texts)
        first, same_as, _ = distinct_rows(mine)
        copy_of = members[first][same_as]
        copies = copy_of != members
        edges.append((rows[copy_of[copies]], rows[members[copies]]))
        members, mine = members[first], mine[first]
        step = max(1, _BLOCK_SIMILARITIES // len(members))
        for start in range(0, len(members), step):  # a block of rows at a time: memory stays bounded
            block = members[start : start + step]
            # against the members from the block's first on: the pairs before it were compared by earlier blocks
            a, b = np.nonzero(mine[start : start + step] @ mine[start:].T >= similarity)
            later = b > a  # each pair once
            edges.append((rows[block[a[later]]], rows[members[start + b[later]]]))
    left, right = np.concatenate([e[0] for e in edges]), np.concatenate([e[1] for e in edges])
    graph = sparse.coo_matrix((np.ones(len(left)), (left, right)), shape=(n, n))
    _, roots = connected_components(graph, directed=False)
    # each group's first contact: only the two columns that order them are sorted, not a copy of every column
    when = pd.DataFrame({"created_at": contacts["created_at"].array, "row": contacts["row"].array})
    order = when.sort_values(["created_at", "row"], na_position="last", kind="stable").index.to_numpy()
    grouped = np.flatnonzero(np.bincount(roots)[roots] > 1)
    representative = np.full(n, None, dtype=object)
    representative[grouped] = contacts["contact_id"].iloc[_first_alike(roots, order)[grouped]].to_numpy(dtype=object)
    return pd.Series(representative, index=contacts.index)


def _first_alike(codes: np.ndarray, order: np.ndarray | None = None) -> np.ndarray:
    """For each position, the first position (in `order`; default: as given) that holds the same code."""
    order = np.arange(len(codes)) if order is None else order
    kinds, first = np.unique(codes[order], return_index=True)
    return order[first][np.searchsorted(kinds, codes)]

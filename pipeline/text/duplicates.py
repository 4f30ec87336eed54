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
_BLOCK = 2048  # members compared at once: a 50,000-contact cluster needs 400 MB a block, not 10 GB at once


def duplicate_groups(
    contacts: pd.DataFrame, vectors: np.ndarray, rows: np.ndarray, labels: np.ndarray, similarity: float
) -> pd.Series:
    """For every contact, the id of the first contact (earliest, then first row) of its duplicate group; null
    for contacts with no duplicate. `vectors` and `labels` belong to the contacts at `rows`.

    Contacts are nodes; the same key or near-identical vectors in one cluster are edges; groups are the connected
    components."""
    n = len(contacts)
    keys = np.array([" ".join(_PUNCTUATION.sub("", t.lower()).split()) for t in contacts["text"]], dtype=object)
    _, first_of_key, key_of = np.unique(keys, return_index=True, return_inverse=True)
    first = first_of_key[key_of.ravel()]
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
        for start in range(0, len(members), _BLOCK):  # a block of rows at a time: memory stays bounded
            block = members[start : start + _BLOCK]
            a, b = np.nonzero(mine[start : start + _BLOCK] @ mine.T >= similarity)
            later = b > start + a  # each pair once
            edges.append((rows[block[a[later]]], rows[members[b[later]]]))
    left, right = np.concatenate([e[0] for e in edges]), np.concatenate([e[1] for e in edges])
    graph = sparse.coo_matrix((np.ones(len(left)), (left, right)), shape=(n, n))
    _, roots = connected_components(graph, directed=False)
    order = contacts.assign(_root=roots).sort_values(["created_at", "row"], na_position="last", kind="stable")
    representative = order.groupby("_root")["contact_id"].first()
    sizes = np.bincount(roots, minlength=roots.max(initial=0) + 1)
    in_group = sizes[roots] > 1
    return pd.Series(np.where(in_group, representative.reindex(roots).to_numpy(), None), index=contacts.index)

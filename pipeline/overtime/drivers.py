"""Drivers: what the contacts of a reason or a cluster have in common that other contacts do not.

Exports carry more than text: product, plan, app version, region, channel, team (`input.dimensions`). For each
reason and each cluster, and each value of each dimension, the share of its contacts with that value is held
against the share among the other reasons' contacts (for a cluster, the other clusters'), of those that hold a value
of the dimension; a value is a driver when it is over-represented there beyond chance.
The test is exact (one-sided Fisher, as a hypergeometric tail), and the false discovery rate is held across every
test of the run (Benjamini-Hochberg), so a hundred clusters times a dozen values do not produce false causes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import false_discovery_control, hypergeom

COLUMNS = [
    "scope",
    "reason_id",
    "cluster_id",
    "column",
    "value",
    "contacts",
    "share_in",
    "share_out",
    "lift",
    "q_value",
]


def drivers(
    contacts: pd.DataFrame, dimensions: list[str], false_discovery_rate: float, min_contacts: int
) -> pd.DataFrame:
    """One row per over-represented (scope, column, value): `scope` is `reason` or `cluster`; `contacts` holds the
    value inside the scope; `share_in` / `share_out` its share inside and among the other reasons' (clusters')
    contacts; `lift` their ratio; `q_value` the adjusted p-value. Values held by fewer than `min_contacts` of the
    scope are not tested."""
    tests = [
        _tests(contacts, scope, key, column, min_contacts)
        for scope, key in (("reason", "reason_id"), ("cluster", "cluster_id"))
        for column in dimensions
        if column in contacts
    ]
    table = pd.concat([t for t in tests if len(t)], ignore_index=True) if any(len(t) for t in tests) else None
    if table is None:
        return pd.DataFrame(columns=COLUMNS)
    table["q_value"] = false_discovery_control(table.pop("p_value").to_numpy())
    table = table[(table["q_value"] <= false_discovery_rate) & (table["lift"] > 1)]
    return table.sort_values(
        ["scope", "reason_id", "cluster_id", "q_value", "lift"],
        ascending=[True, True, True, True, False],
        na_position="first",
    )[COLUMNS].reset_index(drop=True)


def _tests(contacts: pd.DataFrame, scope: str, key: str, column: str, min_contacts: int) -> pd.DataFrame:
    """Every (scope member, value) of one dimension with its counts and one-sided exact p-value."""
    rows = contacts[contacts[key].notna() & (contacts[key] != -1) & contacts[column].notna()]
    if rows.empty:
        return pd.DataFrame()
    values = rows[column].astype(str)
    total = len(rows)
    per_value = values.value_counts()
    table = rows.assign(_value=values).groupby([key, "_value"]).size().rename("contacts").reset_index()
    table = table[table["contacts"] >= min_contacts]
    if table.empty:
        return pd.DataFrame()
    size = rows.groupby(key).size()
    inside = size.reindex(table[key]).to_numpy()
    holding = per_value.reindex(table["_value"]).to_numpy()
    k = table["contacts"].to_numpy()
    outside = np.maximum(total - inside, 1)
    share_in, share_out = k / inside, (holding - k) / outside
    return pd.DataFrame(
        {
            "scope": scope,
            "reason_id": table[key].astype(str).to_numpy() if scope == "reason" else None,
            "cluster_id": table[key].astype("int64").to_numpy() if scope == "cluster" else pd.NA,
            "column": column,
            "value": table["_value"].to_numpy(),
            "contacts": k,
            "share_in": share_in,
            "share_out": share_out,
            "lift": np.where(share_out > 0, share_in / np.maximum(share_out, 1e-12), np.inf),
            # P(X >= k) when the scope's contacts were drawn at random: one-sided Fisher exact test
            "p_value": hypergeom.sf(k - 1, total, holding, inside),
        }
    )


def strongest(drivers: pd.DataFrame) -> dict[tuple[str, object], str]:
    """For each (scope, id), its strongest driver in words: "62% on app 5.2 against 5% of other reasons' contacts"."""
    out = {}
    for row in drivers.sort_values(["q_value", "lift"], ascending=[True, False]).itertuples():
        key = (row.scope, row.reason_id if row.scope == "reason" else int(row.cluster_id))
        out.setdefault(key, in_words(row))
    return out


def in_words(row) -> str:
    """A driver row as a sentence: "62% on app 5.2 against 5% of other reasons' contacts"."""
    others = "other reasons'" if row.scope == "reason" else "other clusters'"
    return f"{row.share_in:.0%} on {row.column} {row.value} against {row.share_out:.0%} of {others} contacts"

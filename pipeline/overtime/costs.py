"""What contacts cost, and who owns them: "charge the costs to the department that originates them".

A contact costs `cost.per_contact` plus its agent minutes times `cost.per_handle_minute` (either may be unset).
Each reason may name its `owner` in the taxonomy (a group's owner passes to its reasons); a contact's owner is its
reason's. The owners' table is each department's weekly contacts, cost and touch index.
"""

from __future__ import annotations

import pandas as pd

from pipeline.config import CostConfig
from pipeline.overtime.touch_index import touch_index
from pipeline.taxonomy.tree import Taxonomy

OWNER_COLUMNS = ["week", "owner", "contacts", "cost", "volume", "per_1000", "rolling_6w", "trend", "complete"]


def contact_costs(contacts: pd.DataFrame, cfg: CostConfig) -> pd.Series | None:
    """Each contact's cost, or None when no cost is configured."""
    if cfg.per_contact is None and cfg.per_handle_minute is None:
        return None
    minutes = contacts["handle_time_s"].fillna(0.0) / 60.0
    return (cfg.per_contact or 0.0) + minutes * (cfg.per_handle_minute or 0.0)


def owners_of(contacts: pd.DataFrame, taxonomy: Taxonomy | None) -> pd.Series:
    """Each contact's owner: its reason's (null without a taxonomy, a reason, or an owner)."""
    if taxonomy is None:
        return pd.Series(None, index=contacts.index, dtype=object)
    owner = {r.id: taxonomy.owner_of(r.id) for r in taxonomy.reasons}
    return contacts["reason_id"].map(owner).astype(object)


def owner_index(
    contacts: pd.DataFrame, owners: pd.Series, volume: pd.DataFrame | None, costs: pd.Series | None
) -> pd.DataFrame:
    """Week x owner: contacts, cost, and (with volume) the touch index of each owner's contacts."""
    names = sorted(owners.dropna().unique())
    if not names or contacts["created_at"].isna().all():
        return pd.DataFrame(columns=OWNER_COLUMNS)
    index = touch_index(contacts, volume, {f"owner:{o}": owners == o for o in names}, costs)
    index = index[index["scope"] != "overall"].copy()
    index["owner"] = index["scope"].str.slice(len("owner:"))
    return index[OWNER_COLUMNS].reset_index(drop=True)

"""The contacts table, joined in one place from what each step returned.

The path of one contact, column by column:
1. read (`pipeline.read`): `row`, `contact_id`, `text` (raw), `created_at`, `customer_id`, `ticket_id`, `channel`,
   `reason`, `handle_time_s`; messages add `conversation_id`, `turns`, `customer_turns`, `last_at`;
2. prepare (`pipeline.text.prepare`): `text` cleaned and redacted, `terms`, `language`, `text_status`, `removed_*`,
   `source_hash`;
3. `join_contacts` here: `cluster_id`, `probability`, `was_noise` (the clustering, or the run's clusters in
   `assign`), `duplicate_group`;
4. `with_reasons` here, with a taxonomy: `reason_id`, `reason_score`, `text_reason_id` (null without one);
5. refresh (`pipeline.run.refresh`): `agent_reason`, `issue_id`, `touch`, and `withheld_reason_id` (a reason held
   back while an open new_reason proposal says the contact's reason is missing).
The Parquet table holds the columns of `pipeline.run.schemas.CONTACTS`; the rest (`terms`, `source_hash`,
`agent_reason`) live only while a run is made.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.model.cluster import Clustering
from pipeline.read.digests import same_words
from pipeline.taxonomy.reasons import Reading
from pipeline.taxonomy.tree import Taxonomy


def join_contacts(prepared: pd.DataFrame, placement: Clustering, duplicates: pd.Series) -> pd.DataFrame:
    """`prepared` with each contact's cluster and duplicate group (`placement` covers every contact), and the
    reason columns empty until `with_reasons` fills them."""
    return prepared.assign(
        cluster_id=placement.labels,
        probability=placement.probabilities,
        was_noise=placement.was_noise,
        duplicate_group=duplicates.to_numpy(),
        reason_id=None,
        reason_score=np.nan,
        text_reason_id=None,
        withheld_reason_id=None,
    ).astype({"reason_id": object, "text_reason_id": object, "withheld_reason_id": object, "reason_score": float})


def with_reasons(contacts: pd.DataFrame, reading: Reading) -> pd.DataFrame:
    """`contacts` with the reasons read for the contacts at `reading.rows` (the others keep theirs)."""
    out = contacts.copy()
    at = out.index[reading.rows]
    out.loc[at, "reason_id"] = pd.Series(reading.assignment.reason_id, index=at, dtype=object)
    out.loc[at, "reason_score"] = reading.assignment.reason_score
    out.loc[at, "text_reason_id"] = pd.Series(reading.assignment.text_reason, index=at, dtype=object)
    out.loc[at, "withheld_reason_id"] = None  # read again: nothing of an earlier reading is held back
    return out


_PLACEMENT = ("cluster_id", "probability", "was_noise", "duplicate_group")  # where the run put a contact


def clusters_of_texts(history: pd.DataFrame, texts: pd.Series) -> np.ndarray:
    """For each of `texts`, the cluster the run holds contacts of that very text in (`history`: its `text` and
    `cluster_id`; where copies sit in several, the one holding most of them), or -1. discover puts the copies of a
    text in one cluster, but a cluster's centre takes only the texts at least as alike as its least alike 5% of
    members: a new copy of one of those would wait for the next discover while its twin is placed."""
    placed = history.loc[(history["cluster_id"] >= 0).to_numpy() & history["text"].isin(texts).to_numpy()]
    if placed.empty:
        return np.full(len(texts), -1, dtype=np.int32)
    most = placed.value_counts(["text", "cluster_id"], sort=True).reset_index().drop_duplicates("text")
    found = texts.map(most.set_index("text")["cluster_id"])
    return found.fillna(-1).astype(np.int32).to_numpy()


def add_to_history(history: pd.DataFrame, sources: pd.Series | None, fresh: pd.DataFrame) -> pd.DataFrame:
    """The contacts a run holds (`history`, as its table has them; `sources`: their source digests by contact id)
    with the day's contacts added last; a contact read again because its text or details changed replaces its old
    row. One whose words are the same (only a detail changed: a handle time filled in) keeps its cluster: placed
    anew by the nearest centre it could leave the cluster discover gave it."""
    fresh = fresh.copy()
    if sources is not None:
        kept_place = same_words(fresh["contact_id"].map(sources), fresh["source_hash"])
        if kept_place.any():
            before = history.set_index("contact_id").loc[fresh.loc[kept_place, "contact_id"]]
            for column in _PLACEMENT:
                fresh.loc[kept_place, column] = before[column].to_numpy()
    again = history["contact_id"].isin(fresh["contact_id"]).to_numpy()
    kept = history[~again] if again.any() else history  # no copy of a million rows when none is read again
    kept = kept.assign(source_hash=kept["contact_id"].map(sources) if sources is not None else None)
    for column in ("text_reason_id", "withheld_reason_id"):  # a run made before the column existed
        if column not in kept:
            kept = kept.assign(**{column: None})
    columns = [c for c in kept.columns if c in fresh]  # the table's columns, dimensions included
    # the day's few rows in the history's own types: a column whose types differ is concatenated as Python objects
    # (six columns at a million contacts: 0.7 s and 125 MB of a day's run; times: objects of two units too)
    times = {c: kept[c].dtype for c in ("created_at", "last_at")}
    fresh = fresh.assign(**{c: pd.to_datetime(fresh[c], utc=True).astype(dtype) for c, dtype in times.items()})
    return pd.concat([kept[columns], _in_types_of(fresh[columns], kept)], ignore_index=True)


def _in_types_of(fresh: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    """`fresh` with each column in the type the history holds it in, where that keeps every value as it is: text
    as text, numbers as numbers (a count that does not fit, text or flags where the history has numbers, or a
    number where it has text, stay as they were; fractions keep their precision)."""
    if history.empty:
        return fresh
    out = {}
    for column in fresh.columns:
        want, values = history[column].dtype, fresh[column]
        if values.dtype == want or pd.api.types.is_float_dtype(values):
            continue
        held = pd.api.types.infer_dtype(values, skipna=True)  # what the values are, missing ones aside
        if pd.api.types.is_string_dtype(want) and not pd.api.types.is_object_dtype(want):
            if held in ("string", "empty"):
                out[column] = values.astype(want)
        elif pd.api.types.is_numeric_dtype(want) and not pd.api.types.is_bool_dtype(want):
            if held not in ("integer", "floating", "mixed-integer-float", "empty"):
                continue  # text or flags where the history has numbers: left as they are
            try:
                cast, given = values.astype(want), pd.to_numeric(values)
            except (TypeError, ValueError):
                continue
            if np.array_equal(cast.to_numpy("float64"), given.to_numpy("float64"), equal_nan=True):
                out[column] = cast
    return fresh.assign(**out)


def lost_reasons(contacts: pd.DataFrame, taxonomy: Taxonomy) -> int:
    """Contacts whose reason the taxonomy no longer offers (removed, retired, or now a group)."""
    offered = {r.id for r in taxonomy.assignable()}
    return int((contacts["reason_id"].notna() & ~contacts["reason_id"].isin(offered)).sum())

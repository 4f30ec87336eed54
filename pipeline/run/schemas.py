"""The one place that defines every output table's columns and types.

Each output is `DIR/<name>.parquet` and a table `<name>` in `DIR/touchless.duckdb`. Analysts query these, so a
column here is a promise: add columns freely, rename or drop only with a deprecation path (docs/outputs.md).
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from pipeline.text import REMOVED_KINDS

_TS = pa.timestamp("us", tz="UTC")
# what touches say of a cluster or a reason (pipeline/touches.py), and whether it is emerging (pipeline/trends.py)
_TOUCH_STATS = [
    pa.field("issues", pa.int64()),
    pa.field("touches_per_issue", pa.float64()),
    pa.field("repeat_contact_rate", pa.float64()),  # contacts that repeat an issue, of all its contacts
    pa.field("one_touch_rate", pa.float64()),  # issues settled in one contact
    pa.field("handle_time_s", pa.float64()),  # total agent time, where the input has it
]
_TREND = pa.field("trend", pa.string())  # new | growing | declining | stable | inactive (null without times)
_COST = pa.field("cost", pa.float64())  # cost.per_contact x contacts + cost.per_handle_minute x agent minutes
_OWNER = [pa.field("owner", pa.string()), pa.field("action", pa.string())]  # from the taxonomy's reason

CONTACTS = pa.schema(
    [
        pa.field("contact_id", pa.string(), nullable=False),
        pa.field("row", pa.int64(), nullable=False),  # row of the input file, from 1
        pa.field("text", pa.string()),  # cleaned and redacted customer words (what was embedded); never raw input
        pa.field("text_status", pa.string()),  # ok | empty | no_reason | other_language (only ok is clustered)
        pa.field("language", pa.string()),  # ISO 639-1 code detected from the text
        pa.field("cluster_id", pa.int32(), nullable=False),  # -1 = noise or not clustered
        pa.field("probability", pa.float32()),  # how firmly it belongs to cluster_id (0-1), 0 for noise
        pa.field("reason_id", pa.string()),  # taxonomy reason given to it; null when none fits well enough
        pa.field("reason_score", pa.float32()),  # similarity (zero-shot) or probability (classifier) of the best reason
        pa.field(
            "text_reason_id", pa.string()
        ),  # the reason its text alone reads as (zero-shot), beside agents' reasons
        pa.field(
            "withheld_reason_id", pa.string()
        ),  # the reason it was given, held back while an open new_reason proposal says its reason is missing
        pa.field("was_noise", pa.bool_()),  # the clusterer left it out; cluster_id >= 0 means it was reassigned
        pa.field("created_at", _TS),
        pa.field("customer_id", pa.string()),
        pa.field("ticket_id", pa.string()),
        pa.field("channel", pa.string()),
        pa.field("reason", pa.string()),  # the agent-chosen reason from the input, if any
        pa.field("handle_time_s", pa.float64()),
        pa.field("duplicate_group", pa.string()),  # contact_id of the first of its repeated texts; null if unique
        pa.field("issue_id", pa.string()),  # contact_id of the first contact: its touches share it
        pa.field("touch", pa.int32()),  # 1 for an issue's first contact, 2 for the next ...
        pa.field("conversation_id", pa.string()),  # messages input: the conversation this contact stands for
        pa.field("last_at", _TS),  # messages input: time of the conversation's last message
        pa.field("turns", pa.int32()),  # messages input: messages in the conversation
        pa.field("customer_turns", pa.int32()),  # messages input: of them, from the customer
        *[pa.field(f"removed_{kind}", pa.int32()) for kind in REMOVED_KINDS],  # what cleaning removed (counts)
    ]
)

CLUSTERS = pa.schema(
    [
        pa.field("cluster_id", pa.int32(), nullable=False),
        pa.field("label", pa.string()),
        pa.field("keywords", pa.list_(pa.string())),
        pa.field("size", pa.int64()),
        pa.field("share", pa.float64()),  # of all contacts in the run
        pa.field("examples", pa.list_(pa.string())),  # contacts nearest the centre, prepared text
        pa.field("customers", pa.int64()),  # distinct customers, where customer_id was given
        pa.field("tickets", pa.int64()),  # distinct tickets, where ticket_id was given
        pa.field("contacts_per_customer", pa.float64()),
        pa.field("contacts_per_ticket", pa.float64()),
        *_TOUCH_STATS,
        _TREND,
        pa.field("group_id", pa.int32()),  # its reason group (0: the group with most contacts)
        pa.field("group_label", pa.string()),  # the group's readable name
        _COST,
    ]
)

REASONS = pa.schema(
    [
        pa.field("reason_id", pa.string(), nullable=False),
        pa.field("name", pa.string()),
        pa.field("parent", pa.string()),
        pa.field("kind", pa.string()),  # reason | secondary (a process step, never ranked as a cause)
        pa.field("contacts", pa.int64()),
        pa.field("share", pa.float64()),  # of all contacts in the run
        pa.field("mean_score", pa.float64()),
        pa.field("cluster_ids", pa.list_(pa.int32())),  # clusters holding most of its contacts, largest first
        *_TOUCH_STATS,
        _TREND,
        pa.field("touches", pa.int64()),  # total touches, as in the ranking
        pa.field("keywords", pa.list_(pa.string())),  # what its customers say and others do not (c-TF-IDF)
        *_OWNER,
        _COST,
    ]
)

PROPOSALS = pa.schema(
    [
        pa.field("proposal_id", pa.string(), nullable=False),  # same evidence, same id, in every run
        pa.field("rank", pa.int32()),  # by touches affected
        pa.field("kind", pa.string()),  # new_reason | split | merge | retire | mislabel | secondary
        pa.field("status", pa.string()),  # open | accepted | rejected (hidden until its evidence grows)
        pa.field("reason_ids", pa.list_(pa.string())),
        pa.field("cluster_ids", pa.list_(pa.int32())),
        pa.field("cluster_lineage", pa.string()),  # the chain of runs in which its cluster ids name these clusters
        pa.field("name", pa.string()),  # suggested
        pa.field("description", pa.string()),  # suggested
        pa.field("confidence", pa.float64()),
        pa.field("contacts", pa.int64()),
        pa.field("touches", pa.int64()),
        pa.field("keywords", pa.list_(pa.string())),
        pa.field("examples", pa.list_(pa.string())),  # redacted
        pa.field("evidence", pa.string()),  # why it was proposed, in one sentence
    ]
)

RANKING = pa.schema(
    [
        pa.field("rank", pa.int32(), nullable=False),
        pa.field("reason_id", pa.string()),  # a reason, or
        pa.field("cluster_id", pa.int32()),  # a cluster no reason holds
        pa.field("name", pa.string()),
        pa.field("contacts", pa.int64()),
        pa.field("issues", pa.int64()),
        pa.field("touches", pa.float64()),  # total touches = issues x touches per issue
        pa.field("touches_per_issue", pa.float64()),
        pa.field("repeat_contact_rate", pa.float64()),
        pa.field("one_touch_rate", pa.float64()),
        pa.field("handle_time_s", pa.float64()),
        pa.field("score", pa.float64()),
        pa.field("why", pa.string()),  # the parts of the score, and its strongest driver, in a sentence
        pa.field("trend", pa.string()),
        *_OWNER,
        _COST,
    ]
)

TOUCH_INDEX = pa.schema(
    [
        pa.field("week", pa.date32(), nullable=False),  # Monday of the ISO week
        pa.field("scope", pa.string()),  # overall | reason | cluster
        pa.field("reason_id", pa.string()),
        pa.field("cluster_id", pa.int32()),
        pa.field("name", pa.string()),
        pa.field("contacts", pa.int64()),
        pa.field("volume", pa.float64()),
        pa.field("per_1000", pa.float64()),  # contacts per 1,000 units of volume that week
        pa.field("rolling_6w", pa.float64()),  # over the last 6 weeks: sum of contacts / sum of volume x 1,000
        pa.field("trend", pa.string()),  # falling | rising | flat: latest rolling figure against 6 weeks before
        _COST,
        pa.field("complete", pa.bool_()),  # contacts and volume cover the whole week (the first and last often do not)
    ]
)

DRIVERS = pa.schema(
    [
        pa.field("scope", pa.string(), nullable=False),  # reason | cluster
        pa.field("reason_id", pa.string()),
        pa.field("cluster_id", pa.int32()),
        pa.field("column", pa.string()),  # the dimension (input.dimensions)
        pa.field("value", pa.string()),
        pa.field("contacts", pa.int64()),  # of the reason or cluster, holding the value
        pa.field("share_in", pa.float64()),  # of the reason's or cluster's contacts
        pa.field("share_out", pa.float64()),  # of the other reasons' (clusters') contacts
        pa.field("lift", pa.float64()),  # share_in / share_out
        pa.field("q_value", pa.float64()),  # exact test, false discovery rate held across every test of the run
    ]
)

OWNERS = pa.schema(
    [
        pa.field("week", pa.date32(), nullable=False),
        pa.field("owner", pa.string(), nullable=False),
        pa.field("contacts", pa.int64()),
        _COST,
        pa.field("volume", pa.float64()),
        pa.field("per_1000", pa.float64()),
        pa.field("rolling_6w", pa.float64()),
        pa.field("trend", pa.string()),
        pa.field("complete", pa.bool_()),
    ]
)

LINEAGE = pa.schema(
    [
        pa.field("previous_cluster_id", pa.int32()),  # null for a cluster born in this run
        pa.field("cluster_id", pa.int32()),  # null for a cluster that died
        pa.field("relation", pa.string()),  # continued | split | merged | born | died
        pa.field("shared_contacts", pa.int64()),
        pa.field("similarity", pa.float64()),  # of the two centres
    ]
)

TABLES: dict[str, pa.Schema] = {
    "contacts": CONTACTS,
    "clusters": CLUSTERS,
    "reasons": REASONS,
    "proposals": PROPOSALS,
    "ranking": RANKING,
    "touch_index": TOUCH_INDEX,
    "lineage": LINEAGE,
    "drivers": DRIVERS,
    "owners": OWNERS,
}


def contacts_schema(dimensions: list[str]) -> pa.Schema:
    """The contacts table with one text column per input dimension the canonical columns do not hold."""
    return pa.schema([*CONTACTS, *(pa.field(d, pa.string()) for d in dimensions if d not in CONTACTS.names)])


def to_table(frame: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    """Exactly the schema's columns, in its order and types; a missing column is a bug in touchless, not bad input."""
    missing = [f.name for f in schema if f.name not in frame.columns]
    assert not missing, f"output table lacks columns {missing}"
    return pa.Table.from_pandas(frame[schema.names], schema=schema, preserve_index=False)

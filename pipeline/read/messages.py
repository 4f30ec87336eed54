"""Turn a messages export (one row per chat or email message) into one contact per conversation.

The contact's text will be the customer's own words: its customer turns, in order, without turns that repeat what
an agent or bot said before (a quick-reply echo). `pipeline.prepare` cleans and redacts each turn and drops those
that carry no reason. The contact keeps the turn counts, its first and last times and its `conversation_id`, so
an analyst can go back to the conversation.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.config import InputConfig
from pipeline.read.contacts import (
    as_id_text,
    describe_columns,
    dimension_columns,
    fields_on_the_text,
    parse_times,
    refuse_repeated,
    require_columns,
    without_id,
)
from pipeline.read.report import InputReport, list_rows, rows_error
from pipeline.text.redact import asks_for_name

REQUIRED = ("conversation_id", "role", "text")
CONVERSATION_CONTACT = [  # a conversation's contact, in the canonical layout (`_conversation`)
    "contact_id",
    "row",
    "created_at",
    "last_at",
    "customer_id",
    "ticket_id",
    "channel",
    "reason",
    "handle_time_s",
    "conversation_id",
    "turns",
    "customer_turns",
]


def is_messages(raw: pd.DataFrame, cfg: InputConfig) -> bool:
    columns = cfg.messages.columns
    return cfg.kind == "messages" or (
        cfg.kind == "auto" and columns.conversation_id in raw.columns and columns.role in raw.columns
    )


def conversations(
    raw: pd.DataFrame,
    cfg: InputConfig,
    path: str | Path,
    date_orders: dict[str, str] | None = None,
    held: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, InputReport]:
    """(contacts, turns, report): one contact per conversation in the canonical layout plus conversation columns,
    and its customer turns (`contact`: position of the contact, `text`, `echo`: repeats an agent or bot,
    `answers_name`: follows an agent or bot turn that asked the customer's name). `date_orders`: as in
    `contacts_from_table`.

    `held`: the conversations a run holds already (`created_at`, `last_at` by conversation id). A daily export
    often holds only the part of a conversation sent since the last one (cut at midnight): when its first message
    is later than the held conversation's first, it continues it, and only its messages sent after the held last
    one are read (`continues`: True; `pipeline.text.prepare` adds them to the held text); one with none of those
    is left out as already read. A conversation whose first message is not later is a whole one: read again."""
    columns = cfg.messages.columns
    refuse_repeated(raw, [*columns.model_dump().values(), *cfg.dimensions], path)
    absent = fields_on_the_text(columns.model_dump(), cfg.dimensions, path)
    require_columns(
        raw,
        {name: getattr(columns, name) for name in REQUIRED},
        path,
        lambda name: f"map it with input.messages.columns.{name} in your config, or use --input-kind contacts",
    )
    report = InputReport(
        file=str(path),
        kind="messages",
        rows=len(raw),
        text_column=columns.text,
        warnings=list(raw.attrs.get("warnings", [])),
    )
    frame = pd.DataFrame({"row": np.arange(1, len(raw) + 1)})
    for name in ("conversation_id", "role", "text", "sent_at", "customer_id", "channel"):
        source = getattr(columns, name)
        frame[name] = raw[source].to_numpy() if source in raw.columns and name not in absent else None
    dimensions = dimension_columns(raw, cfg, path)
    for column in dimensions:
        frame[column] = raw[column].to_numpy()
    missing = without_id(frame, raw, "conversation_id", report)
    if missing.any():
        rows = frame.loc[missing, "row"].tolist()
        raise rows_error("message(s) have no conversation id", rows, path, columns.conversation_id)
    frame["conversation_id"] = as_id_text(frame["conversation_id"]).astype(str).str.strip()
    frame["text"] = frame["text"].fillna("").astype(str)
    frame["role"] = _roles(frame, cfg, report, columns.role)
    frame["sent_at"] = parse_times(
        frame, "sent_at", columns.sent_at, report, cfg.date_format, (date_orders or {}).get("sent_at")
    )

    contacts, turns, position, held_seen = [], [], 0, Counter()
    for conversation, messages in frame.groupby("conversation_id", sort=False):
        messages = messages.sort_values(["sent_at", "row"], kind="stable", na_position="last")
        messages, continues = _since_held(conversation, messages, held, report, held_seen)
        if messages.empty:
            continue
        contacts.append({**_conversation(conversation, messages, dimensions), "continues": continues})
        said_by_others: set[str] = set()
        asked_name = False  # the turn before asked the customer's name: a bare name may answer it
        for role, text in zip(messages["role"], messages["text"]):
            if role == "unknown":  # left out (warned about in `_roles`)
                continue
            if role == "customer":
                turns.append(
                    {
                        "contact": position,
                        "text": text,
                        "echo": _key(text) in said_by_others,
                        "answers_name": asked_name,
                    }
                )
            else:
                said_by_others.add(_key(text))
            asked_name = role != "customer" and asks_for_name(text)
        position += 1
    contacts = pd.DataFrame(contacts, columns=[*dimensions, *CONVERSATION_CONTACT, "continues"])
    if report.continued:
        report.warnings.append(
            f"{report.continued:,} conversation(s) continue ones the run holds (their first message here is later "
            "than the run's first): their messages sent since were added to them"
        )
    report.warnings += _held_warnings(held_seen)
    # found in the file's messages (conversations already read may leave no contact to look at)
    found = {"created_at": "sent_at", "customer_id": "customer_id", "channel": "channel"}
    report.optional_columns = [field for field, source in found.items() if frame[source].notna().any()]
    if frame["sent_at"].notna().any():
        report.optional_columns.append("sent_at")
    describe_columns(raw.columns, {**cfg.messages.columns.model_dump(), **{c: c for c in dimensions}}, report)
    report.columns = (
        f"read as messages (one row per message, {len(contacts):,} conversations by '{columns.conversation_id}'"
        + (f", found by its columns '{columns.conversation_id}' and '{columns.role}'" if cfg.kind == "auto" else "")
        + "). "
        + report.columns
    )
    if cfg.kind == "auto" and cfg.columns.contact_id in raw.columns:
        report.warnings.append(
            f"the file has the columns of a messages export ('{columns.conversation_id}', '{columns.role}') and "
            f"of a contacts export ('{cfg.columns.contact_id}'): it was read as messages, one contact per "
            "conversation from the customer's turns; if each row is one contact, run with --input-kind contacts"
        )
    report.conversations = len(contacts)
    turns = pd.DataFrame(turns, columns=["contact", "text", "echo", "answers_name"]).astype({"contact": np.int64})
    return contacts, turns, report


def _since_held(
    conversation: str, messages: pd.DataFrame, held: pd.DataFrame | None, report: InputReport, seen: Counter
) -> tuple[pd.DataFrame, bool]:
    """The messages of a conversation to read, and whether they continue one the run holds (see `conversations`).
    Judged by the messages' times: a part that begins after the run's copy continues it (its messages after the
    copy's last one are read; those without a time are left out: they cannot be placed); a part that begins no
    later and ends earlier is an older export of it (the run keeps its longer copy); one that spans it is read
    again whole. Without times on either side it cannot be told: read again whole, and said (`seen` counts each
    case, for `_held_warnings`)."""
    if held is None or conversation not in held.index:
        return messages, False
    first, last = held.at[conversation, "created_at"], held.at[conversation, "last_at"]
    times = messages["sent_at"].dropna()
    if pd.isna(first) or pd.isna(last) or times.empty:
        seen["untimed"] += 1
        return messages, False
    if times.min() > first:
        newer = messages[messages["sent_at"] > last]
        seen["untimed_left_out"] += int(messages["sent_at"].isna().sum())
        if newer.empty:
            report.already_known += 1
        else:
            report.continued += 1
        return newer, True
    if times.max() < last:
        seen["older"] += 1
        report.already_known += 1
        return messages.iloc[:0], True
    return messages, False


def _held_warnings(seen: Counter) -> list[str]:
    said = []
    if seen["older"]:
        said.append(
            f"{seen['older']:,} conversation(s) end here before the run's copy of them ends (an older export of them): "
            "the run keeps its longer copy"
        )
    if seen["untimed"]:
        said.append(
            f"{seen['untimed']:,} conversation(s) the run holds come again without message times (or the run's copy "
            "has none): whether they continue it cannot be told, and this export's messages were read as the whole "
            "conversation"
        )
    if seen["untimed_left_out"]:
        said.append(
            f"{seen['untimed_left_out']:,} message(s) without a time in conversations this export continues were "
            "left out: they cannot be placed before or after what the run holds"
        )
    return said


def _conversation(conversation: str, messages: pd.DataFrame, dimensions: list[str]) -> dict:
    """One contact; a dimension takes the first value the customer's messages carry (else any message's). Messages
    of a role touchless does not know are left out of it (its times and turns too); its row is its first message's."""
    rows = messages["row"]
    messages = messages[messages["role"] != "unknown"]
    customer = messages[messages["role"] == "customer"]
    times = messages["sent_at"].dropna()
    return {
        **{c: _first(customer[c]) or _first(messages[c]) for c in dimensions},
        "contact_id": conversation,
        "row": int(rows.min()),
        "created_at": times.min() if len(times) else pd.NaT,
        "last_at": times.max() if len(times) else pd.NaT,
        "customer_id": _first(customer["customer_id"]) or _first(messages["customer_id"]),
        "ticket_id": None,
        "channel": _first(messages["channel"]),
        "reason": None,
        "handle_time_s": np.nan,
        "conversation_id": conversation,
        "turns": len(messages),
        "customer_turns": len(customer),
    }


def _roles(frame: pd.DataFrame, cfg: InputConfig, report: InputReport, column: str) -> pd.Series:
    lookup = {name.lower(): role for role, names in cfg.messages.roles.items() for name in [role, *names]}
    given = frame["role"].fillna("").astype(str).str.strip().str.lower()
    mapped = given.map(lookup)
    unknown = mapped.isna()
    if unknown.any():
        values = ", ".join(f"'{v}'" for v in sorted(given[unknown].unique())[:10])
        report.warnings.append(
            f"{int(unknown.sum())} message(s) have a role touchless does not know ({values}) in column '{column}' "
            f"and are left out (rows {list_rows(frame.loc[unknown, 'row'].tolist())}); name them under "
            "input.messages.roles in your config"
        )
    return mapped.fillna("unknown")


def _first(values: pd.Series):
    values = values.dropna()
    return str(values.iloc[0]).strip() if len(values) else None


def _key(text: str) -> str:
    return " ".join(text.lower().split())

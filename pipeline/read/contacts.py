"""A contacts export (one row per contact) as the canonical contacts frame.

Fatal problems (missing columns, undecodable bytes, duplicate ids) raise `InputError` naming file, row and column,
before anything is written. Problems that are safe to carry past (empty texts, unreadable dates) are counted in an
`InputReport` and shown to the user. Row numbers count data rows from 1, the header not included.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from pipeline.config import InputConfig
from pipeline.errors import InputError
from pipeline.read.dates import parse_dates
from pipeline.read.report import SHOWN, InputReport, list_rows, rows_error

REQUIRED = ("contact_id", "text")
OPTIONAL = ("created_at", "customer_id", "ticket_id", "channel", "reason", "handle_time_s")
CONVERSATION = ("conversation_id", "last_at", "turns", "customer_turns")  # a messages export's, empty otherwise


def contacts_from_table(
    raw: pd.DataFrame, cfg: InputConfig, path: str | Path, date_orders: dict[str, str] | None = None
) -> tuple[pd.DataFrame, InputReport]:
    """The canonical contacts frame: one row per input row, every canonical column present (nulls where absent).
    `date_orders`: the day/month order of each date field as the run's first input was read (`parse_times`).

    Extra column: `row`, the source row number.
    """
    report = InputReport(
        file=str(path), rows=len(raw), text_column=cfg.columns.text, warnings=list(raw.attrs.get("warnings", []))
    )
    frame = _map_columns(raw, cfg, path)
    frame.insert(0, "row", pd.RangeIndex(1, len(frame) + 1))
    _check_ids(frame, raw, cfg, path, report)
    frame["text"] = frame["text"].astype(object).where(frame["text"].notna(), "").astype(str)
    _coerce_optional(frame, cfg, report, date_orders or {})
    dimensions = dimension_columns(raw, cfg, path)
    for column in dimensions:
        frame[column] = _as_text(raw[column].loc[frame.index])
    describe_columns(raw.columns, {**cfg.columns.model_dump(), **{c: c for c in dimensions}}, report)
    return frame.reset_index(drop=True), report


def dimension_columns(raw: pd.DataFrame, cfg: InputConfig, path: str | Path) -> list[str]:
    """The input's dimension columns (`input.dimensions`) that are not touchless's own field names; a dimension
    the file lacks is an error (it was asked for by name), one that clashes with a field's name too."""
    taken = {*REQUIRED, *OPTIONAL, *CONVERSATION, "row"}
    fields = set(cfg.columns.model_dump().values()) | set(cfg.messages.columns.model_dump().values())
    for column in cfg.dimensions:
        if column not in raw.columns:
            raise InputError(
                f"dimension column '{column}' is missing (columns found: {', '.join(map(str, raw.columns))})",
                file=str(path),
                column=column,
                hint="check --dimension or input.dimensions in your config",
            )
        if column in taken and column not in fields:
            raise InputError(
                f"a dimension cannot be called '{column}', a name touchless uses itself",
                file=str(path),
                column=column,
                hint="rename the column in the export",
            )
    # a field's own name (`channel`) is that field already; any other column (one also read as a field, say
    # `source` mapped to channel, or a messages column) is copied under its own name, as the contacts table has it
    return [c for c in cfg.dimensions if c not in taken]


def as_id_text(values: pd.Series) -> pd.Series:
    """Ids as they were meant: a column of whole numbers stored as floats (821.0, as pandas writes integers with
    gaps) gives the ids '821', not '821.0'. Only where every float is whole and exact (below 2**53): a larger one has
    lost digits already, and is left as it reads rather than made to look like a real id."""
    known = values.dropna()
    if not pd.api.types.is_float_dtype(values) or not (known.mod(1).eq(0) & known.abs().lt(2**53)).all():
        return values
    return values.map(lambda v: None if pd.isna(v) else str(int(v))).astype(object)


def _as_text(values: pd.Series) -> pd.Series:
    """Values as trimmed text, empty as missing (a dimension's values are labels, whatever their type)."""
    text = values.astype(object).where(values.notna(), None)
    return text.map(lambda v: None if v is None else (str(v).strip() or None))


def truncate_long(frame: pd.DataFrame, max_chars: int, report: InputReport) -> None:
    """Texts over `max_chars` are cut (the model reads ~256 tokens anyway) and counted."""
    long = frame["text"].str.len() > max_chars
    if long.any():
        frame.loc[long, "text"] = frame.loc[long, "text"].str.slice(0, max_chars)
        report.truncated = int(long.sum())
        report.warnings.append(
            f"{report.truncated} text(s) longer than {max_chars} characters were cut "
            f"(rows {list_rows(frame.loc[long, 'row'].tolist())}); input.max_text_chars sets the limit"
        )


def _map_columns(raw: pd.DataFrame, cfg: InputConfig, path: str | Path) -> pd.DataFrame:
    mapping = cfg.columns.model_dump()
    refuse_repeated(raw, [*mapping.values(), *cfg.dimensions], path)
    require_columns(
        raw,
        {name: mapping[name] for name in REQUIRED},
        path,
        lambda name: (
            f"name the column that holds the {name} with --column {name}=COLUMN or input.columns.{name} in your config"
        ),
    )
    absent = fields_on_the_text(mapping, cfg.dimensions, path)
    name = next((n for n in OPTIONAL if mapping[n] != n and mapping[n] not in raw.columns), None)
    if name is not None:  # asked for by name, as a dimension is: not quietly off
        raise InputError(
            f"{name} is mapped to column '{mapping[name]}', which the file does not have (columns found: "
            f"{', '.join(map(str, raw.columns))})",
            file=str(path),
            column=mapping[name],
            hint=f"check --column {name}=COLUMN or input.columns.{name} in your config (leave it out to run without "
            f"{name})",
        )
    frame = pd.DataFrame(index=raw.index)
    for name in REQUIRED + OPTIONAL:
        source = mapping[name]
        frame[name] = raw[source] if source in raw.columns and name not in absent else None
    return frame


def fields_on_the_text(mapping: dict[str, str], dimensions: list[str], path: str | Path) -> set[str]:
    """`mapping`: field -> column. The fields left at their own name where that is the text's column (a text
    column called `reason`): they are absent, not a copy of the text. A field mapped to the text's column by name,
    or a dimension that is it, is refused: only the text is redacted, its words would be stored raw there."""
    text = mapping["text"]
    named = next((f for f, column in mapping.items() if f != "text" and column == text and column != f), None)
    if named is not None or text in dimensions:
        what = f"{named} is mapped to column '{text}'," if named is not None else f"the dimension '{text}' is"
        raise InputError(
            f"{what} the column read as the text: the text would also be stored there, unredacted",
            file=str(path),
            column=text,
            hint="map it to another column (--column FIELD=COLUMN or --dimension, or in your config), or leave it out",
        )
    return on_the_text(mapping)


def on_the_text(mapping: dict[str, str]) -> set[str]:
    """The fields other than the text mapped to the text's column (`mapping`: field -> column)."""
    return {f for f, column in mapping.items() if f != "text" and column == mapping.get("text")}


def refuse_repeated(raw: pd.DataFrame, used: Iterable[str], path: str | Path) -> None:
    """A column touchless reads that the file names twice (a CSV header, a JSONL record) stops the run: which of
    them holds the field cannot be told, and the reader would have kept one without a word."""
    twice = raw.attrs.get("twice", {})
    name = next((c for c in used if c in twice), None)
    if name is not None:
        raise InputError(
            f"the file names column '{name}' more than once ({twice[name]})",
            file=str(path),
            column=name,
            hint="rename all but one of them in the export",
        )


def require_columns(raw: pd.DataFrame, required: dict[str, str], path: str | Path, hint) -> None:
    """Each required field's column (`required`: field -> column) is present and holds what the field needs;
    `hint(field)` says how to name another column."""
    for name, source in required.items():
        if source not in raw.columns:
            near = [str(c) for c in raw.columns if _plain(str(c)) == _plain(source)]
            raise InputError(
                f"required column '{source}' is missing (columns found: {', '.join(map(str, raw.columns))})"
                + (f"; '{near[0]}' differs from it only in case or spaces" if near else ""),
                file=str(path),
                column=source,
                hint=hint(name),
            )
        _check_column(raw, source, path, text=name == "text")


def _check_column(raw: pd.DataFrame, column: str, path: str | Path, text: bool) -> None:
    """A text column must hold text (a Parquet column of numbers would be read as digits), and no required column
    may hold JSON objects or lists (they would be read as their printed form)."""
    dtype = raw[column].dtype
    # an object column is judged by what it holds: whole numbers with gaps arrive from Parquet as Python ints there
    held = pd.api.types.infer_dtype(raw[column], skipna=True) if text and pd.api.types.is_object_dtype(dtype) else None
    if text and (held not in ("string", "empty") if held else not pd.api.types.is_string_dtype(dtype)):
        raise InputError(
            f"holds {held or dtype} values, not text",
            file=str(path),
            column=column,
            hint="export the column as text (string), or name the right column",
        )
    rows = raw.attrs.get("nested", {}).get(column)
    if rows:
        raise InputError(
            f"holds a JSON object or list, not text ({len(rows)} row(s): {list_rows(rows)})",
            file=str(path),
            row=rows[0],
            column=column,
        )


def without_id(frame: pd.DataFrame, raw: pd.DataFrame, id_field: str, report: InputReport) -> pd.Series:
    """The rows of `frame` that lack an id (`id_field`), less the rows with no value in any column of `raw`: a
    spreadsheet exports the empty rows it once formatted as `,,,`. Those hold no contact, so they are dropped, with a
    warning that names them, instead of stopping the run as rows without an id."""
    ids = frame[id_field]
    missing = ids.isna() | (ids.astype(str).str.strip() == "")
    if not missing.any():
        return missing
    values = raw.loc[missing.to_numpy()]
    blank = (values.isna() | values.astype(str).apply(lambda column: column.str.strip() == "")).all(axis=1)
    if blank.any():
        rows = frame.loc[missing.to_numpy()].loc[blank.to_numpy(), "row"].tolist()
        report.warnings.append(
            f"skipped {len(rows)} empty row(s), with no value in any column (spreadsheets export the rows they once "
            f"formatted so): rows {list_rows(rows)}"
        )
        frame.drop(index=frame.index[frame["row"].isin(rows)], inplace=True)
        missing = missing.loc[frame.index]
    return missing


def _check_ids(frame: pd.DataFrame, raw: pd.DataFrame, cfg: InputConfig, path: str | Path, report: InputReport) -> None:
    missing = without_id(frame, raw, "contact_id", report)
    if missing.any():
        rows = frame.loc[missing, "row"].tolist()
        raise rows_error("row(s) have no contact id", rows, path, cfg.columns.contact_id)
    frame["contact_id"] = as_id_text(frame["contact_id"]).astype(str).str.strip()
    dup = frame["contact_id"].duplicated(keep="first")
    if not dup.any():
        return
    examples = [
        f"'{cid}' (rows {list_rows(frame.loc[frame['contact_id'] == cid, 'row'].tolist())})"
        for cid in frame.loc[dup, "contact_id"].unique()[:SHOWN]
    ]
    n_ids = frame.loc[dup, "contact_id"].nunique()
    if cfg.on_duplicate_id == "error":
        raise InputError(
            f"{n_ids} contact id(s) appear more than once: {'; '.join(examples)}",
            file=str(path),
            row=int(frame.loc[dup, "row"].iloc[0]),
            column=cfg.columns.contact_id,
            hint="each contact needs its own id; set input.on_duplicate_id: keep_first to keep the first of each",
        )
    report.duplicates_dropped = int(dup.sum())
    report.warnings.append(
        f"kept the first of each repeated contact id, dropped {int(dup.sum())} row(s): {'; '.join(examples)}"
    )
    frame.drop(index=frame.index[dup], inplace=True)


# what each optional field gives; without it, that is off
OPTIONAL_USES = {
    "created_at": "trends, emerging reasons, the touch index and the 7-day repeat-contact window",
    "customer_id": "repeat contacts by the same customer and customers per cluster",
    "ticket_id": "touches counted per ticket",
    "channel": "the channel of each contact",
    "reason": "agents' reasons: the classifier trained on them and mislabel proposals",
    "handle_time_s": "agent time per cause and the handle-time ranking",
    "sent_at": "the times of messages, hence of contacts: trends, the touch index, repeat contacts",
}
# column names that often hold a field under another name: suggested, never used without being asked
_LIKELY = {
    "created_at": (
        "date",
        "created",
        "created_on",
        "opened",
        "opened_at",
        "opened_on",
        "timestamp",
        "time",
        "datetime",
        "submitted_at",
        "received_at",
        "start_time",
        "started_at",
    ),
    "customer_id": (
        "customer",
        "cust_id",
        "cust_no",
        "customer_no",
        "customer_number",
        "client_id",
        "client",
        "user_id",
        "account_id",
        "requester_id",
        "member_id",
    ),
    "ticket_id": ("ticket", "ticket_no", "ticket_number", "case", "case_id", "case_number", "incident_id"),
    "channel": ("source", "via", "medium", "contact_channel"),
    "reason": ("category", "contact_reason", "disposition", "topic", "intent", "label", "reason_code"),
    "handle_time_s": ("handle_time", "aht", "duration", "duration_s", "handling_time", "talk_time"),
    "sent_at": ("timestamp", "time", "created_at", "date", "datetime", "sent"),
}


def describe_columns(found: Iterable[str], mapping: dict[str, str], report: InputReport) -> None:
    """Say which input column each optional field came from, which fields were not found and what that turns
    off, and which columns were not used; a column that looks like a missing field is suggested with the
    `--column FIELD=COLUMN` that would map it (a warning: likely a naming mismatch, not a missing field)."""
    found = [str(c) for c in found]
    shared = on_the_text(mapping)  # absent: their column is the text's (fields_on_the_text)
    used = {f: column for f, column in mapping.items() if column in found and f not in shared}
    optional = [f for f in mapping if f in OPTIONAL_USES]
    missing = [f for f in optional if f not in used or f not in report.optional_columns]
    unused = [c for c in found if c not in used.values()]
    read = ", ".join(
        (f"{f} <- '{c}'" if f != c else f) + ("" if f not in optional or f not in missing else " (empty)")
        for f, c in used.items()
    )
    parts = [f"columns read: {read}"]
    if missing:
        parts.append("not found: " + "; ".join(f"{f} (off: {OPTIONAL_USES[f]})" for f in missing))
    if unused:
        parts.append(f"columns not used: {', '.join(unused)}")
    report.columns = ". ".join(parts)
    suggestions = [  # quoted as a shell needs it: a column may hold spaces ('Created At ')
        f"--column {shlex.quote(f'{f}={c}')}" for f in missing for c in unused if _plain(c) in (f, *_LIKELY.get(f, ()))
    ]
    if suggestions:
        report.warnings.append(
            f"optional fields not found: {', '.join(missing)}; the file has columns that may hold them: map them "
            f"with {' '.join(dict.fromkeys(suggestions))} (or input.columns in your config)"
        )


def _plain(column: str) -> str:
    """A column name as people mean it: 'Created At ' is created_at."""
    return column.strip().lower().replace(" ", "_")


def parse_times(
    frame: pd.DataFrame, field: str, column: str, report: InputReport, date_format: str | None, known_order: str | None
) -> pd.Series:
    """`frame[field]` as UTC times, one format for the whole column (`pipeline.read.dates`); values that are not
    dates in it are left empty and reported with their rows under the input's `column` name. The column's day/month
    order is kept in `report.date_orders`; `known_order`, that of an earlier export, reads values that do not tell."""
    parsed, warnings, order = parse_dates(
        frame[field],
        file=report.file,
        column=column,
        rows=frame["row"].to_numpy(),
        date_format=date_format,
        known_order=known_order,
    )
    report.warnings += warnings
    if order:
        report.date_orders[field] = order
    return parsed


def _coerce_optional(frame: pd.DataFrame, cfg: InputConfig, report: InputReport, date_orders: dict[str, str]) -> None:
    present = [c for c in OPTIONAL if frame[c].notna().any()]
    report.optional_columns = present
    for name in ("customer_id", "ticket_id", "channel", "reason"):
        col = as_id_text(frame[name]) if name in ("customer_id", "ticket_id") else frame[name]
        frame[name] = col.where(col.isna(), col.astype(str).str.strip()).replace("", None)
    frame["created_at"] = parse_times(
        frame, "created_at", cfg.columns.created_at, report, cfg.date_format, date_orders.get("created_at")
    )
    seconds = pd.to_numeric(frame["handle_time_s"], errors="coerce")
    bad = (seconds.isna() & frame["handle_time_s"].notna()) | (seconds < 0)
    if bad.any():
        report.warnings.append(
            f"{int(bad.sum())} value(s) of '{cfg.columns.handle_time_s}' are not non-negative numbers and were left "
            "empty "
            f"(rows {list_rows(frame.loc[bad, 'row'].tolist())})"
        )
        seconds = seconds.mask(bad)
    frame["handle_time_s"] = seconds.astype("float64")

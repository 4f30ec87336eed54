"""Read a contacts export (CSV, TSV, JSONL or Parquet) into the canonical contacts frame.

Fatal problems (missing columns, undecodable bytes, duplicate ids) raise `InputError` naming file, row and column,
before anything is written. Problems that are safe to carry past (empty texts, unreadable dates) are counted in an
`InputReport` and shown to the user. Row numbers count data rows from 1, the header not included.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pandas as pd
import pyarrow.parquet as pq

from pipeline.config import InputConfig
from pipeline.errors import InputError

REQUIRED = ("contact_id", "text")
OPTIONAL = ("created_at", "customer_id", "ticket_id", "channel", "reason", "handle_time_s")
_SURROGATE = re.compile("[\ud800-\udfff]")
_SHOWN = 5  # how many offending rows a message lists before "and N more"
_FLAGS = {"contact_id": "--id-column", "text": "--text-column"}


@dataclass
class InputReport:
    """What was read and what was set aside, for the run summary."""

    file: str
    kind: str = "contacts"
    rows: int = 0
    conversations: int | None = None
    empty_text: int = 0
    no_reason: int = 0
    other_language: int = 0
    truncated: int = 0
    duplicates_dropped: int = 0
    already_known: int = 0  # contacts an earlier run holds with the same text: not prepared again (assign)
    changed: int = 0  # contacts an earlier run holds whose text has changed since: read again (assign)
    redacted: dict[str, int] = field(default_factory=dict)
    optional_columns: list[str] = field(default_factory=list)  # optional fields found, with values
    columns: str = ""  # which input column each field was read from, what was not found and what that turns off
    warnings: list[str] = field(default_factory=list)


def contacts_from_table(raw: pd.DataFrame, cfg: InputConfig, path: str | Path) -> tuple[pd.DataFrame, InputReport]:
    """The canonical contacts frame: one row per input row, every canonical column present (nulls where absent).

    Extra column: `row`, the source row number.
    """
    report = InputReport(file=str(path), rows=len(raw), warnings=list(raw.attrs.get("warnings", [])))
    frame = _map_columns(raw, cfg, path)
    frame.insert(0, "row", pd.RangeIndex(1, len(frame) + 1))
    _check_ids(frame, cfg, path, report)
    frame["text"] = frame["text"].astype(object).where(frame["text"].notna(), "").astype(str)
    _coerce_optional(frame, path, report)
    describe_columns(raw.columns, cfg.columns.model_dump(), report)
    return frame.reset_index(drop=True), report


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


def read_table(path: str | Path, encoding: str = "utf-8") -> pd.DataFrame:
    """Every column as strings (ids like '007' stay as written); empty cells as missing. `path` may be a URL
    fsspec understands (s3://, gcs://, https:// ... with the matching fsspec package installed)."""
    location = str(path)
    path = PurePosixPath(location.split("://", 1)[-1])
    check_readable(location)
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    kind = suffixes[-1] if suffixes else ""
    if kind in (".parquet", ".pq"):
        return _read_parquet(location)
    if kind not in (".csv", ".tsv", ".jsonl", ".ndjson"):
        raise InputError(
            f"unsupported file type '{kind or path.name}'",
            file=location,
            hint="give a .csv, .tsv, .jsonl or .parquet file (.csv.gz and .jsonl.gz work too)",
        )
    text = _decode(location, encoding)
    if not text.strip():
        raise InputError("file is empty", file=location)
    if kind in (".jsonl", ".ndjson"):
        return _read_jsonl(text, location)
    return _read_delimited(text, location, sep="\t" if kind == ".tsv" else ",")


def check_readable(location: str) -> None:
    """A file that can be read, or an error that says what the path is instead (a folder, a link to nothing or a
    loop of links, a file this user may not read, nothing at all)."""
    import fsspec

    if "://" not in location:
        local = Path(location)
        if local.is_dir():
            raise InputError("is a folder, not a file", file=location, hint="give the export file inside it")
        if local.is_symlink() and not local.exists():
            try:
                local.resolve(strict=True)
            except RuntimeError:
                raise InputError("is a symbolic link that leads back to itself (a loop)", file=location) from None
            except OSError:
                pass
            raise InputError(f"is a symbolic link to {os.readlink(local)}, which does not exist", file=location)
        if local.is_file() and not os.access(local, os.R_OK):
            raise InputError("cannot be read: permission denied", file=location)
    fs, inner = fsspec.core.url_to_fs(location)
    if not fs.isfile(inner):
        raise InputError("file does not exist", file=location)


def read_bytes(location: str) -> bytes:
    import fsspec

    with fsspec.open(location, "rb") as fh:
        return fh.read()


def _decode(location: str, encoding: str) -> str:
    data = read_bytes(location)
    if location.lower().endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (EOFError, OSError, zlib.error) as exc:
            raise InputError(f"is not a whole gzip file ({exc}): it may have been cut off while copying",
                             file=location, hint="copy or export it again") from None
    codec = "utf-8-sig" if encoding.replace("_", "-").lower() in ("utf-8", "utf8") else encoding
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(
            f"bytes at line {line} (byte {exc.start}) are not valid {encoding}: {data[exc.start:exc.end]!r}",
            file=location,
            hint="re-export the file as UTF-8, or set input.encoding in your config (e.g. latin-1)",
        ) from None
    except LookupError:
        raise InputError(f"unknown encoding '{encoding}' (input.encoding)", file=location) from None


def _read_delimited(text: str, location: str, sep: str) -> pd.DataFrame:
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, na_values=[""])
    except pd.errors.ParserError as exc:
        raise InputError(f"cannot be parsed as {'TSV' if sep == chr(9) else 'CSV'}: {exc}", file=location) from None
    except pd.errors.EmptyDataError:
        raise InputError("file is empty", file=location) from None
    if frame.empty:
        raise InputError("file has a header but no rows", file=location)
    return frame


def _read_jsonl(text: str, location: str) -> pd.DataFrame:
    """Every value as text as it was written: numbers and true/false as in the JSON, objects and lists as JSON
    (their rows noted in `frame.attrs["nested"]`, so a text or id given as an object is an error, not a repr);
    escaped lone surrogates (half an emoji, not valid Unicode) become U+FFFD with a warning."""
    records = []
    nested: dict[str, list[int]] = {}
    broken: dict[str, list[int]] = {}

    def cell(value, column: str, row: int):
        if value is None or value == "":
            return None
        if isinstance(value, str):
            if _SURROGATE.search(value):
                broken.setdefault(column, []).append(row)
                return _SURROGATE.sub("\ufffd", value)
            return value
        if isinstance(value, (dict, list)):
            nested.setdefault(column, []).append(row)
        return json.dumps(value, ensure_ascii=False)

    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"line {number} is not valid JSON: {exc.msg}", file=location) from None
        if not isinstance(record, dict):
            raise InputError(f"line {number} is not a JSON object", file=location)
        row = len(records) + 1
        records.append({str(k): cell(v, str(k), row) for k, v in record.items()})
    frame = pd.DataFrame.from_records(records).astype(object)
    frame = frame.where(frame.notna(), None)
    frame.attrs["nested"] = nested
    frame.attrs["warnings"] = [
        f"{len(rows)} value(s) of '{column}' held an escaped half of a character pair (not valid Unicode), "
        f"replaced by \ufffd (rows {list_rows(rows)})" for column, rows in broken.items()
    ]
    return frame


def _read_parquet(location: str) -> pd.DataFrame:
    try:
        table = pq.read_table(io.BytesIO(read_bytes(location)))
    except Exception as exc:  # pyarrow raises several types for damaged files
        raise InputError(f"cannot be read as Parquet: {exc}", file=location) from None
    if table.num_rows == 0:
        raise InputError("file has no rows", file=location)
    return table.to_pandas()


def _map_columns(raw: pd.DataFrame, cfg: InputConfig, path: str | Path) -> pd.DataFrame:
    mapping = cfg.columns.model_dump()
    found = [str(c) for c in raw.columns]
    for name in REQUIRED:
        source = mapping[name]
        if source not in raw.columns:
            raise InputError(
                f"required column '{source}' is missing (columns found: {', '.join(found)})",
                file=str(path),
                column=source,
                hint=f"name the column that holds the {name} with {_FLAGS[name]} or input.columns.{name} in your config",
            )
        check_column(raw, source, path, text=name == "text")
    frame = pd.DataFrame(index=raw.index)
    for name in REQUIRED + OPTIONAL:
        source = mapping[name]
        frame[name] = raw[source] if source in raw.columns else None
    return frame


def check_column(raw: pd.DataFrame, column: str, path: str | Path, text: bool) -> None:
    """A text column must hold text (a Parquet column of numbers would be read as digits), and no required column
    may hold JSON objects or lists (they would be read as their printed form)."""
    dtype = raw[column].dtype
    if text and not (pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)):
        raise InputError(f"holds {dtype} values, not text", file=str(path), column=column,
                         hint="export the column as text (string), or name the right column")
    rows = raw.attrs.get("nested", {}).get(column)
    if rows:
        raise InputError(f"holds a JSON object or list, not text ({len(rows)} row(s): {list_rows(rows)})",
                         file=str(path), row=rows[0], column=column)


def _check_ids(frame: pd.DataFrame, cfg: InputConfig, path: str | Path, report: InputReport) -> None:
    ids = frame["contact_id"]
    missing = ids.isna() | (ids.astype(str).str.strip() == "")
    if missing.any():
        rows = frame.loc[missing, "row"].tolist()
        raise InputError(
            f"{len(rows)} row(s) have no contact id: rows {list_rows(rows)}",
            file=str(path),
            row=rows[0],
            column=cfg.columns.contact_id,
        )
    frame["contact_id"] = ids.astype(str).str.strip()
    dup = frame["contact_id"].duplicated(keep="first")
    if not dup.any():
        return
    examples = [
        f"'{cid}' (rows {list_rows(frame.loc[frame['contact_id'] == cid, 'row'].tolist())})"
        for cid in frame.loc[dup, "contact_id"].unique()[:_SHOWN]
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
    report.warnings.append(f"kept the first of each repeated contact id, dropped {int(dup.sum())} row(s): {'; '.join(examples)}")
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
    "created_at": ("date", "created", "created_on", "opened", "opened_at", "opened_on", "timestamp", "time",
                   "datetime", "submitted_at", "received_at", "start_time", "started_at"),
    "customer_id": ("customer", "cust_id", "cust_no", "customer_no", "customer_number", "client_id", "client",
                    "user_id", "account_id", "requester_id", "member_id"),
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
    used = {field: mapping[field] for field in mapping if mapping[field] in found}
    optional = [f for f in mapping if f in OPTIONAL_USES]
    missing = [f for f in optional if f not in used or f not in report.optional_columns]
    unused = [c for c in found if c not in used.values()]
    read = ", ".join((f"{f} <- '{c}'" if f != c else f) + ("" if f not in optional or f not in missing else " (empty)")
                     for f, c in used.items())
    parts = [f"columns read: {read}"]
    if missing:
        parts.append("not found: " + "; ".join(f"{f} (off: {OPTIONAL_USES[f]})" for f in missing))
    if unused:
        parts.append(f"columns not used: {', '.join(unused)}")
    report.columns = ". ".join(parts)
    suggestions = [f"--column {f}={c}" for f in missing for c in unused
                   if c.lower().replace(" ", "_") in _LIKELY.get(f, ())]
    if suggestions:
        report.warnings.append(
            f"optional fields not found: {', '.join(missing)}; the file has columns that may hold them: map them "
            f"with {' '.join(dict.fromkeys(suggestions))} (or input.columns in your config)"
        )


def parse_times(frame: pd.DataFrame, field: str, column: str, report: InputReport) -> pd.Series:
    """`frame[field]` as UTC times (any common format); values that are not dates are left empty and reported with
    their rows under the input's `column` name."""
    if frame[field].isna().all():
        return pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns, UTC]")
    parsed = pd.to_datetime(frame[field], errors="coerce", utc=True, format="mixed")
    bad = parsed.isna() & frame[field].notna()
    if bad.any():
        report.warnings.append(
            f"{int(bad.sum())} value(s) of '{column}' are not dates and were left empty "
            f"(rows {list_rows(frame.loc[bad, 'row'].tolist())})"
        )
    return parsed


def _coerce_optional(frame: pd.DataFrame, path: str | Path, report: InputReport) -> None:
    present = [c for c in OPTIONAL if frame[c].notna().any()]
    report.optional_columns = present
    for name in ("customer_id", "ticket_id", "channel", "reason"):
        col = frame[name]
        frame[name] = col.where(col.isna(), col.astype(str).str.strip()).replace("", None)
    frame["created_at"] = parse_times(frame, "created_at", "created_at", report)
    seconds = pd.to_numeric(frame["handle_time_s"], errors="coerce")
    bad = (seconds.isna() & frame["handle_time_s"].notna()) | (seconds < 0)
    if bad.any():
        report.warnings.append(
            f"{int(bad.sum())} value(s) of handle_time_s are not non-negative numbers and were left empty "
            f"(rows {list_rows(frame.loc[bad, 'row'].tolist())})"
        )
        seconds = seconds.mask(bad)
    frame["handle_time_s"] = seconds.astype("float64")


def list_rows(rows: list[int]) -> str:
    shown = ", ".join(str(r) for r in rows[:_SHOWN])
    return shown + (f" and {len(rows) - _SHOWN} more" if len(rows) > _SHOWN else "")


def load_labels(path: str | Path, cfg: InputConfig, column: str) -> pd.Series:
    """The known reason of each contact (for scoring), indexed by contact id; rows without one are left out.
    In a messages export the contact is the conversation, and its reason the label most of its messages carry."""
    from pipeline.messages import is_messages

    raw = read_table(path, cfg.encoding)
    messages = is_messages(raw, cfg)
    id_column = cfg.messages.columns.conversation_id if messages else cfg.columns.contact_id
    for name in (id_column, column):
        if name not in raw.columns:
            raise InputError(
                f"column '{name}' is missing (columns found: {', '.join(map(str, raw.columns))})",
                file=str(path),
                column=name,
            )
    labels = raw[[id_column, column]].dropna()
    labels = labels.assign(**{id_column: labels[id_column].astype(str).str.strip(), column: labels[column].astype(str)})
    if messages:
        return labels.groupby(id_column, sort=False)[column].agg(lambda v: v.value_counts().index[0])
    return labels.set_index(id_column)[column]

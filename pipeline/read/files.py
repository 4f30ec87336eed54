"""Read an export file (CSV, TSV, JSONL or Parquet, gzipped or not, local or by URL) into a frame of text.

Every column is read as text as it was written (ids like '007' stay as written); a file that cannot be read at all
raises `InputError` naming the file, and where it knows them the row (1 = the first after the header, as every
message counts rows) and the line, which differ where a quoted text runs over lines or lines are blank.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import os
import re
import sys
import warnings
import zlib
from collections import Counter, deque
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import pandas as pd
import pyarrow.parquet as pq

from pipeline.errors import InputError
from pipeline.read.report import list_rows

_SURROGATE = re.compile("[\ud800-\udfff]")
_C1 = re.compile("[\x80-\x9f]")  # control codes no text holds


def read_table(path: str | Path, encoding: str = "utf-8", columns: set[str] | None = None) -> pd.DataFrame:
    """Every column as strings (ids like '007' stay as written); empty cells as missing. `path` may be a URL
    fsspec understands (s3://, gcs://, https:// ... with the matching fsspec package installed). `columns`: only
    those of them the file has (scoring a million contacts needs their ids and labels, not their texts)."""
    location = str(path)
    path = PurePosixPath(location.split("://", 1)[-1])
    check_readable(location)
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    kind = suffixes[-1] if suffixes else ""
    if kind in (".parquet", ".pq"):
        return _read_parquet(location, columns)
    if kind not in (".csv", ".tsv", ".jsonl", ".ndjson"):
        raise InputError(
            f"unsupported file type '{kind or path.name}'",
            file=location,
            hint="give a .csv, .tsv, .jsonl or .parquet file (.csv.gz and .jsonl.gz work too)",
        )
    sep = None if kind in (".jsonl", ".ndjson") else "\t" if kind == ".tsv" else ","
    text = _decode(location, encoding, sep)
    if not text.strip():
        raise InputError("file is empty", file=location)
    if sep is None:
        frame = _read_jsonl(text, location)
        frame = frame if columns is None else frame[[c for c in frame.columns if c in columns]]
    else:
        frame = _read_delimited(text, location, sep=sep, columns=columns)
    controls = _C1.findall(text) if codecs.lookup(encoding).name == "iso8859-1" else []
    if controls:  # latin-1 (iso-8859-1) reads Windows' quotes, dashes and euro sign as control codes
        frame.attrs["warnings"] = [
            *frame.attrs.get("warnings", []),
            f"the file holds {len(controls)} control code(s) such as {controls[0]!r} as read with encoding "
            f"'{encoding}': most likely Windows characters (quotes, dashes, the euro sign); set input.encoding: "
            "cp1252 in your config",
        ]
    return frame


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
        if local.exists() and not local.is_file():  # a named pipe, a socket, a device: read once, or never ends
            raise InputError(
                "is not a regular file (a named pipe, socket or device)",
                file=location,
                hint="save the export as a file",
            )
    fs, inner = fsspec.core.url_to_fs(location)
    if not fs.isfile(inner):
        raise InputError("file does not exist", file=location)


def read_bytes(location: str) -> bytes:
    import fsspec

    with fsspec.open(location, "rb") as fh:
        return fh.read()


def _decode(location: str, encoding: str, sep: str | None) -> str:
    """The file as text; bytes the encoding cannot read are named by line, and by row and column where the file's
    delimiter `sep` (None: JSON lines) tells them."""
    data = read_bytes(location)
    if location.lower().endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (EOFError, OSError, zlib.error) as exc:
            raise InputError(
                f"is not a whole gzip file ({exc}): it may have been cut off while copying",
                file=location,
                hint="copy or export it again",
            ) from None
    codec = "utf-8-sig" if encoding.replace("_", "-").lower() in ("utf-8", "utf8") else encoding
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as exc:
        before = data[: exc.start].decode(codec, errors="replace")  # read up to them
        row, column = _place(before, sep)
        line = ("in the header at " if row == 0 else "at ") + f"line {before.count(chr(10)) + 1}"
        bad = data[exc.start : exc.end]
        # bytes 0x80-0x9f are Windows' quotes, dashes and euro sign in cp1252; latin-1 reads them as control codes
        windows = any(0x80 <= b <= 0x9F for b in bad)
        # a UTF-16 file (Excel's "Unicode text") starts with its byte-order mark: cp1252 would read it as noise
        wide = data[:2] in (b"\xff\xfe", b"\xfe\xff")
        raise InputError(
            f"bytes {line} (byte {exc.start}) are not valid {encoding}: {bad!r}",
            file=location,
            row=row or None,
            column=column,
            hint="re-export the file as UTF-8, or set input.encoding in your config"
            + (
                " (it starts with UTF-16's byte-order mark: utf-16)"
                if wide
                else " (this byte reads as a Windows character: cp1252)"
                if windows
                else " (e.g. cp1252 or latin-1)"
            ),
        ) from None
    except LookupError:
        raise InputError(f"unknown encoding '{encoding}' (input.encoding)", file=location) from None
    half = None if text.isascii() else _SURROGATE.search(text)  # utf-7, unicode_escape can give half a pair
    if half:
        row, column = _place(text[: half.start()], sep)
        raise InputError(
            f"at line {text.count(chr(10), 0, half.start()) + 1} the bytes read as {encoding} give half of a "
            "character (a lone surrogate), which no text holds",
            file=location,
            row=row or None,
            column=column,
            hint="re-export the file as UTF-8, or set input.encoding in your config",
        )
    return text.removeprefix("\ufeff")  # a byte order mark the codec kept ('utf-16-le') is no text


def _place(before: str, sep: str | None) -> tuple[int | None, str | None]:
    """The row (1 = the first after the header, 0 = the header) and column of what follows `before`, numbered as
    the rest of touchless numbers them: a quoted text running over lines is one row, blank lines are no row; in JSON
    lines, each line that is not blank is a row (no header, no column). (None, None) where the CSV cannot be
    followed that far."""
    text = before + "x"  # a stand-in for what follows, so that its row is the last one read
    if sep is None:
        return sum(1 for line in _json_lines(text) if line.strip()), None
    rows = _records(text, sep)
    try:
        header = next(rows)
        tail = deque(enumerate(rows, start=1), maxlen=1)
    except csv.Error:
        return None, None
    row, last = tail[0] if tail else (0, header)
    return row, header[len(last) - 1] if row and len(last) <= len(header) else None


def _records(text: str, sep: str) -> Iterator[list[str]]:
    """The header and rows of a CSV or TSV text as pandas reads them: a line that is blank, or spaces only, is no
    row."""
    if csv.field_size_limit() < len(text):  # the csv module refuses a text over 128 KiB by default; pandas reads it
        csv.field_size_limit(min(len(text), sys.maxsize))
    return (row for row in csv.reader(_lines(text), delimiter=sep) if row and (len(row) > 1 or row[0].strip()))


def _lines(text: str) -> Iterator[str]:
    """The lines of `text`, each with its line end, as `io.StringIO(text)` gives them, one at a time: a StringIO
    copies the whole text at 4 bytes a character first (reading a 125 MB export of a million contacts peaked
    0.35 GB higher with it)."""
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end + 1
        yield text[start:end]
        start = end


def _read_delimited(text: str, location: str, sep: str, columns: set[str] | None = None) -> pd.DataFrame:
    """`index_col=False`: rows that end in a delimiter are read as written. pandas would otherwise take one value more
    than the header names for an index and shift every column by one; a value past the header's columns (that pandas
    drops with a warning, or does not see when reading some columns) stops the read, naming its row."""
    try:
        try:
            frame = _pandas_csv(text, sep, None if columns is None else lambda name: name in columns)
        except pd.errors.ParserError:
            # pandas takes the first row's width as every row's: a later row ending in a delimiter ('2,b,') stops it.
            # Read the header's columns by position; a value past them is found below (`_misshapen_row`), and what
            # else stopped pandas stops it again (an unclosed quote)
            frame = _pandas_csv(text, sep, range(len(next(_records(text, sep), []))))
            if columns is not None:
                frame = frame[[name for name in frame.columns if name in columns]]
    except pd.errors.ParserError as exc:
        raise _parse_error(str(exc), text, location, sep) from None
    except pd.errors.EmptyDataError:
        raise InputError("file is empty", file=location) from None
    header = next(_records(text, sep), [])
    # pandas reads a second 'text' as 'text.1', a name not in the file: a column touchless reads must be named once
    # (`pipeline.read.contacts.refuse_repeated`); others may repeat (their copies are only listed as not used)
    twice = {
        name: "columns " + ", ".join(str(i) for i, n in enumerate(header, start=1) if n == name)
        for name, count in Counter(header).items()
        if count > 1 and name.strip()
    }
    misshapen = _misshapen_row(text, sep)  # one more pass over the rows: pandas pads a short row without a word
    if misshapen is not None:
        raise _misshapen_error(text, location, sep, *misshapen)
    if frame.empty and len(frame.columns):  # none of `columns` in the file: the caller names what is missing
        raise InputError("file has a header but no rows", file=location)
    frame.attrs["twice"] = twice
    return frame


def _pandas_csv(text: str, sep: str, usecols) -> pd.DataFrame:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", pd.errors.ParserWarning)
        frame = pd.read_csv(
            io.BytesIO(text.encode("utf-8")),  # UTF-8 bytes: a StringIO copies the text at 4 bytes a character
            encoding="utf-8",
            sep=sep,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            index_col=False,
            usecols=usecols,
        )
    others = [w for w in caught if not issubclass(w.category, pd.errors.ParserWarning)]
    for w in others:  # what else pandas warned of is passed on
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return frame


def _parse_error(message: str, text: str, location: str, sep: str) -> InputError:
    """pandas' parse error as an InputError naming the data row (1 = the first after the header, blank lines not
    counted), found by reading the rows again: pandas counts differently in each message ('line 4' is the fourth
    record, header included; 'row 3' counts blank lines, from 0), and neither is the file's line where a quoted text
    holds line breaks."""
    kind = "TSV" if sep == "\t" else "CSV"
    if "EOF inside string" in message:  # the unclosed quote's row holds the rest of the file: it is the last
        return InputError(
            f"cannot be parsed as {kind}: a quote opened in this row is never closed, so the rest of the file would "
            "be one text",
            file=location,
            row=sum(1 for _ in _records(text, sep)) - 1,
            hint='a quote inside a quoted text is written twice ("")',
        )
    misshapen = _misshapen_row(text, sep)
    if misshapen is not None:
        return _misshapen_error(text, location, sep, *misshapen)
    return InputError(f"cannot be parsed as {kind}: {message.strip()}", file=location, hint=_other_delimiter(text, sep))


def _misshapen_error(text: str, location: str, sep: str, row: int, broken: bool) -> InputError:
    if broken:  # the line's text is not shown: it is the customer's, and not yet redacted
        return InputError(
            "the line after this row starts with text where the rows start with an id: most likely a text in this "
            "row holds a line break that is not quoted, and its second line would become a contact of its own",
            file=location,
            row=row,
            hint='export the file with texts in quotes ("..."), a quote inside a text written twice ("")',
        )
    return InputError(
        "holds more values than the header names columns",
        file=location,
        row=row,
        hint=_other_delimiter(text, sep)
        or "a text holding a delimiter must be quoted; or the header lacks a column name",
    )


def _other_delimiter(text: str, sep: str) -> str | None:
    """A hint when the header is split by another delimiter than the file's type says (a CSV saved with semicolons,
    as spreadsheets in many locales do, or with tabs)."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    names = {";": "semicolons", "\t": "tabs", "|": "'|'"}
    found = max(names, key=header.count)
    if header.count(sep) or not header.count(found):
        return None
    return f"the header is split by {names[found]}: save the file with commas (a .csv) or tabs (a .tsv)"


def _misshapen_row(text: str, sep: str) -> tuple[int, bool] | None:
    """(row, False) for the first row (1 = the first after the header) that holds a value past the header's columns
    (an empty one, a row ending in a delimiter, does not count); (row, True) for the first piece of a row broken by
    an unquoted line break: the line after it starts with text ('Jane Doe, ...', an email address) where the other
    rows start with ids, and one of the two is short of values. A row short of its last values, as spreadsheets
    write them, is read as written."""
    rows = _records(text, sep)
    width = len(next(rows, []))
    counts: list[int] = []
    starts_with_text: list[int] = []  # rows whose first value holds a space or an @: no id does
    for number, row in enumerate(rows, start=1):
        if any(v.strip() for v in row[width:]):
            return number, False
        counts.append(len(row))
        if _TEXT_LIKE.search(row[0].strip()):
            starts_with_text.append(number)
    # where the first column is ids, a row starting with text is the rest of the row before it: when each such row
    # is short or follows a short one (in a first column of texts, whole rows start with text after whole rows)
    pieces = [n for n in starts_with_text if n >= 2 and min(counts[n - 2], counts[n - 1]) < width]
    if pieces and len(pieces) == len(starts_with_text):
        return pieces[0] - 1, True
    return None


_TEXT_LIKE = re.compile(r"\s|@")


def _read_jsonl(text: str, location: str) -> pd.DataFrame:
    """Every value as text as it was written: numbers and true/false as in the JSON, objects and lists as JSON
    (their rows noted in `frame.attrs["nested"]`, so a text or id given as an object is an error, not a repr);
    escaped lone surrogates (half an emoji, not valid Unicode) become U+FFFD with a warning."""
    records = []
    nested: dict[str, list[int]] = {}
    broken: dict[str, list[int]] = {}
    twice: dict[str, str] = {}
    repeated: list[list[str]] = []  # per object parsed on the line, innermost first: the keys it gave twice

    def pairs(items: list[tuple[str, object]]) -> dict[str, object]:
        """json keeps the last of two equal keys without a word: note them."""
        record = dict(items)
        same = len(record) == len(items)
        repeated.append([] if same else [k for k, n in Counter(k for k, _ in items).items() if n > 1])
        return record

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

    for number, line in enumerate(_json_lines(text), start=1):
        if not line.strip():
            continue
        repeated.clear()
        row = len(records) + 1  # rows count records; blank lines are none
        try:
            record = json.loads(line, object_pairs_hook=pairs)
        except json.JSONDecodeError as exc:
            raise InputError(f"line {number} is not valid JSON: {exc.msg}", file=location, row=row) from None
        if not isinstance(record, dict):
            raise InputError(f"line {number} is not a JSON object", file=location, row=row)
        for key in repeated[-1] if repeated else ():  # the record's own keys (its object is parsed last)
            twice.setdefault(key, f"line {number}")
        records.append({str(k): cell(v, str(k), row) for k, v in record.items()})
    frame = pd.DataFrame.from_records(records).astype(object)
    frame = frame.where(frame.notna(), None)
    frame.attrs["nested"] = nested
    frame.attrs["twice"] = twice
    frame.attrs["warnings"] = [
        f"{len(rows)} value(s) of '{column}' held an escaped half of a character pair (not valid Unicode), "
        f"replaced by U+FFFD (rows {list_rows(rows)})"
        for column, rows in broken.items()
    ]
    return frame


def _json_lines(text: str) -> list[str]:
    """The lines of a JSON lines text, split at line feeds only: a JSON string may hold U+2028, U+0085 and other
    characters `str.splitlines` also splits at, as they are (json.dumps and pandas write them so); a bare carriage
    return (old Mac files) still ends a line, as it cannot lie inside a JSON string."""
    return re.split(r"\r\n|\r|\n", text)


def _read_parquet(location: str, columns: set[str] | None = None) -> pd.DataFrame:
    try:
        data = io.BytesIO(read_bytes(location))
        names = None if columns is None else [c for c in pq.read_schema(data).names if c in columns]
        table = pq.read_table(data, columns=names)
    except Exception as exc:  # pyarrow raises several types for damaged files
        raise InputError(f"cannot be read as Parquet: {exc}", file=location) from None
    if table.num_rows == 0:
        raise InputError("file has no rows", file=location)
    frame = table.to_pandas(integer_object_nulls=True)  # 821 with a gap stays 821 (pandas would make it 821.0)
    for column in frame.columns:  # a dictionary-encoded column is read as its values, not as pandas categories
        if isinstance(frame[column].dtype, pd.CategoricalDtype):
            frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    return frame

"""Read a column of dates with one format for the whole column.

Parsing value by value reads 28/08/2026 day-first and 01/09/2026 month-first (9 January) in the same column and
moves dates without a word. Here the column's day/month order is decided once, from the values that can be read
only one way; a column that never tells is an error that asks for an explicit format.

Python works once per distinct *shape* of value (digits as 9, letters lower-cased: "99/99/9999 99:99"), never
once per value: all values of a shape have their numbers at the same places, so numpy reads them as columns of
digits, and pyarrow does the string work. Equal values are not merged first: hashing a million distinct
timestamps costs more than reading them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.errors import ConfigError, InputError
from pipeline.read.report import list_rows

_NAT = np.iinfo(np.int64).min  # datetime64[ns] NaT as an integer
_LONGEST = 40  # no shape read here is longer: longer values are not dates
_FIRST_YEAR, _LAST_YEAR = 1678, 2261  # whole years that datetime64[ns] holds
_MAX_NS = np.iinfo(np.int64).max
_SHAPE = np.arange(256, dtype=np.uint8)  # byte -> its shape: digits to "9", capitals to lower case
_SHAPE[ord("0") : ord("9") + 1] = ord("9")
_SHAPE[ord("A") : ord("Z") + 1] += 32

_DAY_FIRST, _MONTH_FIRST = "day-first", "month-first"
_MONTH_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?"
    r"|nov(?:ember)?|dec(?:ember)?"
)
_WEEKDAY = r"mon(?:day)?|tue(?:s(?:day)?)?|wed(?:nesday)?|thu(?:r(?:s(?:day)?)?)?|fri(?:day)?|sat(?:urday)?|sun(?:day)?"
_TIME = (
    r"(?:(?:t|,? )(?P<hour>99?):(?P<minute>99)(?::(?P<sec>99)(?:[.,](?P<frac>9{1,9}))?)?(?: ?(?P<ampm>am|pm))?"
    r"(?: ?(?P<zone>z|utc|gmt|[+-]99(?::?99)?))?)?"
)
_DATES = (
    r"(?P<year>9999)(?P<sep>[-/.])(?P<month>99?)(?P=sep)(?P<day>99?)",  # 2026-08-28: ISO, never ambiguous
    r"(?P<year>9999)(?P<month>99)(?P<day>99)",  # 20260828
    r"(?P<a>99?)(?P<sep>[-/.])(?P<b>99?)(?P=sep)(?P<year>9999|99)",  # 28/08/2026 or 08/28/2026: the column decides
    (  # 28 Aug 2026, Friday, 28 August 2026, 28-Aug-26
        rf"(?:(?P<weekday>{_WEEKDAY}),? )?(?P<day>99?)(?:st|nd|rd|th)?(?P<sep>[ -])(?P<mname>{_MONTH})\.?,?(?P=sep)"
        r"(?P<year>9999|99)"
    ),
    # Aug 28, 2026
    rf"(?:(?P<weekday>{_WEEKDAY}),? )?(?P<mname>{_MONTH})\.? (?P<day>99?)(?:st|nd|rd|th)?,? (?P<year>9999)",
)
_PATTERNS = [re.compile(date + _TIME) for date in _DATES]
_EPOCH = re.compile(r"9{10}|9{13}")


@dataclass(frozen=True)
class _Plan:
    """How to read every value of one shape: where its numbers sit, and what its letters fix."""

    spans: dict[str, tuple[int, int]]  # field -> (start, end) of its digits in the value
    formats: tuple[str, str]  # strptime format read day-first, month-first (equal unless the order is open)
    month: int = 0  # fixed by a month name; 0: a number
    pm: bool | None = None  # 12-hour clock: afternoon or not; None: 24-hour clock
    offset_sign: int = 0  # +1 or -1 when the value carries a numeric UTC offset
    epoch: int = 0  # nanoseconds per unit when the value is a Unix time

    @property
    def open_order(self) -> bool:
        """Its first two numbers are day and month in an order only the whole column can tell."""
        return "a" in self.spans


def parse_dates(
    values: pd.Series,
    *,
    file: str,
    column: str,
    rows: Sequence[int] | np.ndarray,
    date_format: str | None = None,
    now: pd.Timestamp | None = None,
    known_order: str | None = None,
    as_written: bool = False,
) -> tuple[pd.Series, list[str], str | None]:
    """`values` as UTC times (NaT where missing or unreadable), the warnings to show the user, and the column's
    day/month order ("day-first" or "month-first"; None when no value has day and month as two numbers).

    Without `date_format` the column gets one day/month order: day-first if some value can only be read so
    (28/08/2026), month-first if some can only be read that way (08/28/2026); both in one column, or neither while
    some value reads differently each way (01/09/2026), raise `InputError` asking for `input.date_format` /
    `--date-format`. Year-first (ISO 8601) dates and month names are never ambiguous; values of other shapes
    (or other orders) are left empty and reported. `known_order` is the order an earlier export of the same column
    was read in (a run's first input, for the files `assign` adds): it reads values that do not tell on their own
    (the dates of 1-12 September), and a value that can only be read the other way is an error. Two-digit years
    follow strptime: 69-99 are 19xx, 00-68 20xx.
    A UTC offset or Z is applied; times without one are taken as UTC. With `as_written` the offset is not applied:
    each time is read as written, for values that name a calendar day (a volume file's 2026-03-02T00:00+01:00 is
    2 March, which applying its offset made 1 March and the week before).
    Unix times are read only in a column with no other dates: 10 digits as seconds (2001-09-09 to 2262),
    13 digits as milliseconds; if both lengths occur, the more common one is the column's and the rest are
    reported. Among other dates such numbers are more likely ids, and are reported, not read.
    With `date_format` (strptime, e.g. "%d/%m/%Y %H:%M") every value is read with it; a value it does not read
    that can be read only one way (year first, or with a month name) is read that way.
    Dates outside 1678-2261 cannot be held and are reported as unreadable; dates later than a day after `now`
    (default: the current time) are kept and reported. `rows` are the data-row numbers of `values`, for messages.
    """
    rows = np.asarray(rows)
    if pd.api.types.infer_dtype(values, skipna=True) in ("datetime64", "datetime", "date"):
        if as_written:  # typed times in a zone: their wall-clock time there
            values = values.map(lambda v: v.replace(tzinfo=None) if getattr(v, "tzinfo", None) else v)
        parsed = _series(_from_pandas(pd.to_datetime(values, errors="coerce", utc=True)), values.index)
        return parsed, _future(parsed, rows, column, now), None
    texts = _texts(values)
    lengths = pc.fill_null(pc.utf8_length(texts), 0).to_numpy()
    present = lengths > 0
    if not present.any():
        return _series(np.full(len(values), _NAT), values.index), [], None
    groups = _shape_groups(texts, lengths, np.flatnonzero(present))
    if as_written:  # every shape read with its offset left out
        groups = [(replace(plan, offset_sign=0) if plan else None, members, chars) for plan, members, chars in groups]
    order = None
    if date_format is None:
        ns, described, order = _infer(texts, groups, rows, file, column, known_order)
    else:
        ns, described = _given(texts, groups, date_format, as_written), date_format
    parsed = _series(ns, values.index)
    warnings = []
    bad = present & (ns == _NAT)
    if date_format is not None and bad.sum() > _SWAPPED_MIN_SHARE * present.sum():
        _refuse_swapped(texts, groups, ns, bad, present, rows, date_format, as_written, file, column)
    if date_format is not None and (bad == present).all():  # every date of the column would be lost
        first = int(np.flatnonzero(present)[0])
        raise InputError(
            f"none of the {int(present.sum()):,} values of '{column}' is a date in the format given ({date_format}): "
            f"'{texts[first].as_py()}' (row {int(rows[first])}) is not",
            file=file,
            row=int(rows[first]),
            column=column,
            hint="a format given (input.date_format or --date-format) is for the dates of every file a run reads; "
            "give the format these dates are written in, or leave it out if they are written year first",
        )
    if bad.any():
        where = f"in the column's format ({described})" if described else "in any format touchless reads"
        hint = "" if described else ": if they are dates, set input.date_format in your config or pass --date-format"
        warnings.append(
            f"{int(bad.sum())} value(s) of '{column}' are not dates {where} and were left empty "
            f"(rows {list_rows(rows[bad].tolist())}){hint}"
        )
    return parsed, warnings + _future(parsed, rows, column, now), order


# a format with day and month the wrong way round fails about 19 of every 31 days of the month (61%); a stray typo
# in a column read right, one value
_SWAPPED_MIN_SHARE = 0.1


def _refuse_swapped(texts, groups, ns, bad, present, rows, date_format, as_written, file, column) -> None:
    """Stop when the values `date_format` fails (more than `_SWAPPED_MIN_SHARE` of them) are dates with day and
    month the other way round, as every value is: those it reads would be read swapped."""
    swapped = _day_month_swapped(date_format)
    if swapped is None:
        return
    other = _given(texts, groups, swapped, as_written)
    if (present & (other == _NAT)).any():
        return
    first = int(np.flatnonzero(bad)[0])
    changed = int((present & ~bad & (ns != other)).sum())
    raise InputError(
        f"{int(bad.sum()):,} of the {int(present.sum()):,} values of '{column}' are not dates in the format given "
        f"({date_format}), such as '{texts[first].as_py()}' (row {int(rows[first])}), and every value is a date with "
        f"day and month the other way round ({swapped})"
        + (f": {changed:,} would be read with day and month swapped" if changed else ""),
        file=file,
        row=int(rows[first]),
        column=column,
        hint=f"look at a few dates of the file: if they are written {_order_of(swapped)}, give --date-format "
        f"'{swapped}' (or input.date_format in your config); if only a few values are wrong, mend them",
    )


def _order_of(date_format: str) -> str:
    return "day first" if date_format.index("%d") < date_format.index("%m") else "month first"


def _day_month_swapped(date_format: str) -> str | None:
    """The format with its day (%d) and month (%m) changing places, or None where it lacks either."""
    if date_format.count("%d") != 1 or date_format.count("%m") != 1:
        return None
    return date_format.replace("%d", "\0").replace("%m", "%d").replace("\0", "%m")


def _texts(values: pd.Series) -> pa.StringArray:
    """Each value as text without surrounding blanks, null where missing."""
    try:
        text = pa.array(values, type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # numbers from a typed file (Parquet, JSON)
        text = pa.array([None if pd.isna(v) else _as_text(v) for v in values], type=pa.string())
    if isinstance(text, pa.ChunkedArray):  # pandas' arrow-backed text of a large file comes in several chunks
        text = text.combine_chunks()
    return pc.utf8_trim_whitespace(text)


def _as_text(value: object) -> str:
    """A number as its digits (1756370000.0 -> "1756370000"), so Unix times from typed files read as from CSV."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _shape_groups(
    texts: pa.StringArray, lengths: np.ndarray, present: np.ndarray
) -> list[tuple[_Plan | None, np.ndarray, np.ndarray]]:
    """(plan or None, positions of its values, their bytes as an n x width matrix) per distinct shape of the
    `present` values; values too long or not ASCII, which no date read here is, make one group without a plan."""
    ascii_ = pc.fill_null(pc.string_is_ascii(texts), False).to_numpy(zero_copy_only=False)
    fit = (lengths[present] <= _LONGEST) & ascii_[present]
    fits, rest = present[fit], present[~fit]
    groups = []
    if len(fits):
        width = int(lengths[fits].max())
        fitting = texts if len(fits) == len(texts) else texts.take(pa.array(fits))
        padded = pc.utf8_rpad(fitting, width=width, padding="\0")  # every value `width` bytes long
        chars = np.frombuffer(padded.buffers()[2], dtype=np.uint8)[: len(fits) * width].reshape(len(fits), width)
        shapes = pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), len(fits), [None, pa.py_buffer(_SHAPE[chars])])
        encoded = shapes.dictionary_encode()  # exact grouping by hashing
        codes = encoded.indices.to_numpy()
        if (codes[1:] < codes[:-1]).any():  # sort once so that each shape is a slice
            small = len(encoded.dictionary) <= 1 << 16  # numpy sorts 16-bit integers by radix, in linear time
            order = np.argsort(codes.astype(np.uint16) if small else codes, kind="stable")
            codes, fits, chars = codes[order], fits[order], np.take(chars, order, axis=0)
        ends = np.cumsum(np.bincount(codes))
        for start, end in zip(np.r_[0, ends[:-1]], ends):
            example = chars[start].tobytes().rstrip(b"\0")
            shape = _SHAPE[np.frombuffer(example, dtype=np.uint8)].tobytes().decode("ascii")
            groups.append((_plan(shape, example.decode("ascii")), fits[start:end], chars[start:end]))
    if len(rest):
        groups.append((None, rest, np.zeros((len(rest), 0), dtype=np.uint8)))
    return groups


def _plan(shape: str, example: str) -> _Plan | None:
    """How to read values shaped like `shape` (`example` is one of them, for the format's literal characters)."""
    if _EPOCH.fullmatch(shape):
        unit = "seconds" if len(shape) == 10 else "milliseconds"
        return _Plan({"epoch": (0, len(shape))}, (f"Unix {unit}",) * 2, epoch=10**9 if len(shape) == 10 else 10**6)
    match = next((m for pattern in _PATTERNS if (m := pattern.fullmatch(shape))), None)
    if match is None:
        return None
    found = {name: text for name, text in match.groupdict().items() if text is not None and name != "sep"}
    spans = {name: match.span(name) for name in found if name not in ("weekday", "mname", "ampm", "zone")}
    sign = 0
    if (zone := found.get("zone")) and zone[0] in "+-":
        start = match.start("zone")
        sign = 1 if zone[0] == "+" else -1
        spans["offset_h"] = (start + 1, start + 3)
        if len(zone) > 3:
            spans["offset_m"] = (start + len(zone) - 2, start + len(zone))
    formats = tuple(_format(match, found, example, dayfirst) for dayfirst in (True, False))
    return _Plan(
        spans,
        formats,
        month=_MONTHS.index(found["mname"][:3]) + 1 if "mname" in found else 0,
        pm=found["ampm"] == "pm" if "ampm" in found else None,
        offset_sign=sign,
    )


def _format(match: re.Match, found: dict[str, str], example: str, dayfirst: bool) -> str:
    """The strptime format of the matched shape, for messages and to compare with a given `input.date_format`."""
    directives = {
        "year": "%Y" if len(found.get("year", "")) == 4 else "%y",
        "month": "%m",
        "day": "%d",
        "a": "%d" if dayfirst else "%m",
        "b": "%m" if dayfirst else "%d",
        "mname": "%b" if len(found.get("mname", "")) == 3 else "%B",
        "weekday": "%a" if len(found.get("weekday", "")) == 3 else "%A",
        "hour": "%I" if "ampm" in found else "%H",
        "minute": "%M",
        "sec": "%S",
        "frac": "%f",
        "ampm": "%p",
        "zone": "%Z" if found.get("zone") in ("utc", "gmt") else "%z",
    }
    pieces, position = [], 0
    for name in sorted(found, key=match.start):
        start, end = match.span(name)
        pieces += [example[position:start].replace("%", "%%"), directives[name]]
        position = end
    return "".join(pieces) + example[position:].replace("%", "%%")


def _read(plan: _Plan, chars: np.ndarray, dayfirst: bool) -> np.ndarray:
    """Nanoseconds since 1970 (UTC) of each row of `chars`, _NAT where it is no valid time."""

    def number(name: str) -> np.ndarray | int:
        if name not in plan.spans:
            return 0
        start, end = plan.spans[name]
        value = chars[:, start].astype(np.int64) - ord("0")
        for column in range(start + 1, end):
            value = value * 10 + chars[:, column] - ord("0")
        return value

    if plan.epoch:
        count = number("epoch")
        return np.where(count <= _MAX_NS // plan.epoch, count * plan.epoch, _NAT)
    year = number("year")
    if plan.spans["year"][1] - plan.spans["year"][0] == 2:
        year = year + np.where(year < 69, 2000, 1900)
    if plan.open_order:
        day, month = (number("a"), number("b")) if dayfirst else (number("b"), number("a"))
    else:
        day, month = number("day"), number("month") if plan.month == 0 else plan.month
    hour, valid = number("hour"), np.ones(len(chars), dtype=bool)
    if plan.pm is not None:  # 12-hour clock: 12 AM is 0 h, 12 PM is 12 h
        valid &= (hour >= 1) & (hour <= 12)
        hour = hour % 12 + (12 if plan.pm else 0)
    fraction = number("frac")
    if "frac" in plan.spans:
        fraction = fraction * 10 ** (9 - (plan.spans["frac"][1] - plan.spans["frac"][0]))
    offset = plan.offset_sign * (number("offset_h") * 60 + number("offset_m"))
    return _assemble(year, month, day, hour, number("minute"), number("sec"), fraction, offset, valid)


def _assemble(year, month, day, hour, minute, second, nanos, offset_minutes, valid) -> np.ndarray:
    """Nanoseconds since 1970 from calendar fields (arrays or scalars), _NAT where a field is out of range."""
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    valid = valid & (year >= _FIRST_YEAR) & (year <= _LAST_YEAR) & (month >= 1) & (month <= 12) & (day >= 1)
    valid &= day <= _MONTH_DAYS[np.clip(month, 1, 12) - 1] + (leap & (month == 2))
    valid &= (hour < 24) & (minute < 60) & (second < 60)
    shifted = year - (month <= 2)  # days since 1970 counted in years from March (Hinnant's days_from_civil)
    of_year = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
    days = shifted * 365 + shifted // 4 - shifted // 100 + shifted // 400 + of_year - 719468
    minutes = ((days * 24 + hour) * 60 + minute) - offset_minutes
    return np.where(valid, (minutes * 60 + second) * 10**9 + nanos, _NAT)


def _infer(texts, groups, rows, file, column, known_order) -> tuple[np.ndarray, str, str | None]:
    """Each value's time in the column's one format, that format in words ("" if there is none), and its day/month
    order (None when no value told it)."""
    planned = [group for group in groups if group[0] is not None]
    epochs = [group for group in planned if group[0].epoch]
    if epochs and len(epochs) == len(planned):  # a column of Unix times: one unit, the more common
        units = {plan.epoch for plan, _, _ in epochs}
        unit = max(units, key=lambda e: sum(len(members) for plan, members, _ in epochs if plan.epoch == e))
        planned = [group for group in epochs if group[0].epoch == unit]
    else:
        planned = [group for group in planned if not group[0].epoch]
    readings = {
        i: (_read(plan, chars, True), _read(plan, chars, False))
        for i, (plan, _, chars) in enumerate(planned)
        if plan.open_order
    }
    order = _order(planned, readings, texts, rows, file, column, known_order)
    dayfirst = order is not False
    ns = np.full(len(texts), _NAT)
    for i, (plan, members, chars) in enumerate(planned):
        ns[members] = readings[i][0 if dayfirst else 1] if i in readings else _read(plan, chars, True)
    if known_order is None:  # else the run's first export told, and was not year-first
        _refuse_year_first(planned, ns, dayfirst, texts, rows, file, column)
    by_size = sorted(planned, key=lambda group: -len(group[1]))  # formats that read something, most used first
    formats = list(
        dict.fromkeys(plan.formats[0 if dayfirst else 1] for plan, members, _ in by_size if (ns[members] != _NAT).any())
    )
    said = None if order is None else _DAY_FIRST if order else _MONTH_FIRST
    return ns, " or ".join(formats[:3]) + (" ..." if len(formats) > 3 else ""), said


def _order(planned, readings, texts, rows, file, column, known_order) -> bool | None:
    """Whether the column's day/month numbers are day-first: decided by the values that read only one way, else by
    `known_order`; None when nothing tells and nothing needs telling (every value reads the same either way)."""
    only = {True: [], False: []}  # (position, its group) of the first value that reads only day-first / month-first
    ambiguous = []  # (position, day-first time, month-first time, its group) of values that read differently each way
    for i, (day_first, month_first) in readings.items():
        members = planned[i][1]
        fine_d, fine_m = day_first != _NAT, month_first != _NAT
        for dayfirst, alone in ((True, fine_d & ~fine_m), (False, fine_m & ~fine_d)):
            only[dayfirst] += [(members[k], i) for k in np.flatnonzero(alone)[:1]]
        both = np.flatnonzero(fine_d & fine_m & (day_first != month_first))[:8]  # examples: two distinct below
        ambiguous += [(members[k], day_first[k], month_first[k], i) for k in both]
    if only[True] and only[False]:
        (day, i), (month, _) = min(only[True]), min(only[False])
        row_d, row_m = int(rows[day]), int(rows[month])
        raise InputError(
            f"the dates in this column mix day-first and month-first: {texts[int(day)].as_py()} (row {row_d}) can "
            f"only be day-first, {texts[int(month)].as_py()} (row {row_m}) only month-first",
            file=file,
            row=min(row_d, row_m),
            column=column,
            hint="a column needs one order: correct the export, or set input.date_format in your config or pass "
            f"--date-format (e.g. {planned[i][0].formats[0]}) to read it one way and report the values that do not fit",
        )
    told = [dayfirst for dayfirst in (True, False) if only[dayfirst]]
    if known_order is not None and told and told[0] != (known_order == _DAY_FIRST):
        position, i = min(only[told[0]])
        value, row = texts[int(position)].as_py(), int(rows[position])
        raise InputError(
            f"the dates in this column can only be read {_DAY_FIRST if told[0] else _MONTH_FIRST} ({value}, row "
            f"{row}), but this run's first export was read {known_order}: reading on would put one day under two "
            "dates",
            file=file,
            row=row,
            column=column,
            hint="correct the export, or set input.date_format in your config or pass --date-format "
            f"(e.g. {planned[i][0].formats[0 if told[0] else 1]}) to read every value one way",
        )
    if not told and known_order is not None:
        return known_order == _DAY_FIRST
    if not only[True] and not only[False] and ambiguous:
        shown = {}  # two distinct values as examples (a value written on many rows was shown twice)
        for a in sorted(ambiguous, key=lambda a: a[0]):
            shown.setdefault(texts[int(a[0])].as_py(), a)
        ambiguous = list(shown.values())[:2]
        first, _, _, i = ambiguous[0]
        day_first = ", ".join(f"{texts[int(t)].as_py()} = {_day(d)}" for t, d, _, _ in ambiguous)
        month_first = ", ".join(f"= {_day(m)}" for _, _, m, _ in ambiguous)
        formats = planned[i][0].formats
        raise InputError(
            f"the dates in this column can be read day-first ({day_first}) or month-first ({month_first}), "
            "and no value has a day above 12 to tell which",
            file=file,
            row=int(rows[first]),
            column=column,
            hint=f"write these dates year first (2026-09-01), or set input.date_format in your config or pass "
            f"--date-format: {formats[0]} if the export is day-first, {formats[1]} if month-first (a format given "
            "is for the dates of every file a run reads)",
        )
    return told[0] if told else None


def _refuse_year_first(planned, ns, dayfirst, texts, rows, file, column) -> None:
    """Two-digit years put the year first in some exports (yy/mm/dd: 26/04/03 is 3 April 2026), which reads just as
    well day- or month-first (26 April 2003). When every such value reads year-first too, and that puts them in no
    more years than the order chosen (the field that varies like a day spreads a wrong reading over many years),
    the column cannot tell: stop and ask for the format, as for a column whose days are all 12 or less."""
    short = [(plan, members, chars) for plan, members, chars in planned if plan.open_order and _short_year(plan)]
    if not short:
        return
    members = np.concatenate([m for _, m, _ in short])
    shape = np.concatenate([np.full(len(m), i) for i, (_, m, _) in enumerate(short)])  # each value's group
    year_first = np.concatenate([_read(_as_year_first(plan), chars, True) for plan, _, chars in short])
    chosen = ns[members]
    if (year_first == _NAT).any() or (chosen == _NAT).all() or (year_first == chosen).all():
        return
    if _years(year_first) > _years(chosen):
        return
    differ = np.flatnonzero(year_first != chosen)
    k = int(differ[np.argmin(rows[members[differ]])])
    value, row, plan = texts[int(members[k])].as_py(), int(rows[members[k]]), short[shape[k]][0]
    order = _DAY_FIRST if dayfirst else _MONTH_FIRST
    given = plan.formats[0 if dayfirst else 1]
    raise InputError(
        f"the dates in this column have two-digit years and can be read {order} ({value} = {_day(int(chosen[k]))}) "
        f"or year first ({value} = {_day(int(year_first[k]))})",
        file=file,
        row=row,
        column=column,
        hint=f"write the years with four digits, or set input.date_format in your config or pass --date-format: "
        f"{given} if the export is {order}, {_year_first_format(plan.formats[0])} if it is year first",
    )


def _years(ns: np.ndarray) -> int:
    """How many calendar years the times (nanoseconds, _NAT skipped) fall in."""
    return len(np.unique(ns[ns != _NAT].astype("datetime64[ns]").astype("datetime64[Y]")))


def _short_year(plan: _Plan) -> bool:
    start, end = plan.spans["year"]
    return end - start == 2


def _as_year_first(plan: _Plan) -> _Plan:
    """The plan that reads an a/b/yy shape as yy/b/a: its first number the year, its last the day."""
    return replace(plan, spans={**plan.spans, "year": plan.spans["a"], "a": plan.spans["year"]})


def _year_first_format(day_first: str) -> str:
    """%d/%m/%y ... as %y/%m/%d ...: the first and last numbers swapped."""
    return day_first.replace("%d", "\0", 1).replace("%y", "%d", 1).replace("\0", "%y", 1)


def _given(texts: pa.StringArray, groups, date_format: str, as_written: bool = False) -> np.ndarray:
    """Each value's time read with `date_format`; shapes whose own format it is take the fast path. A value the
    format does not read that can be read only one way (year first, as ISO 8601, or with a month name) is read so:
    the format asked for was for the values that cannot tell (a column of 03/04/2026 and 2026-04-03 lost its ISO
    dates to `--date-format %d/%m/%Y`, the format its own error message suggested)."""
    ns = np.full(len(texts), _NAT)
    others = []
    for plan, members, chars in groups:
        if plan is not None and date_format in plan.formats:
            ns[members] = _read(plan, chars, dayfirst=plan.formats[0] == date_format)
        else:
            others.append((plan, members, chars))
    if others:
        members = np.concatenate([m for _, m, _ in others])
        given = texts.take(pa.array(members)).to_numpy(zero_copy_only=False)
        try:
            if as_written:  # each value on its own: a column's offsets may differ, and each is left out
                parsed = pd.Series([_wall(v, date_format) for v in given], dtype="datetime64[ns]").dt.tz_localize("UTC")
            else:
                parsed = pd.to_datetime(pd.Series(given, dtype=object), format=date_format, errors="coerce", utc=True)
        except ValueError as exc:
            raise ConfigError(f"input.date_format '{date_format}' is not a date format: {exc}") from None
        ns[members] = _from_pandas(parsed)
    year_first = date_format.lstrip().startswith(("%Y", "%y"))  # its own reading of year-first values stands alone
    for plan, members, chars in others:
        unread = ns[members] == _NAT
        if plan is not None and not (plan.open_order or plan.epoch or year_first) and unread.any():
            ns[members[unread]] = _read(plan, chars[unread], dayfirst=True)
    return ns


def _wall(value: str, date_format: str) -> pd.Timestamp:
    """`value` read with `date_format`, its time zone dropped: the time as written (NaT where it does not read)."""
    time = pd.to_datetime(value, format=date_format, errors="coerce")
    if pd.isna(time) or not _FIRST_YEAR <= time.year <= _LAST_YEAR:
        return pd.NaT
    return time.tz_localize(None) if time.tzinfo is not None else time


def _from_pandas(parsed: pd.Series) -> np.ndarray:
    """UTC times from pandas as nanoseconds since 1970, _NAT where missing or outside what datetime64[ns] holds."""
    low, high = pd.Timestamp(f"{_FIRST_YEAR}-01-01", tz="UTC"), pd.Timestamp(f"{_LAST_YEAR + 1}-01-01", tz="UTC")
    inside = parsed.where((parsed >= low) & (parsed < high))
    return inside.dt.tz_convert(None).dt.as_unit("ns").to_numpy().view(np.int64)


def _series(ns: np.ndarray, index: pd.Index) -> pd.Series:
    return pd.Series(ns.view("datetime64[ns]"), index=index).dt.tz_localize("UTC")


def _future(parsed: pd.Series, rows: np.ndarray, column: str, now: pd.Timestamp | None) -> list[str]:
    """A warning for dates more than a day after `now`: a wrong time zone or format moves dates forward too."""
    now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    now = now.tz_localize("UTC") if now.tzinfo is None else now.tz_convert("UTC")
    late = (parsed > now + pd.Timedelta(days=1)).to_numpy()
    if not late.any():
        return []
    text = f"{int(late.sum())} date(s) of '{column}' lie after this run's time (rows {list_rows(rows[late].tolist())})"
    return [text + ": check the export's time zone or format"]


def _day(ns: int) -> str:
    day = pd.Timestamp(int(ns), tz="UTC")
    return f"{day.day} {day:%B %Y}"

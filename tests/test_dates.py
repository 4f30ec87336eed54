"""Reading a date column with one format for the whole column (pipeline.read.dates)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.errors import ConfigError, InputError
from pipeline.read.dates import parse_dates

NOW = pd.Timestamp("2026-11-30 12:00", tz="UTC")


def parse_with_order(values, *, rows=None, **options):
    """parse_dates over `values` as a CSV would give them (strings, None for empty cells), rows numbered from 1."""
    series = pd.Series(values, dtype=object)
    rows = np.arange(1, len(series) + 1) if rows is None else rows
    return parse_dates(series, file="export.csv", column="created_at", rows=rows, **{"now": NOW, **options})


def parse(values, *, rows=None, **options):
    """(times, warnings) of `parse_with_order`."""
    return parse_with_order(values, rows=rows, **options)[:2]


def utc(*texts):
    return [pd.Timestamp(t, tz="UTC") if t else pd.NaT for t in texts]


def test_day_first_column_reads_01_09_as_1_september():
    """The reported case: 28/08/2026 can only be day-first, so 01/09/2026 is 1 September, not 9 January."""
    parsed, warnings = parse(["28/08/2026", "01/09/2026", "02/09/2026 14:30"])
    assert parsed.tolist() == utc("2026-08-28", "2026-09-01", "2026-09-02 14:30")
    assert str(parsed.dtype) == "datetime64[ns, UTC]"
    assert warnings == []


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["08/28/2026", "01/09/2026"], ("2026-08-28", "2026-01-09")),
        (["8-28-26", "1-9-26", "12-31-99"], ("2026-08-28", "2026-01-09", "1999-12-31")),
        (["08.28.2026 10:30 PM", "01.09.2026 12:05 AM"], ("2026-08-28 22:30", "2026-01-09 00:05")),
    ],
)
def test_month_first_columns(values, expected):
    parsed, warnings = parse(values)
    assert parsed.tolist() == utc(*expected)
    assert warnings == []


def test_one_column_in_both_orders_is_an_error_naming_a_row_of_each():
    with pytest.raises(InputError) as caught:
        parse(["01/09/2026", "28/08/2026", "03/04/2026", "08/29/2026"], rows=[2, 3, 4, 5])
    error = caught.value
    assert (error.file, error.row, error.column) == ("export.csv", 3, "created_at")
    assert "28/08/2026 (row 3) can only be day-first, 08/29/2026 (row 5) only month-first" in str(error)
    assert "input.date_format" in error.hint and "--date-format" in error.hint


def test_ambiguous_column_is_an_error_until_a_format_is_given():
    values = ["01/09/2026", None, "03/04/2026", "05/05/2026"]
    with pytest.raises(InputError) as caught:
        parse(values)
    error = caught.value
    assert error.row == 1 and error.column == "created_at"
    assert (
        "can be read day-first (01/09/2026 = 1 September 2026, 03/04/2026 = 3 April 2026) "
        "or month-first (= 9 January 2026, = 4 March 2026)" in error.problem
    )
    assert error.hint == (
        "write these dates year first (2026-09-01), or set input.date_format in your config or pass --date-format: "
        "%d/%m/%Y if the export is day-first, %m/%d/%Y if month-first (a format given is for the dates of every file "
        "a run reads)"
    )
    assert parse(values, date_format="%d/%m/%Y")[0].tolist() == utc("2026-09-01", None, "2026-04-03", "2026-05-05")
    assert parse(values, date_format="%m/%d/%Y")[0].tolist() == utc("2026-01-09", None, "2026-03-04", "2026-05-05")


def test_a_column_where_both_readings_agree_is_not_ambiguous():
    parsed, warnings = parse(["01/01/2026", "07/07/2026"])
    assert parsed.tolist() == utc("2026-01-01", "2026-07-07")
    assert warnings == []


def test_given_format_reads_every_value_and_reports_the_others():
    parsed, warnings = parse(["28/08/2026 10:30", "2026-08-28", "28/08/2026"], date_format="%d/%m/%Y %H:%M")
    assert parsed.tolist() == utc("2026-08-28 10:30", "2026-08-28", None)  # ISO reads one way only: read
    assert warnings == [
        (
            "1 value(s) of 'created_at' are not dates in the column's format (%d/%m/%Y %H:%M) and were left empty "
            "(rows 3)"
        )
    ]
    # a format no shape here has goes through pandas' strptime, with the same result
    parsed, warnings = parse(["2026-08-28T10:00:00Z", "28/08/2026"], date_format="%Y-%m-%dT%H:%M:%SZ")
    assert parsed.tolist() == utc("2026-08-28 10:00", None)
    assert len(warnings) == 1


def test_a_format_with_day_and_month_the_wrong_way_round_is_refused_not_half_read():
    """Given month-first for a day-first column, the dates past the 12th were left empty with a warning and the
    others read with day and month swapped (1 September as 9 January)."""
    with pytest.raises(InputError) as caught:
        parse(["01/09/2026", "13/09/2026", "28/09/2026", "05/10/2026"], date_format="%m/%d/%Y")
    error = caught.value
    assert error.row == 2 and error.column == "created_at"
    assert "2 of the 4 values of 'created_at' are not dates in the format given (%m/%d/%Y)" in error.problem
    assert error.problem.endswith(": 2 would be read with day and month swapped")
    assert error.hint == (
        "look at a few dates of the file: if they are written day first, give --date-format '%d/%m/%Y' (or "
        "input.date_format in your config); if only a few values are wrong, mend them"
    )
    with pytest.raises(InputError, match="give --date-format '%d/%m/%Y'"):  # none fits: it says which would
        parse(["13/09/2026", "28/09/2026"], date_format="%m/%d/%Y")
    # a value that fits neither way is only a bad value: the format stands
    parsed, warnings = parse(["09/01/2026", "yesterday"], date_format="%m/%d/%Y")
    assert parsed.tolist() == utc("2026-09-01", None) and len(warnings) == 1
    # one stray value (10% or less) that reads only the other way is a typo in a column the format reads
    days = [f"{d:02d}/0{m}/2026" for m in (1, 2) for d in range(1, 6)]
    parsed, warnings = parse([*days, "02/13/2026"], date_format="%d/%m/%Y")
    assert parsed.notna().sum() == 10 and len(warnings) == 1


def test_a_format_that_is_not_one_is_a_config_error():
    with pytest.raises(ConfigError, match="input.date_format '%Q' is not a date format"):
        parse(["28/08/2026"], date_format="%Q")


def test_iso_dates_with_offsets_are_converted_to_utc_and_naive_ones_taken_as_utc():
    parsed, warnings = parse(
        [
            "2026-08-28T10:00:00+02:00",
            "2026-08-28T10:00:00Z",
            "2026-08-28 10:00:00.5-05:30",
            "2026-08-28T10:00:00.123456789Z",
            "2026-08-28 10:00",
            "2026-01-09",
            "2026/01/09 10:00:00 +0100",
            "20260109",
        ]
    )
    assert parsed.tolist() == utc(
        "2026-08-28 08:00",
        "2026-08-28 10:00",
        "2026-08-28 15:30:00.5",
        "2026-08-28 10:00:00.123456789",
        "2026-08-28 10:00",
        "2026-01-09",
        "2026-01-09 09:00",
        "2026-01-09",
    )
    assert warnings == []


def test_year_first_dates_do_not_decide_the_order_of_the_others():
    with pytest.raises(InputError, match="can be read day-first"):
        parse(["2026-08-28", "01/09/2026"])


def test_month_names_are_never_ambiguous():
    parsed, warnings = parse(
        [
            "01 Sep 2026",
            "Sep 1, 2026",
            "Tuesday, 1 September 2026",
            "Tue, 01 Sep 2026 10:00:00 +0000",
            "01-SEP-26",
            "Sep 1, 2026, 10:30 PM",
            "September 1st, 2026",
            "09 Jan 2026",
        ]
    )
    assert parsed.tolist() == utc(
        "2026-09-01",
        "2026-09-01",
        "2026-09-01",
        "2026-09-01 10:00",
        "2026-09-01",
        "2026-09-01 22:30",
        "2026-09-01",
        "2026-01-09",
    )
    assert warnings == []


def test_unreadable_values_are_left_empty_and_reported_with_their_rows():
    values = ["28/08/2026", "n/a", "31/02/2026", "yesterday", "28/08/2026 25:00", "1756375200", "x" * 60, "été"]
    parsed, warnings = parse(values, rows=np.arange(4, 12))
    assert parsed.tolist() == utc("2026-08-28", *[None] * 7)
    assert warnings == [
        (
            "7 value(s) of 'created_at' are not dates in the column's format (%d/%m/%Y) and were left empty "
            "(rows 5, 6, 7, 8, 9 and 2 more)"
        )
    ]


def test_a_column_with_no_dates_at_all_says_how_to_give_a_format():
    parsed, warnings = parse(["soon", "later", None])
    assert parsed.isna().all()
    assert warnings == [
        (
            "2 value(s) of 'created_at' are not dates in any format touchless reads and were left empty (rows 1, 2): "
            "if they are dates, set input.date_format in your config or pass --date-format"
        )
    ]


def test_dates_after_the_run_are_kept_and_reported():
    parsed, warnings = parse(["2026-11-30T23:00:00Z", "2026-12-02", "2027-01-05 10:00", "2026-11-01"])
    assert parsed.tolist() == utc("2026-11-30 23:00", "2026-12-02", "2027-01-05 10:00", "2026-11-01")
    assert warnings == [
        "2 date(s) of 'created_at' lie after this run's time (rows 2, 3): check the export's time zone or format"
    ]


def test_unix_times_in_seconds_and_milliseconds():
    seconds, warnings = parse(["1756375200", None, "1756375261"])
    assert seconds.tolist() == utc("2025-08-28 10:00", None, "2025-08-28 10:01:01")
    assert warnings == []
    milliseconds, warnings = parse(["1756375200123", "1756375200124", "1756375200"])
    assert milliseconds.tolist() == utc("2025-08-28 10:00:00.123", "2025-08-28 10:00:00.124", None)
    assert warnings == [
        (
            "1 value(s) of 'created_at' are not dates in the column's format (Unix milliseconds) and were left empty "
            "(rows 3)"
        )
    ]
    # a typed file (Parquet) gives numbers, floats where a value is missing
    typed = pd.Series([1756375200.0, np.nan])
    parsed, _, _ = parse_dates(typed, file="export.parquet", column="created_at", rows=[1, 2], now=NOW)
    assert parsed.tolist() == utc("2025-08-28 10:00", None)


def test_timestamps_from_a_typed_file_are_taken_as_they_are():
    local = pd.Series(pd.to_datetime(["2026-08-28 10:00", None]).tz_localize("Europe/Paris"), index=[7, 8])
    parsed, warnings, _ = parse_dates(local, file="export.parquet", column="created_at", rows=[1, 2], now=NOW)
    assert parsed.tolist() == utc("2026-08-28 08:00", None)
    assert parsed.index.tolist() == [7, 8]
    assert warnings == []


def test_missing_values_stay_empty_without_warnings():
    parsed, warnings = parse([None, np.nan, "", "   "])
    assert parsed.isna().all() and str(parsed.dtype) == "datetime64[ns, UTC]" and warnings == []
    series = pd.Series(["  28/08/2026 ", None, "01/09/2026"], index=[10, 20, 30])
    parsed, warnings, _ = parse_dates(series, file="export.csv", column="created_at", rows=[1, 2, 3], now=NOW)
    assert parsed.index.tolist() == [10, 20, 30]
    assert parsed.tolist() == utc("2026-08-28", None, "2026-09-01")
    assert warnings == []


def test_200000_values_parse():
    """Many values go through the shape-at-a-time path (timed in the change's notes, not here)."""
    rng = np.random.default_rng(7)
    times = pd.Timestamp("2020-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 6 * 365 * 86400, 200_000), unit="s")
    values = pd.Series(times.strftime("%d/%m/%Y %H:%M:%S"), dtype=object)
    parsed, warnings, _ = parse_dates(
        values, file="export.csv", column="created_at", rows=np.arange(1, 200_001), now=NOW
    )
    assert (parsed.to_numpy() == times.to_numpy()).all()
    assert warnings == []


# Each format: how to write a datetime, the precision it keeps, whether it carries an offset, and whether its
# first two numbers are day and month in an order the column has to tell.
FORMATS = {
    "%d/%m/%Y": (lambda d: d.strftime("%d/%m/%Y"), "D", False, "day-first"),
    "%m/%d/%Y %H:%M": (lambda d: d.strftime("%m/%d/%Y %H:%M"), "min", False, "month-first"),
    "d.m.Y H:M:S unpadded": (lambda d: f"{d.day}.{d.month}.{d:%Y %H:%M:%S}", "s", False, "day-first"),
    "%m-%d-%y": (lambda d: d.strftime("%m-%d-%y"), "D", False, "month-first"),
    "%d/%m/%y %I:%M %p": (lambda d: d.strftime("%d/%m/%y %I:%M %p"), "min", False, "day-first"),
    "%Y-%m-%d %H:%M:%S.%f": (lambda d: d.strftime("%Y-%m-%d %H:%M:%S.%f"), "us", False, None),
    "%Y-%m-%dT%H:%M:%S%z": (lambda d: d.strftime("%Y-%m-%dT%H:%M:%S%z"), "s", True, None),
    "isoformat": (lambda d: d.isoformat(), "us", True, None),
    "%d %b %Y": (lambda d: d.strftime("%d %b %Y"), "D", False, None),
    "%b %d, %Y %I:%M %p": (lambda d: d.strftime("%b %d, %Y %I:%M %p"), "min", False, None),
    "%A, %d %B %Y": (lambda d: d.strftime("%A, %d %B %Y"), "D", False, None),
}
OFFSETS = st.integers(-14 * 4, 14 * 4).map(lambda quarters: timezone(timedelta(minutes=15 * quarters)))
NAIVE = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2060, 12, 31))
AWARE = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2060, 12, 31), timezones=OFFSETS)


@pytest.mark.parametrize("name", FORMATS)
@settings(deadline=None)  # examples: the project's hypothesis profile (tests/conftest.py)
@given(data=st.data())
def test_one_format_per_column_reads_back_the_datetimes_written(name, data):
    write, precision, aware, order = FORMATS[name]
    originals = data.draw(st.lists(AWARE if aware else NAIVE, min_size=1, max_size=40))
    values = [write(d) for d in originals]
    expected = [pd.Timestamp(d if aware else d.replace(tzinfo=UTC)).floor(precision) for d in originals]
    ambiguous = order is not None and all(d.day <= 12 for d in originals) and any(d.day != d.month for d in originals)
    if ambiguous:
        with pytest.raises(InputError, match="can be read day-first"):
            parse(values, now=pd.Timestamp("2100-01-01"))
        return
    parsed, warnings = parse(values, now=pd.Timestamp("2100-01-01"))
    assert parsed.tolist() == [t.tz_convert("UTC") for t in expected]
    assert warnings == []


@pytest.mark.parametrize(
    ("values", "order"),
    [
        (["28/08/2026", "01/09/2026"], "day-first"),
        (["08/28/2026", "01/09/2026"], "month-first"),
        (["2026-09-01", "1 Sep 2026"], None),  # nothing has day and month as two numbers
        (["05/05/2026", "07/07/2026"], None),  # read alike either way: nothing told
    ],
)
def test_the_order_a_column_was_read_in_is_returned(values, order):
    assert parse_with_order(values)[2] == order


def test_a_later_export_that_does_not_tell_is_read_in_the_known_order():
    """A daily file of 1-12 September alone cannot tell day from month: the order the run's first export was read
    in decides, where alone it is an error."""
    days = ["01/09/2026", "02/09/2026", "12/09/2026"]
    with pytest.raises(InputError):
        parse(days)
    parsed, warnings, order = parse_with_order(days, known_order="day-first")
    assert parsed.tolist() == utc("2026-09-01", "2026-09-02", "2026-09-12")
    assert (warnings, order) == ([], "day-first")
    parsed, _, order = parse_with_order(days, known_order="month-first")
    assert parsed.tolist() == utc("2026-01-09", "2026-02-09", "2026-12-09")
    assert order == "month-first"


def test_a_later_export_in_the_other_order_is_an_error_naming_the_row():
    with pytest.raises(InputError) as caught:
        parse(["01/09/2026", "09/28/2026"], rows=[2, 3], known_order="day-first")
    error = caught.value
    assert (error.file, error.row, error.column) == ("export.csv", 3, "created_at")
    assert "can only be read month-first (09/28/2026, row 3)" in str(error)
    assert "read day-first" in str(error) and "--date-format" in error.hint


def test_arrow_backed_text_in_several_chunks_is_read():
    """pandas reads a large CSV's text into arrow-backed columns in chunks (a 1M-row export stopped here once)."""
    import pyarrow as pa

    chunks = pa.chunked_array([["28/08/2026 10:00", None], ["01/09/2026 09:30", " 02/09/2026 08:00 "]])
    series = pd.Series(pd.arrays.ArrowStringArray(chunks))
    parsed, warnings, order = parse_dates(series, file="export.csv", column="created_at", rows=[1, 2, 3, 4], now=NOW)
    assert parsed.tolist()[0] == pd.Timestamp("2026-08-28 10:00", tz="UTC")
    assert pd.isna(parsed.tolist()[1])
    assert parsed.tolist()[2:] == utc("2026-09-01 09:30", "2026-09-02 08:00")
    assert order is not None and not warnings


def test_a_format_that_reads_none_of_a_column_is_an_error_not_an_empty_column():
    """A volume file asked for --date-format %d/%m/%Y; given, it also read the contacts' dates, every one of them
    left empty with a warning: no trend, no touch index."""
    with pytest.raises(InputError) as caught:
        parse(["08-31-2026", None, "09-01-2026"], date_format="%d/%m/%Y")
    assert caught.value.row == 1 and "none of the 2 values of 'created_at'" in caught.value.problem
    assert "every file a run reads" in caught.value.hint
    parsed, warnings = parse(["08-31-2026", "31/08/2026"], date_format="%d/%m/%Y")  # some read: a warning, as before
    assert parsed.notna().sum() == 1 and warnings


def test_a_given_format_still_reads_the_dates_that_can_be_read_only_one_way():
    """A column of 03/04/2026 and 2026-04-03 stops and asks for a format; given the one it suggests (%d/%m/%Y), the
    ISO half was left empty. Year-first and month-name dates read one way only, so they are read; a year-first
    format of the user's own keeps its reading of every year-first value."""
    parsed, warnings = parse(
        ["03/04/2026", "2026-04-03", "2026-08-31T09:36:16Z", "5 Aug 2026", "04/03/2026"], date_format="%d/%m/%Y"
    )
    assert parsed.tolist() == utc("2026-04-03", "2026-04-03", "2026-08-31 09:36:16", "2026-08-05", "2026-03-04")
    assert warnings == []
    parsed, warnings = parse(["2026-05-04", "2026-07-06"], date_format="%Y-%d-%m")
    assert parsed.tolist() == utc("2026-04-05", "2026-06-07") and warnings == []
    with pytest.raises(InputError, match="day and month the other way round"):  # 28 is no month: ISO after all
        parse(["2026-05-04", "2026-05-28"], date_format="%Y-%d-%m")


def test_two_digit_years_that_read_year_first_as_well_stop_the_run():
    """26/04/03 was read day-first as 26 April 2003 without a word; in a yy/mm/dd export it is 3 April 2026. A
    column whose values read year-first too, in no more years than the order chosen, asks for the format; one whose
    year-first reading scatters over many years (the day taken for a year) does not."""
    with pytest.raises(InputError) as caught:
        parse(["26/05/06", "26/04/03"])
    error = caught.value
    assert error.row == 1 and error.column == "created_at"
    assert "26/05/06 = 26 May 2006" in error.problem and "year first (26/05/06 = 6 May 2026)" in error.problem
    assert "%d/%m/%y if the export is day-first, %y/%m/%d if it is year first" in error.hint
    assert parse(["26/04/03", "26/05/06"], date_format="%y/%m/%d")[0].tolist() == utc("2026-04-03", "2026-05-06")
    assert parse(["28/08/26", "01/09/26", "15/09/26"])[0].tolist() == utc("2026-08-28", "2026-09-01", "2026-09-15")
    assert parse(["08/28/26", "09/01/26"])[0].tolist() == utc("2026-08-28", "2026-09-01")
    # a daily file of one date reads as the run's first export was read: it told, and it was not year first
    parsed = parse_dates(
        pd.Series(["23/11/26", "23/11/26"]), file="d.csv", column="created_at", rows=[1, 2], known_order="day-first"
    )[0]
    assert parsed.tolist() == utc("2026-11-23", "2026-11-23")

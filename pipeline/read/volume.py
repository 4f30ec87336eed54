"""Business volume (orders, active customers ...) per week: the denominator of the touch index."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.errors import InputError
from pipeline.read.dates import parse_dates
from pipeline.read.files import read_table
from pipeline.read.report import rows_error


def load_volume(path: str | Path, date_format: str | None = None) -> pd.DataFrame:
    """A business-volume table (`date`, `volume`), daily or weekly, summed per week (weeks start on Monday). Every
    row must have a date (one format for the column) and a volume: a row that has not is an error, not a gap."""
    raw = read_table(path)
    missing = [c for c in ("date", "volume") if c not in raw.columns]
    if missing:
        raise InputError(
            f"volume needs columns date and volume; missing {', '.join(missing)} "
            f"(columns found: {', '.join(map(str, raw.columns))})",
            file=str(path),
            column=missing[0],
        )
    dates, _, _ = parse_dates(
        raw["date"], file=str(path), column="date", rows=np.arange(1, len(raw) + 1), date_format=date_format
    )
    volume = pd.to_numeric(raw["volume"], errors="coerce")
    bad = dates.isna() | volume.isna() | (volume < 0)
    if bad.any():
        rows = (np.flatnonzero(bad.to_numpy()) + 1).tolist()
        column = "date" if dates.isna().any() else "volume"
        raise rows_error("row(s) have no date or no non-negative volume", rows, path, column)
    weeks = week_start(dates)
    return pd.DataFrame({"week": weeks, "volume": volume.to_numpy()}).groupby("week", as_index=False)["volume"].sum()


def week_start(times: pd.Series) -> pd.Series:
    """The Monday (00:00 UTC) of each time's ISO week, as a date."""
    days = times.dt.tz_convert("UTC").dt.normalize().dt.tz_localize(None)
    return (days - pd.to_timedelta(days.dt.weekday, unit="D")).dt.date

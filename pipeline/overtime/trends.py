"""Which reasons are emerging: when did each cluster's and reason's rate step up, over its whole history.

One window is not enough: a reason born two and a half weeks ago already has its first ten days in a 7-day window's
baseline, so its rate looks flat. So each cluster and reason is tested at several change points, the last
`windows` days (e.g. 7, 14, 21, 28) against everything before them (up to `baseline_days` before the window), and
a step up at any of them counts. Rates are per unit of business volume when volume is known, else per day. Each
test is the exact conditional test for two Poisson rates (the window's count given the total is binomial with the
window's share of exposure); false alarms are held at `false_discovery_rate` with Benjamini-Hochberg across every
test of every cluster or reason and every window (scipy's false_discovery_control).

- new: no contacts before the window where its rate stepped up (or none before the last `windows` days at all), at
  least `min_new` in it, and significant;
- growing: a significant step up at some window;
- declining: a significant step down in the most recent window, and no step up;
- inactive: none in the most recent window;
- stable: the rest.

The columns `baseline_contacts`, `recent_contacts`, `rate_ratio`, `p_value` and `q_value` describe the window that
decided (the most significant step up, else the most recent window); `window_days` says which.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import binom, false_discovery_control

from pipeline.config import TrendsConfig


def windows(contacts: pd.DataFrame, cfg: TrendsConfig) -> tuple[pd.Timestamp, pd.Timestamp, pd.Timestamp] | None:
    """(baseline start, recent start, end) of the most recent window, or None when contacts have no times."""
    times = contacts["created_at"].dropna()
    if times.empty:
        return None
    end = times.max()
    recent = end - pd.Timedelta(days=cfg.recent_days)
    return recent - pd.Timedelta(days=cfg.baseline_days), recent, end


def _daily_exposure(volume: pd.DataFrame | None) -> pd.Series | None:
    """Each week's volume spread evenly over the days it covers (`covered_days`)."""
    if volume is None or volume.empty:
        return None
    days, values = [], []
    for (first, last), amount in zip(covered_days(volume), volume["volume"].to_numpy()):
        span = pd.date_range(first, last, freq="D", tz="UTC")
        days.extend(span)
        values.extend([amount / len(span)] * len(span))
    return pd.Series(values, index=pd.DatetimeIndex(days))


def covered_days(volume: pd.DataFrame) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """(first, last) day each week's volume covers: the whole week, or for a partial week of a daily file (its
    first week starting later, or its last ending earlier, than its other weeks: `load_volume`) the days from its
    first to its last date."""
    weeks = [pd.Timestamp(w) for w in volume["week"]]
    whole = [(w, w + pd.Timedelta(days=6)) for w in weeks]
    if "complete" not in volume:
        return whole
    return [
        span if done else (pd.Timestamp(first), pd.Timestamp(last))
        for span, done, first, last in zip(whole, volume["complete"], volume["first_day"], volume["last_day"])
    ]


def exposures(bounds, volume: pd.DataFrame | None, cfg: TrendsConfig) -> tuple[float, float]:
    """(baseline, recent) exposure: volume in each window (weekly volume spread over its days), else days."""
    start, recent, end = bounds
    days = ((recent - start) / pd.Timedelta(days=1), (end - recent) / pd.Timedelta(days=1))
    daily = _daily_exposure(volume)
    if daily is None:
        return float(days[0]), float(days[1])
    base = daily[(daily.index > start) & (daily.index <= recent)].sum()
    now = daily[(daily.index > recent) & (daily.index <= end)].sum()
    if base <= 0 or now <= 0:
        return float(days[0]), float(days[1])
    return float(base), float(now)


def volume_end(volume: pd.DataFrame | None) -> pd.Timestamp | None:
    """The end of the last day the volume covers (midnight after it), or None."""
    if volume is None or volume.empty:
        return None
    return max(last for _, last in covered_days(volume)).tz_localize("UTC") + pd.Timedelta(days=1)


def _volume_span(end: pd.Timestamp, first: pd.Timestamp, volume: pd.DataFrame | None):
    """(end, first) of the contacts the windows compare: with volume, only the days it covers. A contact on a day
    with no volume would raise its window's rate with nothing to weigh it (a daily assign a few days past the
    volume file's last week made half the causes 'growing')."""
    covered_to = volume_end(volume)
    if covered_to is None:
        return end, first
    covered_from = min(start for start, _ in covered_days(volume)).tz_localize("UTC")
    if covered_to <= first or covered_from > end:  # no overlap: rates per day, as without volume
        return end, first
    return min(end, covered_to - pd.Timedelta(microseconds=1)), max(first, covered_from)


def two_sided_binomial(k: np.ndarray, n: np.ndarray, p: float) -> np.ndarray:
    """The exact two-sided binomial test's p-value of `k` successes in `n` trials at rate `p`, for many at once
    (1.0 where `n` is 0): scipy's `binomtest(k, n, p).pvalue` with the same arithmetic, equal to the last bit
    (tests/test_over_time.py), but one call for all: a refresh's 720 tests took 0.26 s one call each, 0.002 s so.
    The other tail is found as scipy finds it: a binary search for the last count as unlikely as `k`."""
    k, n = np.asarray(k, dtype=np.int64), np.asarray(n, dtype=np.int64)
    out = np.ones(len(k))
    likely = binom.pmf(k, n, p) * (1 + 1e-7)  # scipy's tolerance for equally likely counts
    below = (n > 0) & (k < p * n)
    if below.any():
        kb, nb, db = k[below], n[below], likely[below]
        at = _search(lambda x: -binom.pmf(x, nb, p), -db, np.ceil(p * nb).astype(np.int64), nb)
        upper = nb - at + (db == binom.pmf(at, nb, p))
        out[below] = binom.cdf(kb, nb, p) + binom.sf(nb - upper, nb, p)
    above = (n > 0) & (k > p * n)
    if above.any():
        ka, na, da = k[above], n[above], likely[above]
        at = _search(
            lambda x: binom.pmf(x, na, p), da, np.zeros(len(ka), dtype=np.int64), np.floor(p * na).astype(np.int64)
        )
        out[above] = binom.cdf(at, na, p) + binom.sf(ka - 1, na, p)
    return np.minimum(out, 1.0)


def _search(a, target: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """scipy's `_binary_search_for_binom_tst` for each element at once: the i in [lo, hi] with a(i) <= target <
    a(i + 1) (`a` ascending there), or one where a(i) equals it."""
    lo, hi = lo.copy(), hi.copy()
    found = np.full(len(lo), -1, dtype=np.int64)
    active = lo < hi
    while active.any():
        mid = lo + (hi - lo) // 2
        value = a(mid)
        less, more = active & (value < target), active & (value > target)
        equal = active & ~less & ~more
        found[equal] = mid[equal]
        lo, hi = np.where(less, mid + 1, lo), np.where(more, mid - 1, hi)
        active &= ~equal & (lo < hi)
    return np.where(found >= 0, found, np.where(a(lo) <= target, lo, lo - 1))


def _window_days(cfg: TrendsConfig) -> list[int]:
    return sorted({cfg.recent_days, *cfg.windows})


def trends(contacts: pd.DataFrame, by: str, volume: pd.DataFrame | None, cfg: TrendsConfig) -> pd.DataFrame:
    """Per value of `by`: the trend, and the counts, rate ratio, p-value and BH-adjusted q-value of the window
    that decided it."""
    keys = contacts[by].dropna().unique()
    times = contacts["created_at"]
    if times.dropna().empty:
        return pd.DataFrame({"trend": None}, index=pd.Index(keys, name=by))
    end, first = _volume_span(times.max(), times.min(), volume)
    tests = []
    for w in _window_days(cfg):
        recent = end - pd.Timedelta(days=w)
        start = max(recent - pd.Timedelta(days=cfg.baseline_days), first - pd.Timedelta(seconds=1))
        if recent <= start:
            continue
        in_base = (times > start) & (times <= recent)
        in_recent = (times > recent) & (times <= end)
        base = contacts[in_base].groupby(by, observed=True).size().reindex(keys, fill_value=0)
        now = contacts[in_recent].groupby(by, observed=True).size().reindex(keys, fill_value=0)
        e_base, e_now = exposures((start, recent, end), volume, cfg)
        share = e_now / (e_base + e_now)
        p = two_sided_binomial(now.to_numpy(), (now + base).to_numpy(), share)
        ratio = (now / e_now) / (base / e_base).replace(0, np.nan)
        up = (now / e_now) > (base / e_base)
        tests.append(
            pd.DataFrame(
                {
                    by: keys,
                    "window_days": w,
                    "baseline_contacts": base.to_numpy(),
                    "recent_contacts": now.to_numpy(),
                    "rate_ratio": ratio.to_numpy(),
                    "p_value": p,
                    "up": up.to_numpy(),
                }
            )
        )
    if not tests:
        return pd.DataFrame({"trend": "stable"}, index=pd.Index(keys, name=by))
    table = pd.concat(tests, ignore_index=True)
    table["q_value"] = false_discovery_control(table["p_value"].to_numpy()) if len(table) else []
    table["significant"] = table["q_value"] <= cfg.false_discovery_rate
    shortest = table["window_days"].min()
    latest = table[table["window_days"] == shortest].set_index(by)
    rises = table[table["significant"] & table["up"]].sort_values(["q_value", "window_days"])
    rise = rises.drop_duplicates(by).set_index(by)
    decided = latest.copy()
    decided.loc[rise.index] = rise
    before = contacts[times <= end - pd.Timedelta(days=max(_window_days(cfg)))].groupby(by, observed=True).size()
    before = before.reindex(keys, fill_value=0)
    rising = decided.index.isin(rise.index)
    born = (
        rising
        & ((decided["baseline_contacts"].to_numpy() == 0) | (before.reindex(decided.index).to_numpy() == 0))
        & (decided["recent_contacts"].to_numpy() >= cfg.min_new)
    )
    falling = latest["significant"] & ~latest["up"]
    out = decided[["baseline_contacts", "recent_contacts", "rate_ratio", "p_value", "q_value", "window_days"]].copy()
    out["trend"] = np.select(
        [
            born,
            rising,
            (latest["recent_contacts"].reindex(decided.index) == 0).to_numpy(),
            falling.reindex(decided.index).to_numpy(),
        ],
        ["new", "growing", "inactive", "declining"],
        "stable",
    )
    out.index.name = by
    return out.reindex(keys)

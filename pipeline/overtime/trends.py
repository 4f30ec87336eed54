"""Which reasons are emerging: each cluster's and reason's recent rate against its baseline.

The recent window is the `recent_days` up to the newest contact; the baseline the `baseline_days` before it (both
half-open: a contact on the boundary counts once).
Rates are per unit of business volume when volume is known, else per day. The test is the exact conditional test
for two Poisson rates (recent count given the total is binomial with the windows' share of exposure); false alarms
across many clusters are held at `false_discovery_rate` with Benjamini-Hochberg (scipy's false_discovery_control).

- new: no contacts in the baseline, at least `min_new` recently (and significant);
- growing / declining: a significant change in rate;
- inactive: none recently;
- stable: the rest.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import binomtest, false_discovery_control

from pipeline.config import TrendsConfig


def windows(contacts: pd.DataFrame, cfg: TrendsConfig) -> tuple[pd.Timestamp, pd.Timestamp, pd.Timestamp] | None:
    """(baseline start, recent start, end) or None when contacts have no times."""
    times = contacts["created_at"].dropna()
    if times.empty:
        return None
    end = times.max()
    recent = end - pd.Timedelta(days=cfg.recent_days)
    return recent - pd.Timedelta(days=cfg.baseline_days), recent, end


def exposures(bounds, volume: pd.DataFrame | None, cfg: TrendsConfig) -> tuple[float, float]:
    """(baseline, recent) exposure: volume in each window (weekly volume spread over its days), else days."""
    start, recent, end = bounds
    if volume is None or volume.empty:
        return float(cfg.baseline_days), float(cfg.recent_days)
    daily = pd.Series(
        np.repeat(volume["volume"].to_numpy() / 7.0, 7),
        index=pd.DatetimeIndex(
            [pd.Timestamp(w) + pd.Timedelta(days=d) for w in volume["week"] for d in range(7)], tz="UTC"
        ),
    )
    base = daily[(daily.index > start) & (daily.index <= recent)].sum()
    now = daily[(daily.index > recent) & (daily.index <= end)].sum()
    if base <= 0 or now <= 0:
        return float(cfg.baseline_days), float(cfg.recent_days)
    return float(base), float(now)


def trends(contacts: pd.DataFrame, by: str, volume: pd.DataFrame | None, cfg: TrendsConfig) -> pd.DataFrame:
    """Per value of `by`: baseline and recent counts, rate ratio, p-value, BH-adjusted q-value and the trend."""
    bounds = windows(contacts, cfg)
    keys = contacts[by].dropna().unique()
    if bounds is None:
        return pd.DataFrame({"trend": None}, index=pd.Index(keys, name=by))
    start, recent, end = bounds
    times = contacts["created_at"]
    in_base = (times > start) & (times <= recent)  # half-open windows: (start, recent] and (recent, end]
    in_recent = (times > recent) & (times <= end)
    base = contacts[in_base].groupby(by).size().reindex(keys, fill_value=0)
    now = contacts[in_recent].groupby(by).size().reindex(keys, fill_value=0)
    e_base, e_now = exposures(bounds, volume, cfg)
    share = e_now / (e_base + e_now)
    p = np.array([binomtest(int(k), int(k + b), share).pvalue if k + b else 1.0 for k, b in zip(now, base)])
    q = false_discovery_control(p) if len(p) else p
    ratio = (now / e_now) / (base / e_base).replace(0, np.nan)
    out = pd.DataFrame(
        {"baseline_contacts": base, "recent_contacts": now, "rate_ratio": ratio, "p_value": p, "q_value": q}
    )
    significant = out["q_value"] <= cfg.false_discovery_rate
    out["trend"] = np.select(
        [
            now == 0,
            (base == 0) & (now >= cfg.min_new) & significant,
            significant & (now / e_now > base / e_base),
            significant & (now / e_now < base / e_base),
        ],
        ["inactive", "new", "growing", "declining"],
        "stable",
    )
    out.index.name = by
    return out

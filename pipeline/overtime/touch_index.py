"""The touch index: contacts per 1,000 units of business volume (orders, active customers), per week.

The rolling figure is the ratio of sums over the last 6 weeks (contacts / volume x 1,000), not a mean of weekly
ratios, so a quiet week weighs what it should; only whole weeks count (the export's first and last weeks are
usually partial, and flagged). The trend compares the latest rolling figure with the one 6 weeks before: it should
fall while the business grows.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.read.volume import week_start

ROLLING_WEEKS = 6
FLAT = 0.05  # within +-5%: flat


def touch_index(
    contacts: pd.DataFrame, volume: pd.DataFrame | None, groups: dict[str, pd.Series], cost: pd.Series | None = None
) -> pd.DataFrame:
    """Weekly contacts, cost, volume, per-1,000 and rolling 6-week figures, overall and for each named group.

    `groups`: scope name -> a boolean mask over `contacts` (e.g. one per top reason); rows carry `scope`. `cost`:
    each contact's cost, summed per week (null without one). A week the contacts or the volume do not cover whole
    (the export or a daily volume file starts or ends inside it) is not `complete`: its figures are shown but left out of the rolling index and the
    direction, since a partial week reads as a fall that did not happen.
    """
    timed = contacts.dropna(subset=["created_at"])
    weeks = week_start(timed["created_at"])
    span = sorted(set(weeks) | (set(volume["week"]) if volume is not None else set()))
    if timed.empty:  # no contact has a time: a week of volume would read 0 contacts per 1,000, which is not known
        return pd.DataFrame(
            columns=["week", "scope", "contacts", "cost", "volume", "per_1000", "rolling_6w", "trend", "complete"]
        )
    index = pd.Index(pd.date_range(min(span), max(span), freq="7D").date, name="week")
    vol = (
        volume.set_index("week")["volume"].reindex(index)
        if volume is not None
        else pd.Series(float("nan"), index=index)
    )
    complete = _complete(index, timed["created_at"])
    if volume is not None and "complete" in volume:  # a partial week of a daily volume file (`load_volume`)
        complete = complete & volume.set_index("week")["complete"].reindex(index, fill_value=True).to_numpy(dtype=bool)
    # a week's volume is known when given, and above 0 where the week has contacts (0 with contacts is a gap in the
    # file, not a perfect week; 0 without any is a closed week, which adds nothing to the 6-week sums)
    busy = weeks.value_counts().reindex(index, fill_value=0).to_numpy() > 0
    known = pd.Series(vol.notna().to_numpy() & ~(busy & (vol.to_numpy() <= 0)))
    out = []
    for scope, mask in {"overall": pd.Series(True, index=contacts.index), **groups}.items():
        inside = mask.reindex(timed.index, fill_value=False).to_numpy()
        counts = weeks[inside].value_counts().reindex(index, fill_value=0)
        frame = pd.DataFrame(
            {
                "week": index,
                "scope": scope,
                "contacts": counts.to_numpy(),
                "volume": vol.to_numpy(),
                "complete": complete,
            }
        )
        frame["cost"] = (
            cost.reindex(timed.index)[inside]
            .groupby(weeks[inside].to_numpy())
            .sum()
            .reindex(index, fill_value=0.0)
            .to_numpy()
            if cost is not None
            else float("nan")
        )
        frame["per_1000"] = 1000 * frame["contacts"] / frame["volume"].where(frame["volume"] > 0)
        counted = known & frame["complete"]
        rolling_contacts = frame["contacts"].where(counted).rolling(ROLLING_WEEKS, min_periods=ROLLING_WEEKS).sum()
        rolling_volume = frame["volume"].where(counted).rolling(ROLLING_WEEKS, min_periods=ROLLING_WEEKS).sum()
        frame["rolling_6w"] = 1000 * rolling_contacts / rolling_volume.where(rolling_volume > 0)
        frame["trend"] = direction(frame["rolling_6w"])
        out.append(frame)
    return pd.concat(out, ignore_index=True)


def _complete(weeks: pd.Index, times: pd.Series) -> np.ndarray:
    """Whether the contacts cover each week whole: it starts on or after the first contact's day and ends by the
    end of the last contact's day."""
    if times.empty:
        return np.zeros(len(weeks), dtype=bool)
    first = times.min().tz_convert("UTC").normalize().tz_localize(None)
    last = times.max().tz_convert("UTC").normalize().tz_localize(None) + pd.Timedelta(days=1)
    starts = pd.to_datetime(pd.Series(weeks))
    return ((starts >= first) & (starts + pd.Timedelta(days=7) <= last)).to_numpy()


def direction(rolling: pd.Series) -> str | None:
    """falling / rising / flat: the latest rolling figure against the one ROLLING_WEEKS weeks before it (`rolling`:
    one value a week, weeks in order); None when that one is unknown (a gap in the volume), not an earlier one."""
    values = rolling.to_numpy(dtype=float)
    known = np.flatnonzero(~np.isnan(values))
    if not len(known) or known[-1] < ROLLING_WEEKS:
        return None
    now, before = values[known[-1]], values[known[-1] - ROLLING_WEEKS]
    if np.isnan(before) or before == 0:
        return None
    change = now / before - 1
    return "falling" if change < -FLAT else "rising" if change > FLAT else "flat"


def chart(index: pd.DataFrame, path: Path, rising: set[str] = frozenset()) -> None:
    """A PNG in two panels on their own scales: the overall rolling touch index above, the top causes' below (so
    the overall line does not flatten them); causes in `rising` (new or growing) drawn red and marked. Partial
    weeks are shaded and their points hollow: they are not part of the rolling index."""
    plt = _pyplot()
    fig, (top, causes) = plt.subplots(
        2, 1, figsize=(9.5, 7), dpi=110, sharex=True, gridspec_kw={"height_ratios": [1, 1.3]}
    )
    weeks = pd.to_datetime(index["week"])
    for name, frame in index.groupby("name", sort=False):
        overall = (frame["scope"] == "overall").all()
        ax, hot = (top, False) if overall else (causes, name in rising)
        when = pd.to_datetime(frame["week"])
        ax.plot(
            when,
            frame["rolling_6w"],
            linewidth=2.6 if overall or hot else 1.2,
            color="black" if overall else ("#c0392b" if hot else None),
            label=_legend(("▲ " if hot else "") + str(name)),
        )
        partial = ~frame["complete"].astype(bool)
        ax.scatter(when[partial], frame["per_1000"][partial], facecolors="none", edgecolors="grey", s=18, zorder=3)
    for ax in (top, causes):
        for week in weeks[~index["complete"].astype(bool)].unique():
            ax.axvspan(week, week + pd.Timedelta(days=7), color="grey", alpha=0.12, linewidth=0)
        ax.grid(alpha=0.3)
        ax.set_ylabel("contacts per 1,000")
    causes.set_xlabel("week (Monday)")
    top.set_title("Touch index: contacts per 1,000 units of volume, rolling 6 weeks (whole weeks only)")
    causes.set_title("Top causes, each on this scale (▲ red: new or growing)", fontsize=10)
    causes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    top.text(
        0.01, 0.02, "shaded, hollow points: partial weeks, left out", transform=top.transAxes, fontsize=8, color="grey"
    )
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def owner_chart(owners: pd.DataFrame, path: Path, currency: str) -> None:
    """A PNG: each owner's weekly cost (or contacts, without costs) and, with volume, its rolling touch index, so
    each department sees its own line fall or not. Partial weeks are shaded."""
    plt = _pyplot()
    priced = owners["cost"].notna().any()
    indexed = owners["rolling_6w"].notna().any()
    fig, axes = plt.subplots(
        2 if indexed else 1, 1, figsize=(9.5, 7 if indexed else 4.2), dpi=110, sharex=True, squeeze=False
    )
    for owner, frame in owners.groupby("owner", sort=False):
        when = pd.to_datetime(frame["week"])
        axes[0, 0].plot(when, frame["cost"] if priced else frame["contacts"], label=_legend(str(owner)))
        if indexed:
            axes[1, 0].plot(when, frame["rolling_6w"], label=_legend(str(owner)))
    axes[0, 0].set_title(f"Weekly {'cost (' + currency + ')' if priced else 'contacts'} by owner")
    axes[0, 0].set_ylabel(f"cost ({currency}) a week" if priced else "contacts a week")
    if indexed:
        axes[1, 0].set_title("Touch index by owner: contacts per 1,000 units of volume, rolling 6 weeks", fontsize=10)
        axes[1, 0].set_ylabel("contacts per 1,000")
    axes[-1, 0].set_xlabel("week (Monday)")
    for ax in axes[:, 0]:
        for week in pd.to_datetime(owners.loc[~owners["complete"].astype(bool), "week"]).unique():
            ax.axvspan(week, week + pd.Timedelta(days=7), color="grey", alpha=0.12, linewidth=0)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _legend(name: str) -> str:
    """A legend entry whole, over lines of at most 32 characters (names cut at 40 told two owners apart no more)."""
    return textwrap.fill(name, 32)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt

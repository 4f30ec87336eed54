"""The touch index: contacts per 1,000 units of business volume (orders, active customers), per week.

The rolling figure is the ratio of sums over the last 6 weeks (contacts / volume x 1,000), not a mean of weekly
ratios, so a quiet week weighs what it should. The trend compares the latest rolling figure with the one 6 weeks
before: it should fall while the business grows.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline.read.volume import week_start

ROLLING_WEEKS = 6
FLAT = 0.05  # within +-5%: flat


def touch_index(contacts: pd.DataFrame, volume: pd.DataFrame, groups: dict[str, pd.Series]) -> pd.DataFrame:
    """Weekly contacts, volume, per-1,000 and rolling 6-week figures, overall and for each named group.

    `groups`: scope name -> a boolean mask over `contacts` (e.g. one per top reason); rows carry `scope`.
    """
    timed = contacts.dropna(subset=["created_at"])
    weeks = week_start(timed["created_at"])
    span = sorted(set(weeks) | set(volume["week"]))
    if not span:
        return pd.DataFrame(columns=["week", "scope", "contacts", "volume", "per_1000", "rolling_6w", "trend"])
    index = pd.Index(pd.date_range(min(span), max(span), freq="7D").date, name="week")
    vol = volume.set_index("week")["volume"].reindex(index)
    out = []
    for scope, mask in {"overall": pd.Series(True, index=contacts.index), **groups}.items():
        counts = (
            weeks[mask.reindex(timed.index, fill_value=False).to_numpy()].value_counts().reindex(index, fill_value=0)
        )
        frame = pd.DataFrame({"week": index, "scope": scope, "contacts": counts.to_numpy(), "volume": vol.to_numpy()})
        frame["per_1000"] = 1000 * frame["contacts"] / frame["volume"].where(frame["volume"] > 0)
        both = frame["volume"].notna()
        rolling_contacts = frame["contacts"].where(both).rolling(ROLLING_WEEKS, min_periods=ROLLING_WEEKS).sum()
        rolling_volume = frame["volume"].rolling(ROLLING_WEEKS, min_periods=ROLLING_WEEKS).sum()
        frame["rolling_6w"] = 1000 * rolling_contacts / rolling_volume.where(rolling_volume > 0)
        frame["trend"] = direction(frame["rolling_6w"])
        out.append(frame)
    return pd.concat(out, ignore_index=True)


def direction(rolling: pd.Series) -> str | None:
    """falling / rising / flat: the latest rolling figure against the one ROLLING_WEEKS earlier."""
    known = rolling.dropna()
    if len(known) <= ROLLING_WEEKS:
        return None
    now, before = known.iloc[-1], known.iloc[-1 - ROLLING_WEEKS]
    if before == 0:
        return None
    change = now / before - 1
    return "falling" if change < -FLAT else "rising" if change > FLAT else "flat"


def chart(index: pd.DataFrame, path: Path) -> None:
    """A PNG: the rolling touch index overall (bold) and for each other scope (`name` labels the lines)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.8), dpi=110)
    for name, frame in index.groupby("name", sort=False):
        overall = (frame["scope"] == "overall").all()
        ax.plot(
            pd.to_datetime(frame["week"]),
            frame["rolling_6w"],
            linewidth=2.6 if overall else 1.2,
            color="black" if overall else None,
            label=str(name)[:40],
        )
    ax.set_title("Touch index: contacts per 1,000 units of volume, rolling 6 weeks")
    ax.set_ylabel("contacts per 1,000")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)

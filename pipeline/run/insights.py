"""What the review app's pages and the static report show of a run, computed once from its tables: the causes
with their weekly counts, drivers, owner and cost; emerging causes first; the touch index per cause and per owner.

Owners (`owner` on reasons), costs (`cost` on the ranking or on reasons) and drivers (the `drivers` table) are
shown when the run has them; a run without them gives the same pages without those columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

import pandas as pd

from pipeline.overtime.drivers import in_words
from pipeline.overtime.ranking import cluster_cause_contacts
from pipeline.read.volume import week_start
from pipeline.run.charts import Line

if TYPE_CHECKING:
    from pipeline.run.folder import Run

Key = tuple[str, str]  # ("reason", reason id) or ("cluster", cluster id as text)
SPARK_WEEKS = 12  # the weeks a sparkline covers, up to the run's last
INDEX_LINES = 8  # causes charted beside the overall touch index
DRIVERS_SHOWN = 3


@dataclass(frozen=True)
class Cause:
    """A row of the ranking as a page shows it."""

    rank: int
    key: Key
    name: str
    reason_id: str | None
    cluster_id: int | None
    touches: int
    issues: int
    contacts: int
    touches_per_issue: float
    repeat_contact_rate: float
    handle_hours: float | None
    trend: str | None
    why: str
    owner: str | None = None
    cost: float | None = None
    weekly: list[int] = field(default_factory=list)
    drivers: list[str] = field(default_factory=list)

    @property
    def emerging(self) -> bool:
        return self.trend in ("new", "growing")


@dataclass(frozen=True)
class Overview:
    causes: list[Cause]
    weeks: list[date]  # what the sparklines cover
    reasons: pd.DataFrame  # the reasons table with `touches`, and `owner` when the run has owners
    weekly: dict[Key, list[int]]  # contacts per week of every reason, and of every cluster as a cause counts them
    index_lines: list[Line]  # touch index (rolling 6 weeks), overall first; empty without volume
    owner_lines: list[Line]  # touch index per owner; empty without owners or volume
    count_lines: list[Line]  # contacts per week, overall and top causes; empty without dates
    has_owner: bool
    has_cost: bool
    has_drivers: bool
    links_repeats: bool = True  # the input had customer or ticket ids: touches of one issue could be told
    currency: str = ""  # of the costs (`cost.currency`)

    @property
    def emerging(self) -> list[Cause]:
        """New causes first, then growing ones, most touches first."""
        rising = [c for c in self.causes if c.emerging]
        return sorted(rising, key=lambda c: (c.trend != "new", -c.touches, c.rank))


def overview(run: Run) -> Overview:
    contacts = run.frame("contacts", ["created_at", "reason_id", "cluster_id"])
    ranking = run.frame("ranking")
    reasons = run.frame("reasons")
    index = run.frame("touch_index")
    drivers, owner_weeks = (run.tables.get(name) for name in ("drivers", "owners"))
    drivers = drivers.to_pandas() if drivers is not None else None
    if "touches" not in reasons:  # runs made before reasons carried touches
        reasons["touches"] = (reasons["issues"] * reasons["touches_per_issue"]).fillna(0).round().astype("int64")
    owners = _by_reason(ranking, reasons, "owner")
    costs = _by_reason(ranking, reasons, "cost")
    loose = cluster_cause_contacts(contacts, run.manifest.taxonomy is not None)
    weeks, weekly = weekly_counts(contacts, loose)
    said = drivers_in_words(drivers)
    causes = []
    for row in ranking.itertuples():
        reason = row.reason_id if isinstance(row.reason_id, str) else None
        cluster = None if reason is not None or pd.isna(row.cluster_id) else int(row.cluster_id)
        key: Key = ("reason", reason) if reason is not None else ("cluster", str(cluster))
        causes.append(
            Cause(
                rank=int(row.rank),
                key=key,
                name=str(row.name),
                reason_id=reason,
                cluster_id=cluster,
                touches=int(round(row.touches)),
                issues=int(row.issues),
                contacts=int(row.contacts),
                touches_per_issue=float(row.touches_per_issue),
                repeat_contact_rate=float(row.repeat_contact_rate),
                handle_hours=None if pd.isna(row.handle_time_s) else float(row.handle_time_s) / 3600,
                trend=row.trend if isinstance(row.trend, str) else None,
                why=str(row.why),
                owner=owners.get(key),
                cost=costs.get(key),
                weekly=weekly.get(key, []),
                drivers=said.get(key, []),
            )
        )
    return Overview(
        causes=causes,
        weeks=weeks,
        reasons=reasons,
        weekly=weekly,
        index_lines=index_lines(index),
        owner_lines=owner_lines(owner_weeks.to_pandas() if owner_weeks is not None else None),
        count_lines=count_lines(contacts, causes, loose),
        has_owner=bool(owners),
        has_cost=bool(costs),
        has_drivers=drivers is not None and not drivers.empty,
        links_repeats=_links_repeats(run),
        currency=(run.manifest.config.get("cost") or {}).get("currency", ""),
    )


def _links_repeats(run: Run) -> bool:
    """Whether a contact could be found to repeat an earlier one: without customer and ticket ids every contact is
    an issue of its own, and '1.00 per issue, 0% repeat contacts' would read as measured."""
    table = run.arrow("contacts", [c for c in ("customer_id", "ticket_id") if c in run.column_names("contacts")])
    return any(column.null_count < table.num_rows for column in table.columns)


def weekly_counts(
    contacts: pd.DataFrame, loose: pd.Series, weeks: int = SPARK_WEEKS
) -> tuple[list[date], dict[Key, list[int]]]:
    """Contacts per week over the run's last `weeks` weeks, of every reason, and of every cluster ranked as a cause:
    the contacts it counts (`loose`: `cluster_cause_contacts`, those without a reason; one with a reason counts
    under it)."""
    timed = contacts.dropna(subset=["created_at"])
    if timed.empty:
        return [], {}
    week = week_start(timed["created_at"])
    last = max(week)
    span = [d.date() for d in pd.date_range(end=pd.Timestamp(last), periods=weeks, freq="7D")]
    out: dict[Key, list[int]] = {}
    for scope, column in (("reason", "reason_id"), ("cluster", "cluster_id")):
        keyed = timed[column]
        keep = keyed.notna() if column == "reason_id" else loose.loc[timed.index]
        table = pd.crosstab(week[keep], keyed[keep]).reindex(span, fill_value=0)
        for name in table.columns:
            out[(scope, str(name))] = [int(v) for v in table[name]]
    return span, out


def drivers_in_words(drivers: pd.DataFrame | None) -> dict[Key, list[str]]:
    """The strongest drivers of each reason and cluster, in words (`drivers.in_words`)."""
    if drivers is None or drivers.empty:
        return {}
    out: dict[Key, list[str]] = {}
    for row in drivers.sort_values(["q_value", "lift"], ascending=[True, False]).itertuples():
        key: Key = ("reason", str(row.reason_id)) if row.scope == "reason" else ("cluster", str(int(row.cluster_id)))
        said = out.setdefault(key, [])
        if len(said) < DRIVERS_SHOWN:
            said.append(in_words(row))
    return out


def index_lines(index: pd.DataFrame) -> list[Line]:
    """The rolling touch index overall (bold) and of each cause the run charts."""
    if index.empty:
        return []
    lines = []
    for (scope, name), frame in _complete(index).groupby(["scope", "name"], sort=False):
        lines.append(_line(str(name), frame, bold=scope == "overall"))
    lines.sort(key=lambda line: not line.bold)
    return lines[: INDEX_LINES + 1]


def owner_lines(owners: pd.DataFrame | None) -> list[Line]:
    """The touch index of each owner's reasons together (the run's `owners` table), rolling 6 weeks."""
    if owners is None or owners.empty:
        return []
    return [_line(str(owner), frame) for owner, frame in _complete(owners).groupby("owner", sort=True)]


def count_lines(contacts: pd.DataFrame, causes: list[Cause], loose: pd.Series) -> list[Line]:
    """Contacts per week, overall (bold) and of the top causes (`loose`: the contacts a cluster ranked as a cause
    counts, as `weekly_counts`): what a run without volume can chart."""
    timed = contacts.dropna(subset=["created_at"])
    if timed.empty:
        return []
    week = pd.Series(week_start(timed["created_at"]), index=timed.index)
    span = [d.date() for d in pd.date_range(min(week), max(week), freq="7D")]
    lines = [Line("all contacts", _points(week.value_counts(), span), bold=True)]
    for cause in causes[:INDEX_LINES]:
        if cause.reason_id is not None:
            counted = timed["reason_id"] == cause.reason_id
        else:  # a cluster as a cause: the contacts it counts, as `weekly_counts`
            counted = (timed["cluster_id"] == cause.cluster_id) & loose.loc[timed.index]
        lines.append(Line(cause.name, _points(week[counted].value_counts(), span)))
    return lines


def _complete(weekly: pd.DataFrame) -> pd.DataFrame:
    """The weeks the contacts cover whole (a run's first and last week are often cut short)."""
    return weekly[weekly["complete"].fillna(True).astype(bool)] if "complete" in weekly else weekly


def _points(counts: pd.Series, span: list[date]) -> list[tuple[date, float | None]]:
    return [(d, float(counts.get(d, 0))) for d in span]


def _line(name: str, frame: pd.DataFrame, bold: bool = False) -> Line:
    points = [
        (pd.Timestamp(w).date(), None if pd.isna(v) else float(v)) for w, v in zip(frame["week"], frame["rolling_6w"])
    ]
    return Line(name, points, bold=bold)


def _by_reason(ranking: pd.DataFrame, reasons: pd.DataFrame, column: str) -> dict[Key, object]:
    """A column of the ranking by cause, else the same column of the reasons by reason; {} when neither has it."""
    if column in ranking:
        keys = [
            ("reason", r) if isinstance(r, str) else ("cluster", str(int(c)))
            for r, c in zip(ranking["reason_id"], ranking["cluster_id"])
        ]
        values = ranking[column]
    elif column in reasons:
        keys = [("reason", r) for r in reasons["reason_id"]]
        values = reasons[column]
    else:
        return {}
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in zip(keys, values) if pd.notna(v)}

"""A static HTML report per run, for e-mail: emerging causes first, the top causes by touches with their weekly
sparklines (and drivers, owners and costs where the run has them), the touch index per cause and per owner, and
the open proposals. One self-contained page: inline SVG charts drawn on the server, no script, no external file;
every text is escaped (Jinja2 autoescaping)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pandas as pd

from pipeline.run.charts import line_chart, sparkline
from pipeline.run.insights import Overview, overview
from pipeline.run.review import KIND_NAMES, kind_counts, templates

if TYPE_CHECKING:
    from pipeline.run.folder import Run

TOP_CAUSES = 15


def report_page(run: Run) -> str:
    o = overview(run)
    manifest = run.manifest
    proposals = run.frame("proposals").sort_values("rank")
    open_ = proposals[proposals["status"] == "open"]
    counts = Counter(open_["kind"])
    return (
        templates()
        .get_template("report.html")
        .render(
            o=o,
            input=(manifest.input or "").rstrip("/").rsplit("/", 1)[-1],
            contacts=manifest.contacts,
            period=period(run),
            taxonomy=manifest.taxonomy,
            taxonomy_version=manifest.taxonomy_version,
            written=(manifest.written_at or datetime.now(UTC).isoformat())[:16].replace("T", " ") + " UTC",
            top=o.causes[:TOP_CAUSES],
            more=max(len(o.causes) - TOP_CAUSES, 0),
            owners=owner_totals(o),
            proposals=list(open_.itertuples()),
            summary=kind_counts(counts),
            kinds=KIND_NAMES,
            line_chart=line_chart,
            sparkline=sparkline,
        )
    )


def period(run: Run) -> str:
    """'1 Sep 2026 – 23 Nov 2026': the first and last contact's day, or '' without dates."""
    times = run.frame("contacts", ["created_at"])["created_at"].dropna()
    if times.empty:
        return ""
    return f"{times.min():%-d %b %Y} – {times.max():%-d %b %Y}"


def owner_totals(o: Overview) -> list[dict]:
    """Touches (and cost) of the ranked causes per owner, the costliest first; [] when no reason has an owner."""
    if not o.has_owner:
        return []
    frame = pd.DataFrame(
        [{"owner": c.owner or "(no owner)", "touches": c.touches, "cost": c.cost or 0.0} for c in o.causes]
    )
    table = frame.groupby("owner").agg(causes=("touches", "size"), touches=("touches", "sum"), cost=("cost", "sum"))
    table = table.sort_values(["cost", "touches"], ascending=False).reset_index()
    return table.to_dict("records")

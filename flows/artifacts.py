"""What a run shows in the Prefect UI: a markdown summary and the ranking as a table artifact, from the tables the
run wrote."""

from __future__ import annotations

from prefect.artifacts import create_markdown_artifact, create_table_artifact

from pipeline.overtime.ranking import emerging
from pipeline.run.folder import Run


def publish(run_kind: str, out_dir: str, run: Run) -> None:
    """Top 10 causes by touches, emerging reasons, open proposals, and the touch index now against 6 weeks ago."""
    ranking, proposals, index = (run.frame(name) for name in ("ranking", "proposals", "touch_index"))
    lines = [f"# touchless {run_kind}: {run.manifest.contacts:,} contacts", f"Outputs: `{out_dir}`", ""]
    if len(ranking):
        lines += [
            "## Top causes by touches",
            "",
            "| # | cause | touches | issues | per issue | trend |",
            "|---|---|---:|---:|---:|---|",
        ]
        lines += [
            f"| {r.rank} | {r.name} | {r.touches:,.0f} | {r.issues:,} | {r.touches_per_issue:.2f} | {r.trend or ''} |"
            for r in ranking.head(10).itertuples()
        ]
        lines += ["", "## Emerging", ""] + ([f"- **{name}**" for name in emerging(ranking)] or ["- none"])
    open_ = proposals[proposals["status"] == "open"]
    lines += ["", f"## Open proposals: {len(open_)}", ""]
    lines += [f"- {r.kind}: {r.name} ({r.touches:,} touches) `{r.proposal_id}`" for r in open_.head(10).itertuples()]
    overall = index[index["scope"] == "overall"].dropna(subset=["rolling_6w"])
    if len(overall):
        now = overall.iloc[-1]
        before = overall.iloc[-7] if len(overall) >= 7 else overall.iloc[0]
        lines += [
            "",
            "## Touch index",
            "",
            f"{now['rolling_6w']:.2f} contacts per 1,000 (rolling 6 weeks to {now['week']}), "
            f"against {before['rolling_6w']:.2f} at {before['week']}: {now['trend'] or 'too early to tell'}.",
        ]
    create_markdown_artifact(markdown="\n".join(lines), key="touchless-summary", description="touchless run summary")
    if len(ranking):
        table = ranking.head(50)[["rank", "name", "touches", "issues", "touches_per_issue", "trend"]]
        create_table_artifact(
            table=table.astype(object).where(table.notna(), None).to_dict("records"),
            key="touchless-ranking",
            description="causes ranked by touches",
        )

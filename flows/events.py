"""Prefect events a run emits, so a data team is told, not left to look: a reason that starts emerging, and a
proposal no earlier run had open. A Prefect automation on `touchless.reason.emerging` or `touchless.proposal.new`
sends the notification (README: "Be told").
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from prefect.events import emit_event

from pipeline.run.folder import Run


@dataclass(frozen=True)
class Flagged:
    """What a run had flagged: the causes emerging, the proposals open (read before a new run replaces it)."""

    rising: frozenset[str] = frozenset()
    open: frozenset[str] = frozenset()


def flagged(run: Run | None) -> Flagged:
    if run is None:
        return Flagged()
    ranking = _frame(run, "ranking")
    proposals = _frame(run, "proposals")
    return Flagged(
        frozenset(ranking.loc[ranking["trend"].isin(["new", "growing"]), "name"]) if len(ranking) else frozenset(),
        frozenset(proposals.loc[proposals["status"] == "open", "proposal_id"]) if len(proposals) else frozenset(),
    )


def announce(location: str, run: Run, before: Flagged) -> int:
    """Emit an event per newly emerging cause and per newly open proposal (against what the replaced run had
    flagged); returns how many."""
    resource = {"prefect.resource.id": f"touchless.run.{location}", "prefect.resource.name": location}
    ranking, proposals = run.frame("ranking"), run.frame("proposals")
    rising = ranking[ranking["trend"].isin(["new", "growing"])] if len(ranking) else ranking
    emitted = 0
    for cause in rising[~rising["name"].isin(before.rising)].itertuples():
        emit_event(
            event="touchless.reason.emerging",
            resource=resource,
            payload={
                "name": cause.name,
                "trend": cause.trend,
                "rank": int(cause.rank),
                "touches": float(cause.touches),
                "reason_id": cause.reason_id,
                "cluster_id": None if pd.isna(cause.cluster_id) else int(cause.cluster_id),
            },
        )
        emitted += 1
    fresh = proposals[(proposals["status"] == "open") & ~proposals["proposal_id"].isin(before.open)]
    for proposal in fresh.itertuples():
        emit_event(
            event="touchless.proposal.new",
            resource=resource,
            payload={
                "proposal_id": proposal.proposal_id,
                "kind": proposal.kind,
                "name": proposal.name,
                "touches": int(proposal.touches),
                "evidence": proposal.evidence,
            },
        )
        emitted += 1
    return emitted


def _frame(run: Run, name: str) -> pd.DataFrame:
    return run.frame(name) if name in run.tables else pd.DataFrame()

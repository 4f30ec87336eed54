"""What a flow returns to its caller, and the last steps every run takes once its folder is written."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefect import get_run_logger

from flows.artifacts import publish
from flows.events import Flagged, announce
from flows.steps import Embedded
from pipeline.overtime.ranking import emerging
from pipeline.read.report import InputReport
from pipeline.run.folder import Run, is_remote, remember_last_run


@dataclass
class RunResult:
    """A run's outcome in numbers, for the CLI and for callers of the flows."""

    kind: str  # discover | assign
    out_dir: str
    contacts: int  # in the run now
    clustered: int
    noise: int
    clusters: int
    embedded_new: int
    embedded_cached: int
    proposals: int  # open proposals to refine the taxonomy
    emerging: list[str] = field(default_factory=list)  # names of new and growing reasons and clusters
    warnings: list[str] = field(default_factory=list)
    columns: str = ""  # which input columns were read, what was not found and what that turns off
    metrics: dict[str, Any] | None = None  # scores against known labels (evaluate)
    new_contacts: int = 0  # assign: contacts read from the input that the run did not hold
    skipped: int = 0  # assign: contacts the run held already, with the same text and details
    changed: int = 0  # assign: contacts the run held whose text or details changed: read again
    details_changed: int = 0  # assign: of them, those whose words are the same: they keep their cluster
    assigned: int = 0  # assign: new and changed contacts that joined a cluster


def finish(
    kind: str,
    out_dir: str,
    out: Path,
    run: Run,
    report: InputReport,
    embedded: Embedded,
    before: Flagged,
    remember: bool = True,
    **counts: int,
) -> RunResult:
    """After the run is saved: remember it as this directory's latest, publish its artifacts and its events (what
    newly emerged, what is newly proposed, against what the replaced run had flagged), log its warnings."""
    logger = get_run_logger()
    if remember:  # a scoring run (evaluate) is not the run people review
        remember_last_run(out)
    location = str(out_dir) if is_remote(out_dir) else str(out.resolve())
    publish(kind, location, run)
    announce(location, run, before)
    for warning in report.warnings:
        logger.warning(warning)
    labels = run.frame("contacts", ["cluster_id"])["cluster_id"]
    proposals = run.frame("proposals", ["status"])
    result = RunResult(
        kind=kind,
        out_dir=location,
        contacts=len(labels),
        clustered=int((labels >= 0).sum()),
        noise=int((labels < 0).sum()),
        clusters=len(run.tables["clusters"]),
        embedded_new=embedded.computed,
        embedded_cached=embedded.cached,
        proposals=int((proposals["status"] == "open").sum()),
        emerging=emerging(run.frame("ranking")),
        warnings=report.warnings,
        columns=report.columns,
        metrics=run.metrics,
        **counts,
    )
    logger.info(
        "%s: %d contacts, %d clusters, %d in no cluster, %d open proposals; embedded %d new, %d from cache",
        kind,
        result.contacts,
        result.clusters,
        result.noise,
        result.proposals,
        embedded.computed,
        embedded.cached,
    )
    return result

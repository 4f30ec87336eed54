"""What the review app reads: one run (read again when a new run replaces its folder) and the decisions file
beside the taxonomy (read on every page, so a decision made with the command line shows on reload)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from pipeline.errors import OutputError
from pipeline.run.folder import Manifest, Run, locate_run, read_manifest
from pipeline.run.insights import Overview, overview
from pipeline.run.views import open_run_views
from pipeline.taxonomy.decisions import (
    Decision,
    decided,
    decision_for,
    evidence_growth,
    load_decisions,
    proposals_from_table,
    taxonomy_for_run,
    user_name,
)
from pipeline.taxonomy.proposals import Proposal
from pipeline.taxonomy.tree import Taxonomy, load_taxonomy

PAGE_SIZE = 50
_CONTACT_COLUMNS = "contact_id, created_at, reason_id, reason_name, cluster_id, cluster_label, touch, channel, text"


@dataclass(frozen=True)
class Loaded:
    """One run as the app shows it; replaced as a whole when a new run is written to the folder."""

    run: Run
    manifest: Manifest
    proposals: list[Proposal]  # rank order, status as the run was written
    clusters: pd.DataFrame  # indexed by cluster_id
    overview: Overview
    database: duckdb.DuckDBPyConnection
    growth: float


@dataclass(frozen=True)
class Decided:
    """The run's proposals with today's decisions: read on every request."""

    taxonomy: Taxonomy | None
    decisions: list[Decision]
    proposals: list[Proposal]  # status as the decisions on file say now

    def decision(self, proposal_id: str) -> Decision | None:
        """The decision covering this proposal: made on it, or on the same evidence in an earlier run."""
        proposal = next((p for p in self.proposals if p.proposal_id == proposal_id), None)
        return decision_for(proposal, self.decisions) if proposal else None


class ReviewState:
    def __init__(self, folder: Path, taxonomy: Path | None = None, by: str | None = None) -> None:
        self.folder = Path(folder)
        self.by = (by or "").strip() or user_name()  # who decides in this page: the decisions say so
        manifest = read_manifest(self.folder)
        if manifest is None:
            raise OutputError(f"{folder} holds no touchless run: run `touchless discover ... --out {folder}` first")
        self.taxonomy_path = taxonomy_for_run(self.folder, manifest.taxonomy, taxonomy).resolve()
        self._lock = threading.Lock()
        self._loaded: Loaded | None = None

    def loaded(self) -> Loaded:
        """The run in the folder now (read again when its manifest says another run was written)."""
        manifest = read_manifest(self.folder)
        if manifest is None:
            raise OutputError(f"{self.folder} holds no touchless run any more")
        with self._lock:
            if self._loaded is None or self._loaded.manifest.written_at != manifest.written_at:
                run = Run.load(self.folder)
                if self._loaded is not None:
                    self._loaded.database.close()
                self._loaded = Loaded(
                    run=run,
                    manifest=run.manifest,
                    proposals=proposals_from_table(run.frame("proposals")),
                    clusters=run.frame("clusters").set_index("cluster_id"),
                    overview=overview(run),
                    database=open_run_views(locate_run(self.folder)),
                    growth=evidence_growth(run.manifest.config),
                )
            return self._loaded

    def decided(self) -> Decided:
        taxonomy = load_taxonomy(self.taxonomy_path) if self.taxonomy_path.is_file() else None
        decisions = load_decisions(self.taxonomy_path)
        loaded = self.loaded()
        return Decided(
            taxonomy, decisions, decided(loaded.proposals, decisions, loaded.growth, loaded.manifest.taxonomy_version)
        )

    def proposal(self, proposal_id: str) -> Proposal | None:
        """The run's proposal with exactly this id (the app never guesses from a prefix)."""
        return next((p for p in self.loaded().proposals if p.proposal_id == proposal_id), None)

    def contacts(self, where: str, params: list, query: str = "", page: int = 1) -> tuple[list[dict], int, list[str]]:
        """One page of the contacts matching `where` (SQL over the `cause_contacts` view, with `params`), newest
        first, whose text or id holds `query` (any case): (rows, how many match in all, column names)."""
        if query.strip():
            where += " AND (contains(lower(text), lower(?)) OR contains(lower(contact_id), lower(?)))"
            params = [*params, query.strip(), query.strip()]
        cursor = self.loaded().database.cursor()
        try:
            total = cursor.execute(f"SELECT count(*) FROM cause_contacts WHERE {where}", params).fetchone()[0]
            result = cursor.execute(
                f"SELECT {_CONTACT_COLUMNS} FROM cause_contacts WHERE {where} "
                "ORDER BY created_at DESC NULLS LAST, contact_id LIMIT ? OFFSET ?",
                [*params, PAGE_SIZE, (max(page, 1) - 1) * PAGE_SIZE],
            )
            columns = [d[0] for d in result.description]
            rows = [dict(zip(columns, row)) for row in result.fetchall()]
        finally:
            cursor.close()
        return rows, int(total), columns


def proposal_scope(proposal: Proposal, taxonomy: Taxonomy | None) -> tuple[str, list]:
    """Which contacts a proposal is about, as SQL over `cause_contacts`: a split, merge or retire its reasons'
    contacts (those held back from them while a new reason is proposed too); agents' labels its contacts filed under one reason that read like the other; else its clusters."""
    if proposal.kind in ("split", "merge", "retire"):  # with those held back from them, as the proposal counts
        given, params = _within("reason_id", proposal.reason_ids)
        withheld, more = _within("withheld_reason_id", proposal.reason_ids)
        return f"({given} OR {withheld})", params + more
    if proposal.kind == "mislabel":
        agent, read_as = proposal.reason_ids
        named = taxonomy.by_id().get(agent) if taxonomy else None
        labels = [agent.lower()] + ([named.name.lower()] if named else [])
        where, params = _within("lower(trim(agent_reason))", labels)
        return f"text_reason_id = ? AND {where}", [read_as, *params]
    return _within("cluster_id", proposal.cluster_ids)


def cause_scope(reason: str | None, cluster: int | None) -> tuple[str, list]:
    """The contacts of a cause: a reason's, or a cluster's without a reason (a contact with one counts under it): a
    cluster ranked as a cause counts these (`pipeline.overtime.ranking.cluster_cause_contacts`)."""
    if reason is not None:
        return "reason_id = ?", [reason]
    return "cluster_id = ? AND reason_id IS NULL", [cluster]


def _within(column: str, values: list) -> tuple[str, list]:
    if not values:
        return "false", []
    return f"{column} IN ({', '.join('?' for _ in values)})", list(values)

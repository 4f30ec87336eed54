"""One refresh for `discover` and `assign`: from the joined contacts to a whole run.

Touches, trends, the ranking, the touch index and the proposals are all recomputed over every contact the run
holds, whichever flow added them, so a daily `assign` leaves the same kind of run a weekly `discover` does.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from pipeline.config import Config
from pipeline.model.centres import ClusterModel
from pipeline.model.embed import embedder
from pipeline.overtime.measures import OverTime, over_time
from pipeline.overtime.touch_index import chart, owner_chart
from pipeline.overtime.touches import issues
from pipeline.overtime.trends import trends, volume_end
from pipeline.read.volume import load_volume
from pipeline.run.folder import CHART, OWNERS_CHART, Manifest, Run
from pipeline.run.report import report_page
from pipeline.run.review import review_page
from pipeline.run.tables import run_tables
from pipeline.taxonomy.decisions import Decision, load_decisions, mark_status
from pipeline.taxonomy.proposals import ProcessSteps, Proposal, cluster_facts, propose
from pipeline.taxonomy.reasons import Readers, ReasonModel, agent_reasons
from pipeline.taxonomy.tree import Taxonomy, load_taxonomy


@dataclass(frozen=True)
class Context:
    """What a run holds its contacts against: the taxonomy, the decisions kept beside it, business volume."""

    taxonomy: Taxonomy | None
    taxonomy_sha256: str | None
    decisions: list[Decision]
    volume: pd.DataFrame | None
    volume_warnings: list[str] = field(default_factory=list)


def read_context(cfg: Config, volume_path: str | None) -> Context:
    """Read and check the taxonomy, its decisions and the volume file before any heavy work, so a broken file is
    named at once, not after the contacts were embedded."""
    taxonomy, digest, decisions = None, None, []
    if cfg.taxonomy.path:
        path = Path(cfg.taxonomy.path)
        taxonomy = load_taxonomy(path)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        decisions = load_decisions(path)
    volume, warnings = load_volume(volume_path, cfg.input.date_format) if volume_path else (None, [])
    return Context(taxonomy, digest, decisions, volume, warnings)


@dataclass(frozen=True)
class Refreshed:
    contacts: pd.DataFrame  # with `agent_reason`, `issue_id`, `touch` and `withheld_reason_id`
    time: OverTime
    proposals: list[Proposal]
    warnings: list[str]  # what the refresh changed that a person should know


def _restore_withheld(contacts: pd.DataFrame) -> pd.DataFrame:
    """Reasons withheld by an earlier refresh, given back (this refresh decides again)."""
    if "withheld_reason_id" not in contacts:
        return contacts
    withheld = contacts["withheld_reason_id"]
    return contacts.drop(columns="withheld_reason_id").assign(
        reason_id=contacts["reason_id"].where(withheld.isna(), withheld)
    )


def _withhold(contacts: pd.DataFrame, clusters: list[int]) -> tuple[pd.DataFrame, list[str]]:
    """The reasons of the contacts in `clusters` (open new_reason proposals) moved to `withheld_reason_id`."""
    at = contacts["cluster_id"].isin(clusters) & contacts["reason_id"].notna()
    out = contacts.assign(
        withheld_reason_id=contacts["reason_id"].where(at, None),
        reason_id=contacts["reason_id"].where(~at, None),
    ).astype({"reason_id": object, "withheld_reason_id": object})
    if not at.any():
        return out, []
    return out, [
        f"{int(at.sum()):,} contact(s) in {len(clusters)} cluster(s) proposed as new reasons count as unassigned "
        "while the proposals are open: the reason they were given is in contacts.withheld_reason_id"
    ]


# what trends and the measures read of a contact, and what `issues` reads besides: they select rows many times, and
# selecting them from these columns costs a fraction of selecting them from the whole table with its texts (a day's
# `assign` onto a million contacts spent most of its refresh copying texts it never read), and the measures
# selected the ids of contacts, customers and tickets they never read as well (0.3 s of 3.6 at a million)
_FACT_COLUMNS = ["cluster_id", "reason_id", "created_at", "handle_time_s", "issue_id"]
_ISSUE_COLUMNS = ["contact_id", "row", "customer_id", "ticket_id", "duplicate_group"]


def _facts(contacts: pd.DataFrame, dimensions: list[str], for_issues: bool = False) -> pd.DataFrame:
    """The columns of `contacts` that the over-time measures read, with the dimensions (`input.dimensions`), and
    with `for_issues` those `issues` links contacts by. `issue_id` as a number per issue: the measures only ask
    which contacts share an issue, and a number is counted without hashing a million ids as strings; `reason_id`
    as a category, for the same reason (it is grouped and compared a dozen times)."""
    wanted = [*_FACT_COLUMNS, *(_ISSUE_COLUMNS if for_issues else []), *dimensions]
    facts = contacts[[c for c in dict.fromkeys(wanted) if c in contacts]]
    facts = facts.assign(reason_id=facts["reason_id"].astype("category"))
    if "issue_id" not in facts:
        return facts
    codes = pd.factorize(facts["issue_id"])[0]
    return facts.assign(issue_id=pd.Series(codes, index=facts.index).where(codes >= 0))


def refresh(
    contacts: pd.DataFrame,
    descriptions: pd.DataFrame,
    model: ClusterModel,
    reasons: ReasonModel | None,
    steps: ProcessSteps,
    context: Context,
    cfg: Config,
) -> Refreshed:
    """Touches, trends, ranking, touch index and proposals over every contact. `descriptions`: cluster_id, label,
    keywords, examples; `reasons`: the taxonomy's texts as vectors; `steps`: the process steps that are
    not reasons (`taxonomy.proposals.secondary_examples` and the taxonomy's secondary reasons)."""
    taxonomy = context.taxonomy
    agent = (
        agent_reasons(contacts["reason"], taxonomy)[0]
        if taxonomy
        else pd.Series(None, index=contacts.index, dtype=object)
    )
    contacts = contacts.drop(columns=["agent_reason", "issue_id", "touch"], errors="ignore").assign(agent_reason=agent)
    # proposals first: the contacts of a missing reason (an open new_reason of `unassign_min_confidence` or more)
    # have the reason they were given withheld, so they count as unassigned volume in touches, trends and the ranking
    # instead of hiding inside a wrong reason; `withheld_reason_id` keeps it, and a later refresh gives it back when
    # the proposal is decided
    contacts = _restore_withheld(contacts)
    facts = _facts(contacts, cfg.input.dimensions)
    cluster_trends = trends(facts[facts["cluster_id"] >= 0], "cluster_id", context.volume, cfg.trends)
    proposals = propose(
        contacts,
        cluster_facts(model, descriptions),
        taxonomy,
        reasons,
        steps,
        cfg.taxonomy.proposals,
        embed=lambda texts: embedder(cfg.embedding).embed(texts).vectors,
        new_clusters={int(c) for c, t in cluster_trends["trend"].items() if t == "new"},
        read_at=cfg.taxonomy.min_similarity,
        growing_clusters={int(c) for c, t in cluster_trends["trend"].items() if t == "growing"},
    )
    mark_status(
        proposals,
        context.decisions,
        cfg.taxonomy.proposals.evidence_growth,
        context.taxonomy.version if context.taxonomy else None,
    )
    missing = [
        p.cluster_ids[0]
        for p in proposals
        if p.kind == "new_reason"
        and p.status == "open"
        and taxonomy
        and p.confidence >= cfg.taxonomy.proposals.unassign_min_confidence
    ]
    contacts, warnings = _withhold(contacts, missing)
    contacts = contacts.join(issues(_facts(contacts, cfg.input.dimensions, for_issues=True), cfg.touches.window_days))
    names = dict(zip(descriptions["cluster_id"], descriptions["label"]))
    time = over_time(_facts(contacts, cfg.input.dimensions), context.volume, taxonomy, names, cfg, cluster_trends)
    warnings += _volume_warnings(time.touch_index, context) + _past_volume(contacts["created_at"], context.volume)
    if taxonomy is not None and reasons is None:
        warnings.append(
            f"the taxonomy {cfg.taxonomy.path} holds no reason a contact can be given (none yet, or every one retired "
            "or a group): no contact has a reason, and every cluster is proposed as a new reason"
        )
    return Refreshed(contacts, time, proposals, warnings)


def _past_volume(times: pd.Series, volume: pd.DataFrame | None) -> list[str]:
    """Contacts after the last day the volume covers: trends read up to that day and leave them out (`trends`)."""
    end = volume_end(volume)
    if end is None or times.isna().all():
        return []
    later = times[times >= end]
    if later.empty or not (times < end).any():  # none covered: `_volume_warnings` says so
        return []
    last = (end - pd.Timedelta(days=1)).date()
    return [
        f"the volume file ends on {last}, before {len(later):,} contact(s) of {later.min().date()} to "
        f"{later.max().date()}: trends and emerging flags read only up to {last}; give the volume of the later "
        "days to have them counted"
    ]


def _volume_warnings(index: pd.DataFrame, context: Context) -> list[str]:
    """The volume file's own warnings, and the whole weeks with contacts it gives no volume for: the touch index
    has no value there, nor 6-week figures that hold them (they were left without a word)."""
    volume = context.volume
    if volume is not None and not volume.empty and index.empty:
        return [
            *context.volume_warnings,
            "the volume file is not used: no contact has a time (created_at), so there is no touch index; map the "
            "column that holds the contacts' times",
        ]
    if volume is None or volume.empty or index.empty or "volume" not in index:
        return list(context.volume_warnings)
    overall = index[(index["scope"] == "overall") & (index["contacts"] > 0)]
    if not overall.empty and overall["volume"].isna().all():
        return [
            *context.volume_warnings,
            f"the volume file covers none of the weeks that have contacts (its weeks: {volume['week'].min()} to "
            f"{volume['week'].max()}; contacts: {overall['week'].min()} to {overall['week'].max()}): "
            "the touch index has no values; give the volume of the same weeks",
        ]
    lacking = overall.loc[overall["complete"] & ~overall["volume"].gt(0), "week"]
    if lacking.empty:
        return list(context.volume_warnings)
    weeks = ", ".join(str(w) for w in lacking.head(5)) + (", ..." if len(lacking) > 5 else "")
    return [
        *context.volume_warnings,
        f"the volume file gives no volume (or 0) for {len(lacking)} of the {int(overall['complete'].sum())} whole weeks "
        f"that have contacts (weeks of {weeks}): the touch index has no value for them, nor a 6-week figure "
        "that holds them",
    ]


def assemble(
    refreshed: Refreshed,
    descriptions: pd.DataFrame,
    lineage: pd.DataFrame,
    model: ClusterModel,
    context: Context,
    manifest: Manifest,
    cfg: Config,
    reason_keywords: dict[str, list[str]],
    metrics: dict | None = None,
    readers: Readers | None = None,
) -> Run:
    """The whole run, ready to save: its tables, the review page, the charts, the cluster model and what read the
    reasons (`readers`)."""
    tables = run_tables(refreshed, descriptions, lineage, context.taxonomy, reason_keywords, cfg.input.dimensions)
    time = refreshed.time
    rising = (
        set(time.ranking.loc[time.ranking["trend"].isin(["new", "growing"]), "name"]) if len(time.ranking) else set()
    )
    charts = {}
    if not time.touch_index.empty:
        charts[CHART] = lambda path: chart(time.touch_index, path, rising)
    if not time.owners.empty:
        charts[OWNERS_CHART] = lambda path: owner_chart(time.owners, path, cfg.cost.currency)
    run = Run(
        manifest=manifest,
        tables=tables,
        cluster_model=model,
        sources=refreshed.contacts.set_index("contact_id")["source_hash"],
        review=review_page(tables["proposals"].to_pandas(), tables["clusters"].to_pandas(), manifest),
        charts=charts,
        metrics=metrics,
        readers=readers,
    )
    return replace(run, report=report_page(run))

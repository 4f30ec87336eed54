"""The `discover` flow: contacts in, clusters of contact reasons out (Parquet + DuckDB).

Thin by design: each task is one pipeline step; the flow wires them, holds the output lock and writes once at the
end, so a failure anywhere leaves the previous output as it was. Run it from the CLI (`touchless discover`) or as a
script: `python -m flows.discover INPUT --out DIR`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.progress import progress_bar
from pipeline.cluster import Clustering, cluster_contacts
from pipeline.config import Config, load_config
from pipeline.describe import describe_clusters
from pipeline.duplicates import duplicate_groups
from pipeline.embed import Embedder
from pipeline.evaluate import evaluate_run
from pipeline.inputs import InputReport, load_labels
from pipeline.decisions import load_decisions, mark_status
from pipeline.outputs import check_output_folder, output_lock, remember_last_run, write_run
from pipeline.prepare import read_and_prepare
from pipeline.proposals import ClusterFacts, Proposal, cluster_facts, propose
from pipeline.reasons import Assignment, ReasonModel, agent_reasons, assign_reasons, reason_model
from pipeline.report import review_page
from pipeline.summarise import clusters_table, contacts_table, proposals_table, reasons_table
from pipeline.taxonomy import Taxonomy, load_taxonomy

# Tasks hand each other in-memory tables: no result persistence (contact text must not land in Prefect's
# storage) and no input hashing of large frames.
step = task(cache_policy=NO_CACHE, persist_result=False)


@dataclass
class DiscoverResult:
    out_dir: str
    contacts: int
    clustered: int
    noise: int
    clusters: int
    embedded_new: int
    embedded_cached: int
    warnings: list[str] = field(default_factory=list)
    metrics: dict[str, Any] | None = None  # scores against known labels, when a label column was given
    proposals: int = 0  # open proposals to refine the taxonomy


@step
def load_and_prepare(input_path: str, cfg: Config) -> tuple[pd.DataFrame, InputReport]:
    """Read, clean and redact in one step: the raw text never leaves it."""
    return read_and_prepare(input_path, cfg)


@step
def embed(texts: list[str], cfg: Config, show_progress: bool) -> tuple[np.ndarray, int, int]:
    embedder = Embedder(cfg.embedding)
    with progress_bar("embedding", show_progress) as on_progress:
        result = embedder.embed(texts, on_progress=on_progress)
    return result.vectors, result.computed, result.cached


@step
def cluster(vectors: np.ndarray, cfg: Config) -> Clustering:
    return cluster_contacts(vectors, cfg.cluster, cfg.reduce, cfg.seed)


@step
def assign(vectors: np.ndarray, agent: pd.Series, taxonomy: Taxonomy, cfg: Config) -> tuple[Assignment, ReasonModel, list[str]]:
    """Each contact's reason from the taxonomy (zero-shot, or trained on agents' reasons where that is better)."""
    embedder = Embedder(cfg.embedding)
    model = reason_model(taxonomy, lambda texts: embedder.embed(texts).vectors)
    labelled, warnings = agent_reasons(agent, taxonomy) if agent.notna().any() else (None, [])
    return assign_reasons(vectors, model, labelled, cfg.taxonomy, cfg.seed), model, warnings


@step
def review(
    contacts: pd.DataFrame, facts: ClusterFacts, taxonomy: Taxonomy | None, model: ReasonModel | None, cfg: Config
) -> list[Proposal]:
    """Proposals to refine the taxonomy, marked with the owners' earlier decisions."""
    embedder = Embedder(cfg.embedding)
    secondary = [r for r in (taxonomy.reasons if taxonomy else []) if r.kind == "secondary"]
    process = [*cfg.taxonomy.proposals.secondary_examples, *(e for r in secondary for e in [r.name, *r.examples])]
    proposals = propose(contacts, facts, taxonomy, model, embedder.embed(process).vectors, cfg.taxonomy.proposals)
    if cfg.taxonomy.path:
        mark_status(proposals, load_decisions(Path(cfg.taxonomy.path)), cfg.taxonomy.proposals.evidence_growth)
    return proposals


@flow(name="discover")
def discover(
    input_path: str,
    out_dir: str,
    config_path: str | None = None,
    overrides: dict[str, Any] | None = None,
    show_progress: bool = False,
    label_column: str | None = None,
) -> DiscoverResult:
    """Cluster the contacts in `input_path`, hold them against the taxonomy (`taxonomy.path`) when one is given,
    propose refinements, and write the run to `out_dir`; with `label_column`, also score the clusters against
    those known reasons and write `metrics.json`."""
    logger = get_run_logger()
    cfg = load_config(config_path, overrides)
    out = Path(out_dir)
    check_output_folder(out)
    taxonomy = load_taxonomy(cfg.taxonomy.path) if cfg.taxonomy.path else None
    with output_lock(out):
        contacts, report = load_and_prepare(input_path, cfg)
        known = load_labels(input_path, cfg.input, label_column) if label_column else None
        usable = np.flatnonzero((contacts["text_status"] == "ok").to_numpy())
        texts = contacts["text"].iloc[usable].tolist()
        vectors, computed, cached = embed(texts, cfg, show_progress)
        found = cluster(vectors, cfg)
        everyone = found.expand(usable, len(contacts))
        labels = everyone.labels
        contacts["cluster_id"] = labels
        contacts["duplicate_group"] = duplicate_groups(
            contacts, vectors, usable, found.labels, cfg.prepare.duplicate_similarity
        )
        contacts["reason_id"], contacts["reason_score"], model = None, np.nan, None
        if taxonomy is not None:
            assignment, model, warnings = assign(vectors, contacts["reason"].iloc[usable], taxonomy, cfg)
            contacts.loc[contacts.index[usable], "reason_id"] = assignment.reason_id
            contacts.loc[contacts.index[usable], "reason_score"] = assignment.reason_score
            contacts["text_reason"] = None
            contacts.loc[contacts.index[usable], "text_reason"] = assignment.text_reason
            contacts["agent_reason"] = agent_reasons(contacts["reason"], taxonomy)[0]
            report.warnings += warnings
        descriptions = describe_clusters(
            texts, contacts["terms"].iloc[usable].tolist(), vectors, found.labels, cfg.describe
        )
        proposals = review(contacts, cluster_facts(vectors, found, descriptions), taxonomy, model, cfg)
        tables = {
            "contacts": contacts_table(contacts, everyone),
            "clusters": clusters_table(contacts, everyone, descriptions),
            "reasons": reasons_table(contacts, taxonomy),
            "proposals": proposals_table(proposals),
        }
        metrics = None
        if known is not None:
            scored = contacts[["contact_id"]].assign(cluster_id=labels)
            metrics = {"label_column": label_column, **evaluate_run(scored, known).as_dict()}
        run = {
            "input": str(Path(input_path).resolve()),
            "input_sha256": _file_sha256(Path(input_path)),
            "contacts": len(contacts),
            "taxonomy": str(Path(cfg.taxonomy.path).resolve()) if cfg.taxonomy.path else None,
            "taxonomy_version": taxonomy.version if taxonomy else None,
            "reason_assignment": {"method": assignment.method, "held_out_accuracy": assignment.held_out}
            if taxonomy is not None else None,
            "config": cfg.model_dump(mode="json"),
            "report": asdict(report),
        }
        write_run(out, tables, run, extra=_extra_files(metrics, tables, run))
    remember_last_run(out)
    result = DiscoverResult(
        out_dir=str(out.resolve()),
        contacts=len(contacts),
        clustered=int((labels >= 0).sum()),
        noise=int((labels < 0).sum()),
        clusters=len(descriptions),
        embedded_new=computed,
        embedded_cached=cached,
        warnings=report.warnings,
        metrics=metrics,
        proposals=sum(p.status == "open" for p in proposals),
    )
    logger.info(
        "discover: %d contacts, %d clusters, %d noise, %d open proposals; embedded %d new, %d from cache",
        result.contacts, result.clusters, result.noise, result.proposals, computed, cached,
    )
    return result


def _extra_files(metrics: dict[str, Any] | None, tables: dict, run: dict):
    """metrics.json (when scored) and the review page, written into the staging folder with the tables."""

    def write(folder: Path) -> None:
        if metrics is not None:
            (folder / "metrics.json").write_text(json.dumps(metrics, indent=2))
        page = review_page(
            tables["proposals"].to_pandas(), tables["clusters"].to_pandas(),
            {"input": Path(run["input"]).name, "contacts": run["contacts"], "taxonomy": run["taxonomy"]},
        )
        (folder / "review.html").write_text(page, encoding="utf-8")

    return write


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


if __name__ == "__main__":
    import sys

    from flows.cli import main

    main(["discover", *sys.argv[1:]])

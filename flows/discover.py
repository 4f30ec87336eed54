"""The `discover` flow: contacts in; reasons, clusters, proposals, ranking and touch index out (Parquet + DuckDB).

Thin by design: each task is one pipeline step; the flow wires them, holds the output lock and writes once at the
end, so a failure anywhere leaves the previous output as it was. Run it from the CLI (`touchless discover`) or as a
script: `python -m flows.discover INPUT --out DIR`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from prefect import flow, get_run_logger

from flows.artifacts import publish
from flows.steps import (
    embed, file_sha256, give_reasons, group_touches, load_and_prepare, prepare_columns, step, watermark, where,
)
from pipeline.cluster import Clustering, centroids, cluster_contacts, relabel
from pipeline.config import Config, load_config
from pipeline.decisions import load_decisions, mark_status
from pipeline.describe import describe_clusters
from pipeline.duplicates import duplicate_groups
from pipeline.embed import Embedder
from pipeline.evaluate import evaluate_run
from pipeline.inputs import load_labels
from pipeline.lineage import stable_ids
from pipeline.outputs import check_output_folder, is_remote, local_copy, output_lock, remember_last_run, write_run
from pipeline.proposals import ClusterFacts, Proposal, cluster_facts, propose
from pipeline.reasons import ReasonModel
from pipeline.report import review_page
from pipeline.state import fit_cluster_model, previous_clusters
from pipeline.summarise import (
    OverTime, clusters_table, contacts_table, descriptions_frame, lineage_table, over_time, proposals_table,
    ranking_table, reasons_table, touch_index_table,
)
from pipeline.taxonomy import Taxonomy, load_taxonomy
from pipeline.touch_index import chart, load_volume


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
    emerging: list[str] = field(default_factory=list)  # names of new and growing reasons and clusters


@step
def cluster(vectors: np.ndarray, cfg: Config) -> Clustering:
    return cluster_contacts(vectors, cfg.cluster, cfg.reduce, cfg.seed)


@step
def keep_ids(found: Clustering, vectors: np.ndarray, contact_ids: np.ndarray, out: Path, fingerprint: str):
    """Match this run's clusters to the previous run's in `out` so a cluster keeps its id; the lineage between."""
    _, centres = centroids(vectors, found.labels)  # clusters are numbered 0..k-1: one centre per label
    mapping, lineage, next_id = stable_ids(previous_clusters(out, fingerprint), contact_ids, found.labels, centres)
    return relabel(found, mapping), lineage, next_id


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
    volume_path: str | None = None,
) -> DiscoverResult:
    """Cluster the contacts in `input_path`, hold them against the taxonomy (`taxonomy.path`) when one is given,
    propose refinements, count touches, rank the causes, chart the touch index (with business volume from
    `volume_path`) and write the run to `out_dir`; with `label_column`, also score the clusters against those
    known reasons and write `metrics.json`."""
    logger = get_run_logger()
    cfg = load_config(config_path, overrides)
    with local_copy(out_dir) as out:
        check_output_folder(out, [input_path, volume_path, config_path, cfg.taxonomy.path])
        taxonomy = load_taxonomy(cfg.taxonomy.path) if cfg.taxonomy.path else None
        volume = load_volume(volume_path) if volume_path else None
        fingerprint = Embedder(cfg.embedding).ref.fingerprint
        with output_lock(out):
            contacts, report = load_and_prepare(input_path, cfg)
            known = load_labels(input_path, cfg.input, label_column) if label_column else None
            usable = np.flatnonzero((contacts["text_status"] == "ok").to_numpy())
            texts = contacts["text"].iloc[usable].tolist()
            vectors, computed, cached = embed(texts, cfg, show_progress)
            found, lineage, next_id = keep_ids(cluster(vectors, cfg), vectors, contacts["contact_id"].to_numpy()[usable],
                                               out, fingerprint)
            everyone = found.expand(usable, len(contacts))
            contacts["cluster_id"] = everyone.labels
            contacts["probability"] = everyone.probabilities
            contacts["was_noise"] = everyone.was_noise
            contacts["duplicate_group"] = duplicate_groups(
                contacts, vectors, usable, found.labels, cfg.prepare.duplicate_similarity
            )
            prepare_columns(contacts)
            model, method = None, None
            if taxonomy is not None:
                assignment, model, warnings = give_reasons(contacts, vectors, usable, taxonomy, cfg)
                method = {"method": assignment.method, "held_out_accuracy": assignment.held_out}
                report.warnings += warnings
            contacts[["issue_id", "touch"]] = group_touches(contacts, cfg)
            descriptions = descriptions_frame(describe_clusters(
                texts, contacts["terms"].iloc[usable].tolist(), vectors, found.labels, cfg.describe
            ))
            time = over_time(contacts, volume, taxonomy, dict(zip(descriptions["cluster_id"], descriptions["label"])), cfg)
            facts = cluster_facts(vectors, found, descriptions, time.cluster_stats)
            proposals = review(contacts, facts, taxonomy, model, cfg)
            tables = {
                "contacts": contacts_table(contacts),
                "clusters": clusters_table(contacts, descriptions, time),
                "reasons": reasons_table(contacts, taxonomy, time),
                "proposals": proposals_table(proposals),
                "ranking": ranking_table(time),
                "touch_index": touch_index_table(time),
                "lineage": lineage_table(lineage),
            }
            metrics = None
            if known is not None:
                scored = contacts[["contact_id"]].assign(cluster_id=everyone.labels)
                metrics = {"label_column": label_column, **evaluate_run(scored, known).as_dict()}
            run = {
                "kind": "discover",
                "input": where(input_path),
                "input_sha256": file_sha256(input_path),
                "contacts": len(contacts),
                "volume": where(volume_path),
                "taxonomy": str(Path(cfg.taxonomy.path).resolve()) if cfg.taxonomy.path else None,
                "taxonomy_version": taxonomy.version if taxonomy else None,
                "reason_assignment": method,
                "embedding": {"model": cfg.embedding.model, "fingerprint": fingerprint},
                "next_cluster_id": next_id,
                "watermark": watermark(contacts),
                "config": cfg.model_dump(mode="json"),
                "report": asdict(report),
            }
            model_of_clusters = fit_cluster_model(vectors, found.labels, cfg.cluster.reassign_similarity, fingerprint)
            write_run(out, tables, run, extra=extra_files(metrics, tables, run, time, model_of_clusters))
        if label_column is None:  # a scoring run is not the run people review
            remember_last_run(out)
        for warning in report.warnings:
            logger.warning(warning)
        publish("discover", str(out.resolve()), time, tables["proposals"].to_pandas(), len(contacts))
        result = DiscoverResult(
            out_dir=str(out_dir) if is_remote(out_dir) else str(out.resolve()),
            contacts=len(contacts),
            clustered=int((everyone.labels >= 0).sum()),
            noise=int((everyone.labels < 0).sum()),
            clusters=len(descriptions),
            embedded_new=computed,
            embedded_cached=cached,
            warnings=report.warnings,
            metrics=metrics,
            proposals=sum(p.status == "open" for p in proposals),
            emerging=emerging(time),
        )
        logger.info(
            "discover: %d contacts, %d clusters, %d noise, %d open proposals; embedded %d new, %d from cache",
            result.contacts, result.clusters, result.noise, result.proposals, computed, cached,
        )
        return result


def emerging(time: OverTime) -> list[str]:
    """Names of the ranked reasons and clusters whose trend is new or growing, worst first."""
    if time.ranking.empty:
        return []
    rising = time.ranking[time.ranking["trend"].isin(["new", "growing"])]
    return [f"{r.name} ({r.trend})" for r in rising.itertuples()]


def extra_files(metrics: dict[str, Any] | None, tables: dict, run: dict, time: OverTime, model):
    """Files written into the staging folder beside the tables: metrics, review page, touch-index chart, model."""

    def write(folder: Path) -> None:
        if metrics is not None:
            (folder / "metrics.json").write_text(json.dumps(metrics, indent=2))
        page = review_page(
            tables["proposals"].to_pandas(), tables["clusters"].to_pandas(),
            {"input": Path(run["input"]).name, "contacts": run["contacts"], "taxonomy": run["taxonomy"]},
        )
        (folder / "review.html").write_text(page, encoding="utf-8")
        if not time.touch_index.empty:
            chart(time.touch_index, folder / "touch_index.png")
        model.save(folder)

    return write


if __name__ == "__main__":
    import sys

    from flows.cli import main

    main(["discover", *sys.argv[1:]])

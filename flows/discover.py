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
from pipeline.outputs import check_output_folder, output_lock, write_run
from pipeline.prepare import read_and_prepare
from pipeline.summarise import clusters_table, contacts_table

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


@flow(name="discover")
def discover(
    input_path: str,
    out_dir: str,
    config_path: str | None = None,
    overrides: dict[str, Any] | None = None,
    show_progress: bool = False,
    label_column: str | None = None,
) -> DiscoverResult:
    """Cluster the contacts in `input_path` and write the run to `out_dir`; with `label_column`, also score the
    clusters against those known reasons and write `metrics.json`."""
    logger = get_run_logger()
    cfg = load_config(config_path, overrides)
    out = Path(out_dir)
    check_output_folder(out)
    with output_lock(out):
        contacts, report = load_and_prepare(input_path, cfg)
        known = load_labels(input_path, cfg.input, label_column) if label_column else None
        usable = np.flatnonzero((contacts["text_status"] == "ok").to_numpy())
        texts = contacts["text"].iloc[usable].tolist()
        vectors, computed, cached = embed(texts, cfg, show_progress)
        found = cluster(vectors, cfg)
        everyone = found.expand(usable, len(contacts))
        labels = everyone.labels
        contacts["duplicate_group"] = duplicate_groups(
            contacts, vectors, usable, found.labels, cfg.prepare.duplicate_similarity
        )
        descriptions = describe_clusters(
            texts, contacts["terms"].iloc[usable].tolist(), vectors, found.labels, cfg.describe
        )
        tables = {
            "contacts": contacts_table(contacts, everyone),
            "clusters": clusters_table(contacts, everyone, descriptions),
        }
        metrics = None
        if known is not None:
            scored = contacts[["contact_id"]].assign(cluster_id=labels)
            metrics = {"label_column": label_column, **evaluate_run(scored, known).as_dict()}
        manifest = {
            "input": str(Path(input_path).resolve()),
            "input_sha256": _file_sha256(Path(input_path)),
            "config": cfg.model_dump(mode="json"),
            "report": asdict(report),
        }
        write_run(out, tables, manifest, extra=_write_metrics(metrics))
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
    )
    logger.info(
        "discover: %d contacts, %d clusters, %d noise; embedded %d new, %d from cache",
        result.contacts, result.clusters, result.noise, computed, cached,
    )
    return result


def _write_metrics(metrics: dict[str, Any] | None):
    if metrics is None:
        return None
    return lambda folder: (folder / "metrics.json").write_text(json.dumps(metrics, indent=2))


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


if __name__ == "__main__":
    import sys

    from flows.cli import main

    main(["discover", *sys.argv[1:]])

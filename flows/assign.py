"""The `assign` flow: a day's new contacts into the clusters and reasons of an existing run, without re-clustering.

It costs in proportion to the new contacts: they are read, prepared and embedded; each joins the cluster whose
centre it is most alike when at least as alike as that cluster's own members mostly are, else it stays noise
until the next `discover`. Touches, ranking, touch index and trends are then recomputed over all contacts (cheap
aggregates). Contacts already in the run are skipped, so running the same file twice changes nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from prefect import flow, get_run_logger

from flows.artifacts import publish
from flows.discover import emerging, extra_files
from flows.steps import (
    embed, file_sha256, give_reasons, group_touches, load_and_prepare, prepare_columns, step, watermark, where,
)
from pipeline.config import load_config
from pipeline.duplicates import duplicate_groups
from pipeline.embed import Embedder
from pipeline.errors import OutputError
from pipeline.outputs import (
    check_output_folder, is_remote, local_copy, output_lock, read_manifest, read_output, remember_last_run, write_run,
)
from pipeline.schemas import CONTACTS, PROPOSALS, to_table
from pipeline.state import ClusterModel, require_model
from pipeline.summarise import (
    clusters_table, contacts_table, lineage_table, over_time, ranking_table, reasons_table, touch_index_table,
)
from pipeline.taxonomy import load_taxonomy
from pipeline.touch_index import load_volume


@dataclass
class AssignResult:
    out_dir: str
    new_contacts: int
    skipped: int  # already in the run
    assigned: int  # joined a cluster
    total_contacts: int
    embedded_new: int
    warnings: list[str] = field(default_factory=list)
    emerging: list[str] = field(default_factory=list)


@step
def place(vectors: np.ndarray, model: ClusterModel) -> tuple[np.ndarray, np.ndarray]:
    return model.assign(vectors)


@flow(name="assign")
def assign(
    input_path: str,
    out_dir: str,
    config_path: str | None = None,
    overrides: dict[str, Any] | None = None,
    show_progress: bool = False,
    volume_path: str | None = None,
) -> AssignResult:
    """Add the contacts in `input_path` to the run in `out_dir`: clusters, reasons, touches, ranking, touch index
    and trends. The run's own config applies, with `config_path` and `overrides` on top."""
    logger = get_run_logger()
    with local_copy(out_dir) as out:
        manifest = read_manifest(out)
        if manifest is None:
            raise OutputError(f"{out} holds no run to assign to: run `touchless discover ... --out {out}` first")
        cfg = load_config(config_path, overrides, base=manifest.config)
        volume_path = volume_path or manifest.get("volume")
        check_output_folder(out, [input_path, volume_path, config_path, cfg.taxonomy.path])
        taxonomy = load_taxonomy(cfg.taxonomy.path) if cfg.taxonomy.path else None
        volume = load_volume(volume_path) if volume_path else None
        fingerprint = Embedder(cfg.embedding).ref.fingerprint
        with output_lock(out):
            model = require_model(out, fingerprint)
            previous = read_output(out, "contacts")
            fresh, report = load_and_prepare(input_path, cfg, previous["contact_id"].to_numpy())
            usable = np.flatnonzero((fresh["text_status"] == "ok").to_numpy())
            vectors, computed, _ = embed(fresh["text"].iloc[usable].tolist(), cfg, show_progress)
            labels, similarity = place(vectors, model)
            fresh["cluster_id"] = -1
            fresh["probability"] = np.float32(0)
            fresh.loc[fresh.index[usable], "cluster_id"] = labels
            fresh.loc[fresh.index[usable], "probability"] = np.where(labels >= 0, similarity, 0)
            fresh["was_noise"] = fresh["cluster_id"] < 0
            fresh["duplicate_group"] = duplicate_groups(fresh, vectors, usable, labels, cfg.prepare.duplicate_similarity)
            prepare_columns(fresh)
            if taxonomy is not None and len(usable):
                report.warnings += give_reasons(fresh, vectors, usable, taxonomy, cfg)[2]
            contacts = pd.concat([previous, fresh[[c for c in CONTACTS.names if c in fresh]]], ignore_index=True)
            contacts[["issue_id", "touch"]] = group_touches(contacts, cfg)
            descriptions = read_output(out, "clusters", columns=["cluster_id", "label", "keywords", "examples"])
            time = over_time(contacts, volume, taxonomy, dict(zip(descriptions["cluster_id"], descriptions["label"])), cfg)
            tables = {
                "contacts": contacts_table(contacts),
                "clusters": clusters_table(contacts, descriptions, time),
                "reasons": reasons_table(contacts, taxonomy, time),
                "proposals": to_table(read_output(out, "proposals"), PROPOSALS),
                "ranking": ranking_table(time),
                "touch_index": touch_index_table(time),
                "lineage": lineage_table(read_output(out, "lineage")),
            }
            run = {
                **manifest.model_dump(exclude={"format", "format_version", "written_at", "files"}),
                "kind": "assign",
                "assigned_input": where(input_path),
                "assigned_input_sha256": file_sha256(input_path),
                "contacts": len(contacts),
                "volume": where(volume_path),
                "watermark": watermark(contacts),
                "assign_report": asdict(report),
            }
            write_run(out, tables, run, extra=extra_files(None, tables, run, time, model))
        remember_last_run(out)
        for warning in report.warnings:
            logger.warning(warning)
        publish("assign", str(out.resolve()), time, tables["proposals"].to_pandas(), len(contacts))
        result = AssignResult(
            out_dir=str(out_dir) if is_remote(out_dir) else str(out.resolve()), new_contacts=len(fresh), skipped=report.already_known,
            assigned=int((labels >= 0).sum()), total_contacts=len(contacts), embedded_new=computed,
            warnings=report.warnings, emerging=emerging(time),
        )
        logger.info("assign: %d new contacts (%d already in the run), %d joined a cluster; %d in all",
                    result.new_contacts, result.skipped, result.assigned, result.total_contacts)
        return result


if __name__ == "__main__":
    import sys

    from flows.cli import main

    main(["assign", *sys.argv[1:]])

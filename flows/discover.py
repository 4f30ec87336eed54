"""The `discover` flow: contacts in; reasons, clusters, proposals, ranking and touch index out (Parquet + DuckDB).

Thin by design: each task is one pipeline step; the flow wires them, holds the output lock and writes once at the
end, so a failure anywhere leaves the previous output as it was. Run it from the CLI (`touchless discover`, or
`python -m flows discover INPUT --out DIR`), or call it from Python.
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows.call import settings
from flows.events import flagged
from flows.results import RunResult, finish
from flows.steps import (
    cluster,
    contact_times,
    describe,
    embed,
    find_duplicates,
    give_reasons,
    join,
    keep_ids,
    prepare,
    reason_models,
    refresh_run,
    run_folder,
    usable_rows,
    warnings_of,
)
from pipeline.config import Config
from pipeline.model.cluster import MIN_CONTACTS
from pipeline.model.evaluate import load_labels, score_run
from pipeline.run.manifests import discover_manifest
from pipeline.run.refresh import assemble, read_context


@flow(name="discover")
def discover(
    input_path: str,
    out_dir: str,
    config_path: str | None = None,
    overrides: dict[str, Any] | None = None,
    show_progress: bool = False,
    label_column: str | None = None,
    volume_path: str | None = None,
    cfg: Config | None = None,
) -> RunResult:
    """Cluster the contacts in `input_path`, hold them against the taxonomy (`taxonomy.path`) when one is given,
    propose refinements, count touches, rank the causes, chart the touch index (with business volume from
    `volume_path`) and write the run to `out_dir`; with `label_column`, also score the clusters against those
    known reasons and write `metrics.json`. `cfg`: the config already loaded (else from the path and overrides)."""
    cfg = cfg or settings(config_path, overrides)
    with run_folder(out_dir, [input_path, volume_path, config_path, cfg.taxonomy.path]) as (out, previous):
        context = read_context(cfg, volume_path)
        # the known reasons, read first: a column without one stops the run before the work, not after
        known = load_labels(input_path, cfg.input, label_column) if label_column else None
        contacts, report = prepare(input_path, cfg, scored=label_column)
        usable = usable_rows(contacts, report, at_least=MIN_CONTACTS)
        texts = contacts["text"].iloc[usable].tolist()
        embedded = embed(texts, cfg, show_progress)
        models = reason_models(context, cfg)
        reading = give_reasons(embedded.vectors, contacts, usable, context, models[0], cfg)
        found, lineage, next_id, model = keep_ids(
            cluster(embedded.vectors, texts, cfg, contact_times(contacts, usable), reading),
            embedded.vectors,
            contacts["contact_id"].to_numpy()[usable],
            previous,
            cfg,
        )
        duplicates = find_duplicates(contacts, embedded.vectors, usable, found.labels, cfg)
        joined = join(contacts, found.expand(usable, len(contacts)), duplicates, reading)
        descriptions, keywords = describe(contacts, usable, embedded.vectors, found.labels, model, reading, cfg)
        embedded = embedded.counts()  # the vectors are not needed past this point: writing the run peaks lower
        refreshed = refresh_run(joined, descriptions, model, models, context, cfg)
        report.warnings += warnings_of(reading, refreshed)
        if found.floor is not None:
            floor = found.floor
            short = " (as many as the data hold)" if floor.reached < floor.reasons else ""
            report.warnings.append(
                f"cluster.taxonomy_floor raised the clustering's resolution from the data's own, which kept "
                f"{floor.found} clusters, to one that kept {floor.reached}{short}: the taxonomy has {floor.reasons} "
                "reasons that enough contacts are read as to fill a cluster each (cluster.min_cluster_size), and each "
                "should have one to be checked against; set cluster.taxonomy_floor to false to keep the data's own "
                "count"
            )
        kept = len(model.centres)
        if cfg.cluster.target_reasons and not cfg.cluster.target_reasons[0] <= kept <= cfg.cluster.target_reasons[1]:
            low, high = cfg.cluster.target_reasons
            report.warnings.append(
                f"cluster.target_reasons (--reasons) asked for {low}-{high} clusters; the run has {kept}: the "
                "nearest the data hold (groups under cluster.min_cluster_size contacts are not clusters), then "
                "near-duplicate clusters merged and new topics split out of older clusters"
            )
        if cfg.cluster.target_reasons and cfg.cluster.granularity != "medium":
            report.warnings.append(
                f"cluster.granularity ({cfg.cluster.granularity}) had no effect: cluster.target_reasons "
                f"({cfg.cluster.target_reasons[0]}-{cfg.cluster.target_reasons[1]}) set the number of clusters"
            )
        manifest = discover_manifest(
            input_path, volume_path, cfg, context, report, reading, model.fingerprint, next_id, joined
        )
        metrics = score_run(input_path, cfg, label_column, joined, known) if label_column else None
        readers = reading.assignment.readers if reading is not None else None
        run = assemble(refreshed, descriptions, lineage, model, context, manifest, cfg, keywords, metrics, readers)
        before = flagged(previous)  # read before the save replaces it
        run.save(out)
    return finish("discover", out_dir, out, run, report, embedded, before, remember=label_column is None)


if __name__ == "__main__":  # the script form of earlier versions; it never imports the CLI (no import cycle)
    import sys

    sys.exit(
        "`python -m flows.discover` is no longer the way to run it: use `touchless discover ...` or "
        "`python -m flows discover ...`"
    )

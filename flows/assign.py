"""The `assign` flow: a day's new contacts into the clusters and reasons of an existing run, without re-clustering.

It costs in proportion to the new contacts: they are read, prepared and embedded; each joins the cluster whose
centre it is most alike when at least as alike as that cluster's own members mostly are, else it stays noise
until the next `discover`. Touches, ranking, touch index, trends and proposals are then refreshed over all
contacts. Contacts already in the run are skipped, unless their text or details changed (then they are read
again), so running the same file twice changes nothing. When the taxonomy changed since the run read its reasons,
every contact's reason is read again.
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows.call import settings
from flows.events import flagged
from flows.results import RunResult, finish
from flows.steps import (
    cluster_model,
    embed,
    find_duplicates,
    give_reasons,
    join,
    prepare,
    reason_models,
    refresh_run,
    reread_reasons,
    run_folder,
    run_readers,
    usable_rows,
    warnings_of,
)
from pipeline.config import Config
from pipeline.run.contacts import add_to_history, clusters_of_texts
from pipeline.run.manifests import assign_manifest, discover_only_changes
from pipeline.run.refresh import assemble, read_context


@flow(name="assign")
def assign(
    input_path: str,
    out_dir: str,
    config_path: str | None = None,
    overrides: dict[str, Any] | None = None,
    show_progress: bool = False,
    volume_path: str | None = None,
    cfg: Config | None = None,
) -> RunResult:
    """Add the contacts in `input_path` to the run in `out_dir`: clusters, reasons, touches, ranking, touch index,
    trends and proposals. The run's own config applies, with `config_path` and `overrides` on top."""
    cfg = cfg or settings(config_path, overrides, stored_in=out_dir)
    with run_folder(out_dir, [input_path, volume_path, config_path, cfg.taxonomy.path]) as (out, run):
        model = cluster_model(run, out, cfg)
        volume_path = volume_path or run.manifest.volume
        context = read_context(cfg, volume_path)
        sources = run.sources_by_contact(cfg.input.dimensions)
        held = run.conversations(cfg.input.dimensions)
        fresh, report = prepare(
            input_path, cfg, sources, run.manifest.report.get("date_orders"), held, held_details=run.details
        )
        usable = usable_rows(fresh)
        embedded = embed(fresh["text"].iloc[usable].tolist(), cfg, show_progress)
        history = run.frame("contacts")
        again = history["contact_id"].isin(fresh["contact_id"]).to_numpy()  # not the texts changed today
        twins = clusters_of_texts(history.loc[~again, ["text", "cluster_id"]], fresh["text"].iloc[usable])
        placement = model.place(embedded.vectors, usable, len(fresh), twins)
        models = reason_models(context, cfg)
        readers = run_readers(run, context, report)
        reading = give_reasons(embedded.vectors, fresh, usable, context, models[0], cfg, readers)
        duplicates = find_duplicates(fresh, embedded.vectors, usable, placement.labels[usable], cfg)
        contacts = add_to_history(history, sources, join(fresh, placement, duplicates, reading))
        contacts, reread = reread_reasons(contacts, run.manifest, context, models[0], report, cfg, show_progress)
        descriptions = run.descriptions()
        refreshed = refresh_run(contacts, descriptions, model, models, context, cfg)
        report.warnings += warnings_of(reread or reading, refreshed)
        unapplied = discover_only_changes(run.manifest.config, cfg, readers is not None)
        if unapplied:
            report.warnings.append(
                f"assign places contacts in the run's clusters, keeps their names and reads reasons as the run learned to: "
                f"{', '.join(unapplied)} "
                "from your config have no effect here; give them to discover"
            )
        manifest = assign_manifest(run.manifest, input_path, volume_path, cfg, context, report, reread, contacts)
        learned = reread.assignment.readers if reread is not None else readers
        saved = assemble(
            refreshed,
            descriptions,
            run.frame("lineage"),
            model,
            context,
            manifest,
            cfg,
            run.reason_keywords(),
            readers=learned,
        )
        before = flagged(run)  # read before the save replaces it
        saved.save(out)
    return finish(
        "assign",
        out_dir,
        out,
        saved,
        report,
        embedded,
        before,
        new_contacts=len(fresh) - report.changed,
        skipped=report.already_known,
        changed=report.changed,
        details_changed=report.details_changed,
        assigned=int((contacts["cluster_id"].to_numpy()[len(contacts) - len(fresh) :] >= 0).sum()),  # added last
    )


if __name__ == "__main__":  # the script form of earlier versions; it never imports the CLI (no import cycle)
    import sys

    sys.exit(
        "`python -m flows.assign` is no longer the way to run it: use `touchless assign ...` or "
        "`python -m flows assign ...`"
    )

"""`touchless proposals ...` and `touchless taxonomy ...`: how a taxonomy owner reviews a run and evolves the list."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from pipeline.errors import TaxonomyError, TouchlessError
from pipeline.run.folder import Run, last_run, no_run, read_manifest
from pipeline.run.review import KIND_NAMES
from pipeline.taxonomy.decisions import (
    Decision,
    Recorded,
    apply_decisions,
    decided,
    decided_by,
    decision_for,
    decision_text,
    evidence_growth,
    find_proposal,
    load_decisions,
    next_taxonomy,
    proposals_from_table,
    record,
    split_parts,
    standing_decision,
    taxonomy_for_run,
    undo,
)
from pipeline.taxonomy.proposals import Proposal
from pipeline.taxonomy.tree import load_taxonomy

out = Console()
err = Console(stderr=True)

proposals_app = typer.Typer(help="Review the changes a run proposes to the taxonomy.", invoke_without_command=True)
taxonomy_app = typer.Typer(help="Check the taxonomy and write its next version.", no_args_is_help=True)

RunOpt = Annotated[Optional[Path], typer.Option("--run", help="a run's output folder (default: the latest run)")]
TaxonomyOpt = Annotated[
    Optional[Path],
    typer.Option(
        "--taxonomy",
        help="the taxonomy file (default: the one the run used; without one, DIR.taxonomy.yaml beside the run DIR)",
    ),
]
ByOpt = Annotated[Optional[str], typer.Option("--by", help="who decides (default: your user name)")]


@proposals_app.callback()
def list_proposals(
    ctx: typer.Context,
    run: RunOpt = None,
    all_: Annotated[bool, typer.Option("--all", help="also show rejected proposals")] = False,
) -> None:
    """List a run's proposals, the ones affecting the most touches first."""
    if ctx.invoked_subcommand:
        ctx.obj = run  # `proposals --run DIR accept ...`: the subcommand's run (`_run`)
        return
    folder = run_folder(run)
    proposals = _current(folder)
    shown = [(rank, p, d) for rank, (p, d) in enumerate(proposals, start=1) if all_ or p.status != "rejected"]
    table = Table(title=f"{len(shown)} proposal(s) in the run {_describe(folder)}", title_justify="left")
    for name, justify in (
        ("#", "right"),
        ("id", "left"),
        ("kind", "left"),
        ("status", "left"),
        ("name", "left"),
        ("contacts", "right"),
        ("touches", "right"),
        ("conf.", "right"),
    ):
        table.add_column(name, justify=justify, overflow="fold", no_wrap=name in ("#", "id", "contacts", "touches"))
    for rank, p, d in shown:
        table.add_row(
            str(rank),
            p.proposal_id,
            KIND_NAMES.get(p.kind, p.kind),
            _decided(p, d),
            Text(_name(p, d)[:60]),
            f"{p.contacts:,}",
            f"{p.touches:,}",
            f"{p.confidence:.2f}",
        )
    out.print(table)
    out.print(f"See one with [bold]touchless proposals show ID[/bold]; the whole review page: {folder / 'review.html'}")


@proposals_app.command("show")
def show(ctx: typer.Context, proposal_id: str, run: RunOpt = None) -> None:
    """Show the evidence for one proposal."""
    folder = run_folder(_run(ctx, run))
    current = {p.proposal_id: (p, d) for p, d in _current(folder)}
    p = find_proposal([p for p, _ in current.values()], proposal_id)  # people type the first characters of an id
    d = current[p.proposal_id][1]
    name = _name(p, d)
    out.print(f"run {_describe(folder)}", highlight=False)
    out.print(f"[bold]{escape(name)}[/bold]  ({KIND_NAMES.get(p.kind, p.kind)}, {p.proposal_id}, {_status(p, d)})")
    if name != p.name:
        out.print(f"suggested name: {p.name}", highlight=False, markup=False)
    if d is not None:
        out.print(f"decision: {decision_text(d)}", highlight=False, markup=False, soft_wrap=True)
    out.print(p.description, markup=False)
    out.print(f"evidence: {p.evidence}", highlight=False, markup=False)
    out.print(f"contacts {p.contacts:,} · touches {p.touches:,} · confidence {p.confidence:.2f}")
    if p.reason_ids:
        out.print("reasons: " + ", ".join(p.reason_ids), markup=False)
    if p.cluster_ids:
        clusters = Run.load(folder).frame("clusters").set_index("cluster_id")
        biggest = max(int(clusters.loc[c, "size"]) for c in p.cluster_ids)
        for c in p.cluster_ids:
            size = int(clusters.loc[c, "size"])
            out.print(
                f"  cluster {c:>4} {'█' * max(1, round(30 * size / biggest)):<30} {size:>6,}  {clusters.loc[c, 'label']}",
                markup=False,
            )
    if p.keywords:
        out.print("keywords: " + ", ".join(p.keywords), markup=False)
    for example in p.examples:
        out.print(f"  • {example}", highlight=False, markup=False)


@proposals_app.command("accept")
def accept(
    ctx: typer.Context,
    proposal_id: str,
    name: Annotated[Optional[str], typer.Option(help="the reason's name (a split: names separated by ';')")] = None,
    description: Annotated[
        Optional[str], typer.Option(help="the reason's description (a new name clears the suggested one)")
    ] = None,
    parent: Annotated[
        Optional[str], typer.Option(help="the id of its reason group (`touchless taxonomy check`)")
    ] = None,
    into: Annotated[
        Optional[str],
        typer.Option(help="merge a new reason into this reason id (or the id of another accepted new reason)"),
    ] = None,
    note: Annotated[Optional[str], typer.Option(help="why, for the changelog")] = None,
    run: RunOpt = None,
    taxonomy: TaxonomyOpt = None,
    by: ByOpt = None,
) -> None:
    """Accept a proposal (optionally renamed); `touchless taxonomy apply` writes it into the taxonomy."""
    if name is not None and not name.strip():
        raise TaxonomyError("--name is empty: give the reason a name, or leave --name out to keep the suggested one")
    folder, proposal, path = _to_decide(_run(ctx, run), proposal_id, taxonomy)
    parts = split_parts(proposal, Run.load(folder).frame("clusters")) if proposal.kind == "split" else None
    done = record(
        path,
        proposal,
        "accepted",
        why=note,
        name=name,
        description=description,
        parent=parent,
        into=into,
        parts=parts,
        by=by,
    )
    _said(done)
    out.print(f"run [bold]touchless taxonomy apply --taxonomy {escape(shlex.quote(str(path)))}[/bold] to write it")


@proposals_app.command("reject")
def reject(
    ctx: typer.Context,
    proposal_id: str,
    reason: Annotated[str, typer.Option("--reason", help="why: it is kept with the decision")],
    run: RunOpt = None,
    taxonomy: TaxonomyOpt = None,
    by: ByOpt = None,
) -> None:
    """Reject a proposal; it stays hidden in later runs unless its evidence grows materially."""
    _, proposal, path = _to_decide(_run(ctx, run), proposal_id, taxonomy)
    _said(record(path, proposal, "rejected", why=reason, by=by))


@proposals_app.command("undo")
def undo_decision(ctx: typer.Context, proposal_id: str, run: RunOpt = None, taxonomy: TaxonomyOpt = None) -> None:
    """Take back the decision on a proposal that is not applied yet; it is open again."""
    folder = run_folder(_run(ctx, run))
    path = taxonomy_for_run(folder, read_manifest(folder).taxonomy, taxonomy)
    # a proposal decided from an earlier run is found in the decisions (a later run may no longer propose it)
    decisions = load_decisions(path)
    known = {p.proposal_id: p for p in [*(d.proposal for d in decisions), *_as_written(folder)]}
    proposal = find_proposal(list(known.values()), proposal_id)
    # a proposal this run shows as decided may owe it to an earlier run's proposal on the same evidence
    covering = decision_for(proposal, decisions)
    earlier = covering is not None and covering.proposal_id != proposal.proposal_id and covering.applied_in is None
    gone = undo(path, covering.proposal_id if earlier else proposal.proposal_id)
    out.print(
        f"Took back the {'acceptance' if gone.decision == 'accepted' else 'rejection'} of proposal "
        f"{proposal.proposal_id} '{proposal.name}' (made by {gone.by} on {gone.at[:10]}"
        + (f", on proposal {gone.proposal_id} of an earlier run, the same evidence" if earlier else "")
        + "); it is open again",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )


def _decided(p: Proposal, d: Decision | None) -> str:
    """The status with the decision behind it: 'accepted by ana on 2026-12-05, applied in version 3'; 'open (...)'
    where a run made with that version proposes it again."""
    if d is None:
        return p.status
    said = decided_by(d) + (f", applied in version {d.applied_in}" if d.applied_in is not None else "")
    return f"open ({said})" if p.status == "open" else said


def _status(p: Proposal, d: Decision | None) -> str:
    """open / accepted / rejected (`decided`: as the web page shows it), or the taxonomy version an accepted
    proposal went into."""
    applied = d is not None and d.applied_in is not None and p.status != "open"
    return f"applied in version {d.applied_in}" if applied else p.status


def _name(p: Proposal, d: Decision | None) -> str:
    """The name a proposal goes by: the one its acceptance gave it, else the suggested one."""
    return d.name if d is not None and d.decision == "accepted" and d.name else p.name


def _said(done: Recorded) -> None:
    """The whole id and name of what was decided (people type the first characters), and what it replaced."""
    d = done.decision
    out.print(
        f"proposal {d.proposal_id} '{d.proposal.name}': {decision_text(d)}",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    if done.replaced is not None:
        out.print(
            f"this replaces the earlier decision: {decision_text(done.replaced)}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    if done.also:
        out.print(f"note: applying it, {done.also}", style="yellow", highlight=False, markup=False, soft_wrap=True)


@taxonomy_app.command("apply")
def apply(taxonomy: TaxonomyOpt = None, run: RunOpt = None) -> None:
    """Write the next taxonomy version from the accepted proposals; the previous version is kept."""
    taxonomy = _to_apply(taxonomy, run)
    updated, changes = apply_decisions(taxonomy)
    out.print(f"wrote version {updated.version} of {taxonomy} ({len(updated.reasons)} reasons):")
    for change in changes:
        out.print(f"  - {change}", highlight=False, markup=False)


@taxonomy_app.command("check")
def check(taxonomy: Annotated[Path, typer.Argument(help="the taxonomy file")]) -> None:
    """Validate a taxonomy file and list its reasons."""
    loaded = load_taxonomy(taxonomy)
    pending = [d for d in load_decisions(taxonomy) if d.decision == "accepted" and d.applied_in is None]
    table = Table(title=f"{taxonomy}: version {loaded.version}", title_justify="left")
    for name in ("id", "name", "parent", "kind", "status", "examples", "owner", "action"):
        table.add_column(name)
    for r in loaded.reasons:  # a reason's owner as the ranking charges it: its group's where it names none
        owner = r.owner or (f"{loaded.owner_of(r.id)} (group's)" if loaded.owner_of(r.id) else "")
        row = (r.id, r.name, r.parent or "", r.kind, r.status, str(len(r.examples)), owner, r.action or "")
        table.add_row(*(Text(value) for value in row))
    out.print(table)
    out.print(f"valid; {len(pending)} accepted proposal(s) wait for `touchless taxonomy apply`")
    if not loaded.assignable():
        out.print(
            "note: no reason here can be given to contacts (none yet, or every one retired or a group): a run "
            "gives none, and proposes every cluster as a new reason",
            markup=False,
        )
    if pending:
        try:
            next_taxonomy(taxonomy)
        except TaxonomyError as exc:  # what apply would say now, before someone runs it
            raise TaxonomyError(f"the file is valid, but `touchless taxonomy apply` would refuse: {exc}") from None


@taxonomy_app.command("init")
def init(
    run: Annotated[Optional[Path], typer.Argument(help="a run's folder (default: the latest run)")] = None,
    taxonomy_out: Annotated[Path, typer.Option("--out", help="the taxonomy file to write")] = Path("taxonomy.yaml"),
) -> None:
    """Write a first taxonomy from a run: its reason groups as parents, its clusters as the reasons under them,
    with names, descriptions and examples to edit. Never overwrites a file."""
    from pipeline.config import write_yaml
    from pipeline.taxonomy.tree import from_clusters, taxonomy_data

    folder = run_folder(run)
    clusters = Run.load(folder).frame("clusters")
    if "group_id" not in clusters or clusters["group_id"].isna().all():
        raise TouchlessError(f"{folder} was made before reason groups existed: run discover again first")
    if taxonomy_out.exists():
        raise TouchlessError(f"{taxonomy_out} already exists: give --out a new file (touchless never overwrites one)")
    holder = next((p for p in taxonomy_out.resolve().parents if read_manifest(p) is not None), None)
    if holder is not None:  # the next run there would refuse the folder, or replace it with the file inside
        raise TouchlessError(
            f"{taxonomy_out} lies inside the run folder {holder}, which touchless replaces as a whole on each run: "
            "give --out a file outside it"
        )
    taxonomy = from_clusters(clusters)
    write_yaml(taxonomy_out, taxonomy_data(taxonomy))
    groups = sum(r.parent is None for r in taxonomy.reasons)
    out.print(
        f"wrote {taxonomy_out}: {groups} reason groups, {len(taxonomy.reasons) - groups} reasons from the run "
        f"{folder.resolve()}; edit it, then run discover with --taxonomy {taxonomy_out}",
        markup=False,
    )


def _run(ctx: typer.Context, run: Path | None) -> Path | None:
    """The run a `proposals` subcommand is for: its own --run, or one given before it (`proposals --run DIR
    accept ...`), which was left unread, so the decision went beside the latest run's taxonomy."""
    before = ctx.parent.obj if ctx.parent is not None else None
    if run is not None and before is not None and Path(run).resolve() != Path(before).resolve():
        raise TouchlessError(f"two runs are given, --run {before} and --run {run}: give one")
    return run if run is not None else before


def run_folder(run: Path | None, given_as: str = "--run DIR") -> Path:
    """The run given (with --run, or as `given_as` says), else the latest run made from this working directory
    (never another project's)."""
    folder = run or last_run()
    if folder is None:
        raise TouchlessError(
            f"no run was made from {Path.cwd()}: give {given_as}, a folder written by `touchless discover`"
        )
    if read_manifest(folder) is None:
        raise no_run(folder, f"give {given_as}, a folder written by `touchless discover`")
    return folder


def _to_apply(taxonomy: Path | None, run: Path | None) -> Path:
    """The taxonomy `apply` writes: the one given, else the one the decisions went beside (the run's, as
    `proposals accept` chose it). Earlier versions took configs/taxonomy.yaml here whatever the run read; with no run
    made from this directory, that file is still taken where it exists, and said."""
    if taxonomy:
        if run:
            run_folder(run)  # a --run given is checked, even beside --taxonomy
        return taxonomy
    if run or last_run():
        folder = run_folder(run)
        return taxonomy_for_run(folder, read_manifest(folder).taxonomy)
    earlier = Path("configs/taxonomy.yaml")
    if earlier.is_file():
        err.print(
            f"no run was made from {Path.cwd()}: applying {earlier}, the earlier default; give --taxonomy FILE or "
            "--run DIR to choose",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
        return earlier
    raise TouchlessError(f"no run was made from {Path.cwd()}: give --taxonomy FILE, or --run DIR for the run's")


def _describe(folder: Path) -> str:
    manifest = read_manifest(folder)
    return f"{folder.resolve()} ({manifest.kind}, written {manifest.written_at})"


def _as_written(folder: Path) -> list[Proposal]:
    """The run's proposals, by rank, as the run wrote them."""
    return proposals_from_table(Run.load(folder).frame("proposals").sort_values("rank"))


def _current(folder: Path) -> list[tuple[Proposal, Decision | None]]:
    """The run's proposals with the status the decisions on file give them today, each with the decision that
    stands on it."""
    manifest = read_manifest(folder)
    try:
        decisions = load_decisions(taxonomy_for_run(folder, manifest.taxonomy))
    except TaxonomyError as exc:  # its taxonomy moved: the list can still be read, as the run wrote it
        err.print(f"warning: {exc}; the statuses shown are those the run wrote", highlight=False, markup=False)
        return [(p, None) for p in _as_written(folder)]
    proposals = decided(_as_written(folder), decisions, evidence_growth(manifest.config), manifest.taxonomy_version)
    return [(p, standing_decision(p, decisions)) for p in proposals]


def _to_decide(run: Path | None, proposal_id: str, taxonomy: Path | None) -> tuple[Path, Proposal, Path]:
    """(run folder, the proposal, the taxonomy file its decision goes beside)."""
    folder = run_folder(run)
    return (
        folder,
        find_proposal(_as_written(folder), proposal_id),
        taxonomy_for_run(folder, read_manifest(folder).taxonomy, taxonomy),
    )

"""`touchless proposals ...` and `touchless taxonomy ...`: how a taxonomy owner reviews a run and evolves the list."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from pipeline.errors import TouchlessError
from pipeline.run.folder import Run, last_run, read_manifest
from pipeline.run.review import KIND_NAMES
from pipeline.taxonomy.decisions import apply_decisions, load_decisions, record
from pipeline.taxonomy.proposals import Proposal, sentence_case
from pipeline.taxonomy.tree import load_taxonomy

out = Console()

proposals_app = typer.Typer(help="Review the changes a run proposes to the taxonomy.", invoke_without_command=True)
taxonomy_app = typer.Typer(help="Check the taxonomy and write its next version.", no_args_is_help=True)

RunOpt = Annotated[Optional[Path], typer.Option("--run", help="a run's output folder (default: the latest run)")]
TaxonomyOpt = Annotated[
    Optional[Path], typer.Option("--taxonomy", help="the taxonomy file (default: the one the run used)")
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
        return
    folder = _run_folder(run)
    proposals = _proposals(folder)
    shown = proposals if all_ else proposals[proposals["status"] != "rejected"]
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
    for p in shown.itertuples():
        table.add_row(
            str(p.rank),
            p.proposal_id,
            KIND_NAMES.get(p.kind, p.kind),
            p.status,
            Text(p.name[:60]),
            f"{p.contacts:,}",
            f"{p.touches:,}",
            f"{p.confidence:.2f}",
        )
    out.print(table)
    out.print(f"See one with [bold]touchless proposals show ID[/bold]; the whole review page: {folder / 'review.html'}")


@proposals_app.command("show")
def show(proposal_id: str, run: RunOpt = None) -> None:
    """Show the evidence for one proposal."""
    folder = _run_folder(run)
    p = _one(folder, proposal_id)
    out.print(f"run {_describe(folder)}", highlight=False)
    out.print(f"[bold]{escape(p.name)}[/bold]  ({KIND_NAMES.get(p.kind, p.kind)}, {p.proposal_id}, {p.status})")
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
    proposal_id: str,
    name: Annotated[Optional[str], typer.Option(help="the reason's name (a split: names separated by ';')")] = None,
    description: Annotated[Optional[str], typer.Option(help="the reason's description")] = None,
    parent: Annotated[Optional[str], typer.Option(help="the id of its reason group")] = None,
    note: Annotated[Optional[str], typer.Option(help="why, for the changelog")] = None,
    run: RunOpt = None,
    taxonomy: TaxonomyOpt = None,
    by: ByOpt = None,
) -> None:
    """Accept a proposal (optionally renamed); `touchless taxonomy apply` writes it into the taxonomy."""
    folder, proposal, path = _to_decide(run, proposal_id, taxonomy)
    parts = None
    if proposal.kind == "split":
        clusters = Run.load(folder).frame("clusters").set_index("cluster_id")
        parts = [
            {"name": sentence_case(clusters.loc[c, "label"]), "examples": list(clusters.loc[c, "examples"])}
            for c in proposal.cluster_ids
        ]
        if name and len(name.split(";")) != len(parts):
            raise TouchlessError(f"this split has {len(parts)} parts: give {len(parts)} names separated by ';'")
    changes = {"name": name, "description": description, "parent": parent}
    record(path, proposal, "accepted", why=note, changes=changes, parts=parts, by=by)
    out.print(f"accepted {proposal_id}; run [bold]touchless taxonomy apply --taxonomy {path}[/bold] to write it")


@proposals_app.command("reject")
def reject(
    proposal_id: str,
    reason: Annotated[str, typer.Option("--reason", help="why: it is kept with the decision")],
    run: RunOpt = None,
    taxonomy: TaxonomyOpt = None,
    by: ByOpt = None,
) -> None:
    """Reject a proposal; it stays hidden in later runs unless its evidence grows materially."""
    _, proposal, path = _to_decide(run, proposal_id, taxonomy)
    record(path, proposal, "rejected", why=reason, by=by)
    out.print(f"rejected {proposal_id}: {reason}", markup=False)


@taxonomy_app.command("apply")
def apply(
    taxonomy: Annotated[Path, typer.Option("--taxonomy", help="the taxonomy file")] = Path("configs/taxonomy.yaml"),
) -> None:
    """Write the next taxonomy version from the accepted proposals; the previous version is kept."""
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
    for name in ("id", "name", "parent", "kind", "status", "examples"):
        table.add_column(name)
    for r in loaded.reasons:
        table.add_row(r.id, Text(r.name), r.parent or "", r.kind, r.status, str(len(r.examples)))
    out.print(table)
    out.print(f"valid; {len(pending)} accepted proposal(s) wait for `touchless taxonomy apply`")


def _run_folder(run: Path | None) -> Path:
    """The run given with --run, else the latest run made from this working directory (never another project's)."""
    folder = run or last_run()
    if folder is None:
        raise TouchlessError(
            f"no run was made from {Path.cwd()}: give --run DIR, a folder written by `touchless discover`"
        )
    if read_manifest(folder) is None:
        raise TouchlessError(
            f"{folder} holds no touchless run: give --run DIR, a folder written by `touchless discover`"
        )
    return folder


def _describe(folder: Path) -> str:
    manifest = read_manifest(folder)
    return f"{folder.resolve()} ({manifest.kind}, written {manifest.written_at})"


def _proposals(folder: Path) -> pd.DataFrame:
    return Run.load(folder).frame("proposals").sort_values("rank")


def _one(folder: Path, proposal_id: str) -> Proposal:
    """The run's proposal whose id starts with `proposal_id` (people type the first few characters)."""
    proposals = _proposals(folder)
    found = proposals[proposals["proposal_id"].str.startswith(proposal_id)]
    if len(found) != 1:
        raise TouchlessError(
            f"{'no' if found.empty else 'more than one'} proposal has the id '{proposal_id}' "
            "(see `touchless proposals`)"
        )
    row = found.drop(columns="rank").iloc[0]
    return Proposal.model_validate({k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in row.items()})


def _to_decide(run: Path | None, proposal_id: str, taxonomy: Path | None) -> tuple[Path, Proposal, Path]:
    """(run folder, the proposal, the taxonomy file its decision goes beside)."""
    folder = _run_folder(run)
    return folder, _one(folder, proposal_id), _taxonomy_path(folder, taxonomy)


def _taxonomy_path(folder: Path, given: Path | None) -> Path:
    if given:
        return given
    used = read_manifest(folder).taxonomy
    if not used:
        raise TouchlessError(
            "this run used no taxonomy: give --taxonomy FILE, the file to build it in "
            "(`touchless taxonomy apply` creates it)"
        )
    return Path(used)

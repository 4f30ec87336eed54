"""The `touchless` command: everything a person does by hand."""

from __future__ import annotations

import os
import shutil
import sys
from importlib import resources
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from configs import CONFIG_DIR
from flows.review_cli import proposals_app, taxonomy_app
from pipeline.config import load_config
from pipeline.errors import TouchlessError

app = typer.Typer(
    help="touchless: find why customers contact support, and which causes to remove first.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
EXAMPLE_TAXONOMY = CONFIG_DIR / "taxonomy.yaml"
DEPLOYMENTS = CONFIG_DIR / "deployments.yaml"
app.add_typer(proposals_app, name="proposals")
app.add_typer(taxonomy_app, name="taxonomy")
out = Console()
err = Console(stderr=True)

InputArg = Annotated[Path, typer.Argument(help="contacts file: .csv, .tsv, .jsonl or .parquet")]
OutOpt = Annotated[Path, typer.Option("--out", help="output folder (replaced as a whole on each run)")]
ConfigOpt = Annotated[Optional[Path], typer.Option("--config", help="YAML config overriding configs/default.yaml")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="show Prefect's run logs")]


GranularityOpt = Annotated[
    Optional[str], typer.Option(help="coarse | medium | fine: fewer, broader reasons or more, finer ones")
]
ReasonsOpt = Annotated[Optional[str], typer.Option(help="aim for a number of reasons in a range, e.g. 20-40")]
TaxonomyOpt = Annotated[Optional[Path], typer.Option("--taxonomy", help="your reason taxonomy (YAML): assign reasons, propose changes")]
VolumeOpt = Annotated[Optional[Path], typer.Option("--volume", help="business volume (date, volume): for the touch index")]
TextColumnOpt = Annotated[Optional[str], typer.Option(help="column holding the text (of a contact or a message)")]
InputKindOpt = Annotated[
    Optional[str],
    typer.Option(help="contacts | messages (default: messages when the file has conversation_id and role columns)"),
]
IdColumnOpt = Annotated[Optional[str], typer.Option(help="column holding the contact id (messages: the conversation id)")]


@app.command()
def discover(
    input: InputArg,
    out_dir: OutOpt,
    text_column: TextColumnOpt = None,
    id_column: IdColumnOpt = None,
    config: ConfigOpt = None,
    input_kind: InputKindOpt = None,
    taxonomy: TaxonomyOpt = None,
    volume: VolumeOpt = None,
    granularity: GranularityOpt = None,
    reasons: ReasonsOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Find the reasons customers contact you: cluster every contact, describe each cluster, propose changes to
    your taxonomy, count touches, rank the causes and chart the touch index."""
    overrides = _overrides(text_column, id_column, input_kind, granularity, reasons, taxonomy)
    result = _run_discover(input, out_dir, config, overrides, verbose, volume=volume)
    _print_emerging(result.emerging)
    _print_clusters(result)
    if result.proposals:
        out.print(f"{result.proposals} proposal(s) to refine the taxonomy: `touchless proposals` or "
                  f"{Path(result.out_dir) / 'review.html'}", soft_wrap=True, highlight=False)


@app.command()
def assign(
    input: InputArg,
    out_dir: Annotated[Path, typer.Option("--out", help="the folder of an earlier discover run")],
    config: ConfigOpt = None,
    input_kind: InputKindOpt = None,
    volume: VolumeOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Put new contacts into the clusters and reasons of the run in --out, without re-clustering, and refresh its
    touches, ranking, touch index and trends. Contacts already in the run are skipped."""
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO" if verbose else "CRITICAL")
    from flows.assign import assign as assign_flow
    from flows.runner import task_runner

    overrides = _overrides(None, None, input_kind, None, None)
    runner = task_runner(load_config(config, overrides or None).runner)
    result = assign_flow.with_options(task_runner=runner)(
        input_path=str(input), out_dir=str(out_dir), config_path=str(config) if config else None,
        overrides=overrides or None, show_progress=sys.stderr.isatty(), volume_path=str(volume) if volume else None,
    )
    for warning in result.warnings:
        err.print(f"[yellow]warning:[/yellow] {warning}", highlight=False, soft_wrap=True)
    out.print(f"{result.new_contacts:,} new contacts ({result.skipped:,} already in the run): {result.assigned:,} joined "
              f"a cluster, {result.new_contacts - result.assigned:,} wait for the next discover; "
              f"{result.total_contacts:,} contacts in {result.out_dir}", highlight=False)
    _print_emerging(result.emerging)


@app.command()
def evaluate(
    input: InputArg,
    label_column: Annotated[str, typer.Option(help="column holding each contact's known reason")],
    out_dir: Annotated[Path, typer.Option("--out", help="output folder")] = Path("touchless-evaluate"),
    text_column: TextColumnOpt = None,
    id_column: IdColumnOpt = None,
    config: ConfigOpt = None,
    input_kind: InputKindOpt = None,
    taxonomy: TaxonomyOpt = None,
    granularity: GranularityOpt = None,
    reasons: ReasonsOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Run discover and score its clusters against known reasons (NMI, ARI, ACC); writes metrics.json."""
    overrides = _overrides(text_column, id_column, input_kind, granularity, reasons, taxonomy)
    result = _run_discover(input, out_dir, config, overrides, verbose, label_column=label_column)
    _print_clusters(result)
    m = result.metrics
    table = Table(title=f"scores against '{label_column}' ({m['labels']} known reasons)", title_justify="left")
    for name in ("contacts", "NMI", "ARI", "ACC", "clusters", "noise"):
        table.add_column(name, justify="right")
    for name, key in (("clustered contacts", "clustered"), ("every contact", "every_contact")):
        s = m[key]
        count = m["contacts"] if key == "every_contact" else round(m["contacts"] * (1 - m["noise_share"]))
        table.add_row(f"{name}: {count}", f"{s['nmi']:.3f}", f"{s['ari']:.3f}", f"{s['acc']:.3f}",
                      str(m["clusters"]), f"{m['noise_share']:.1%}")
    out.print(table)
    out.print(f"metrics written to {Path(result.out_dir) / 'metrics.json'}")


@app.command()
def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="output folder")] = Path("touchless-demo"),
    verbose: VerboseOpt = False,
) -> None:
    """Run discover on bundled demo data (real BANKING77 queries) against an example taxonomy, and show how to
    query the results and review the proposals."""
    demo = resources.files("pipeline") / "demo"
    taxonomy = out_dir.with_name(f"{out_dir.name}-taxonomy.yaml")
    if not taxonomy.exists():  # the demo's own copy: accepting proposals evolves it, never the shipped example
        shutil.copyfile(EXAMPLE_TAXONOMY, taxonomy)
    with resources.as_file(demo / "banking77_demo.csv") as data, resources.as_file(demo / "demo_volume.csv") as volume:
        result = _run_discover(data, out_dir, None, {"taxonomy": {"path": str(taxonomy)}}, verbose, volume=volume)
    _print_clusters(result)
    db = out_dir / "touchless.duckdb"
    queries = [
        "SELECT cluster_id, label, size, round(100 * share, 1) AS pct FROM clusters ORDER BY size DESC LIMIT 5",
        "SELECT rank, name, touches, round(touches_per_issue, 2) AS per_issue, trend FROM ranking ORDER BY rank LIMIT 5",
    ]
    out.print(f"\nOutputs are in [bold]{out_dir.resolve()}[/bold]. Query them with SQL, e.g.:")
    for query in queries:
        out.print(f'\n  touchless sql {out_dir} "{query}"', soft_wrap=True, highlight=False)
        _print_query(db, query)
    out.print(
        f"\nThe touch index is charted in {out_dir / 'touch_index.png'}. Review the {result.proposals} proposals to "
        f"refine the taxonomy in {out_dir / 'review.html'} or with `touchless proposals`; the demo's taxonomy is "
        f"{taxonomy}.",
        soft_wrap=True, highlight=False,
    )


@app.command()
def serve(
    deployments: Annotated[Path, typer.Option("--deployments", help="the deployments file")] = DEPLOYMENTS,
) -> None:
    """Register the daily and weekly deployments with your Prefect server (PREFECT_API_URL) and run them on their
    schedules until stopped."""
    from flows.serve import load_deployments, main as serve_main

    spec = load_deployments(deployments)
    out.print(f"serving touchless-daily ({spec.daily.cron}) and touchless-weekly ({spec.weekly.cron}) for {spec.out}; "
              "Ctrl-C stops", highlight=False)
    serve_main(deployments)


@app.command()
def sql(
    out_dir: Annotated[Path, typer.Argument(help="a run's output folder")],
    query: Annotated[str, typer.Argument(help="SQL over the tables contacts, clusters, ...")],
) -> None:
    """Run a read-only SQL query against a run's DuckDB file."""
    db = out_dir / "touchless.duckdb"
    if not db.is_file():
        raise TouchlessError(f"{db} does not exist: run `touchless discover` with --out {out_dir} first")
    _print_query(db, query)


def _overrides(
    text_column: str | None,
    id_column: str | None,
    input_kind: str | None,
    granularity: str | None,
    reasons: str | None,
    taxonomy: Path | None = None,
) -> dict:
    """CLI flags as config overrides, so they are validated like the config file."""
    overrides: dict = {}
    columns = {k: v for k, v in {"text": text_column, "contact_id": id_column}.items() if v}
    message_columns = {k: v for k, v in {"text": text_column, "conversation_id": id_column}.items() if v}
    if columns:
        overrides["input"] = {"columns": columns, "messages": {"columns": message_columns}}
    if input_kind:
        overrides.setdefault("input", {})["kind"] = input_kind
    cluster: dict = {}
    if granularity:
        cluster["granularity"] = granularity
    if reasons:
        low, sep, high = reasons.partition("-")
        if not (sep and low.strip().isdigit() and high.strip().isdigit()):
            raise TouchlessError(f"--reasons takes a range such as 20-40, not '{reasons}'")
        cluster["target_reasons"] = [int(low), int(high)]
    if cluster:
        overrides["cluster"] = cluster
    if taxonomy:
        overrides["taxonomy"] = {"path": str(taxonomy)}
    return overrides


def _run_discover(
    input: Path, out_dir: Path, config: Path | None, overrides: dict | None, verbose: bool,
    label_column: str | None = None, volume: Path | None = None,
):
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO" if verbose else "CRITICAL")
    from flows.discover import discover as discover_flow
    from flows.runner import task_runner

    runner = task_runner(load_config(config, overrides or None).runner)
    result = discover_flow.with_options(task_runner=runner)(
        input_path=str(input),
        out_dir=str(out_dir),
        config_path=str(config) if config else None,
        overrides=overrides or None,
        show_progress=sys.stderr.isatty(),
        label_column=label_column,
        volume_path=str(volume) if volume else None,
    )
    for warning in result.warnings:
        err.print(f"[yellow]warning:[/yellow] {warning}", highlight=False, soft_wrap=True)
    return result


def _print_emerging(emerging: list[str]) -> None:
    if emerging:
        out.print("[bold]emerging:[/bold] " + "; ".join(emerging[:10]), highlight=False, soft_wrap=True)


def _print_clusters(result) -> None:
    import pyarrow.parquet as pq

    clusters = pq.read_table(Path(result.out_dir) / "clusters.parquet").to_pandas()
    table = Table(title=f"{result.clusters} clusters in {result.contacts} contacts", title_justify="left")
    for name, justify in (("id", "right"), ("size", "right"), ("share", "right"), ("label", "left"), ("typical contact", "left")):
        table.add_column(name, justify=justify, overflow="fold")
    for row in clusters.sort_values("size", ascending=False).head(15).itertuples():
        example = row.examples[0] if len(row.examples) else ""
        table.add_row(str(row.cluster_id), str(row.size), f"{row.share:.1%}", row.label, example[:70])
    out.print(table)
    if len(clusters) > 15:
        out.print(f"… and {len(clusters) - 15} more clusters")
    out.print(
        f"noise (in no cluster): {result.noise} of {result.contacts} ({result.noise / max(result.contacts, 1):.1%}); "
        f"embedded {result.embedded_new} new texts, {result.embedded_cached} from cache"
    )


def _print_query(db: Path, query: str) -> None:
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        try:
            rel = con.sql(query)
        except duckdb.Error as exc:
            raise TouchlessError(f"the query failed: {exc}") from None
        if rel is None:
            return
        table = Table(*rel.columns)
        for row in rel.fetchall():
            table.add_row(*("" if v is None else str(v) for v in row))
        out.print(table)


def main(argv: list[str] | None = None) -> None:
    try:
        app(args=argv, standalone_mode=False)
    except TouchlessError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err.print("aborted")
        sys.exit(130)
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise


if __name__ == "__main__":
    main()

"""The `touchless` command: everything a person does by hand."""

from __future__ import annotations

import csv
import errno
import json
import logging
import math
import shlex
import shutil
import sys
import textwrap
import traceback
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from configs import CONFIG_DIR
from flows.review_cli import proposals_app, taxonomy_app
from pipeline.config import ColumnMap, MessageColumnMap
from pipeline.errors import QueryError, TouchlessError
from pipeline.run.folder import DATABASE, Run, check_output_folder, is_remote, locate_run, no_run, read_manifest
from pipeline.run.views import QueryResult, run_query
from pipeline.runtime import cache_home

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

# text, not Path: a URL (s3://bucket/x.csv, memory://...) is a path to fsspec, and Path folds its '//' into '/'
InputArg = Annotated[str, typer.Argument(help="contacts file: .csv, .tsv, .jsonl or .parquet, or its URL")]
OutOpt = Annotated[str, typer.Option("--out", help="output folder or its URL (replaced as a whole on each run)")]
ConfigOpt = Annotated[Optional[Path], typer.Option("--config", help="YAML config overriding configs/default.yaml")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="show Prefect's run logs")]


GranularityOpt = Annotated[
    Optional[str], typer.Option(help="coarse | medium | fine: fewer, broader reasons or more, finer ones")
]
ReasonsOpt = Annotated[Optional[str], typer.Option(help="aim for a number of reasons in a range, e.g. 20-40")]
TaxonomyOpt = Annotated[
    Optional[Path], typer.Option("--taxonomy", help="your reason taxonomy (YAML): assign reasons, propose changes")
]
VolumeOpt = Annotated[
    Optional[str], typer.Option("--volume", help="business volume (date, volume), or its URL: for the touch index")
]
TextColumnOpt = Annotated[Optional[str], typer.Option(help="column holding the text (of a contact or a message)")]
InputKindOpt = Annotated[
    Optional[str],
    typer.Option(help="contacts | messages (default: messages when the file has conversation_id and role columns)"),
]
IdColumnOpt = Annotated[
    Optional[str], typer.Option(help="column holding the contact id (messages: the conversation id)")
]
ColumnOpt = Annotated[
    Optional[list[str]],
    typer.Option(
        "--column",
        help="FIELD=COLUMN: read a field touchless knows (created_at, customer_id, ticket_id, channel, reason, "
        "handle_time_s, text, contact_id; messages: conversation_id, role, sent_at) from your column; "
        "repeatable",
    ),
]
DimensionOpt = Annotated[
    Optional[list[str]],
    typer.Option(
        "--dimension",
        help="a column describing contacts (product, plan, app version ...), kept and "
        "tested as a driver of each reason and cluster; repeatable",
    ),
]
DateFormatOpt = Annotated[
    Optional[str],
    typer.Option(
        "--date-format",
        help="how dates are written, e.g. %d/%m/%Y %H:%M (strptime); needed when a date column can be "
        "read day-first and month-first",
    ),
]


@app.command()
def discover(
    input: InputArg,
    out_dir: OutOpt,
    text_column: TextColumnOpt = None,
    id_column: IdColumnOpt = None,
    column: ColumnOpt = None,
    dimension: DimensionOpt = None,
    date_format: DateFormatOpt = None,
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
    overrides = _overrides(
        text_column=text_column,
        id_column=id_column,
        columns=column,
        dimensions=dimension,
        date_format=date_format,
        input_kind=input_kind,
        granularity=granularity,
        reasons=reasons,
        taxonomy=taxonomy,
    )
    result = _run("discover", input, out_dir, config, overrides, verbose, volume_path=_path(volume))
    _print_emerging(result.emerging)
    _print_clusters(result)
    if result.proposals:
        out.print(
            f"{result.proposals} proposal(s) to refine the taxonomy: `touchless proposals` or "
            f"{_within(result.out_dir, 'review.html')}",
            soft_wrap=True,
            highlight=False,
        )


@app.command()
def assign(
    input: InputArg,
    out_dir: Annotated[str, typer.Option("--out", help="the folder (or URL) of an earlier discover run")],
    column: ColumnOpt = None,
    date_format: DateFormatOpt = None,
    config: ConfigOpt = None,
    input_kind: InputKindOpt = None,
    volume: VolumeOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Put new contacts into the clusters and reasons of the run in --out, without re-clustering, and refresh its
    touches, ranking, touch index, trends and proposals. Contacts already in the run are skipped (read again when
    their text or details changed)."""
    overrides = _overrides(columns=column, date_format=date_format, input_kind=input_kind)
    result = _run("assign", input, out_dir, config, overrides, verbose, volume_path=_path(volume))
    details = f", {result.details_changed:,} of them only in their details" if result.details_changed else ""
    changed = f" and {result.changed:,} changed, read again{details}" if result.changed else ""
    read = result.new_contacts + result.changed
    out.print(
        f"{result.new_contacts:,} new contacts{changed} ({result.skipped:,} already in the run, unchanged): "
        f"{result.assigned:,} joined a cluster, {read - result.assigned:,} wait for the next "
        f"discover; {result.contacts:,} contacts in {result.out_dir}",
        highlight=False,
        markup=False,
    )
    _print_emerging(result.emerging)


@app.command()
def evaluate(
    input: InputArg,
    label_column: Annotated[str, typer.Option(help="column holding each contact's known reason")],
    out_dir: Annotated[str, typer.Option("--out", help="output folder or its URL")] = "touchless-evaluate",
    text_column: TextColumnOpt = None,
    id_column: IdColumnOpt = None,
    column: ColumnOpt = None,
    dimension: DimensionOpt = None,
    date_format: DateFormatOpt = None,
    config: ConfigOpt = None,
    input_kind: InputKindOpt = None,
    taxonomy: TaxonomyOpt = None,
    granularity: GranularityOpt = None,
    reasons: ReasonsOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Run discover and score its clusters against known reasons (NMI, ARI, ACC); writes metrics.json."""
    overrides = _overrides(
        text_column=text_column,
        id_column=id_column,
        columns=column,
        dimensions=dimension,
        date_format=date_format,
        input_kind=input_kind,
        granularity=granularity,
        reasons=reasons,
        taxonomy=taxonomy,
    )
    result = _run("discover", input, out_dir, config, overrides, verbose, label_column=label_column)
    _print_clusters(result)
    m = result.metrics
    known = f"{m['labels']:,} known reason{'s' if m['labels'] != 1 else ''}"
    table = Table(title=f"scores against '{label_column}' ({known})", title_justify="left")
    for name in ("contacts", "NMI", "ARI", "ACC", "clusters", "noise"):
        table.add_column(name, justify="right")
    for name, key in (("clustered contacts", "clustered"), ("every contact", "every_contact")):
        s = m[key]
        count = m["contacts"] if key == "every_contact" else round(m["contacts"] * (1 - m["noise_share"]))
        table.add_row(
            f"{name}: {count}",
            f"{s['nmi']:.3f}",
            f"{s['ari']:.3f}",
            f"{s['acc']:.3f}",
            str(m["clusters"]),
            f"{m['noise_share']:.1%}",
        )
    out.print(table)
    if m["unlabelled"]:
        out.print(
            f"[yellow]{m['unlabelled']:,} contact(s) have no label in '{label_column}' and are not scored[/yellow]"
        )
    if m["labels"] < 2 or m["labels"] >= 0.5 * m["contacts"]:  # scores that say nothing of the clustering
        what = "one label for every contact" if m["labels"] < 2 else "about as many labels as contacts"
        out.print(
            f"[yellow]'{label_column}' holds {what}: NMI, ARI and ACC cannot tell a good clustering from a bad "
            "one against it; is it the column of known reasons?[/yellow]"
        )
    out.print(f"metrics written to {_within(result.out_dir, 'metrics.json')}")


@app.command()
def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="output folder")] = Path("touchless-demo"),
    verbose: VerboseOpt = False,
) -> None:
    """Run discover on bundled demo data (real BANKING77 queries) against an example taxonomy, and show how to
    query the results and review the proposals."""
    demo = resources.files("pipeline") / "demo"
    check_output_folder(out_dir)  # a folder the run will refuse gets no taxonomy copy beside it either
    out_dir = out_dir.absolute()  # '.' has no name to put the taxonomy's beside
    taxonomy = out_dir.with_name(f"{out_dir.name}-taxonomy.yaml")
    taxonomy.parent.mkdir(parents=True, exist_ok=True)  # as discover makes the output folder's
    if not taxonomy.exists():  # the demo's own copy: accepting proposals evolves it, never the shipped example
        shutil.copyfile(EXAMPLE_TAXONOMY, taxonomy)
    with resources.as_file(demo / "banking77_demo.csv") as data, resources.as_file(demo / "demo_volume.csv") as volume:
        result = _run(
            "discover", data, out_dir, None, {"taxonomy": {"path": str(taxonomy)}}, verbose, volume_path=str(volume)
        )
    _print_clusters(result)
    db = out_dir / DATABASE
    queries = [
        "SELECT cluster_id, label, size, round(100 * share, 1) AS pct FROM clusters ORDER BY size DESC LIMIT 5",
        "SELECT rank, name, touches, round(touches_per_issue, 2) AS per_issue, trend FROM ranking ORDER BY rank LIMIT 5",
    ]
    out.print(f"\nOutputs are in [bold]{escape(str(out_dir.resolve()))}[/bold]. Query them with SQL, e.g.:")
    for query in queries:
        out.print(f"\n  {sql_command(out_dir, query)}", soft_wrap=True, highlight=False, markup=False)
        for found in run_query(db, query):
            _print_table(found)
    out.print(
        f"\nThe touch index is charted in {out_dir / 'touch_index.png'}. {review_hint(result.proposals, out_dir)}; "
        f"the demo's taxonomy is {taxonomy}.",
        soft_wrap=True,
        highlight=False,
    )


def sql_command(out_dir: Path, query: str) -> str:
    """The command that runs `query` on the run in `out_dir`, to paste into a shell (a folder with a space in its
    name was printed bare, and the pasted command failed)."""
    return f'touchless sql {shlex.quote(str(out_dir))} "{query}"'


def review_hint(proposals: int, out_dir: Path) -> str:
    """What to do with a run's proposals, said right for none, one and many."""
    if proposals == 0:
        return f"The run proposes no change to the taxonomy (its review page: {out_dir / 'review.html'})"
    what = "the proposal" if proposals == 1 else f"the {proposals} proposals"
    return f"Review {what} to refine the taxonomy in {out_dir / 'review.html'} or with `touchless proposals`"


@app.command()
def serve(
    deployments: Annotated[Path, typer.Option("--deployments", help="the deployments file")] = DEPLOYMENTS,
) -> None:
    """Register the daily and weekly deployments with your Prefect server (PREFECT_API_URL) and run them on their
    schedules until stopped."""
    from prefect.settings import PREFECT_API_URL
    from prefect.settings.constants import DEFAULT_PREFECT_HOME

    from flows.serve import main as serve_main
    from flows.serve import not_ready

    if not PREFECT_API_URL.value():  # a temporary server would vanish with this process, and its schedules with it
        raise TouchlessError(
            "serve needs your Prefect server: export PREFECT_API_URL (e.g. "
            "http://127.0.0.1:4200/api after `prefect server start`); see the README's Schedule it"
            + (
                "; a server saved with `prefect config set` is not read by touchless, which keeps Prefect's home "
                "in its own cache"
                if (DEFAULT_PREFECT_HOME / "profiles.toml").is_file()
                else ""
            )
        )

    def announce(spec) -> None:
        for line in not_ready(spec):
            err.print(f"warning: {line}", highlight=False, markup=False)
        out.print(
            f"serving {spec.name}-daily ({spec.daily.cron}) and {spec.name}-weekly ({spec.weekly.cron}) for "
            f"{spec.out}; Ctrl-C stops. Run one now: prefect deployment run 'assign/{spec.name}-daily' (or "
            f"'discover/{spec.name}-weekly')",
            highlight=False,
        )

    serve_main(deployments, announce)


@app.command()
def review(
    run: Annotated[Optional[Path], typer.Argument(help="a run's output folder (default: the latest run)")] = None,
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="the port on 127.0.0.1 (default: a free one)")
    ] = 0,
    no_browser: Annotated[bool, typer.Option("--no-browser", help="print the URL only; open no browser")] = False,
    taxonomy: Annotated[
        Optional[Path],
        typer.Option(
            "--taxonomy",
            help="the taxonomy the decisions go beside (default: the one the run used; without one, "
            "DIR.taxonomy.yaml beside the run DIR)",
        ),
    ] = None,
    by: Annotated[Optional[str], typer.Option("--by", help="who decides in the page (default: your user name)")] = None,
) -> None:
    """Review a run in the browser: proposals with their evidence and contacts (accept, reject, merge, undo), the
    next taxonomy and apply, the causes, the touch index and the reason tree. Listens on 127.0.0.1; the URL it
    prints holds the token every page needs."""
    from flows.review_cli import run_folder
    from pipeline.app.server import serve as serve_review

    serve_review(
        run_folder(run, "the run's folder (touchless review DIR)"), taxonomy, port, open_browser=not no_browser, by=by
    )


class QueryFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


@app.command()
def sql(
    out_dir: Annotated[Path, typer.Argument(help="a run's output folder")],
    query: Annotated[str, typer.Argument(help="SQL over the tables contacts, clusters, ... and the views")],
    output_format: Annotated[
        QueryFormat,
        typer.Option("--format", help="table (to read), csv or json (for scripts: every row, nulls as empty / null)"),
    ] = QueryFormat.table,
) -> None:
    """Run a read-only SQL query over a run's tables; it can read those tables and nothing else (no files, no
    network, no writes). Times are in UTC, as the tables hold them. Several statements print one result each."""
    folder = locate_run(out_dir)
    if folder is None or read_manifest(out_dir) is None:
        raise no_run(out_dir, f"run `touchless discover` with --out {out_dir} first")
    results = run_query(folder / DATABASE, query)
    if output_format is QueryFormat.table:
        for result in results:
            _print_table(result)
        return
    if len(results) != 1:
        raise QueryError(
            f"--format {output_format.value} writes the rows of one query; this one gives {len(results)} tables"
            + (": run its statements one at a time" if results else "")
        )
    if output_format is QueryFormat.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(results[0].columns)
        writer.writerows([_csv_value(v) for v in row] for row in results[0].rows)
    else:
        rows = [
            {name: None if isinstance(v, float) and not math.isfinite(v) else v for name, v in zip(names, row)}
            for names, row in ((results[0].columns, row) for row in results[0].rows)
        ]  # NaN and infinity are not JSON: null, as a strict parser (jq, a browser) needs
        sys.stdout.write(json.dumps(rows, default=_json_value, ensure_ascii=False, allow_nan=False) + "\n")


def _print_table(result: QueryResult) -> None:
    """Rows for a person: null shown as NULL (an empty text stays empty), as wide as the values need when the
    output goes to a file or a pipe (a terminal's width would squash every column of a wide query to nothing)."""
    table = Table(*result.columns, caption=f"{len(result.rows):,} row{'s' if len(result.rows) != 1 else ''}")
    for row in result.rows:
        table.add_row(*(Text("NULL", style="dim") if v is None else Text(str(v)) for v in row))
    if out.is_terminal:
        out.print(table)
    else:
        Console(width=Measurement.get(out, out.options.update_width(1 << 20), table).maximum).print(table)


def _csv_value(value):
    return json.dumps(value, default=_json_value, ensure_ascii=False) if isinstance(value, list | dict) else value


def _json_value(value):
    """What the JSON module cannot write by itself: times and dates as ISO text, decimals as numbers."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, timedelta):
        return value.total_seconds()
    return str(value)


def _overrides(
    *,
    text_column: str | None = None,
    id_column: str | None = None,
    columns: list[str] | None = None,
    dimensions: list[str] | None = None,
    date_format: str | None = None,
    input_kind: str | None = None,
    granularity: str | None = None,
    reasons: str | None = None,
    taxonomy: Path | None = None,
) -> dict:
    """CLI flags as config overrides, so they are validated like the config file."""
    if granularity and reasons:
        raise TouchlessError(
            f"--granularity {granularity} has no effect beside --reasons {reasons}, which sets the number of "
            "clusters itself: give one of the two"
        )
    contact_fields, message_fields = ColumnMap.model_fields, MessageColumnMap.model_fields
    mapped = [("text", text_column), ("contact_id", id_column), ("conversation_id", id_column)]
    for given in columns or []:
        field, sep, column = given.partition("=")
        field, column = field.strip(), column.strip()
        if not (sep and field and column):
            raise TouchlessError(f"--column takes FIELD=COLUMN, e.g. --column created_at=opened_on, not '{given}'")
        if field not in contact_fields and field not in message_fields:
            known = sorted(set(contact_fields) | set(message_fields))
            raise TouchlessError(f"--column {given}: '{field}' is not a field touchless knows ({', '.join(known)})")
        mapped.append((field, column))
    chosen: dict[str, str] = {}
    for field, column in mapped:
        if column and chosen.setdefault(field, column) != column:
            raise TouchlessError(
                f"two columns are given for {field}: '{chosen[field]}' and '{column}' (--column, --text-column or "
                "--id-column): give one"
            )
    input_: dict = {}
    for field, column in mapped:
        if column and field in contact_fields and field != "conversation_id":
            input_.setdefault("columns", {})[field] = column
        if column and field in message_fields and field != "contact_id":
            input_.setdefault("messages", {}).setdefault("columns", {})[field] = column
    if date_format:
        input_["date_format"] = date_format
    if dimensions:
        input_["dimensions"] = list(dimensions)
    if input_kind:
        input_["kind"] = input_kind
    overrides: dict = {"input": input_} if input_ else {}
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


def _run(kind: str, input: str, out_dir: str, config: Path | None, overrides: dict, verbose: bool, **params):
    """Call the `discover` or `assign` flow the one way the CLI and `serve` share: the config loaded once (for
    assign over the run's stored config), on the task runner it names; then print what reading found."""
    from flows.server import local_prefect_api, quiet_prefect

    quiet_prefect(verbose)
    if not verbose:  # Prefect's event sender says at exit that it is still sending: nothing a person can act on
        logging.getLogger("EventsWorker").setLevel(logging.ERROR)

    # Prefect's temporary server, which cannot outlive this process, starts first: it gets ready while the flows
    # are imported and the config is read
    with local_prefect_api() as prefect_ready:
        from flows.call import configured, settings

        if kind == "assign":
            from flows.assign import assign as flow
        else:
            from flows.discover import discover as flow
        cfg = settings(_path(config), overrides, stored_in=str(out_dir) if kind == "assign" else None)
        prefect_ready()
        result = configured(flow, cfg)(
            input_path=str(input),
            out_dir=str(out_dir),
            config_path=_path(config),
            overrides=overrides or None,
            show_progress=sys.stderr.isatty(),
            cfg=cfg,
            **params,
        )
    err.print(escape(result.columns), highlight=False, soft_wrap=True, style="dim")
    for warning in result.warnings:
        err.print("[yellow]warning:[/yellow]", escape(warning), highlight=False, soft_wrap=True)
    return result


def _path(location: Path | str | None) -> str | None:
    return str(location) if location else None


def _print_emerging(emerging: list[str]) -> None:
    if emerging:
        out.print("[bold]emerging:[/bold]", escape("; ".join(emerging[:10])), highlight=False, soft_wrap=True)


def _within(location: str, name: str) -> str:
    """A file of the run at `location`, a folder or a URL (a Path would fold its '//')."""
    return f"{location.rstrip('/')}/{name}" if is_remote(location) else str(Path(location) / name)


def _print_clusters(result) -> None:
    if is_remote(result.out_dir):
        import pandas as pd

        clusters = pd.read_parquet(_within(result.out_dir, "clusters.parquet"))
    else:
        clusters = Run.load(Path(result.out_dir)).frame("clusters")
    table = Table(title=f"{result.clusters} clusters in {result.contacts} contacts", title_justify="left")
    for name, justify in (
        ("id", "right"),
        ("size", "right"),
        ("share", "right"),
        ("label", "left"),
        ("typical contact", "left"),
    ):
        table.add_column(name, justify=justify, overflow="fold")
    for row in clusters.sort_values("size", ascending=False).head(15).itertuples():
        example = row.examples[0] if len(row.examples) else ""
        table.add_row(
            str(row.cluster_id), str(row.size), f"{row.share:.1%}", Text(row.label), Text(_shortened(example, 70))
        )
    out.print(table)
    if len(clusters) > 15:
        out.print(f"… and {len(clusters) - 15} more clusters")
    out.print(
        f"noise (in no cluster): {result.noise} of {result.contacts} ({result.noise / max(result.contacts, 1):.1%}); "
        f"embedded {result.embedded_new} new texts, {result.embedded_cached} from cache"
    )


def _queries_as_arguments(argv: list[str]) -> list[str]:
    """`touchless sql DIR "-- weekly dashboard ..."`: a saved query that starts with a comment looks like an option
    to the parser; an option never holds a space or a line break, so such a word is passed as the query (the
    query is sql's last argument)."""
    if not argv or argv[0] != "sql":
        return argv
    at = next((i for i, a in enumerate(argv) if a.startswith("-") and any(c.isspace() for c in a)), None)
    if at is None or "--" in argv[:at]:
        return argv
    return [*argv[:at], *argv[at + 1 :], "--", argv[at]]  # the query last, after '--': options may follow it


def main(argv: list[str] | None = None) -> None:
    """Every way a command can end, as one clear message and an exit code: a usage mistake (2), touchless's own
    error (2), a file system error such as a full disk (2), an interruption (130); anything else is a bug, told in
    one line with the traceback saved to a file."""
    from pipeline.run.folder import WRITTEN

    WRITTEN.clear()  # what this command writes (a process may run several: tests, a notebook)
    try:
        code = app(args=_queries_as_arguments(sys.argv[1:] if argv is None else argv), standalone_mode=False)
    except TouchlessError as exc:
        _fail(str(exc), 2)
    except (typer.Abort, KeyboardInterrupt):
        _fail(_aborted(), 130)
    except typer.TyperException as exc:  # usage: an unknown command or option, a missing or malformed value
        exc.show()
        sys.exit(getattr(exc, "exit_code", 2))
    except OSError as exc:
        full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
        _fail(
            f"{'the disk is full' if full else exc.strerror or exc}{f' ({exc.filename})' if exc.filename else ''}: "
            + (_after_written() or "nothing was changed in the output folder"),
            2,
        )
    except Exception as exc:  # a bug: one line here, the whole story in a file
        url = _prefect_unreachable(exc)
        if url:
            _fail(
                f"the Prefect server at {url} (PREFECT_API_URL) cannot be reached: start it (prefect server start), "
                "or unset PREFECT_API_URL to run on a temporary one (not for serve)",
                2,
            )
        log = cache_home() / "last-error.txt"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(traceback.format_exc())
        _fail(
            f"touchless failed unexpectedly ({type(exc).__name__}: {exc}); the details are in {log}; please "
            "report it with that file",
            3,
        )
    # outside standalone mode typer returns the code of an exit instead of raising it, Ctrl-C's (130) included:
    # read as a return value, an interrupted run ended 0, a success to a scheduler
    if code == 130:
        _fail(_aborted(), 130)
    if isinstance(code, int) and code:
        sys.exit(code)


def _prefect_unreachable(exc: BaseException) -> str | None:
    """The URL of the Prefect server PREFECT_API_URL names, when `exc` says it does not answer: the user's to start,
    not a touchless bug."""
    import httpx
    from prefect.settings import PREFECT_API_URL

    seen: BaseException | None = exc
    visited: set[int] = set()
    while seen is not None and id(seen) not in visited:  # a re-raised error can make the chain a loop
        visited.add(id(seen))
        if isinstance(seen, httpx.ConnectError) or "Failed to reach API" in str(seen):
            return PREFECT_API_URL.value() or None
        seen = seen.__cause__ or seen.__context__
    return None


def _shortened(text: str, width: int) -> str:
    """`text` cut to `width` at a word's end (a cut mid-word or mid-placeholder reads as another word)."""
    short = textwrap.shorten(text, width, placeholder=" …")
    return short if short != "…" else text[: width - 1] + "…"


def _aborted() -> str:
    """What an interruption left: nothing changed, or a run already written in full (Ctrl-C after the new run was
    in place, while its summary, artifacts and events were made: it read as if nothing had been written)."""
    written = _after_written()
    return f"aborted {written}" if written else "aborted"


def _after_written() -> str:
    """'after the new run was written: ...' when this command replaced a run folder before it stopped, else ''."""
    from pipeline.run.folder import WRITTEN

    if not WRITTEN:
        return ""
    folders = ", ".join(str(folder) for folder in WRITTEN)
    return (
        f"after the new run was written: {folders} holds it, complete; what follows a run (its summary here, Prefect's "
        "artifacts and events) may not have been done"
    )


def _fail(message: str, code: int) -> None:
    err.print("[red]error:[/red]", escape(message), highlight=False, soft_wrap=True)
    sys.exit(code)


if __name__ == "__main__":
    main()

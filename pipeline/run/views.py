"""DuckDB views over a run's tables for the questions analysts ask most, with numbers rounded for reading.

The tables keep full precision (they are the contract, `docs/outputs.md`); the views answer a question each:
`top_causes`, `emerging_causes`, `reason_summary`, `reason_clusters`, `cause_contacts`, `weekly_touch_index` and
`cost_by_owner` (`docs/sql.md` shows every view's SQL). Touches are whole numbers, rates are percentages with one
decimal. Columns a run may not have yet (a reason's `owner`, a cause's `cost`) read as null, so every view exists
in every run and a query written today keeps working.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipeline.errors import InputError, QueryError

# {owner}, {owner_join} and {cost} are filled by what the run holds (see `create_views`)
VIEWS: dict[str, str] = {
    "top_causes": """
SELECT r.rank, r.name, r.reason_id, r.cluster_id,
       CAST(round(r.touches) AS BIGINT) AS touches, r.issues, r.contacts,
       round(r.touches_per_issue, 2) AS touches_per_issue,
       round(100 * r.repeat_contact_rate, 1) AS repeat_contact_pct,
       round(100 * r.one_touch_rate, 1) AS one_touch_pct,
       round(r.handle_time_s / 3600, 1) AS handle_hours,
       {owner} AS owner, {cost} AS cost, r.trend, r.why
FROM ranking r{owner_join}
ORDER BY r.rank""",
    "emerging_causes": """
SELECT * FROM top_causes
WHERE trend IN ('new', 'growing')
ORDER BY trend = 'new' DESC, touches DESC, rank""",
    "reason_summary": """
SELECT reason_id, name, parent, kind, contacts, round(100 * share, 1) AS share_pct, issues,
       CAST(round(coalesce(issues * touches_per_issue, 0)) AS BIGINT) AS touches,
       round(touches_per_issue, 2) AS touches_per_issue,
       round(100 * repeat_contact_rate, 1) AS repeat_contact_pct,
       round(100 * one_touch_rate, 1) AS one_touch_pct,
       round(handle_time_s / 3600, 1) AS handle_hours,
       round(mean_score, 3) AS mean_score, {reason_owner} AS owner, trend
FROM reasons
ORDER BY touches DESC, reason_id""",
    "reason_clusters": """
SELECT reason_id, reason_name, cluster_id, cluster_label, contacts,
       round(100.0 * contacts / sum(contacts) OVER (PARTITION BY reason_id), 1) AS pct_of_reason
FROM (
    SELECT c.reason_id, r.name AS reason_name, c.cluster_id, k.label AS cluster_label, count(*) AS contacts
    FROM contacts c
    JOIN reasons r ON r.reason_id = c.reason_id
    JOIN clusters k ON k.cluster_id = c.cluster_id
    GROUP BY c.reason_id, r.name, c.cluster_id, k.label
)
ORDER BY reason_id, contacts DESC, cluster_id""",
    "cause_contacts": """
SELECT c.contact_id, c.created_at, c.reason_id, r.name AS reason_name, c.cluster_id, k.label AS cluster_label,
       c.issue_id, c.touch, c.channel, c.customer_id, c.reason AS agent_reason, c.text_reason_id,
       {withheld} AS withheld_reason_id, c.text
FROM contacts c
LEFT JOIN reasons r ON r.reason_id = c.reason_id
LEFT JOIN clusters k ON k.cluster_id = c.cluster_id""",
    "weekly_touch_index": """
SELECT week, scope, reason_id, cluster_id, name, contacts, CAST(round(volume) AS BIGINT) AS volume,
       round(per_1000, 2) AS per_1000, round(rolling_6w, 2) AS rolling_6w, trend, {index_cost} AS cost,
       {index_complete} AS complete
FROM touch_index
ORDER BY scope <> 'overall', name, week""",
    # summed from the ranking's exact values, then rounded: a sum of rounded values drifts (+0.07 h on 12 causes)
    "cost_by_owner": """
SELECT coalesce({owner}, '(no owner)') AS owner, count(*) AS causes, CAST(sum(r.contacts) AS BIGINT) AS contacts,
       CAST(round(sum(r.touches)) AS BIGINT) AS touches, round(sum(r.handle_time_s) / 3600, 1) AS handle_hours,
       round(sum({exact_cost}), 2) AS cost
FROM ranking r{owner_join}
GROUP BY 1
ORDER BY cost DESC NULLS LAST, touches DESC, owner""",
}


def create_views(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Create (or replace) every view on a connection that holds the run's tables; returns their names."""
    ranking, reasons, index = _columns(con, "ranking"), _columns(con, "reasons"), _columns(con, "touch_index")
    contacts = _columns(con, "contacts")
    if "owner" in ranking:
        owner, owner_join = "r.owner", ""
    elif "owner" in reasons:
        owner, owner_join = "o.owner", "\nLEFT JOIN reasons o ON o.reason_id = r.reason_id"
    else:
        owner, owner_join = "CAST(NULL AS VARCHAR)", ""
    fill = {
        "owner": owner,
        "owner_join": owner_join,
        "cost": "round(r.cost, 2)" if "cost" in ranking else "CAST(NULL AS DOUBLE)",
        "exact_cost": "r.cost" if "cost" in ranking else "CAST(NULL AS DOUBLE)",
        "reason_owner": "owner" if "owner" in reasons else "CAST(NULL AS VARCHAR)",
        "index_cost": "round(cost, 2)" if "cost" in index else "CAST(NULL AS DOUBLE)",
        "index_complete": "complete" if "complete" in index else "CAST(NULL AS BOOLEAN)",
        "withheld": "c.withheld_reason_id" if "withheld_reason_id" in contacts else "CAST(NULL AS VARCHAR)",
    }
    for name, sql in VIEWS.items():
        con.execute(f'CREATE OR REPLACE VIEW "{name}" AS {sql.format(**fill)}')
    return list(VIEWS)


def open_run_views(folder: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory database whose tables are views over the run's Parquet files, with the views above: what the
    review app queries, whether or not the run's own DuckDB file holds the views yet."""
    con = duckdb.connect()
    for path in sorted(Path(folder).glob("*.parquet")):
        if path.stem.isidentifier():
            quoted = str(path).replace("'", "''")
            con.execute(f"CREATE VIEW \"{path.stem}\" AS SELECT * FROM read_parquet('{quoted}')")
    create_views(con)
    return con


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    types: list[str]
    rows: list[tuple]


def run_query(db: Path, query: str) -> list[QueryResult]:
    """A person's SQL over a run's database, one result per statement that returns rows. Read only, the run's
    tables alone (no files, network or extensions), settings locked; the session's time zone is UTC, as the
    tables' times and weeks are, so a query groups times the same way on every machine (DuckDB would otherwise
    read them in the caller's time zone). Raises `InputError` for a database that cannot be opened and
    `QueryError` for a query that fails."""
    if not query.strip():
        raise QueryError('the query is empty: give the SQL to run, e.g. "SELECT * FROM top_causes LIMIT 10"')
    try:
        con = duckdb.connect(str(db), read_only=True, config=_LOCKED)
    except duckdb.Error as exc:
        raise InputError(
            f"the run's database cannot be opened ({exc}); every run writes it beside its Parquet tables, which "
            "hold the same data, and the next discover or assign into this folder writes it again",
            file=str(db),
        ) from None
    with con:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET lock_configuration = true")
        results = []
        try:  # a query can fail while it runs too ("cast(text as int)"), not only when it is read
            statements = con.extract_statements(query)
            if not statements:  # only a comment, or only ';'
                raise QueryError(f"the query holds no statement, only comments or ';': {query.strip()[:80]!r}")
            for statement in statements:
                relation = con.sql(statement.query)
                if relation is not None:
                    results.append(QueryResult(relation.columns, [str(t) for t in relation.types], relation.fetchall()))
        except duckdb.Error as exc:
            raise QueryError(f"the query failed: {exc}") from None
    return results


_LOCKED = {"enable_external_access": False, "autoinstall_known_extensions": False, "autoload_known_extensions": False}


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    rows = con.execute("SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]).fetchall()
    return {r[0] for r in rows}

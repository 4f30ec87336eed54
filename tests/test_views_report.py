"""Analysts' views and the static report: every view answers on a real run (touches whole numbers, rates
rounded), and the report is one self-contained page with server-drawn charts that shows owners, costs and
drivers when a run has them and works without them."""

from __future__ import annotations

import shutil

import duckdb
import pyarrow as pa

from pipeline.run.folder import DATABASE, Run
from pipeline.run.report import report_page
from pipeline.run.views import VIEWS, create_views, open_run_views


def test_every_view_answers_with_numbers_rounded_for_reading(six_intents_run, tmp_path):
    source, _ = six_intents_run
    database = tmp_path / DATABASE
    shutil.copyfile(source / DATABASE, database)
    with duckdb.connect(str(database)) as con:
        assert create_views(con) == list(VIEWS)
        for name in VIEWS:
            con.sql(f"SELECT * FROM {name}").fetchall()
        top = con.sql("SELECT rank, touches, touches_per_issue FROM top_causes").df()
        ranking = con.sql("SELECT rank, touches FROM ranking ORDER BY rank").df()
        assert str(top["touches"].dtype) == "int64" and top["rank"].tolist() == ranking["rank"].tolist()
        assert (top["touches"] == ranking["touches"].round()).all()
        assert (top["touches_per_issue"].round(2) == top["touches_per_issue"]).all()
        owners = con.sql("SELECT owner, touches FROM cost_by_owner").fetchall()
        assert owners == [("(no owner)", int(top["touches"].sum()))]  # no owners yet: one row, nothing lost
        # per owner, the exact hours are summed, then rounded: 150 s a cause reads 0.0 h in top_causes
        con.execute("UPDATE ranking SET handle_time_s = 150")
        hours = con.execute("SELECT handle_hours FROM cost_by_owner").fetchone()[0]
        assert hours == round(len(top) * 150 / 3600, 1) > 0
        contacts = con.execute("SELECT count(*) FROM cause_contacts").fetchone()[0]
        assert contacts == con.execute("SELECT count(*) FROM contacts").fetchone()[0]
    with open_run_views(source) as con:  # the same views straight over the Parquet files
        assert con.execute("SELECT count(*) FROM top_causes").fetchone()[0] == len(top)


def test_the_report_is_one_page_without_scripts_and_shows_owners_costs_and_drivers_when_present(six_intents_run):
    source, _ = six_intents_run
    run = Run.load(source)
    plain = report_page(run)
    assert "<script" not in plain and "src=" not in plain
    assert "Top causes by touches" in plain and "no dates" in plain and "Cost by owner" not in plain
    # no dates, no customer or ticket ids: said, never shown as measured ("1.00 per issue, 0% repeat")
    assert "what is new or growing cannot be told" in plain and "No cause is new or growing" not in plain
    assert "no customer or ticket ids" in plain and ">n/a<" in plain
    assert "run written now" not in plain and " UTC" in plain

    ranking = run.tables["ranking"]
    first = ranking.column("cluster_id")[0].as_py()
    owned = ranking.set_column(
        ranking.schema.get_field_index("owner"), "owner", pa.array(["Cards team"] * ranking.num_rows)
    ).set_column(ranking.schema.get_field_index("cost"), "cost", pa.array([120.0] * ranking.num_rows))
    drivers = pa.table(
        {
            "scope": ["cluster"],
            "reason_id": pa.array([None], pa.string()),
            "cluster_id": [first],
            "column": ["plan"],
            "value": ["<b>Basic</b>"],
            "contacts": [30],
            "share_in": [0.62],
            "share_out": [0.05],
            "lift": [12.4],
            "q_value": [0.001],
        }
    )
    richer = Run(run.manifest, {**dict(run.tables), "ranking": owned, "drivers": drivers}, None)
    page = report_page(richer)
    assert "Cost by owner" in page and "Cards team" in page and f"{120 * ranking.num_rows:,}" in page
    assert "cost (EUR)" in page  # the currency of the config the run was made with
    assert "62% on plan &lt;b&gt;Basic&lt;/b&gt; against 5% of other clusters&#39; contacts" in page


def test_a_cluster_cause_s_weekly_counts_are_of_its_contacts_without_a_reason():
    """The report's sparkline of a cluster ranked as a cause counted the whole cluster (its contacts with a reason
    are ranked under that reason): '6 last, 17 most' where the cause had '3 last, 11 most'."""
    import pandas as pd

    from pipeline.overtime.ranking import cluster_cause_contacts
    from pipeline.run.insights import Cause, count_lines, weekly_counts

    contacts = pd.DataFrame(
        {
            "created_at": pd.to_datetime(
                ["2026-03-02", "2026-03-03", "2026-03-09", "2026-03-10", "2026-03-11"], utc=True
            ),
            "reason_id": [None, "card_arrival", None, None, "card_arrival"],
            "cluster_id": [6, 6, 6, 6, 6],
        }
    )
    loose = cluster_cause_contacts(contacts, has_taxonomy=True)
    _, weekly = weekly_counts(contacts, loose, weeks=2)
    assert weekly[("cluster", "6")] == [1, 2] and weekly[("reason", "card_arrival")] == [1, 1]
    cause = Cause(
        rank=1,
        key=("cluster", "6"),
        name="card stolen",
        reason_id=None,
        cluster_id=6,
        touches=3,
        issues=3,
        contacts=3,
        touches_per_issue=1.0,
        repeat_contact_rate=0.0,
        handle_hours=None,
        trend=None,
        why="",
    )
    lines = count_lines(contacts, [cause], loose)
    assert [value for _, value in lines[1].points] == [1.0, 2.0] and lines[0].points[-1][1] == 3.0


def test_a_split_s_contacts_are_its_reason_s_with_those_held_back_from_it(six_intents_run):
    """A split counts its reason's contacts, those held back while a new reason is proposed too (99); its list
    showed only the others (74)."""
    from pipeline.app.state import proposal_scope
    from pipeline.taxonomy.proposals import Proposal

    split = Proposal(
        kind="split",
        reason_ids=["r1"],
        cluster_ids=[1, 2],
        name="Split",
        description="",
        confidence=0.5,
        contacts=2,
        touches=2,
        keywords=[],
        examples=[],
        evidence="",
    )
    where, params = proposal_scope(split, None)
    with duckdb.connect() as con:
        con.execute(
            "CREATE TABLE cause_contacts AS SELECT * FROM (VALUES ('a', 'r1', NULL), ('b', NULL, 'r1'), "
            "('c', 'r2', NULL), ('d', NULL, NULL)) t(contact_id, reason_id, withheld_reason_id)"
        )
        found = con.execute(f"SELECT contact_id FROM cause_contacts WHERE {where} ORDER BY 1", params).fetchall()
    assert found == [("a",), ("b",)]
    with open_run_views(six_intents_run[0]) as con:  # the view holds the column the app filters on
        assert "withheld_reason_id" in [c[0] for c in con.execute("DESCRIBE cause_contacts").fetchall()]


def test_a_cluster_cause_s_contacts_page_lists_the_contacts_it_counts():
    """The review app's contacts of a cluster ranked as a cause listed its contacts with a reason too."""
    from pipeline.app.state import cause_scope

    where, params = cause_scope(None, 6)
    with duckdb.connect() as con:
        con.execute(
            "CREATE TABLE cause_contacts AS SELECT * FROM (VALUES ('a', NULL, 6), ('b', 'card_arrival', 6), "
            "('c', NULL, 7)) t(contact_id, reason_id, cluster_id)"
        )
        found = con.execute(f"SELECT contact_id FROM cause_contacts WHERE {where}", params).fetchall()
    assert found == [("a",)]

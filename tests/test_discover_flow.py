"""The discover flow end to end on real data: real model, real UMAP/HDBSCAN, real Prefect, real DuckDB."""

from __future__ import annotations

import duckdb
import pandas as pd
import pyarrow.parquet as pq
from sklearn.metrics import normalized_mutual_info_score

from tests.conftest import SIX_INTENTS


def test_flow_recovers_the_six_intents(six_intents_run, six_intents):
    out, result = six_intents_run
    contacts = pd.read_parquet(out / "contacts.parquet").merge(six_intents[["contact_id", "intent"]], on="contact_id")
    assert len(contacts) == 300
    nmi = normalized_mutual_info_score(contacts["intent"], contacts["cluster_id"])
    assert nmi >= 0.7, f"NMI {nmi:.3f}"
    assert 4 <= result.clusters <= 20


def test_outputs_follow_the_contract(six_intents_run):
    out, result = six_intents_run
    contacts = pq.read_table(out / "contacts.parquet")
    clusters = pq.read_table(out / "clusters.parquet")
    assert {"contact_id", "cluster_id", "probability"} <= set(contacts.column_names)
    assert {"cluster_id", "label", "keywords", "size", "examples"} <= set(clusters.column_names)
    frame = clusters.to_pandas()
    assert frame["size"].sum() == result.clustered
    assert all(1 <= len(e) <= 5 for e in frame["examples"])
    assert all(len(k) > 0 for k in frame["keywords"])


def test_duckdb_file_answers_queries(six_intents_run):
    out, _ = six_intents_run
    with duckdb.connect(str(out / "touchless.duckdb"), read_only=True) as db:
        (n,) = db.execute("SELECT count(*) FROM contacts").fetchone()
        joined = db.execute(
            "SELECT count(*) FROM contacts JOIN clusters USING (cluster_id) WHERE contacts.cluster_id >= 0"
        ).fetchone()[0]
        sizes = db.execute("SELECT sum(size) FROM clusters").fetchone()[0]
    assert n == 300
    assert joined == sizes


def test_second_run_embeds_nothing_and_finds_the_same_clusters(six_intents_run, tmp_path, test_config):
    from flows.discover import discover

    first_out, first = six_intents_run
    second = discover(input_path=str(SIX_INTENTS), out_dir=str(tmp_path / "again"), config_path=str(test_config))
    assert second.embedded_new == 0
    assert second.embedded_cached == 300
    a = pd.read_parquet(first_out / "contacts.parquet")
    b = pd.read_parquet(tmp_path / "again" / "contacts.parquet")
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(
        pd.read_parquet(first_out / "clusters.parquet"), pd.read_parquet(tmp_path / "again" / "clusters.parquet")
    )

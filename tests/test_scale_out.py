"""Scale-out: embedding partitions on a local Dask cluster give the same run; big sets cluster on a sample."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.config import load_config
from pipeline.model.cluster import cluster_contacts
from tests.conftest import SIX_INTENTS


def test_embedding_partitions_run_on_a_local_dask_cluster(tmp_path, six_intents_run):
    from flows.discover import discover
    from flows.runner import task_runner

    cache = tmp_path / "cache"  # a fresh cache: every partition is embedded on the cluster
    config = tmp_path / "config.yaml"
    config.write_text(f"embedding:\n  cache_dir: {cache}\n  partition_size: 80\nrunner:\n  kind: dask\n  workers: 2\n")
    cfg = load_config(config)
    runner = task_runner(cfg.runner)
    result = discover.with_options(task_runner=runner)(
        input_path=str(SIX_INTENTS), out_dir=str(tmp_path / "out"), config_path=str(config)
    )
    assert result.embedded_new == 300 and result.embedded_cached == 0
    reference = pd.read_parquet(six_intents_run[0] / "contacts.parquet")
    on_dask = pd.read_parquet(tmp_path / "out" / "contacts.parquet")
    agreement = (reference["cluster_id"] == on_dask["cluster_id"]).mean()
    assert agreement >= 0.95, agreement  # the same partitions of the same texts: the same vectors to 1e-6


def test_very_large_sets_are_clustered_on_a_sample(embedding_cache):
    from pipeline.model.embed import Embedder

    cfg = load_config(overrides={"embedding": {"cache_dir": str(embedding_cache)}, "cluster": {"sample_size": 150}})
    texts = pd.read_csv(SIX_INTENTS)["text"].tolist()
    vectors = Embedder(cfg.embedding).embed(texts).vectors
    found = cluster_contacts(vectors, cfg.cluster, cfg.reduce, cfg.seed, texts)
    assert (found.labels >= 0).mean() >= 0.9  # the 150 outside the sample joined clusters
    assert len(np.unique(found.labels[found.labels >= 0])) >= 4

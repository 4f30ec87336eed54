"""Inputs and outputs by URL (fsspec): an in-memory filesystem stands in for s3:// and the like."""

from __future__ import annotations

import fsspec
import pandas as pd

from tests.conftest import SIX_INTENTS


def test_a_run_reads_and_writes_through_urls(test_config):
    from flows.discover import discover

    fs = fsspec.filesystem("memory")
    fs.pipe("/lake/exports/contacts.csv", SIX_INTENTS.read_bytes())
    result = discover(
        input_path="memory://lake/exports/contacts.csv",
        out_dir="memory://lake/touchless/run",
        config_path=str(test_config),
    )
    assert result.out_dir == "memory://lake/touchless/run"
    names = {p.rsplit("/", 1)[-1] for p in fs.find("/lake/touchless/run")}
    assert {"contacts.parquet", "clusters.parquet", "touchless.duckdb", "run.json", "clusters.npz"} <= names
    with fs.open("/lake/touchless/run/contacts.parquet", "rb") as fh:
        assert len(pd.read_parquet(fh)) == 300
    # a second run replaces the folder as a whole, and keeps cluster ids through the pulled previous run
    again = discover(
        input_path="memory://lake/exports/contacts.csv",
        out_dir="memory://lake/touchless/run",
        config_path=str(test_config),
    )
    assert again.embedded_new == 0
    assert not [p for p in fs.find("/lake/touchless") if ".staging-" in p]
    with fs.open("/lake/touchless/run/lineage.parquet", "rb") as fh:
        assert set(pd.read_parquet(fh)["relation"]) == {"continued"}


def test_a_remote_folder_that_is_not_a_run_is_refused_and_kept(test_config):
    from flows.discover import discover
    from pipeline.errors import OutputError

    fs = fsspec.filesystem("memory")
    fs.pipe("/lake/exports/contacts.csv", SIX_INTENTS.read_bytes())
    fs.pipe("/lake/notes/important.txt", b"the user's own notes")
    try:
        discover(
            input_path="memory://lake/exports/contacts.csv",
            out_dir="memory://lake/notes",
            config_path=str(test_config),
        )
    except OutputError as error:
        assert "important.txt" in str(error) and "no touchless run" in str(error)
    else:
        raise AssertionError("a folder holding someone's files was taken as an output folder")
    assert fs.cat("/lake/notes/important.txt") == b"the user's own notes"
    assert fs.find("/lake/notes") == ["/lake/notes/important.txt"]


def test_the_command_line_keeps_a_url_a_url(test_config):
    """The command typed its input and --out as paths, which fold 'memory://lake/x' into 'memory:/lake/x': the run
    went to a local folder named 'memory:' and said it was done."""
    from tests.conftest import run_cli

    fs = fsspec.filesystem("memory")
    fs.pipe("/cli/exports/contacts.csv", SIX_INTENTS.read_bytes())
    code = run_cli(
        "discover", "memory://cli/exports/contacts.csv", "--out", "memory://cli/run", "--config", str(test_config)
    )
    assert code == 0
    assert fs.exists("/cli/run/run.json") and fs.exists("/cli/run/contacts.parquet")


def test_a_file_url_as_output_is_that_folder(tmp_path, test_config, monkeypatch):
    """`--out file:///x` wrote to a folder named 'file:' under the working folder."""
    from tests.conftest import run_cli

    monkeypatch.chdir(tmp_path)
    out = tmp_path / "runs" / "one"
    assert run_cli("discover", str(SIX_INTENTS), "--out", f"file://{out}", "--config", str(test_config)) == 0
    assert (out / "run.json").is_file() and not (tmp_path / "file:").exists()
    assert run_cli("assign", str(SIX_INTENTS), "--out", f"file://{out}", "--config", str(test_config)) == 0

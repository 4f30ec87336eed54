"""The `touchless` command as a person uses it: documented files, clear errors, nothing lost on bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from tests.conftest import SIX_INTENTS, run_cli, tree_digest


def test_discover_writes_the_documented_files(tmp_path, test_config, capsys):
    data = pd.read_csv(SIX_INTENTS).rename(columns={"text": "body", "contact_id": "ticket_number"})
    data.to_json(tmp_path / "export.jsonl", orient="records", lines=True)
    out = tmp_path / "out"
    code = run_cli(
        "discover",
        str(tmp_path / "export.jsonl"),
        "--out",
        str(out),
        "--config",
        str(test_config),
        "--text-column",
        "body",
        "--id-column",
        "ticket_number",
    )
    assert code == 0
    assert {p.name for p in out.iterdir()} >= {"contacts.parquet", "clusters.parquet", "touchless.duckdb", "run.json"}
    printed = capsys.readouterr().out
    assert "clusters in 300 contacts" in printed
    with duckdb.connect(str(out / "touchless.duckdb"), read_only=True) as db:
        assert db.execute("SELECT count(DISTINCT contact_id) FROM contacts").fetchone()[0] == 300
    assert run_cli("sql", str(out), "SELECT count(*) AS n FROM clusters") == 0
    assert " n " in capsys.readouterr().out


@pytest.fixture()
def existing_output(six_intents_run, tmp_path) -> Path:
    out = tmp_path / "existing"
    shutil.copytree(six_intents_run[0], out)
    return out


BAD_INPUTS = {
    "missing_text_column": (b"contact_id,body\n1,hello there\n", "required column 'text' is missing"),
    "empty_file": (b"", "file is empty"),
    "duplicate_ids": (b"contact_id,text\n1,my card is lost\n2,where is my card\n1,refund please\n", "'1' (rows 1, 3)"),
    "non_utf8": (b"contact_id,text\n1,caf\xe9 payment failed\n", "line 2"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_named_and_leaves_the_output_untouched(case, existing_output, tmp_path, test_config, capsys):
    content, expected = BAD_INPUTS[case]
    bad = tmp_path / f"{case}.csv"
    bad.write_bytes(content)
    before = tree_digest(existing_output)
    code = run_cli("discover", str(bad), "--out", str(existing_output), "--config", str(test_config))
    message = capsys.readouterr().err
    assert code == 2
    assert str(bad) in message and expected in message, message
    assert "Traceback" not in message
    assert tree_digest(existing_output) == before


def test_unknown_config_key_is_named_in_one_message(tmp_path):
    """Through the installed command's entry, which starts Prefect's temporary server first: the server, still
    starting when the config fails, was stopped so that it printed a shutdown traceback above the message."""
    import os
    import subprocess
    import sys

    config = tmp_path / "config.yaml"
    config.write_text("cluster:\n  min_clustr_size: 5\n")
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_LOGGING_LEVEL"}  # as a user's shell has it
    done = subprocess.run(
        [sys.executable, "-m", "flows", "discover", str(SIX_INTENTS), "--out", str(tmp_path / "out")]
        + ["--config", str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("error: the config is not valid:"), done.stderr
    assert "unknown key 'cluster.min_clustr_size'" in done.stderr and "min_cluster_size" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "setting, message",
    [
        ("seed: -5\n", "'seed'"),  # passed, then failed after the embedding with a bug's exit
        ("prepare:\n  language:\n    expected: [english]\n", "two-letter ISO 639-1 codes"),  # 81% set aside
        ("ranking:\n  weights: {touches: -1}\n", "'ranking.weights.touches'"),  # the ranking upside down
        # infinite costs and scores, stored as null in run.json, where a later assign then failed
        ("cost:\n  per_contact: .inf\n", "'cost.per_contact' .*finite number"),
        ("cluster:\n  resolution: .inf\n", "'cluster.resolution' .*finite number"),  # every contact in no cluster
        ("cluster:\n  min_cluster_size: true\n", "'cluster.min_cluster_size' .*takes numbers, not true"),  # as 1
        ("cluster:\n  target_reasons: [true, 5]\n", "'cluster.target_reasons' .*takes numbers"),  # as (1, 5)
        ("ranking:\n  weights: {touches: true}\n", "'ranking.weights' .*takes numbers"),  # as 1.0
    ],
)
def test_a_setting_that_would_fail_late_or_mislead_is_refused_at_once(setting, message, tmp_path):
    from pipeline.config import load_config
    from pipeline.errors import ConfigError

    config = tmp_path / "config.yaml"
    config.write_text(setting)
    with pytest.raises(ConfigError, match=message):
        load_config(config)


def test_a_taxonomy_path_is_kept_whole_and_a_blank_one_is_none(tmp_path, monkeypatch):
    from pipeline.config import load_config

    monkeypatch.chdir(tmp_path)
    assert load_config(overrides={"taxonomy": {"path": "t.yaml"}}).taxonomy.path == str(tmp_path.resolve() / "t.yaml")
    assert load_config(overrides={"taxonomy": {"path": " "}}).taxonomy.path is None  # no taxonomy, not this folder


def test_a_run_made_before_a_setting_existed_still_loads():
    """`assign` reads the config a run was made with; settings added since then take their defaults."""
    from pipeline.config import load_config

    older = load_config().model_dump()
    del older["taxonomy"]["self_training"]
    older["seed"] = 7  # the run's own settings are kept
    loaded = load_config(base=older)
    assert loaded.taxonomy.self_training == load_config().taxonomy.self_training and loaded.seed == 7


def test_refuses_to_replace_a_folder_it_did_not_write(tmp_path, test_config, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    code = run_cli("discover", str(SIX_INTENTS), "--out", str(folder), "--config", str(test_config))
    assert code == 2
    assert "did not write" in capsys.readouterr().err
    assert (folder / "notes.txt").read_text() == "keep me"


def test_a_dimension_read_also_as_a_field_is_kept_under_its_own_name(tmp_path, test_config):
    """`--column channel=source --dimension source`: `source` is the channel and a dimension; the contacts table
    holds both, and the run does not stop at writing."""
    data = pd.read_csv(SIX_INTENTS)
    data["source"] = ["app", "web", "phone"] * (len(data) // 3) + ["app"] * (len(data) % 3)
    data.to_csv(tmp_path / "export.csv", index=False)
    out = tmp_path / "out"
    code = run_cli(
        "discover",
        str(tmp_path / "export.csv"),
        "--out",
        str(out),
        "--config",
        str(test_config),
        "--column",
        "channel=source",
        "--dimension",
        "source",
    )
    assert code == 0
    contacts = pd.read_parquet(out / "contacts.parquet").set_index("contact_id")
    expected = data.set_index("contact_id")["source"]
    assert (contacts["source"] == expected.loc[contacts.index]).all()
    assert (contacts["channel"] == expected.loc[contacts.index]).all()


def test_a_daily_file_whose_dates_do_not_tell_is_read_as_the_run_read_its_first(tmp_path, test_config):
    """The run's export is day-first (28/08/2026 tells); the daily file of 1-9 September alone could be read either
    way. `assign` reads it day-first, as the run did, instead of stopping or guessing."""
    data = pd.read_csv(SIX_INTENTS)
    days = pd.Timestamp("2026-08-01") + pd.to_timedelta(range(len(data)), unit="h") * 2
    data["created_at"] = days.strftime("%d/%m/%Y %H:%M")
    data.iloc[:250].to_csv(tmp_path / "export.csv", index=False)
    daily = data.iloc[250:].copy()
    daily["created_at"] = [f"0{1 + i % 9}/09/2026 10:00" for i in range(len(daily))]
    daily.to_csv(tmp_path / "daily.csv", index=False)
    out = tmp_path / "out"
    assert run_cli("discover", str(tmp_path / "export.csv"), "--out", str(out), "--config", str(test_config)) == 0
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["report"]["date_orders"] == {"created_at": "day-first"}
    assert run_cli("assign", str(tmp_path / "daily.csv"), "--out", str(out), "--config", str(test_config)) == 0
    contacts = pd.read_parquet(out / "contacts.parquet").set_index("contact_id")
    added = contacts.loc[daily["contact_id"], "created_at"]
    assert (added.dt.month == 9).all() and sorted(added.dt.day.unique()) == list(range(1, 10))


def test_assign_from_another_folder_reads_the_taxonomy_the_run_read(tmp_path, test_config, monkeypatch):
    """`--taxonomy tax.yaml` is read where the command runs; the run stored it as given, so an `assign` run from a
    folder holding another tax.yaml read every contact's reason again against that one (without one: an error)."""
    import yaml

    team, elsewhere = tmp_path / "team", tmp_path / "elsewhere"
    team.mkdir()
    elsewhere.mkdir()
    reasons = [{"id": "pin", "name": "Change PIN", "examples": ["how do I change my PIN?"]}]
    (team / "tax.yaml").write_text(yaml.safe_dump({"version": 1, "reasons": reasons}))
    other = [{"id": "refund", "name": "Refund", "examples": ["I want my money back"]}]
    (elsewhere / "tax.yaml").write_text(yaml.safe_dump({"version": 7, "reasons": other}))
    data = pd.read_csv(SIX_INTENTS)
    data.iloc[:250].to_csv(tmp_path / "export.csv", index=False)
    data.iloc[250:].to_csv(tmp_path / "daily.csv", index=False)
    out = tmp_path / "out"
    monkeypatch.chdir(team)
    discover = ["discover", str(tmp_path / "export.csv"), "--out", str(out), "--config", str(test_config)]
    assert run_cli(*discover, "--taxonomy", "tax.yaml") == 0
    stored = json.loads((out / "run.json").read_text())
    assert stored["config"]["taxonomy"]["path"] == str(team / "tax.yaml")
    stored["config"]["taxonomy"]["path"] = "tax.yaml"  # as a run made before paths were kept absolute has it
    (out / "run.json").write_text(json.dumps(stored))
    monkeypatch.chdir(elsewhere)
    assert run_cli("assign", str(tmp_path / "daily.csv"), "--out", str(out), "--config", str(test_config)) == 0
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["taxonomy"] == str(team / "tax.yaml") and manifest["taxonomy_version"] == 1
    assert manifest["config"]["taxonomy"]["path"] == str(team / "tax.yaml")
    assert set(pd.read_parquet(out / "contacts.parquet")["reason_id"].dropna()) <= {"pin"}


@pytest.mark.parametrize("command", ["discover", "demo"])
def test_the_folder_the_command_runs_in_is_refused_as_its_output(command, tmp_path, test_config, capsys, monkeypatch):
    """A run replaces its output folder whole: `--out .` wrote the run, pulled the folder from under the shell,
    then failed on the missing working folder and said nothing was changed (the demo failed on '.' having no name)."""
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    given = [str(SIX_INTENTS), "--config", str(test_config)] if command == "discover" else []
    assert run_cli(command, *given, "--out", ".") == 2
    assert "is the folder this command runs in" in capsys.readouterr().err
    assert here.is_dir() and not any(here.iterdir()) and sorted(p.name for p in tmp_path.iterdir()) == ["here"]


def test_a_range_of_reasons_the_data_cannot_give_is_said(tmp_path, test_config):
    """--reasons 40-50 on 300 contacts of six intents: no partition keeps that many clusters (finer, every group
    is a sliver). The run keeps the nearest and says so; it kept none and said nothing."""
    out = tmp_path / "out"
    assert (
        run_cli("discover", str(SIX_INTENTS), "--out", str(out), "--config", str(test_config), "--reasons", "40-50")
        == 0
    )
    clusters = pd.read_parquet(out / "clusters.parquet")
    assert len(clusters) >= 15
    warnings = json.loads((out / "run.json").read_text())["report"]["warnings"]
    assert any(f"asked for 40-50 clusters; the run has {len(clusters)}" in w for w in warnings), warnings


def test_a_prefect_server_that_does_not_answer_is_named_not_reported_as_a_bug(tmp_path):
    """PREFECT_API_URL naming a server that is down read 'touchless failed unexpectedly ... please report it'."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PREFECT_API_URL": "http://127.0.0.1:9/api"}
    done = subprocess.run(
        [sys.executable, "-m", "flows.cli", "discover", str(SIX_INTENTS), "--out", str(tmp_path / "run")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr
    assert "http://127.0.0.1:9/api (PREFECT_API_URL) cannot be reached" in done.stderr
    assert not (tmp_path / "run").exists()


def test_a_demo_refused_its_output_folder_writes_nothing_beside_it(tmp_path, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    code = run_cli("demo", "--out", str(folder))
    assert code == 2 and "did not write" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]  # no mine-taxonomy.yaml beside it
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]


def test_the_demo_says_what_to_review_for_none_one_and_many_proposals():
    from flows.cli import review_hint

    assert review_hint(0, Path("d")).startswith("The run proposes no change to the taxonomy")
    assert review_hint(1, Path("d")).startswith("Review the proposal to refine")
    assert review_hint(7, Path("d")).startswith("Review the 7 proposals to refine")


def test_each_step_logs_its_time_and_the_process_s_peak_memory_so_far(caplog):
    """`--verbose` shows each step's time and the peak memory by its end: the step after which the peak rose is the
    one that raised it."""
    import logging
    import re
    import sys

    from flows.progress import timed

    resource = pytest.importorskip("resource")  # the system keeps no high-water mark on Windows

    @timed(spinner=False)
    def hold_memory():
        return len(bytearray(64 * 2**20))  # 64 MB, touched

    with caplog.at_level(logging.INFO, logger="touchless"):
        hold_memory()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (2**20 if sys.platform == "darwin" else 2**10)
    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("hold memory:")]
    found = re.fullmatch(r"hold memory: \d+\.\d s; this process's peak memory so far ([\d,]+) MB", line)
    assert found and abs(int(found.group(1).replace(",", "")) - peak) <= 1, (line, peak)


def test_the_console_cuts_a_typical_contact_at_a_word_s_end():
    from flows.cli import _shortened

    text = "I have been charged twice for the same [CARD_NUMBER] transaction at the shop yesterday"
    assert _shortened(text, 70) == "I have been charged twice for the same [CARD_NUMBER] transaction at …"
    assert _shortened("a" * 100, 70) == "a" * 69 + "…"  # one word longer than the width is cut inside it
    assert _shortened("short", 70) == "short"


def test_the_sql_the_demo_prints_can_be_pasted_whatever_the_folder_is_called(tmp_path):
    import shlex

    from flows.cli import sql_command

    out = tmp_path / "demo sp" / "run 1"
    words = shlex.split(sql_command(out, "SELECT 1"))
    assert words == ["touchless", "sql", str(out), "SELECT 1"]

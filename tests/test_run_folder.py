"""The run folder as users meet it: touchless writes only folders it can prove are its own, an analyst's SQL reads
the run and nothing else, and "the latest run" is this project's, named when shown."""

from __future__ import annotations

import io
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.run.folder import MANIFEST, read_manifest
from tests.conftest import DATA, SIX_INTENTS, run_cli, tree_digest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def existing(six_intents_run, tmp_path) -> Path:
    out = tmp_path / "runs" / "x"
    shutil.copytree(six_intents_run[0], out)
    return out


def test_a_folder_with_a_run_json_of_its_own_is_not_a_run(tmp_path, test_config, capsys):
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / MANIFEST).write_text("{}")
    (folder / "important.txt").write_text("x")
    code = run_cli("discover", str(SIX_INTENTS), "--out", str(folder), "--config", str(test_config))
    message = capsys.readouterr().err
    assert code == 2 and "important.txt" in message and "did not write" in message
    assert (folder / "important.txt").read_text() == "x"


def test_a_file_put_in_a_run_folder_is_never_deleted(existing, test_config, capsys):
    today = existing / "today.csv"
    shutil.copyfile(SIX_INTENTS, today)
    before = tree_digest(existing)
    code = run_cli("assign", str(today), "--out", str(existing), "--config", str(test_config))
    assert code == 2 and "lies inside the output folder" in capsys.readouterr().err
    notes = existing / "notes.md"
    notes.write_text("mine")
    code = run_cli("discover", str(SIX_INTENTS), "--out", str(existing), "--config", str(test_config))
    message = capsys.readouterr().err
    assert code == 2 and "notes.md" in message and "today.csv" in message
    assert today.is_file() and notes.read_text() == "mine"
    assert tree_digest(existing) != before  # only by the note: nothing of touchless's changed either
    notes.unlink()
    assert tree_digest(existing) == before


def test_an_output_inside_a_run_folder_is_refused_before_anything_is_written_there(existing, test_config, capsys):
    """A run given --out inside another run failed later and left its lock file there, a file the run did not list,
    so the next run of the outer folder was refused."""
    before = tree_digest(existing)
    code = run_cli("discover", str(SIX_INTENTS), "--out", str(existing / "sub"), "--config", str(test_config))
    assert code == 2 and "lies inside the run folder" in capsys.readouterr().err
    assert tree_digest(existing) == before


def test_an_output_under_a_file_names_the_file(tmp_path):
    """It said 'File exists (...)' of the folder it could not make."""
    from pipeline.errors import OutputError
    from pipeline.run.folder import output_lock

    (tmp_path / "notes.csv").write_text("x")
    with pytest.raises(OutputError, match=r"cannot be made: .*notes\.csv is a file, not a folder"):
        with output_lock(tmp_path / "notes.csv" / "run" / "deeper"):
            pass


def test_a_run_leaves_no_lock_file_beside_its_folder(existing, tmp_path, test_config, capsys):
    """A hidden `.x.lock` stayed beside the run folder after every run, a failed one too."""
    runs = existing.parent
    data = pd.read_csv(SIX_INTENTS)
    data.head(20).to_csv(tmp_path / "today.csv", index=False)
    assert run_cli("assign", str(tmp_path / "today.csv"), "--out", str(existing), "--config", str(test_config)) == 0
    assert sorted(p.name for p in runs.iterdir()) == ["x"]
    data.drop(columns="text").to_csv(tmp_path / "no-text.csv", index=False)
    failed = run_cli("discover", str(tmp_path / "no-text.csv"), "--out", str(runs / "y"), "--config", str(test_config))
    assert failed == 2 and "text" in capsys.readouterr().err
    assert sorted(p.name for p in runs.iterdir()) == ["x"]


def test_a_lock_left_by_a_killed_run_is_taken_over_and_removed(tmp_path):
    from pipeline.run.folder import output_lock

    left = tmp_path / ".out.lock"
    left.write_text("pid 4194999 since 2026-12-01T09:00:00+00:00")  # what a run killed while it wrote leaves
    with output_lock(tmp_path / "out"):
        assert left.read_text().startswith(f"pid {os.getpid()} since")
    assert not left.exists()


@pytest.mark.parametrize("kind", ["link", "file", "pipe"])
def test_a_lock_path_touchless_did_not_write_is_left_alone(kind, tmp_path):
    """A file of the lock's name with other words in it, a link or a pipe there, is refused, never emptied, read
    or removed."""
    from pipeline.errors import OutputError
    from pipeline.run.folder import output_lock

    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    lock = tmp_path / ".out.lock"
    if kind == "pipe":
        os.mkfifo(lock)
    elif kind == "link":
        lock.symlink_to(notes)
    else:
        lock.write_text("mine")
    with pytest.raises(OutputError, match=r"\.out\.lock is not touchless's lock file"):
        with output_lock(tmp_path / "out"):
            pass
    if kind == "pipe":
        assert stat.S_ISFIFO(lock.stat().st_mode)
        return
    assert lock.is_symlink() == (kind == "link") and lock.read_text() == notes.read_text() == "mine"


HOLDER = """
import os, sys, time
from pathlib import Path
from pipeline.errors import OutputError
from pipeline.run.folder import output_lock

out, inside, until = Path(sys.argv[1]), Path(sys.argv[2]), time.monotonic() + float(sys.argv[3])
held = 0
while time.monotonic() < until:
    try:
        with output_lock(out):
            os.close(os.open(inside, os.O_CREAT | os.O_EXCL))  # fails if another holder is inside too
            time.sleep(0.001)
            os.unlink(inside)
            held += 1
    except OutputError:
        pass
print(held)
"""


def test_runs_ending_and_starting_at_once_never_hold_the_lock_together(tmp_path):
    """The lock file is removed as a run ends: a run that opened it just before must not lock the removed file while
    a third makes a new one. Processes race for the lock; each, once in, marks the folder taken, which fails while
    another holds it too."""
    out, inside = tmp_path / "out", tmp_path / "inside"
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(out), str(inside), "4"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = [racer.communicate(timeout=120) for racer in racers]
    assert all(racer.returncode == 0 for racer in racers), [err[-2000:] for _, err in results]
    assert sum(int(held) for held, _ in results) > 100  # they did take turns
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_folder_given_empty_keeps_its_permissions(tmp_path, test_config):
    """The run is swapped in as a new folder: an empty folder made private (or shared through its group) came back
    readable by everyone."""
    import os
    import stat

    folder = tmp_path / "private"
    folder.mkdir()
    os.chmod(folder, 0o2750)
    assert run_cli("discover", str(SIX_INTENTS), "--out", str(folder), "--config", str(test_config)) == 0
    assert stat.S_IMODE(folder.stat().st_mode) == 0o2750 and (folder / "run.json").is_file()


def test_a_run_of_an_earlier_version_is_recognised_and_a_newer_one_is_not_misread(existing):
    manifest = json.loads((existing / MANIFEST).read_text())
    legacy = {
        k: v
        for k, v in manifest.items()
        if k not in ("format", "format_version", "files", "touchless_version", "taxonomy_sha256")
    }
    (existing / MANIFEST).write_text(json.dumps(legacy))
    for extra in ("models/sources.parquet", "report.html", "owners.png"):  # files 0.1 did not write
        (existing / extra).unlink(missing_ok=True)
    assert read_manifest(existing).format_version == 1
    (existing / MANIFEST).write_text(json.dumps({**manifest, "format_version": 99}))
    from pipeline.errors import OutputError

    with pytest.raises(OutputError, match="newer touchless"):
        read_manifest(existing)


@pytest.mark.parametrize(
    "query, refused",
    [
        ("COPY (SELECT 1) TO '{out}/contacts.parquet'", "Permission Error"),
        ("SELECT * FROM read_csv('/etc/hostname')", "Permission Error"),
        ("INSTALL httpfs", "Permission Error"),
        ("ATTACH '{out}/other.duckdb'", "Permission Error"),
        ("SET enable_external_access = true", "configuration"),
        ("CREATE TABLE mine AS SELECT 1", "read-only"),
        ("SELECT cast(text AS int) FROM contacts", "Conversion Error"),  # fails while it runs: no crash report
    ],
)
def test_sql_reads_the_run_and_nothing_else(query, refused, existing, capsys):
    before = tree_digest(existing)
    assert run_cli("sql", str(existing), query.format(out=existing)) == 2
    message = capsys.readouterr().err
    assert "the query failed" in message and refused in message, message
    assert tree_digest(existing) == before
    assert run_cli("sql", str(existing), "SELECT count(*) AS n FROM contacts") == 0
    assert " 300 " in capsys.readouterr().out


def test_sql_output_serves_a_reader_and_a_script(existing, capsys, monkeypatch):
    contacts = pd.read_parquet(existing / "contacts.parquet")
    # piped (not a terminal): every column of a wide query keeps its name and values, and null is not ''
    assert run_cli("sql", str(existing), "SELECT *, NULL AS nothing, '' AS blank FROM contacts LIMIT 2") == 0
    printed = capsys.readouterr().out
    assert all(name in printed for name in contacts.columns) and contacts["text"].iloc[0] in printed
    assert "NULL" in printed and "2 rows" in printed
    # for scripts: every row, in csv or json; times in UTC whatever the caller's time zone
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    query = "-- a saved query starts with a comment\nSELECT contact_id, created_at, current_setting('TimeZone') AS tz FROM contacts"
    assert run_cli("sql", str(existing), query, "--format", "csv") == 0
    rows = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert len(rows) == len(contacts) and set(rows["tz"]) == {"UTC"}
    assert run_cli("sql", str(existing), query, "--format", "json") == 0
    records = json.loads(capsys.readouterr().out)
    assert len(records) == len(contacts)
    late_sunday = "TIMESTAMPTZ '2026-01-04 23:30:00+00'"  # Monday already in Tokyo
    assert (
        run_cli(
            "sql",
            str(existing),
            f"SELECT {late_sunday} AS t, date_trunc('week', {late_sunday}) AS week",
            "--format",
            "json",
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out) == [
        {"t": "2026-01-04T23:30:00+00:00", "week": "2025-12-29T00:00:00+00:00"}
    ]
    # several statements: one table each; a script's format wants one
    assert run_cli("sql", str(existing), "SELECT 1 AS first; SELECT 2 AS second") == 0
    printed = capsys.readouterr().out
    assert "first" in printed and "second" in printed
    assert run_cli("sql", str(existing), "SELECT 1; SELECT 2", "--format", "csv") == 2
    assert "one at a time" in capsys.readouterr().err
    assert run_cli("sql", str(existing), "  ") == 2
    assert "the query is empty" in capsys.readouterr().err
    assert run_cli("sql", str(existing), "-- only a comment") == 2
    assert "holds no statement" in capsys.readouterr().err
    assert run_cli("sql", str(existing), "--formt", "csv", "SELECT 1") == 2  # a mistyped option is still named
    assert "No such option: --formt" in capsys.readouterr().err
    assert run_cli("sql", str(existing), "SELECT 'nan'::double AS x, 'inf'::double AS y", "--format", "json") == 0
    assert json.loads(capsys.readouterr().out) == [{"x": None, "y": None}]  # strict JSON: no NaN, no Infinity


def test_sql_names_a_missing_database(existing, capsys):
    (existing / "touchless.duckdb").unlink()
    assert run_cli("sql", str(existing), "SELECT 1") == 2
    message = capsys.readouterr().err
    assert "touchless.duckdb" in message and "Parquet tables" in message and "Traceback" not in message


def test_a_conversation_cut_between_two_daily_exports_keeps_both_parts(tmp_path, test_config, capsys):
    """A chat export of each day holds the messages sent that day: a conversation that goes on past midnight is in
    two files. The second part used to replace the first (the reason was in the first half)."""
    messages = pd.read_csv(DATA / "multidogo_finance_messages.csv").drop(columns="label")
    longest = messages.groupby("conversation_id").size().idxmax()
    own = messages[messages["conversation_id"] == longest]
    later = own.iloc[len(own) // 2 :]
    messages.drop(later.index).to_csv(tmp_path / "monday.csv", index=False)
    later.to_csv(tmp_path / "tuesday.csv", index=False)
    out = tmp_path / "run"
    args = ["--out", str(out), "--config", str(test_config)]
    assert run_cli("discover", str(tmp_path / "monday.csv"), *args) == 0
    first = pd.read_parquet(out / "contacts.parquet").set_index("contact_id").loc[longest]
    capsys.readouterr()
    assert run_cli("assign", str(tmp_path / "tuesday.csv"), *args) == 0
    assert "1 conversation(s) continue ones the run holds" in " ".join(capsys.readouterr().err.split())
    contacts = pd.read_parquet(out / "contacts.parquet").set_index("contact_id")
    both = contacts.loc[longest]
    assert len(contacts) == messages["conversation_id"].nunique()
    assert both["text"].startswith(first["text"]) and len(both["text"]) > len(first["text"])
    assert both["turns"] == len(own) and both["created_at"] == first["created_at"]
    assert both["last_at"] == pd.Timestamp(later["sent_at"].iloc[-1])
    # the same day's file again: nothing new in it
    assert run_cli("assign", str(tmp_path / "tuesday.csv"), *args) == 0
    assert "0 new contacts (1 already in the run, unchanged)" in " ".join(capsys.readouterr().out.split())
    assert pd.read_parquet(out / "contacts.parquet").set_index("contact_id").loc[longest, "text"] == both["text"]
    # the first day's file again (yesterday's export re-run): an older copy, which never shortens the run's
    assert run_cli("assign", str(tmp_path / "monday.csv"), *args) == 0
    assert "the run keeps its longer copy" in " ".join(capsys.readouterr().err.split())
    assert pd.read_parquet(out / "contacts.parquet").set_index("contact_id").loc[longest, "text"] == both["text"]
    # the whole conversation exported again (from its first message) is read again as the whole
    own.to_csv(tmp_path / "whole.csv", index=False)
    assert run_cli("assign", str(tmp_path / "whole.csv"), *args) == 0
    again = pd.read_parquet(out / "contacts.parquet").set_index("contact_id").loc[longest]
    assert again["text"] == both["text"] and again["turns"] == len(own)


def test_the_latest_run_is_this_directorys_and_is_named(existing, tmp_path, test_config, capsys, monkeypatch):
    project_a, project_b = tmp_path / "a", tmp_path / "b"
    project_a.mkdir()
    project_b.mkdir()
    monkeypatch.chdir(project_a)
    run_a = project_a / "run"
    assert run_cli("discover", str(SIX_INTENTS), "--out", str(run_a), "--config", str(test_config)) == 0
    assert (
        run_cli(
            "evaluate",
            str(SIX_INTENTS),
            "--label-column",
            "intent",
            "--out",
            str(project_a / "eval"),
            "--config",
            str(test_config),
        )
        == 0
    )
    capsys.readouterr()
    assert run_cli("proposals") == 0
    shown = "".join(capsys.readouterr().out.split())  # the table wraps long paths
    assert f"intherun{run_a.resolve()}(discover" in shown  # this project's run, not the evaluation after it
    monkeypatch.chdir(project_b)
    assert run_cli("proposals") == 2
    assert "no run was made from" in capsys.readouterr().err


def _discovered_with_taxonomy(tmp_path: Path, test_config: Path) -> tuple[Path, Path]:
    """(run folder, taxonomy file): discover over the six intents with tests/test_taxonomy.py's taxonomy."""
    import yaml

    from tests.test_taxonomy import TAXONOMY

    taxonomy = tmp_path / "taxonomy.yaml"
    taxonomy.write_text(yaml.safe_dump(TAXONOMY))
    out = tmp_path / "with-reasons"
    args = ["--out", str(out), "--config", str(test_config), "--taxonomy", str(taxonomy)]
    assert run_cli("discover", str(SIX_INTENTS), *args) == 0
    return out, taxonomy


def test_assign_reads_again_what_changed(existing, tmp_path, test_config, capsys):
    """A contact whose text changed is read again; a taxonomy changed since the run read its reasons has every
    reason read again, so none of a removed reason is left."""
    import yaml

    from flows.assign import assign
    from tests.test_taxonomy import TAXONOMY

    out, taxonomy = _discovered_with_taxonomy(tmp_path, test_config)
    before = pd.read_parquet(out / "contacts.parquet")
    assert (before["reason_id"] == "exchange_rate").sum() > 10
    smaller = dict(TAXONOMY, version=2, reasons=[r for r in TAXONOMY["reasons"] if r["id"] != "exchange_rate"])
    taxonomy.write_text(yaml.safe_dump(smaller))
    data = pd.read_csv(SIX_INTENTS)
    data.loc[0, "text"] = "I was charged twice for one purchase"
    data.to_csv(tmp_path / "export.csv", index=False)
    result = assign(input_path=str(tmp_path / "export.csv"), out_dir=str(out), config_path=str(test_config))
    after = pd.read_parquet(out / "contacts.parquet").set_index("contact_id")
    assert result.changed == 1 and result.skipped == len(data) - 1 and len(after) == len(data)
    assert after.loc[str(data.loc[0, "contact_id"]), "text"] == "I was charged twice for one purchase"
    assert not (after["reason_id"] == "exchange_rate").any()
    assert any("(version 1 -> 2)" in w and "no longer offers" in w for w in result.warnings), result.warnings
    assert read_manifest(out).taxonomy_version == 2
    # edited by hand without a new version: said so, not "version 2 -> 2"
    taxonomy.write_text(yaml.safe_dump(dict(smaller, reasons=smaller["reasons"][:-1])))
    edited = assign(input_path=str(tmp_path / "export.csv"), out_dir=str(out), config_path=str(test_config))
    assert any("(edited, still version 2)" in w for w in edited.warnings), edited.warnings


def test_a_contact_s_reason_does_not_depend_on_what_else_its_daily_file_holds(tmp_path, test_config):
    """assign learned the self-training classifier from each day's file alone: the same text read otherwise in a file
    of 10 contacts than in one of 80 (3 of 10 in a helper's run). It now reads with the run's readers."""
    from flows.assign import assign
    from pipeline.run.folder import Run

    out, _ = _discovered_with_taxonomy(tmp_path, test_config)
    readers = Run.load(out).readers
    assert readers is not None and readers.texts is not None  # learned from the run's 300 contacts, and kept
    day = pd.read_csv(ROOT / "pipeline" / "demo" / "banking77_demo.csv").head(80)[["contact_id", "text"]]
    day["contact_id"] = "day-" + day["contact_id"].astype(str)
    day.to_csv(tmp_path / "80.csv", index=False)
    day.head(10).to_csv(tmp_path / "10.csv", index=False)
    shutil.copytree(out, tmp_path / "other")
    assign(input_path=str(tmp_path / "80.csv"), out_dir=str(out), config_path=str(test_config))
    assign(input_path=str(tmp_path / "10.csv"), out_dir=str(tmp_path / "other"), config_path=str(test_config))
    columns = ["reason_id", "text_reason_id", "reason_score"]
    big = pd.read_parquet(out / "contacts.parquet").set_index("contact_id").loc[day["contact_id"].head(10), columns]
    small = pd.read_parquet(tmp_path / "other" / "contacts.parquet").set_index("contact_id").loc[big.index, columns]
    pd.testing.assert_frame_equal(big, small)
    # a run made before readers were kept learns them from each file, and says so
    (tmp_path / "other" / "models" / "readers.npz").unlink()
    older = assign(input_path=str(tmp_path / "80.csv"), out_dir=str(tmp_path / "other"), config_path=str(test_config))
    assert any("made before the classifiers that read its reasons were kept" in w for w in older.warnings)
    # the settings the readers were learned with cannot change in an assign: said, and the run keeps its own
    config = tmp_path / "no-self-training.yaml"
    config.write_text(test_config.read_text() + "taxonomy:\n  self_training: 0\n")
    result = assign(input_path=str(tmp_path / "10.csv"), out_dir=str(out), config_path=str(config))
    assert any("taxonomy.self_training" in w and "no effect" in w for w in result.warnings), result.warnings
    assert read_manifest(out).config["taxonomy"]["self_training"] == 0.5


def test_assign_reads_again_a_contact_whose_details_changed(existing, tmp_path, test_config):
    """A contact the run holds with the same words but a new channel (an agent's reason or handle time filled in
    after the first export, a corrected date) was skipped: the run kept the old value without a word. A run made
    before details were digested holds the words' digest alone: its contacts get the details it holds, so a change is
    seen at once and the run is not read again whole. A contact whose details alone changed keeps its cluster (placed
    anew, 18 of 300 fell out of theirs)."""
    from flows.assign import assign

    placed = ["cluster_id", "probability", "was_noise", "duplicate_group"]
    before = pd.read_parquet(existing / "contacts.parquet").set_index("contact_id")[placed]
    export = pd.read_csv(SIX_INTENTS)
    export["channel"] = None
    export.loc[0, "channel"] = "email"
    export["handle_time_s"] = 120.0  # filled in for every contact since the first export
    export.to_csv(tmp_path / "export.csv", index=False)
    first = str(export.loc[0, "contact_id"])
    result = assign(input_path=str(tmp_path / "export.csv"), out_dir=str(existing), config_path=str(test_config))
    after = pd.read_parquet(existing / "contacts.parquet").set_index("contact_id")
    assert result.changed == result.details_changed == len(export) and result.skipped == 0, result
    assert result.new_contacts == 0 and result.assigned == (before["cluster_id"] >= 0).sum()  # changed, not new
    assert after.loc[first, "channel"] == "email" and after["channel"].notna().sum() == 1
    assert (after["handle_time_s"] == 120.0).all()
    pd.testing.assert_frame_equal(after.loc[before.index, placed], before)
    again = assign(input_path=str(tmp_path / "export.csv"), out_dir=str(existing), config_path=str(test_config))
    assert again.changed == 0 and again.skipped == len(export)

    sources = existing / "models" / "sources.parquet"
    held = pd.read_parquet(sources)
    held["source_hash"] = held["source_hash"].str.split(":").str[0]  # as a run made before details were digested
    held.to_parquet(sources, index=False)
    export.loc[1, "channel"] = "chat"
    export.to_csv(tmp_path / "export.csv", index=False)
    older = assign(input_path=str(tmp_path / "export.csv"), out_dir=str(existing), config_path=str(test_config))
    assert older.changed == 1 and older.skipped == len(export) - 1, (older.changed, older.skipped)
    after = pd.read_parquet(existing / "contacts.parquet").set_index("contact_id")
    assert after.loc[str(export.loc[1, "contact_id"]), "channel"] == "chat" and after.loc[first, "channel"] == "email"
    assert (
        assign(input_path=str(tmp_path / "export.csv"), out_dir=str(existing), config_path=str(test_config)).changed
        == 0
    )


def test_a_new_copy_of_a_text_the_run_holds_joins_its_cluster(existing, tmp_path, test_config):
    """A cluster's centre takes texts at least as alike as its least alike 5% of members: copies of those waited
    for the next discover (27 of 400 copies of the demo's texts) or went to another cluster (7), where discover had
    put every copy of a text in one cluster."""
    from flows.assign import assign
    from pipeline.config import load_config
    from pipeline.model.centres import ClusterModel
    from pipeline.model.embed import Embedder

    held = pd.read_parquet(existing / "contacts.parquet")
    held = held[held["cluster_id"] >= 0].drop_duplicates("text")
    with np.load(existing / "models" / "clusters.npz") as arrays:
        by_centres, _ = ClusterModel.from_arrays(arrays).assign(
            Embedder(load_config(test_config).embedding).embed(held["text"].tolist()).vectors
        )
    assert (by_centres != held["cluster_id"].to_numpy()).sum() >= 5  # what the centres alone would do
    copies = held.assign(contact_id="copy-" + held["contact_id"].astype(str))[["contact_id", "text"]]
    copies.to_csv(tmp_path / "copies.csv", index=False)
    result = assign(input_path=str(tmp_path / "copies.csv"), out_dir=str(existing), config_path=str(test_config))
    after = pd.read_parquet(existing / "contacts.parquet").set_index("contact_id")
    assert (after.loc[copies["contact_id"], "cluster_id"].to_numpy() == held["cluster_id"].to_numpy()).all()
    assert result.assigned == len(copies)


def test_a_daily_file_without_some_fields_keeps_what_the_run_holds_of_them(existing, tmp_path, test_config):
    """A daily export of ids and texts says nothing of customers, channels or handle times: the contacts it carries
    again had theirs emptied (and their issues and costs with them), each counted as changed in its details."""
    from flows.assign import assign

    full = pd.read_csv(SIX_INTENTS)
    full["channel"], full["handle_time_s"] = "email", 120.0
    full["customer_id"] = [f"K{i % 40:03d}" for i in range(len(full))]
    full.to_csv(tmp_path / "full.csv", index=False)
    assign(input_path=str(tmp_path / "full.csv"), out_dir=str(existing), config_path=str(test_config))
    details = ["channel", "handle_time_s", "customer_id"]
    held = pd.read_parquet(existing / "contacts.parquet").set_index("contact_id")[details]
    bare = full[["contact_id", "text"]].copy()
    bare.to_csv(tmp_path / "bare.csv", index=False)
    result = assign(input_path=str(tmp_path / "bare.csv"), out_dir=str(existing), config_path=str(test_config))
    assert result.changed == 0 and result.skipped == len(bare), result
    after = pd.read_parquet(existing / "contacts.parquet").set_index("contact_id")
    pd.testing.assert_frame_equal(after[details], held)
    bare.loc[0, "text"] = "I was charged twice for one purchase"  # read again for its words: keeps its details
    bare.to_csv(tmp_path / "bare.csv", index=False)
    result = assign(input_path=str(tmp_path / "bare.csv"), out_dir=str(existing), config_path=str(test_config))
    assert result.changed == 1 and result.details_changed == 0
    after = pd.read_parquet(existing / "contacts.parquet").set_index("contact_id")
    pd.testing.assert_frame_equal(after.loc[held.index, details], held)
    assert "The 300 contact(s) the run has already keep its customer_id, channel, handle_time_s (not in" in " ".join(
        result.columns.split()
    ), result.columns  # not ticket_id or reason: the run never had them


def test_a_messages_export_without_customer_or_channel_keeps_what_the_run_holds(tmp_path, test_config, capsys):
    """The same for chats: a conversation exported again by a tool that leaves out the customer and channel
    keeps the run's."""
    messages = pd.read_csv(DATA / "multidogo_finance_messages.csv").drop(columns="label")
    codes = messages["conversation_id"].factorize()[0]
    messages["customer_id"], messages["channel"] = [f"K{c % 30:03d}" for c in codes], "chat"
    messages.to_csv(tmp_path / "full.csv", index=False)
    out = tmp_path / "run"
    args = ["--out", str(out), "--config", str(test_config)]
    assert run_cli("discover", str(tmp_path / "full.csv"), *args) == 0
    held = pd.read_parquet(out / "contacts.parquet").set_index("contact_id")[["customer_id", "channel"]]
    assert held["channel"].eq("chat").all()
    bare = messages.drop(columns="customer_id").assign(channel=" ")  # one left out, one exported blank
    bare.to_csv(tmp_path / "bare.csv", index=False)
    assert run_cli("assign", str(tmp_path / "bare.csv"), *args) == 0
    assert f"0 new contacts ({len(held)} already in the run, unchanged)" in " ".join(capsys.readouterr().out.split())
    after = pd.read_parquet(out / "contacts.parquet").set_index("contact_id")[["customer_id", "channel"]]
    pd.testing.assert_frame_equal(after.loc[held.index], held)


def test_an_assigns_config_is_the_runs_from_then_on_and_what_it_cannot_apply_is_said(existing, tmp_path, test_config):
    """An assign's --config was used once and not recorded: the next assign went back to the run's old settings and
    counted the whole history again, without a word; clustering settings were taken and did nothing."""
    from flows.assign import assign

    config = tmp_path / "wider.yaml"
    config.write_text(test_config.read_text() + "touches:\n  window_days: 30\ncluster:\n  min_cluster_size: 200\n")
    result = assign(input_path=str(SIX_INTENTS), out_dir=str(existing), config_path=str(config))
    assert any("cluster.min_cluster_size" in w and "no effect" in w for w in result.warnings), result.warnings
    stored = read_manifest(existing).config
    assert stored["touches"]["window_days"] == 30 and stored["cluster"]["min_cluster_size"] != 200
    again = assign(input_path=str(SIX_INTENTS), out_dir=str(existing), config_path=str(test_config))
    assert read_manifest(existing).config["touches"]["window_days"] == 30
    assert not any("no effect" in w for w in again.warnings), again.warnings


def test_a_table_removed_from_a_run_is_named_as_missing_not_as_old(existing, capsys):
    """It was said to be 'written by an older touchless'."""
    (existing / "proposals.parquet").unlink()
    assert run_cli("proposals", "--run", str(existing)) == 2
    assert "proposals.parquet, which its run.json lists, is missing" in capsys.readouterr().err


def test_a_damaged_manifest_is_named_not_taken_for_no_run(existing, capsys):
    """'holds no run: run discover first' sent the person to replace a run whose run.json was damaged."""
    (existing / MANIFEST).write_text('{"format": ')
    assert run_cli("sql", str(existing), "SELECT 1") == 2
    assert "run.json cannot be read as a touchless run's manifest (damaged" in capsys.readouterr().err


def test_a_link_to_a_folder_put_in_a_run_folder_is_named_not_taken(existing, tmp_path):
    from pipeline.errors import OutputError
    from pipeline.run.folder import check_output_folder

    archive = tmp_path / "archive"
    archive.mkdir()
    (archive / "2025.csv").write_text("kept")
    (existing / "archive").symlink_to(archive, target_is_directory=True)
    with pytest.raises(OutputError, match="archive"):
        check_output_folder(existing, [])
    assert (existing / "archive").is_symlink() and (archive / "2025.csv").read_text() == "kept"


def test_a_days_contacts_join_the_history_in_its_column_types(six_intents_run):
    """The day's rows take the types the run's table holds (text stays Arrow text, counts stay whole numbers): a
    column whose types differ is joined as Python objects, which onto a million contacts cost more than the rest
    of the day's run. Values that would change (text where the history has numbers) are left as they are."""
    from pipeline.run.contacts import add_to_history
    from pipeline.run.folder import Run

    run = Run.load(six_intents_run[0])
    history = run.frame("contacts")
    day = history.tail(2).assign(
        contact_id=["new-1", "new-2"],
        reason_id=[None, "card_arrival"],  # objects, as a day's reading returns them
        withheld_reason_id=[None, None],
        removed_urls=[0, 3],  # int64 here, int32 in the run
        handle_time_s=np.array(["12", None], dtype=object),  # text where the history has numbers
        source_hash=["a", "b"],
    )
    day["reason_id"] = day["reason_id"].astype(object)
    joined = add_to_history(history, run.sources_by_contact([]), day)

    assert len(joined) == len(history) + 2
    for column in ("reason_id", "withheld_reason_id", "text", "contact_id"):
        assert joined[column].dtype == history[column].dtype, column
    assert joined["removed_urls"].dtype == history["removed_urls"].dtype
    assert joined["removed_urls"].tail(2).tolist() == [0, 3]
    assert joined["reason_id"].tail(2).tolist()[1] == "card_arrival" and pd.isna(joined["reason_id"].iloc[-2])
    assert joined["handle_time_s"].tail(2).tolist()[0] == "12"  # not made a number

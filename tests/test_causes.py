"""The method whole, on real texts (six BANKING77 intents) with simulated times, dimensions and owners: reason
groups and a first taxonomy from them, the drivers behind each reason and cluster, owners and costs, and a touch
index that says which weeks it could not see whole."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from pipeline.demo.simulate import simulate
from tests.conftest import SIX_INTENTS, run_cli
from tests.test_taxonomy import TAXONOMY

PLANTED = ("card_arrival", "app_version", "5.2")  # 70% of this intent's contacts came from app 5.2


@pytest.fixture(scope="module")
def causes(tmp_path_factory, test_config):
    """One discover run over 12 simulated weeks that start on a Wednesday, with two dimensions (one planted, one
    random), a taxonomy whose `cards` group has an owner, and a cost per contact and per agent minute."""
    folder = tmp_path_factory.mktemp("causes")
    timeline = simulate(pd.read_csv(SIX_INTENTS), weeks=12, contacts=900, seed=11)
    contacts = timeline.contacts
    times = pd.to_datetime(contacts["created_at"], utc=True)
    contacts = contacts[(times >= times.min().normalize() + pd.Timedelta(days=2)).to_numpy()]
    rng = np.random.default_rng(3)
    versions = np.array(["5.0", "5.1", "5.2", "5.3", "5.4"])
    app = rng.choice(versions, len(contacts), p=[0.3, 0.3, 0.05, 0.2, 0.15])
    planted = (contacts["intent"] == PLANTED[0]).to_numpy() & (rng.random(len(contacts)) < 0.7)
    contacts = contacts.assign(
        app_version=np.where(planted, "5.2", app), plan=rng.choice(["free", "plus", "pro"], len(contacts))
    )
    contacts.to_csv(folder / "contacts.csv", index=False)
    timeline.volume.to_csv(folder / "volume.csv", index=False)
    owned = yaml.safe_load(yaml.safe_dump(TAXONOMY))
    owned["reasons"][0]["owner"] = "Logistics"  # the cards group: its reasons inherit it
    owned["reasons"][3]["owner"] = "Treasury"
    owned["reasons"][3]["action"] = "automate"
    (folder / "taxonomy.yaml").write_text(yaml.safe_dump(owned))
    config = folder / "config.yaml"
    config.write_text(test_config.read_text() + "cost:\n  per_contact: 4.0\n  per_handle_minute: 0.5\n")
    out = folder / "run"
    assert (
        run_cli(
            "discover",
            str(folder / "contacts.csv"),
            "--out",
            str(out),
            "--config",
            str(config),
            "--taxonomy",
            str(folder / "taxonomy.yaml"),
            "--volume",
            str(folder / "volume.csv"),
            "--dimension",
            "app_version",
            "--dimension",
            "plan",
        )
        == 0
    )
    return folder, out, contacts


def test_clusters_are_gathered_into_a_few_named_groups_and_a_first_taxonomy(causes, tmp_path):
    _, out, _ = causes
    clusters = pd.read_parquet(out / "clusters.parquet")
    assert clusters["group_id"].notna().all() and clusters["group_label"].str.len().gt(0).all()
    assert 1 <= clusters["group_id"].nunique() <= min(30, len(clusters))
    taxonomy = tmp_path / "first.yaml"
    assert run_cli("taxonomy", "init", str(out), "--out", str(taxonomy)) == 0
    data = yaml.safe_load(taxonomy.read_text())
    parents = {r["id"] for r in data["reasons"] if "parent" not in r}
    children = [r for r in data["reasons"] if "parent" in r]
    assert len(parents) == clusters["group_id"].nunique() and len(children) == len(clusters)
    assert all(r["parent"] in parents and r["examples"] for r in children)
    assert run_cli("taxonomy", "check", str(taxonomy)) == 0
    assert run_cli("taxonomy", "init", str(out), "--out", str(taxonomy)) == 2  # never overwrites
    inside = out / "taxonomy.yaml"  # the next run there refused the folder: a file touchless did not write
    assert run_cli("taxonomy", "init", str(out), "--out", str(inside)) == 2 and not inside.exists()


def test_the_planted_driver_is_found_and_the_random_dimension_gives_none(causes):
    _, out, contacts = causes
    drivers = pd.read_parquet(out / "drivers.parquet")
    assert not (drivers["column"] == "plan").any()  # random: no false driver
    reason = drivers[(drivers["scope"] == "reason") & (drivers["reason_id"] == "card_arrival")]
    assert ((reason["column"] == "app_version") & (reason["value"] == "5.2")).any()
    found = reason[reason["value"] == "5.2"].iloc[0]
    assert found["share_in"] > 0.5 and found["lift"] > 3 and found["q_value"] <= 0.05
    ranking = pd.read_parquet(out / "ranking.parquet").set_index("reason_id")
    assert "on app_version 5.2 against" in ranking.loc["card_arrival", "why"]
    kept = pd.read_parquet(out / "contacts.parquet")
    assert {"app_version", "plan"} <= set(kept.columns) and kept["app_version"].notna().all()


def test_owners_and_costs_follow_the_reasons(causes, capsys, monkeypatch):
    from flows.review_cli import out as console

    folder, out, contacts = causes
    monkeypatch.setattr(console, "width", 220)  # one reason a line
    assert run_cli("taxonomy", "check", str(folder / "taxonomy.yaml")) == 0  # owners and actions, to check an edit
    rows = [line.replace("│", " ") for line in capsys.readouterr().out.splitlines()]
    lines = {row.split()[0]: row for row in rows if row.split()}
    assert "Logistics (group's)" in lines["card_arrival"] and "Treasury" in lines["exchange_rate"]
    assert "automate" in lines["exchange_rate"]
    reasons = pd.read_parquet(out / "reasons.parquet").set_index("reason_id")
    assert reasons.loc["card_arrival", "owner"] == "Logistics" and reasons.loc["lost_card", "owner"] == "Logistics"
    assert reasons.loc["exchange_rate", "owner"] == "Treasury" and reasons.loc["exchange_rate", "action"] == "automate"
    kept = pd.read_parquet(out / "contacts.parquet")
    mine = kept[kept["reason_id"] == "card_arrival"]
    expected = 4.0 * len(mine) + 0.5 * mine["handle_time_s"].fillna(0).sum() / 60
    assert reasons.loc["card_arrival", "cost"] == pytest.approx(expected)
    assert reasons.loc["card_arrival", "touches"] == len(mine)
    owners = pd.read_parquet(out / "owners.parquet")
    assert set(owners["owner"]) == {"Logistics", "Treasury"}
    logistics = owners[owners["owner"] == "Logistics"]
    assert logistics["contacts"].sum() == kept["reason_id"].isin(["card_arrival", "lost_card"]).sum()
    assert logistics["cost"].sum() == pytest.approx(reasons.loc[["card_arrival", "lost_card"], "cost"].sum())
    assert (out / "owners.png").stat().st_size > 10_000


def test_partial_weeks_are_flagged_and_left_out_of_the_index(causes):
    _, out, contacts = causes
    index = pd.read_parquet(out / "touch_index.parquet")
    overall = index[index["scope"] == "overall"].sort_values("week")
    assert not overall["complete"].iloc[0]  # the export starts on a Wednesday
    assert overall["rolling_6w"].iloc[:6].isna().all()  # six whole weeks are needed after it
    assert overall.loc[overall["complete"], "rolling_6w"].notna().sum() >= 4

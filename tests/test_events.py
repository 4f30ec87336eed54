"""Be told, not left to look: a run emits a Prefect event for each cause that starts emerging and each proposal no
earlier run had open; a second run over the same data emits none."""

from __future__ import annotations

import time

import pandas as pd

from pipeline.demo.simulate import simulate
from tests.conftest import SIX_INTENTS


def touchless_events(since: pd.Timestamp, expected: int, wait: float = 30) -> list:
    """The touchless events since `since`, once `expected` of them have arrived (the server takes them in a few
    seconds after they are sent), or after `wait` seconds."""
    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventNameFilter, EventOccurredFilter
    from prefect.events.worker import EventsWorker

    EventsWorker.drain_all()  # events are sent in the background
    deadline = time.monotonic() + wait
    while True:
        with get_client(sync_client=True) as client:
            events = client.read_events(
                filter=EventFilter(
                    event=EventNameFilter(prefix=["touchless."]), occurred=EventOccurredFilter(since=since)
                ),
                limit=50,
            ).events
        if len(events) >= expected or time.monotonic() > deadline:
            return events
        time.sleep(1)


def test_new_emerging_causes_and_proposals_are_announced_once(tmp_path, test_config):
    from flows.discover import discover

    timeline = simulate(pd.read_csv(SIX_INTENTS), weeks=12, contacts=700, new_intents=("change_pin",), seed=5)
    timeline.contacts.to_csv(tmp_path / "contacts.csv", index=False)
    timeline.volume.to_csv(tmp_path / "volume.csv", index=False)
    since = pd.Timestamp.now(tz="UTC")
    discover(
        input_path=str(tmp_path / "contacts.csv"),
        out_dir=str(tmp_path / "run"),
        config_path=str(test_config),
        volume_path=str(tmp_path / "volume.csv"),
    )
    ranking = pd.read_parquet(tmp_path / "run" / "ranking.parquet")
    proposals = pd.read_parquet(tmp_path / "run" / "proposals.parquet")
    emerging = ranking[ranking["trend"].isin(["new", "growing"])]
    assert len(emerging) >= 1  # change_pin was born in the simulated weeks
    first = touchless_events(since, len(emerging) + int((proposals["status"] == "open").sum()))
    names = [e.event for e in first]
    assert names.count("touchless.reason.emerging") == len(emerging)
    assert names.count("touchless.proposal.new") == int((proposals["status"] == "open").sum()) >= 1
    payloads = [e.payload for e in first if e.event == "touchless.reason.emerging"]
    assert {p["name"] for p in payloads} == set(emerging["name"])
    assert all(e.resource.id == f"touchless.run.{(tmp_path / 'run').resolve()}" for e in first)
    again = pd.Timestamp.now(tz="UTC")
    discover(
        input_path=str(tmp_path / "contacts.csv"),
        out_dir=str(tmp_path / "run"),
        config_path=str(test_config),
        volume_path=str(tmp_path / "volume.csv"),
    )
    assert touchless_events(again, expected=1, wait=8) == []  # nothing new to tell

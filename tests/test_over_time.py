"""Over time: touches and issues, the touch index, trends, ranking, stable cluster ids, incremental assign.

The timelines are simulated (pipeline/demo/simulate.py): real texts, simulated times, customers and volume.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.config import load_config
from pipeline.demo.simulate import simulate
from pipeline.overtime.touch_index import direction, touch_index
from pipeline.overtime.touches import issues, touch_stats
from pipeline.overtime.trends import trends
from pipeline.read.volume import week_start
from tests.conftest import SIX_INTENTS

CFG = load_config()


def frame(rows: list[tuple]) -> pd.DataFrame:
    out = pd.DataFrame(
        rows, columns=["contact_id", "created_at", "customer_id", "ticket_id", "reason_id", "cluster_id"]
    )
    out["created_at"] = pd.to_datetime(out["created_at"], utc=True)
    out["row"] = np.arange(1, len(out) + 1)
    out["duplicate_group"] = None
    out["handle_time_s"] = 60.0
    return out


def test_touches_follow_tickets_customers_and_the_window():
    contacts = frame(
        [
            ("a1", "2026-01-01", "ann", "t1", "refund", 0),
            ("a2", "2026-01-03", "ann", "t2", "refund", 0),  # same customer and reason, 2 days later: same issue
            ("a3", "2026-01-09", "ann", "t3", "refund", 0),  # 6 days after a2: still the same issue
            ("a4", "2026-01-20", "ann", "t4", "refund", 0),  # 11 days later: a new issue
            ("a5", "2026-01-20", "ann", "t5", "delivery", 1),  # same day, other reason: another issue
            ("b1", "2026-01-02", "bob", "t6", "refund", 0),
            ("b2", "2026-02-10", "bob", "t6", "delivery", 1),  # same ticket, weeks later: same issue
        ]
    )
    found = issues(contacts, window_days=7)
    assert found["issue_id"].tolist() == ["a1", "a1", "a1", "a4", "a5", "b1", "b1"]
    assert found["touch"].tolist() == [1, 2, 3, 1, 1, 1, 2]
    stats = touch_stats(contacts.join(found), "reason_id").loc["refund"]
    assert stats["contacts"] == 5 and stats["issues"] == 3
    assert stats["touches_per_issue"] == pytest.approx(5 / 3)
    assert stats["repeat_contact_rate"] == pytest.approx(2 / 5)
    assert stats["one_touch_rate"] == pytest.approx(2 / 3)  # a4 and b1 (its follow-up is about delivery)
    assert stats["handle_time_s"] == 300.0


def test_touch_index_matches_a_hand_computation():
    # 8 weeks from Monday 2026-01-05; contacts: 2 a week on Mondays, 4 in week 8 and one more on its Sunday night;
    # volume 1,000 a week, 2,000 in week 8
    days = [f"2026-01-{5 + 7 * w:02d}" if 5 + 7 * w <= 31 else f"2026-02-{5 + 7 * w - 31:02d}" for w in range(8)]
    rows = [
        (f"c{w}{i}", f"{day} 12:00", None, None, "refund" if i == 0 else None, 0)
        for w, day in enumerate(days)
        for i in range(4 if w == 7 else 2)
    ] + [("last", "2026-03-01 23:00", None, None, None, 0)]
    contacts = frame(rows)
    volume = pd.DataFrame(
        {"week": week_start(pd.to_datetime(pd.Series(days), utc=True)), "volume": [1000.0] * 7 + [2000.0]}
    )
    index = touch_index(contacts, volume, {"reason:refund": contacts["reason_id"] == "refund"})
    overall = index[index["scope"] == "overall"].reset_index(drop=True)
    assert overall["contacts"].tolist() == [2, 2, 2, 2, 2, 2, 2, 5] and overall["complete"].all()
    assert overall["per_1000"].tolist() == [2.0] * 7 + [2.5]
    # rolling 6 weeks: weeks 1-6: 12 / 6,000; weeks 2-7: 12 / 6,000; weeks 3-8: 15 / 7,000 contacts per 1,000
    assert overall["rolling_6w"].isna().tolist() == [True] * 5 + [False] * 3
    assert overall["rolling_6w"].iloc[5:].tolist() == pytest.approx([2.0, 2.0, 15 / 7])
    refund = index[index["scope"] == "reason:refund"]
    assert refund["rolling_6w"].iloc[-1] == pytest.approx(1000 * 6 / 7000)
    assert str(overall["week"].iloc[0]) == "2026-01-05"
    # without the Sunday contact the export ends on week 8's Monday: that week is partial and left out
    partial = touch_index(contacts[contacts["contact_id"] != "last"], volume, {})
    assert partial["complete"].tolist() == [True] * 7 + [False]
    assert partial["rolling_6w"].iloc[-1] != partial["rolling_6w"].iloc[-1]  # NaN: not part of the index
    assert partial["per_1000"].iloc[-1] == 2.0  # still shown
    # a week of no volume is a week whose volume is unknown, in its own figure and in the 6-week ones holding it
    # (its contacts were counted in the rolling sum while its per_1000 was null)
    zero = touch_index(contacts, volume.assign(volume=[1000.0] * 6 + [0.0, 2000.0]), {})
    assert zero["per_1000"].isna().tolist() == [False] * 6 + [True, False]
    assert zero["rolling_6w"].isna().tolist() == [True] * 5 + [False, True, True]
    closed = contacts[~contacts["created_at"].dt.strftime("%Y-%m-%d").eq(days[6] + "")]  # no contacts that week
    shut = touch_index(closed, volume.assign(volume=[1000.0] * 6 + [0.0, 2000.0]), {})
    assert shut["rolling_6w"].notna().tolist() == [False] * 5 + [True] * 3  # 0 of 0 adds nothing: the sums hold
    # contacts without times: no week is known, so no index (the volume's weeks read 0 contacts per 1,000)
    assert touch_index(
        contacts.assign(created_at=pd.Series(pd.NaT, index=contacts.index, dtype="datetime64[ns, UTC]")), volume, {}
    ).empty


def test_the_index_direction_compares_with_six_weeks_before_not_the_last_known_figure():
    steady = pd.Series([10.0] * 6 + [20.0] * 7)  # stepped up, then flat for 7 weeks
    assert direction(steady) == "flat"  # the latest (20) against 6 weeks before it (20)
    gap = steady.copy()
    gap.iloc[6] = float("nan")  # volume unknown that week: the figure 6 weeks before the latest is unknown
    assert direction(gap) is None  # not "rising" against the 10 of a week 7 weeks back
    assert direction(pd.Series([float("nan")] * 3 + [10.0] * 6 + [8.0])) == "falling"
    assert direction(pd.Series([10.0] * 6)) is None  # no figure 6 weeks before yet


def test_trends_find_what_is_new_and_hold_false_alarms():
    rng = np.random.default_rng(0)
    start = pd.Timestamp("2026-01-01", tz="UTC")
    rows = []
    for c in range(30):  # 30 steady clusters, 3 a day on average for 49 days
        for day in range(49):
            rows += [
                (f"s{c}-{day}-{k}", start + pd.Timedelta(days=day), None, None, None, c) for k in range(rng.poisson(3))
            ]
    rows += [(f"n{k}", start + pd.Timedelta(days=45), None, None, None, 99) for k in range(12)]  # new in the last week
    rows += [
        (f"g{day}", start + pd.Timedelta(days=day), None, None, None, 98)
        for day in range(49)
        for _ in range(1 if day < 42 else 8)
    ]
    result = trends(frame(rows), "cluster_id", None, CFG.trends)
    assert result.loc[99, "trend"] == "new"
    assert result.loc[98, "trend"] == "growing"
    assert (result.drop(index=[98, 99])["trend"] != "stable").sum() <= 1


@pytest.fixture(scope="module")
def timeline():
    """12 simulated weeks over the six-intent texts; change_pin appears only in the last two."""
    texts = pd.read_csv(SIX_INTENTS)
    return simulate(texts, weeks=12, contacts=700, new_intents=("change_pin",), seed=5)


@pytest.fixture(scope="module")
def first_run(timeline, tmp_path_factory, test_config):
    from flows.discover import discover

    folder = tmp_path_factory.mktemp("timeline")
    contacts = timeline.contacts
    cut = pd.to_datetime(contacts["created_at"]).max() - pd.Timedelta(days=7)
    old = contacts[pd.to_datetime(contacts["created_at"]) <= cut]
    old.to_csv(folder / "history.csv", index=False)
    contacts[pd.to_datetime(contacts["created_at"]) > cut].to_csv(folder / "last_week.csv", index=False)
    contacts.to_csv(folder / "all.csv", index=False)
    timeline.volume.to_csv(folder / "volume.csv", index=False)
    out = folder / "run"
    discover(
        input_path=str(folder / "history.csv"),
        out_dir=str(out),
        config_path=str(test_config),
        volume_path=str(folder / "volume.csv"),
    )
    return folder, out


def test_a_run_ranks_causes_and_charts_the_touch_index(first_run):
    folder, out = first_run
    ranking = pd.read_parquet(out / "ranking.parquet")
    assert ranking["rank"].tolist() == list(range(1, len(ranking) + 1))
    assert (ranking["touches"].diff().dropna() <= 0).all()  # most touches first
    assert ranking["cluster_id"].notna().all()  # no taxonomy: every cluster is a cause
    assert ranking["why"].str.contains("touches from").all()
    index = pd.read_parquet(out / "touch_index.parquet")
    overall = index[index["scope"] == "overall"]
    assert len(overall) >= 11 and overall["rolling_6w"].notna().sum() >= 6
    assert (out / "touch_index.png").stat().st_size > 10_000
    clusters = pd.read_parquet(out / "clusters.parquet")
    assert set(clusters["trend"]) <= {"new", "growing", "declining", "stable", "inactive"}
    assert (clusters["touches_per_issue"] >= 1).all()
    lineage = pd.read_parquet(out / "lineage.parquet")
    assert set(lineage["relation"]) == {"born"}


def test_assign_adds_a_day_and_running_it_again_changes_nothing(first_run, tmp_path):
    import shutil

    from flows.assign import assign

    folder, out = first_run
    run = tmp_path / "run"
    shutil.copytree(out, run)
    before = pd.read_parquet(run / "contacts.parquet")
    first = assign(input_path=str(folder / "last_week.csv"), out_dir=str(run))
    after = pd.read_parquet(run / "contacts.parquet")
    assert first.new_contacts > 0 and len(after) == len(before) + first.new_contacts
    assert first.assigned >= 0.7 * first.new_contacts
    again = assign(input_path=str(folder / "last_week.csv"), out_dir=str(run))
    assert again.new_contacts == 0 and again.skipped == first.new_contacts
    pd.testing.assert_frame_equal(pd.read_parquet(run / "contacts.parquet"), after)
    assert pd.read_parquet(run / "ranking.parquet")["contacts"].sum() >= len(after) * 0.9


def test_a_second_discover_keeps_cluster_ids(first_run, tmp_path, test_config, six_intents):
    import shutil

    from flows.discover import discover

    folder, out = first_run
    run = tmp_path / "run"
    shutil.copytree(out, run)
    before = pd.read_parquet(run / "contacts.parquet")[["contact_id", "cluster_id"]]
    discover(
        input_path=str(folder / "all.csv"),
        out_dir=str(run),
        config_path=str(test_config),
        volume_path=str(folder / "volume.csv"),
    )
    after = pd.read_parquet(run / "contacts.parquet")[["contact_id", "cluster_id"]]
    both = before.merge(after, on="contact_id", suffixes=("_before", "_after"))
    kept = (both["cluster_id_before"] == both["cluster_id_after"]).mean()
    assert kept >= 0.9, kept
    lineage = pd.read_parquet(run / "lineage.parquet")
    assert "continued" in set(lineage["relation"])
    # the proposals name the chain of runs whose cluster ids these are: the first run's, kept by the second
    chains = {
        name: set(pd.read_parquet(folder / "proposals.parquet")["cluster_lineage"])
        for name, folder in (("first", out), ("second", run))
    }
    assert chains["first"] == chains["second"] and len(chains["first"]) == 1 and None not in chains["first"]


def test_a_reason_born_weeks_ago_is_new_though_its_first_days_fill_the_last_week_s_baseline():
    rng = np.random.default_rng(3)
    start = pd.Timestamp("2026-01-05")
    rows = []
    for c in range(20):  # 20 steady clusters, 3 a day on average for 84 days
        rows += [
            (f"s{c}-{d}-{k}", start + pd.Timedelta(days=d), None, None, None, c)
            for d in range(84)
            for k in range(rng.poisson(3))
        ]
    # born 17 days before the end, 2 a day: the last 7 days against the 6 weeks before hold its first 10 days
    rows += [(f"b{d}-{k}", start + pd.Timedelta(days=d), None, None, None, 99) for d in range(67, 84) for k in range(2)]
    result = trends(frame(rows), "cluster_id", None, CFG.trends)
    assert result.loc[99, "trend"] == "new"
    assert result.loc[99, "window_days"] > 7
    assert (result.drop(index=[99])["trend"].isin(["new", "growing"])).sum() <= 1


def test_contacts_past_the_volume_file_s_last_day_do_not_make_causes_grow():
    """A daily run a few days past the volume file's last week: those days' contacts have no volume to weigh them,
    so counting them against the volume of the days before made steady causes look 'growing'. The windows end on
    the last day with volume, and the run says which contacts it left out."""
    from pipeline.run.refresh import _past_volume

    rng = np.random.default_rng(5)
    start = pd.Timestamp("2026-01-05")  # a Monday: 12 whole weeks of volume, to Sunday 2026-03-29
    rows = [
        (f"s{c}-{d}-{k}", start + pd.Timedelta(days=d, hours=12), None, None, None, c)
        for c in range(20)
        for d in range(87)  # 3 days past the volume
        for k in range(rng.poisson(3))
    ]
    volume = pd.DataFrame({"week": [str((start + pd.Timedelta(weeks=w)).date()) for w in range(12)], "volume": 7000})
    contacts = frame(rows)
    result = trends(contacts, "cluster_id", volume, CFG.trends)
    assert not result["trend"].isin(["new", "growing"]).any(), result["trend"].value_counts()
    assert result["recent_contacts"].sum() < (contacts["created_at"] >= "2026-03-23").sum()  # the 3 days left out

    (warning,) = _past_volume(contacts["created_at"], volume)
    assert "ends on 2026-03-29" in warning and "2026-03-30 to 2026-04-01" in warning
    assert _past_volume(contacts.loc[contacts["created_at"] < "2026-03-30", "created_at"], volume) == []


def test_a_daily_volume_file_that_ends_mid_week_is_not_counted_as_a_whole_week(tmp_path):
    """A daily volume file that ends on a Wednesday gave its last week three days of volume, counted as a week's:
    spread over 7 days, the contacts of Thursday to Sunday made steady causes 'growing', and the touch index of that
    week read about 7/3 too high inside the 6-week figure. That week is partial now: its volume covers its three
    days, trends end with them, the touch index leaves it out, and the run says so."""
    from pipeline.read.volume import load_volume

    rng = np.random.default_rng(5)  # the old reading made 13-18 of these 20 steady causes 'growing' (seeds 0-7)
    start = pd.Timestamp("2026-01-05")  # a Monday; contacts to Sunday 2026-03-29 (12 whole weeks)
    days = pd.date_range(start, periods=80, freq="D")  # volume to Wednesday 2026-03-25
    (tmp_path / "volume.csv").write_text(
        "date,volume\n" + "".join(f"{d.date()},1000\n" for d in days), encoding="utf-8"
    )
    volume, warnings = load_volume(tmp_path / "volume.csv")
    assert volume["complete"].tolist() == [True] * 11 + [False]
    assert volume["volume"].iloc[-1] == 3000
    assert any("last week ends earlier" in w and "2026-03-23 (2026-03-23 to 2026-03-25)" in w for w in warnings)
    # a holiday inside the file leaves its week whole; a short file is judged by its inner weeks
    holiday = "".join(f"{d.date()},1000\n" for d in days if d != pd.Timestamp("2026-02-16"))
    (tmp_path / "holiday.csv").write_text("date,volume\n" + holiday, encoding="utf-8")
    assert load_volume(tmp_path / "holiday.csv")[0]["complete"].tolist() == [True] * 11 + [False]
    short = pd.date_range("2026-01-02", "2026-01-14", freq="D")  # Friday to the Wednesday of the week after next
    (tmp_path / "short.csv").write_text("date,volume\n" + "".join(f"{d.date()},1\n" for d in short))
    assert load_volume(tmp_path / "short.csv")[0]["complete"].tolist() == [False, True, False]
    # a weekday business whose last week lost its Monday to a holiday: 4 days, not its usual 5, still whole
    open_days = pd.date_range("2026-01-05", "2026-03-27", freq="D")  # to a Friday
    weekdays = [d for d in open_days if d.dayofweek < 5 and d != pd.Timestamp("2026-03-23")]
    (tmp_path / "weekdays.csv").write_text("date,volume\n" + "".join(f"{d.date()},1\n" for d in weekdays))
    assert load_volume(tmp_path / "weekdays.csv")[0]["complete"].tolist() == [True] * 12
    # one Saturday opened in February does not make Saturday the week's usual last day
    saturday = [*weekdays, pd.Timestamp("2026-02-14")]
    (tmp_path / "saturday.csv").write_text("date,volume\n" + "".join(f"{d.date()},1\n" for d in saturday))
    assert load_volume(tmp_path / "saturday.csv")[0]["complete"].tolist() == [True] * 12

    rows = [
        (f"s{c}-{d}-{k}", start + pd.Timedelta(days=d, hours=12), None, None, None, c)
        for c in range(20)
        for d in range(84)
        for k in range(rng.poisson(3))
    ]
    contacts = frame(rows)
    result = trends(contacts, "cluster_id", volume, CFG.trends)
    assert not result["trend"].isin(["new", "growing"]).any(), result["trend"].value_counts()

    index = touch_index(contacts.assign(created_at=pd.to_datetime(contacts["created_at"], utc=True)), volume, {})
    last = index[index["week"] == pd.Timestamp("2026-03-23").date()].iloc[0]
    assert not last["complete"] and last["volume"] == 3000
    whole = index[index["complete"]]
    assert len(whole) == 11 and whole["rolling_6w"].dropna().between(50, 70).all()  # ~420 a week over 7,000

    weekly = pd.DataFrame({"date": [str((start + pd.Timedelta(weeks=w)).date()) for w in range(12)], "volume": 7000})
    weekly.to_csv(tmp_path / "weekly.csv", index=False)
    weekly_volume, weekly_warnings = load_volume(tmp_path / "weekly.csv")
    assert weekly_volume["complete"].all() and not weekly_warnings  # one date a week: each week whole


def _blob(rng: np.random.Generator, centre: np.ndarray, n: int, spread: float = 0.08) -> np.ndarray:
    """`n` unit vectors scattered around the direction of `centre`."""
    v = centre / np.linalg.norm(centre) + rng.normal(0, spread, (n, len(centre)))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _times(rng: np.random.Generator, *spans: tuple[int, int]) -> np.ndarray:
    """Creation times over 12 weeks to 2026-03-30: each span (contacts, first day) spreads its contacts from that day
    (0: the start; 66: the last 18 days) to the end."""
    days = np.concatenate([rng.integers(first, 84, n) for n, first in spans])
    return (pd.Timestamp("2026-03-30") - pd.to_timedelta(84 - days, unit="D")).to_numpy()


def _as_found(labels: list[int]):
    """A clustering with these labels, as the clusterer would hand it to the emerging split."""
    from pipeline.model.cluster import Clustering

    labels = np.array(labels, dtype=np.int32)
    return Clustering(labels, np.ones(len(labels), dtype=np.float32), np.zeros(len(labels), dtype=bool))


def test_a_new_topic_inside_an_older_cluster_is_split_out():
    from pipeline.overtime.emerging import split_emerging

    rng = np.random.default_rng(0)
    old_centre, new_centre, other = np.eye(16)[0], np.eye(16)[1], np.eye(16)[2]
    near_new = 0.55 * old_centre + 0.85 * new_centre  # a new topic near the old one
    vectors = np.vstack([_blob(rng, old_centre, 200), _blob(rng, near_new, 30), _blob(rng, other, 200)])
    times = _times(rng, (200, 0), (30, 66), (200, 0))
    found = _as_found([0] * 230 + [1] * 200)  # the clusterer put the new topic into cluster 0
    split = split_emerging(vectors, times, found, CFG.trends, neighbours=15)
    new = split.labels[200:230]
    assert (new == new[0]).mean() >= 0.8 and new[0] not in (0, 1)
    assert (split.labels[:200] == 0).mean() >= 0.95 and (split.labels[230:] == 1).all()
    assert split.links is not None and split.links.shape == (3, 3)


def _two_new_topics(old: int) -> tuple[np.ndarray, np.ndarray]:
    """(vectors, times): `old` contacts of an older topic over 12 weeks; two new topics near it and each other, 30
    contacts each in the last 18 days, joined by 2 contacts between them; 200 contacts of another older topic."""
    rng = np.random.default_rng(0)
    axes = np.eye(16)
    first, second = 0.5 * axes[0] + 0.85 * axes[1], 0.5 * axes[0] + 0.6 * axes[1] + 0.6 * axes[3]
    between = first / np.linalg.norm(first) + second / np.linalg.norm(second)
    vectors = np.vstack(
        [
            _blob(rng, axes[0], old),
            _blob(rng, first, 30),
            _blob(rng, second, 30),
            _blob(rng, between, 2, 0.02),
            _blob(rng, axes[2], 200),
        ]
    )
    return vectors, _times(rng, (old, 0), (62, 66), (200, 0))


def test_two_new_topics_born_side_by_side_are_split_out_as_two():
    """Two new topics near each other (joined by a couple of contacts between them) form one linked group of recent
    contacts; its communities are barely linked, so each becomes a cluster of its own."""
    from pipeline.overtime.emerging import split_emerging

    vectors, times = _two_new_topics(old=200)
    found = _as_found([0] * 262 + [1] * 200)  # the clusterer put both new topics into cluster 0

    never = CFG.trends.model_copy(update={"emerging_separate_below": 0.0})
    together = split_emerging(vectors, times, found, never, neighbours=15)
    assert len(set(together.labels[200:260])) == 1, "without separation the linked group is one topic"
    apart = split_emerging(vectors, times, found, CFG.trends, neighbours=15)
    one, two = apart.labels[200:230], apart.labels[230:260]
    assert len(set(one)) == 1 and len(set(two)) == 1 and one[0] != two[0] and {one[0], two[0]}.isdisjoint({0, 1})
    assert (apart.labels[:200] == 0).all() and (apart.labels[262:] == 1).all()


def test_two_new_topics_that_share_neighbours_are_two_and_one_large_topic_stays_one():
    """Two intents born side by side share some neighbours (7-16% of each one's links go to the other here; 0-24% was
    measured between MultiDoGO's newborn intents); they are two topics. One large new topic, which Leiden cuts into
    several communities each linked to the others by a share below the same threshold, stays one: what counts is the
    share of a community's links that leave it for the rest of its group, not for any one other community."""
    from pipeline.model.cluster import cluster_links, knn_graph
    from pipeline.overtime.emerging import split_emerging

    axes = np.eye(16)
    first, second = 0.5 * axes[0] + 0.85 * axes[1], 0.5 * axes[0] + 0.85 * (0.7 * axes[1] + 0.3 * axes[3])
    for seed in range(5):
        rng = np.random.default_rng(seed)
        vectors = np.vstack(
            [_blob(rng, axes[0], 200), _blob(rng, first, 30), _blob(rng, second, 30), _blob(rng, axes[2], 200)]
        )
        times = _times(rng, (200, 0), (60, 66), (200, 0))
        shared = cluster_links(knn_graph(vectors[200:260], 15), np.repeat([0, 1], 30), np.ones(60))[0, 1]
        assert 0.05 <= shared <= 0.2, (seed, shared)
        split = split_emerging(vectors, times, _as_found([0] * 260 + [1] * 200), CFG.trends, neighbours=15)
        one, two = np.bincount(split.labels[200:230]).argmax(), np.bincount(split.labels[230:260]).argmax()
        assert one != two and {one, two}.isdisjoint({0, 1}), seed
        assert (split.labels[200:230] == one).mean() >= 0.9 and (split.labels[230:260] == two).mean() >= 0.9, seed

        large = np.vstack([_blob(rng, axes[0], 200), _blob(rng, first, 90), _blob(rng, axes[2], 200)])
        times = _times(rng, (200, 0), (90, 66), (200, 0))
        split = split_emerging(large, times, _as_found([0] * 290 + [1] * 200), CFG.trends, neighbours=15)
        assert len(set(split.labels[200:290])) == 1 and split.labels[200] not in (0, 1), seed


def test_two_new_topics_that_fill_most_of_an_older_cluster_become_two_clusters():
    """Two reasons born side by side took most of a small older cluster (62 of its 82 contacts are theirs). One new
    topic that fills a cluster leaves it as it is (the cluster is new on its own); of two, the larger keeps the
    cluster and the other gets its own, and no cluster is left empty, even when the two were all of it."""
    from pipeline.overtime.emerging import split_emerging

    vectors, times = _two_new_topics(old=20)

    for old in (20, 0):  # 20 old contacts in the cluster beside the two topics; none
        keep = np.r_[20 - old : 282]
        found = _as_found([0] * (62 + old) + [1] * 200)
        split = split_emerging(vectors[keep], times[keep], found, CFG.trends, neighbours=15)
        labels = dict(zip(keep, split.labels))
        one, two = {labels[i] for i in range(20, 50)}, {labels[i] for i in range(50, 80)}
        assert len(one) == 1 and len(two) == 1 and one != two and 0 in one | two and 1 not in one | two
        assert all(labels[i] == 0 for i in range(20 - old, 20)) and all(labels[i] == 1 for i in range(82, 282))
        assert (np.bincount(split.labels) > 0).all(), "no cluster id is left without contacts"

    alone = _as_found([0] * 45 + [1] * 200)  # one new topic, 30 of the cluster's 45 contacts: new on its own
    keep = np.r_[0:15, 20:50, 82:282]
    assert (split_emerging(vectors[keep], times[keep], alone, CFG.trends, 15).labels == alone.labels).all()


def test_one_text_pasted_by_many_in_the_last_weeks_is_not_a_new_topic():
    from pipeline.overtime.emerging import split_emerging

    rng = np.random.default_rng(1)
    old = _blob(rng, np.eye(16)[0], 200)
    text = 0.55 * np.eye(16)[0] + 0.85 * np.eye(16)[1]
    pasted = np.repeat(text[None, :] / np.linalg.norm(text), 40, axis=0)  # 40 copies of one text
    vectors = np.vstack([old, pasted])
    times = _times(rng, (200, 0), (40, 66))
    split = split_emerging(vectors, times, _as_found([0] * 240), CFG.trends, neighbours=15)
    assert (split.labels == 0).all()


def test_a_volume_date_with_a_utc_offset_stays_on_the_day_written(tmp_path):
    """A volume file's dates name days of the business's calendar. Monday midnight in Paris (+01:00) was moved to
    Sunday 23:00 UTC, so a weekly file's every week slid to the week before, and a daily file's days to the day
    before, without a word. They are read as written now, in text and in typed (Parquet) columns."""
    from pipeline.read.volume import load_volume

    mondays = pd.date_range("2026-03-02", periods=3, freq="7D")
    (tmp_path / "weekly.csv").write_text(
        "date,volume\n" + "".join(f"{d.date()}T00:00:00+01:00,{100 + i}\n" for i, d in enumerate(mondays))
    )
    weekly, _ = load_volume(tmp_path / "weekly.csv")
    assert [str(w) for w in weekly["week"]] == ["2026-03-02", "2026-03-09", "2026-03-16"]
    assert weekly["volume"].tolist() == [100, 101, 102]
    # a shape read only through a given format, with a zone name or a compact offset, is read as written too
    for values, given in (
        ([f"{d:%Y%m%d}T000000+0100" for d in mondays], "%Y%m%dT%H%M%S%z"),
        ([f"{d.date()} 00:00 CET" for d in mondays], "%Y-%m-%d %H:%M %Z"),
    ):
        (tmp_path / "given.csv").write_text("date,volume\n" + "".join(f"{v},1\n" for v in values))
        read, _ = load_volume(tmp_path / "given.csv", date_format=given)
        assert [str(w) for w in read["week"]] == ["2026-03-02", "2026-03-09", "2026-03-16"], given

    days = pd.date_range("2026-03-02", periods=14, freq="D")  # two whole weeks, each day at 23:30 in New York
    typed = pd.DataFrame(
        {"date": (days + pd.Timedelta(hours=23, minutes=30)).tz_localize("America/New_York"), "volume": 10}
    )
    typed.to_parquet(tmp_path / "daily.parquet")
    daily, warnings = load_volume(tmp_path / "daily.parquet")
    assert [str(w) for w in daily["week"]] == ["2026-03-02", "2026-03-09"]
    assert daily["volume"].tolist() == [70, 70] and daily["complete"].all()
    assert [str(d) for d in daily["first_day"]] == ["2026-03-02", "2026-03-09"]
    assert not any("ends earlier" in w for w in warnings)


def test_the_binomial_test_for_many_counts_equals_scipys_to_the_last_bit():
    """Trends test every cluster and reason in every window at once (a call each cost half a second of every
    refresh); the p-values must be scipy's own, not close to them, or a q-value could cross the line."""
    from scipy.stats import binomtest

    from pipeline.overtime.trends import two_sided_binomial

    rng = np.random.default_rng(3)
    for p in (0.5, 0.25, 1 / 7, 3 / 13, 0.9, 0.0137):
        n = np.concatenate([np.arange(1, 90), [200, 333, 1000, 5000, 123_457]]).repeat(6)
        k = np.concatenate([[0, 1, m // 2, int(p * m), int(p * m) + 1, m] for m in n[::6]])
        k = np.where(rng.random(len(k)) < 0.3, rng.integers(0, n + 1), k)
        expected = [binomtest(int(a), int(b), p).pvalue for a, b in zip(k, n)]
        assert two_sided_binomial(k, n, p).tolist() == expected, p
    assert two_sided_binomial(np.array([0, 3]), np.array([0, 3]), 0.4).tolist() == [1.0, binomtest(3, 3, 0.4).pvalue]


def test_a_cluster_cause_s_trend_cost_and_index_are_of_the_contacts_it_counts():
    """A cluster no reason holds is ranked by its contacts with no reason: its cost and touch index line counted the
    whole cluster, those given a reason (already under their reason's row) included."""
    from pipeline.overtime.measures import over_time
    from pipeline.taxonomy.tree import Reason, Taxonomy

    start = pd.Timestamp("2026-01-05")
    rows = [(f"r{d}", start + pd.Timedelta(days=d), f"c{d}", None, "refund", 0) for d in range(0, 56, 2)]
    rows += [(f"o{d}", start + pd.Timedelta(days=d), f"o{d}", None, "refund", 1) for d in range(0, 56, 4)]
    rows += [(f"n{d}", start + pd.Timedelta(days=49 + d % 7), f"n{d}", None, None, 1) for d in range(20)]
    contacts = frame([(c, str(t), cu, ti, r, k) for c, t, cu, ti, r, k in rows])
    contacts = contacts.join(issues(contacts, window_days=7))
    taxonomy = Taxonomy(version=1, reasons=[Reason(id="refund", name="Refund", examples=["refund please"])])
    cfg = CFG.model_copy(update={"cost": CFG.cost.model_copy(update={"per_contact": 2.0})})
    days = pd.Series([start + pd.Timedelta(weeks=w) for w in range(8)])
    volume = pd.DataFrame({"week": week_start(pd.to_datetime(days, utc=True)), "volume": 1000.0})
    found = over_time(contacts, volume, taxonomy, {0: "refunds", 1: "new thing"}, cfg)
    cause = found.ranking.set_index("name").loc["new thing"]
    assert cause["contacts"] == 20 and cause["cost"] == 40.0  # 14 given 'refund' sit in the cluster too
    line = found.touch_index[found.touch_index["cluster_id"] == 1]
    assert line["contacts"].sum() == 20
    assert cause["trend"] == "new"  # its contacts all came in the last week
    assert found.ranking.set_index("name").loc["Refund", "contacts"] == 28 + 14

"""Deciding is checked when it is done, and nothing is lost when people decide at once: a parent must be a reason
id of the taxonomy, an id typed short is shown whole (and refused when it is ambiguous or too short), deciding
again says what it replaces, a new name clears the machine's description, a decision made meanwhile is never
overwritten, and concurrent decisions from many processes all land."""

from __future__ import annotations

import multiprocessing
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from flows.cli import main
from flows.review_cli import out
from pipeline.errors import TaxonomyError
from pipeline.taxonomy.decisions import (
    DecisionConflict,
    SplitPart,
    apply_decisions,
    decided,
    decision_text,
    decisions_path,
    find_proposal,
    load_decisions,
    mark_status,
    next_taxonomy,
    record,
    taxonomy_for_run,
    undo,
)
from pipeline.taxonomy.proposals import Proposal
from pipeline.taxonomy.tree import load_taxonomy
from tests.conftest import run_cli

TAXONOMY = {
    "version": 1,
    "reasons": [
        {"id": "cards", "name": "Cards", "description": "Anything about cards."},
        {"id": "card_arrival", "name": "Card not arrived", "parent": "cards", "description": "Still waiting."},
        {"id": "exchange_rate", "name": "Exchange rates", "description": "Which rate we use."},
    ],
}


def proposal(pid: str, name: str = "Change PIN", kind: str = "new_reason", reasons: list[str] | None = None):
    return Proposal(
        kind=kind,
        reason_ids=reasons or [],
        cluster_ids=[3],
        name=name,
        description=f"Customers contact us about {name.lower()} (machine words).",
        confidence=0.4,
        contacts=40,
        touches=44,
        keywords=[name.lower()],
        examples=[f"how do I {name.lower()}?"],
        evidence="40 contacts form cluster 3",
        proposal_id=pid,
    )


@pytest.fixture()
def taxonomy(tmp_path):
    path = tmp_path / "taxonomy.yaml"
    path.write_text(yaml.safe_dump(TAXONOMY, sort_keys=False))
    return path


def test_a_parent_given_by_name_is_refused_when_accepting_with_the_choices(taxonomy):
    with pytest.raises(
        TaxonomyError, match=r"not a reason id of .*: did you mean 'cards' \(Cards\)\?.*cards \(Cards\)"
    ):
        record(taxonomy, proposal("a1b2c3d4e5"), "accepted", parent="Cards")
    with pytest.raises(TaxonomyError) as refused:
        record(taxonomy, proposal("a1b2c3d4e5"), "accepted", parent="card_arrival")  # a reason, not a group
    assert str(refused.value) == (
        f"'card_arrival' (Card not arrived) is a reason of {taxonomy} but not a reason group: it is itself under "
        "'cards' (reasons go two levels deep); the groups to use: cards (Cards), exchange_rate (Exchange rates), or "
        f"add a reason without a parent to {taxonomy} to make a new group"
    )
    assert load_decisions(taxonomy) == []
    done = record(taxonomy, proposal("a1b2c3d4e5"), "accepted", parent="cards")
    assert done.decision.parent == "cards" and done.replaced is None
    updated, _ = apply_decisions(taxonomy)
    assert updated.by_id()["change_pin"].parent == "cards"


def test_an_id_typed_short_must_name_one_proposal_and_be_long_enough():
    proposals = [proposal("3f2a9c01de"), proposal("3f2a000000", "Top up"), proposal("8d01b2e4aa", "Refund")]
    assert find_proposal(proposals, "8d01").proposal_id == "8d01b2e4aa"
    assert find_proposal(proposals, "3f2a000000").name == "Top up"
    with pytest.raises(TaxonomyError, match="at least 4 characters"):
        find_proposal(proposals, "8d0")
    with pytest.raises(TaxonomyError, match=r"'3f2a' starts 2 proposal ids \(3f2a9c01de \(Change PIN\), 3f2a000000"):
        find_proposal(proposals, "3f2a")


def test_deciding_again_says_what_it_replaces_and_a_stale_page_cannot_overwrite(taxonomy):
    p = proposal("a1b2c3d4e5")
    first = record(taxonomy, p, "accepted", name="PIN change", by="ana")
    assert first.decision.description == ""  # renamed: the machine's description went with the machine's name
    second = record(taxonomy, p, "rejected", why="seasonal", by="ben")
    assert second.replaced == first.decision
    # a page that still shows ana's decision cannot replace ben's without seeing it
    with pytest.raises(DecisionConflict, match="ben rejected 'Change PIN'"):
        record(taxonomy, p, "accepted", seen=first.decision.revision)
    with pytest.raises(DecisionConflict):
        record(taxonomy, p, "accepted", seen=None)  # the page showed no decision at all
    assert [d.decision for d in load_decisions(taxonomy)] == ["rejected"]
    undone = undo(taxonomy, p.proposal_id, seen=second.decision.revision)
    assert undone.by == "ben" and load_decisions(taxonomy) == []


def test_a_merge_folds_a_new_reason_into_a_reason_or_another_new_one(taxonomy):
    pin, other, rate = proposal("a1b2c3d4e5"), proposal("f0f0f0f0f0", "PIN help"), proposal("abababab01", "Rates")
    with pytest.raises(TaxonomyError, match="neither a reason"):
        record(taxonomy, other, "accepted", into="a1b2c3d4e5")  # not accepted yet
    record(taxonomy, pin, "accepted", name="Change PIN", description="The customer wants a new PIN.")
    merged = record(taxonomy, other, "accepted", into="a1b2").decision
    assert merged.into == "a1b2c3d4e5"  # short, as ids may be
    assert "into 'Change PIN' (a1b2c3d4e5)" in decision_text(merged)  # its name, not only an id people cannot read
    record(taxonomy, proposal("a1b2ffffff", "PIN reset"), "accepted")
    with pytest.raises(TaxonomyError, match="'a1b2' starts 2 accepted proposal ids"):
        record(taxonomy, rate, "accepted", into="a1b2")
    undo(taxonomy, "a1b2ffffff")
    with pytest.raises(TaxonomyError, match=r"did you mean 'exchange_rate' \(Exchange rates\)\?"):
        record(taxonomy, rate, "accepted", into="exchange_rates")
    record(taxonomy, rate, "accepted", into="exchange_rate")
    with pytest.raises(TaxonomyError, match="merged into the new reason"):
        undo(taxonomy, "a1b2c3d4e5")
    preview = next_taxonomy(taxonomy)
    reasons = preview.updated.by_id()
    assert "how do I pin help?" in reasons["change_pin"].examples
    assert "how do I rates?" in reasons["exchange_rate"].examples
    assert reasons["change_pin"].description == "The customer wants a new PIN."
    assert load_taxonomy(taxonomy).version == 1  # a preview writes nothing
    with pytest.raises(DecisionConflict):
        apply_decisions(taxonomy, seen="not-what-was-read")
    assert apply_decisions(taxonomy, seen=preview.revision)[0].version == 2


def test_a_merge_into_a_reason_of_ten_examples_adds_its_own_and_says_how_many(taxonomy):
    """Examples were capped at ten: a reason that had ten took none, the changelog said 'adding its examples', and
    the next run proposed the merged cluster again."""
    data = yaml.safe_load(taxonomy.read_text())
    data["reasons"][2]["examples"] = [f"what is the rate number {i}?" for i in range(10)]
    taxonomy.write_text(yaml.safe_dump(data, sort_keys=False))
    rates = proposal("abababab01", "Rates")
    record(taxonomy, rates, "accepted", into="exchange_rate")
    preview = next_taxonomy(taxonomy)
    assert preview.updated.by_id()["exchange_rate"].examples[-1] == "how do I rates?"
    assert any("into 'exchange_rate', adding 1 of its examples" in line for line in preview.changes), preview.changes
    data["reasons"][2]["examples"] = ["what rate?", "what rate?"]  # a repeat already there is not counted as added
    taxonomy.write_text(yaml.safe_dump(data, sort_keys=False))
    preview = next_taxonomy(taxonomy)
    assert preview.updated.by_id()["exchange_rate"].examples == ["what rate?", "what rate?", "how do I rates?"]
    assert any("adding 1 of its examples" in line for line in preview.changes), preview.changes


def test_a_proposal_about_a_reason_that_is_gone_is_refused_when_accepting(taxonomy):
    with pytest.raises(TaxonomyError, match="'mortgages'.* no longer holds"):
        record(taxonomy, proposal("9999999999", "Mortgages", "retire", ["mortgages"]), "accepted")


def _decide(args):
    path, pid = args
    record(path, proposal(pid, f"Reason {pid}"), "accepted", by=f"owner-{pid}")


def test_many_processes_deciding_at_once_lose_nothing(taxonomy):
    ids = [f"{i:010d}" for i in range(12)]
    with multiprocessing.get_context("spawn").Pool(6) as pool:
        pool.map(_decide, [(taxonomy, pid) for pid in ids])
    assert sorted(d.proposal_id for d in load_decisions(taxonomy)) == ids


def test_the_command_line_shows_the_whole_id_and_what_a_decision_replaces(
    six_intents_run, tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr(out, "width", 200)  # a wide terminal: each proposal on one line of the list
    source, _ = six_intents_run
    run = tmp_path / "run"
    shutil.copytree(source, run)
    own = taxonomy_for_run(run, None)  # the run had no taxonomy: its own, beside the run folder
    assert own == run.resolve().with_name("run.taxonomy.yaml")
    first = sorted(p.name for p in run.parent.iterdir())
    pid = pd.read_parquet(run / "proposals.parquet").sort_values("rank")["proposal_id"].iloc[0]

    def cli(*args):
        try:
            main(list(args))
        except SystemExit as end:
            return end.code, capsys.readouterr()
        return 0, capsys.readouterr()

    code, said = cli("proposals", "accept", pid[:5], "--run", str(run), "--name", "  ")  # not "keep the suggested"
    assert code == 2 and "--name is empty" in said.err and not load_decisions(own)
    code, said = cli("proposals", "accept", pid[:5], "--run", str(run), "--name", "Card PIN", "--by", "ana")
    assert code == 0 and pid in said.out and "Card PIN" in said.out
    today = load_decisions(own)[0].at[:10]
    code, said = cli("proposals", "show", pid, "--run", str(run))  # the name given and who gave it, not the machine's
    assert code == 0 and said.out.splitlines()[1].startswith("Card PIN  (") and f"{pid}, accepted)" in said.out
    assert f"decision: accepted by ana on {today} as 'Card PIN'" in said.out
    code, said = cli("proposals", "--run", str(run))
    assert code == 0 and "Card PIN" in said.out and f"accepted by ana on {today}" in said.out
    code, said = cli("proposals", "accept", pid, "--run", str(run), "--parent", "Cards")
    assert code == 2 and "parent 'Cards'" in said.err
    code, said = cli("proposals", "reject", pid, "--run", str(run), "--reason", "not now", "--by", "ben")
    assert code == 0 and "replaces the earlier decision: accepted by ana" in said.out
    code, said = cli("proposals", "--run", str(run))
    assert code == 0 and pid not in said.out  # the list hides what is rejected today, whatever the run said
    code, said = cli("proposals", "show", pid, "--run", str(run))
    assert code == 0 and f"{pid}, rejected)" in said.out  # and one proposal shown says so too
    assert f"decision: rejected by ben on {today}: not now" in said.out
    code, said = cli("proposals", "--run", str(run), "--all")
    assert code == 0 and pid in said.out and "rejected" in said.out
    code, said = cli("proposals", "--run", str(tmp_path), "undo", pid[:6], "--run", str(run))
    assert code == 2 and "two runs are given" in said.err
    # --run before the subcommand is the subcommand's: it was left unread, and the latest run's taxonomy decided for
    code, said = cli("proposals", "--run", str(run), "undo", pid[:6])
    assert code == 0 and load_decisions(own) == []
    assert f"Took back the rejection of proposal {pid} '" in said.out and f"(made by ben on {today})" in said.out
    assert sorted(p.name for p in run.parent.iterdir()) == sorted([*first, "run.taxonomy.decisions.yaml"])


def test_a_rejection_holds_for_the_same_cluster_after_its_keywords_are_spelt_as_written(taxonomy):
    """Versions before pipeline.text.lemmas wrote keywords such as "payment pend" (and both orders of a pair); the
    same cluster's proposal now reads "payment pending" (another id). The rejection taken on the old one still
    covers it."""
    before = proposal("0a1b2c3d4e", "Payment pending").model_copy(
        update={"keywords": ["payment pend", "pend payment", "card pend", "card payment"]}
    )
    record(taxonomy, before, "rejected", why="a symptom of slow transfers, not a reason")
    now = proposal("9f8e7d6c5b", "Payment pending").model_copy(
        update={"keywords": ["payment pending", "card pending", "card payment", "pending transaction"]}
    )
    reordered = proposal("5a4b3c2d1e", "Payment pending").model_copy(
        update={"keywords": ["pending payment", "pending card"]}  # other words for the same pairs
    )
    decided = before.model_copy(update={"keywords": ["pend payment", "card pend"]})
    mark_status([now], load_decisions(taxonomy), growth=0.5, taxonomy_version=1)
    assert now.status == "rejected"
    # compared as word pairs in any order: the old 'pend payment' and 'card pend' are the new ones reordered
    record(taxonomy, decided.model_copy(update={"proposal_id": "1a2b3c4d5e"}), "rejected", why="the same symptom")
    mark_status(
        [reordered], [d for d in load_decisions(taxonomy) if d.proposal_id == "1a2b3c4d5e"], 0.5, taxonomy_version=1
    )
    assert reordered.status == "rejected"


def test_a_rejection_holds_for_the_same_clusters_of_a_chain_of_runs_whatever_their_keywords(taxonomy):
    """A cluster that came back in a later run of the same folder with other keywords (5 of 11 shared) was proposed
    again, its rejection forgotten, and its contacts' reasons withheld as a missing reason's."""
    before = proposal("0a1b2c3d4e", "Top up cheque").model_copy(
        update={
            "cluster_ids": [46],
            "cluster_lineage": "chain-a",
            "contacts": 31,
            "keywords": ["top up cheque", "deposit cheque", "cheque"],
        }
    )
    record(taxonomy, before, "rejected", why="part of top up by cash or cheque")
    moved = {"keywords": ["deposit cheque", "cheque clear", "cheque when"], "contacts": 26, "proposal_id": "9f8e7d6c5b"}
    later = before.model_copy(update=moved)
    elsewhere = before.model_copy(update={**moved, "cluster_lineage": "chain-b"})  # cluster 46 of another folder
    other = before.model_copy(update={**moved, "cluster_ids": [9]})
    mark_status([later, elsewhere, other], load_decisions(taxonomy), growth=0.5, taxonomy_version=1)
    assert [p.status for p in (later, elsewhere, other)] == ["rejected", "open", "open"]
    # an id the chain gave anew to other contacts (no keyword in common) is another cluster
    reused = later.model_copy(update={"keywords": ["pin reset", "change pin"], "status": "open"})
    mark_status([reused], load_decisions(taxonomy), growth=0.5, taxonomy_version=1)
    assert reused.status == "open"
    grown = later.model_copy(update={"contacts": 47, "status": "open"})  # the evidence grew by half: shown again
    mark_status([grown], load_decisions(taxonomy), growth=0.5, taxonomy_version=1)
    assert grown.status == "open" and "rejected on" in grown.evidence


def test_applying_never_overwrites_a_file_where_the_current_version_would_be_kept(taxonomy):
    """The current taxonomy is kept as `<stem>.v<version>.yaml` before the next is written; a file of that name the
    person wrote is refused, not replaced."""
    theirs = taxonomy.with_name("taxonomy.v1.yaml")
    theirs.write_text("my own notes\n")
    record(taxonomy, proposal("a1b2c3d4e5"), "accepted", parent="cards")
    before = taxonomy.read_bytes()
    with pytest.raises(TaxonomyError, match=r"taxonomy\.v1\.yaml already exists.*move or rename it"):
        apply_decisions(taxonomy)
    assert theirs.read_text() == "my own notes\n" and taxonomy.read_bytes() == before
    theirs.unlink()
    assert apply_decisions(taxonomy)[0].version == 2
    assert theirs.read_bytes() == before


def test_a_name_given_when_accepting_is_one_line_and_not_another_reasons(taxonomy):
    """Such names were written and made two reasons no report could tell apart, or split one-line summaries."""
    with pytest.raises(TaxonomyError, match="'card NOT  arrived' is already the name of 'card_arrival'"):
        record(taxonomy, proposal("a1b2c3d4e5"), "accepted", name="card NOT  arrived")
    with pytest.raises(TaxonomyError, match="holds a line break"):
        record(taxonomy, proposal("a1b2c3d4e5"), "accepted", name="Card\nlost")
    assert load_decisions(taxonomy) == []
    assert record(taxonomy, proposal("a1b2c3d4e5"), "accepted", name="Taux de change\u00a0?").decision.name


def test_a_key_written_twice_is_refused_not_dropped(taxonomy):
    """YAML keeps the last of two equal keys without a word: a reason's first examples would be lost."""
    taxonomy.write_text(
        "version: 1\nreasons:\n  - id: cards\n    name: Cards\n    examples: [lost card, card stolen]\n"
        "    examples: [card expired]\n"
    )
    with pytest.raises(TaxonomyError, match=r"the key 'examples' is given twice in one mapping \(lines 5 and 6\)"):
        load_taxonomy(taxonomy)
    taxonomy.write_text("version: 1\nreasons:\n  ? [a, b]\n  : 1\n")  # a list as a key: YAML's own error, no crash
    with pytest.raises(TaxonomyError, match="not valid YAML"):
        load_taxonomy(taxonomy)


def test_a_new_reason_never_takes_the_id_of_one_an_earlier_version_had(taxonomy):
    """A reason deleted by hand after an apply kept its id in the runs made then; a new reason of the same name took
    that id again, so those runs' reason_id came to mean another reason."""
    record(taxonomy, proposal("a1b2c3d4e5"), "accepted", parent="cards")
    assert "change_pin" in apply_decisions(taxonomy)[0].by_id()
    data = yaml.safe_load(taxonomy.read_text())
    data["reasons"] = [r for r in data["reasons"] if r["id"] != "change_pin"]  # deleted by hand
    taxonomy.write_text(yaml.safe_dump(data, sort_keys=False))
    record(taxonomy, proposal("f0e1d2c3b4"), "accepted")
    updated, changes = apply_decisions(taxonomy)
    assert "change_pin" not in updated.by_id() and updated.by_id()["change_pin_2"].name == "Change PIN", changes


def test_an_apply_that_fails_while_writing_changes_nothing_and_the_next_adds_each_reason_once(taxonomy, tmp_path):
    """The taxonomy was written before its decisions were marked applied: a failure between the two left version 2
    with the decisions pending, and the next apply added the reason again ('change_pin_2')."""
    record(taxonomy, proposal("a1b2c3d4e5"), "accepted", parent="cards")
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    log = taxonomy.with_name("taxonomy.changelog.md")
    log.symlink_to(blocker / "changelog.md")  # the last of the three files cannot be written
    before, decided_before = taxonomy.read_bytes(), decisions_path(taxonomy).read_bytes()
    with pytest.raises(OSError):
        apply_decisions(taxonomy)
    assert taxonomy.read_bytes() == before and decisions_path(taxonomy).read_bytes() == decided_before
    assert not [f.name for f in tmp_path.iterdir() if f.name.endswith(".tmp")]
    log.unlink()
    updated, _ = apply_decisions(taxonomy)
    assert updated.version == 2 and "change_pin" in updated.by_id() and "change_pin_2" not in updated.by_id()


def test_a_taxonomy_kept_as_a_link_is_written_where_it_points(taxonomy, tmp_path):
    real = tmp_path / "repo" / "taxonomy.yaml"
    real.parent.mkdir()
    shutil.move(taxonomy, real)
    taxonomy.symlink_to(real)
    record(taxonomy, proposal("a1b2c3d4e5"), "accepted", parent="cards")
    assert [d.proposal_id for d in load_decisions(real)] == ["a1b2c3d4e5"]  # beside the file a run records
    apply_decisions(taxonomy)
    assert taxonomy.is_symlink() and load_taxonomy(real).version == 2
    assert real.with_name("taxonomy.changelog.md").is_file() and real.with_name("taxonomy.v1.yaml").is_file()


def test_names_that_would_make_two_reasons_alike_or_a_broken_one_are_refused_when_deciding(taxonomy):
    record(taxonomy, proposal("a1b2c3d4e5", "Card stolen"), "accepted")
    with pytest.raises(TaxonomyError, match="'Card stolen' is the name of a reason proposal a1b2c3d4e5"):
        record(taxonomy, proposal("f0e1d2c3b4", "Stolen"), "accepted", name="card  stolen")
    with pytest.raises(TaxonomyError, match="already the name of 'exchange_rate'"):
        record(taxonomy, proposal("f0e1d2c3b4", "Exchange rates"), "accepted")
    with pytest.raises(TaxonomyError, match="line break or tab"):
        record(taxonomy, proposal("f0e1d2c3b4", "Stolen"), "accepted", name="PIN\tchange")
    split = proposal("5p1175p117", "Exchange rates / fees", kind="split", reasons=["exchange_rate"])
    split = split.model_copy(update={"cluster_ids": [3, 4]})
    parts = [SplitPart(name="Exchange rates"), SplitPart(name="Card not arrived")]  # the second is another's name
    with pytest.raises(TaxonomyError, match="already the name of 'card_arrival'"):
        record(taxonomy, split, "accepted", parts=parts)
    with pytest.raises(TaxonomyError, match="a name is empty"):
        record(taxonomy, split, "accepted", name="Rates;", parts=parts)
    assert [d.proposal_id for d in load_decisions(taxonomy)] == ["a1b2c3d4e5"]


def test_putting_a_reason_under_one_that_holds_none_says_its_contacts_lose_it(taxonomy):
    """A top-level reason that holds no reasons is one contacts are given; a reason put under it makes it a group,
    which contacts are no longer given. That was silent: its contacts lost their reason with no word anywhere."""
    first = record(taxonomy, proposal("a1b2c3d4e5", "Rate too high"), "accepted", parent="exchange_rate")
    assert first.also == (
        "'exchange_rate' (Exchange rates) becomes a reason group: contacts are no longer given it, only the reasons "
        "under it"
    )
    assert record(taxonomy, proposal("f0f0f0f0f0", "Rate unclear"), "accepted", parent="exchange_rate").also == ""
    assert record(taxonomy, proposal("abababab01", "Card PIN"), "accepted", parent="cards").also == ""  # a group
    changes = next_taxonomy(taxonomy).changes
    assert sum("becomes a reason group" in c for c in changes) == 1
    apply_decisions(taxonomy)
    assert first.also in (taxonomy.parent / "taxonomy.changelog.md").read_text()
    assignable = {r.id for r in load_taxonomy(taxonomy).assignable()}
    assert "exchange_rate" not in assignable and {"rate_too_high", "rate_unclear"} <= assignable


def test_an_applied_acceptance_holds_for_runs_before_its_version_and_is_open_again_in_one_after(taxonomy):
    """A run made before the version a proposal was applied in shows it accepted (settled since); a run made with
    that version that proposes it again shows it open: that version did not settle it."""
    pin = proposal("a1b2c3d4e5", "Change PIN")
    record(taxonomy, pin, "accepted", parent="cards")
    apply_decisions(taxonomy)
    decisions = load_decisions(taxonomy)
    assert [p.status for p in decided([pin], decisions, 0.5, taxonomy_version=1)] == ["accepted"]
    assert [p.status for p in decided([pin], decisions, 0.5, taxonomy_version=2)] == ["open"]
    assert [p.status for p in decided([pin], decisions, 0.5, taxonomy_version=None)] == ["accepted"]


def test_a_proposal_made_again_after_its_version_is_decided_anew_and_the_applied_decision_kept(taxonomy):
    """It is open in a run made with the version that took it in: rejecting or accepting it again was refused ('was
    written into version 2'), as was discovering again, which proposes it under the same id."""
    pin = proposal("a1b2c3d4e5", "Change PIN")
    record(taxonomy, pin, "accepted", parent="cards", by="ana")
    apply_decisions(taxonomy)
    again = decided([pin], load_decisions(taxonomy), 0.5, taxonomy_version=2)[0]
    assert again.status == "open"
    with pytest.raises(TaxonomyError, match="was written into version 2"):  # a run made before version 2
        record(taxonomy, pin.model_copy(update={"status": "accepted"}), "rejected", why="settled")
    done = record(taxonomy, again, "rejected", why="version 2 settled it; the rest are other questions", by="bo")
    assert done.replaced is None
    kept = load_decisions(taxonomy)
    assert [(d.decision, d.applied_in) for d in kept] == [("accepted", 2), ("rejected", None)]
    assert decided([pin], kept, 0.5, taxonomy_version=2)[0].status == "rejected"
    assert undo(taxonomy, pin.proposal_id).decision == "rejected"  # only the new decision is taken back
    assert [(d.decision, d.applied_in) for d in load_decisions(taxonomy)] == [("accepted", 2)]


def test_a_name_taken_in_the_file_after_accepting_is_refused_when_applying(taxonomy):
    """Accepting checks names against the file as it is then; a reason of the same name added by hand before apply
    would make two reasons nobody can tell apart."""
    record(taxonomy, proposal("a1b2c3d4e5", "Card stolen"), "accepted", parent="cards")
    by_hand = {
        **TAXONOMY,
        "reasons": [*TAXONOMY["reasons"], {"id": "stolen", "name": "card Stolen", "parent": "cards"}],
    }
    taxonomy.write_text(yaml.safe_dump(by_hand, sort_keys=False))
    before = taxonomy.read_text()
    with pytest.raises(TaxonomyError, match="'Card stolen', the name proposal a1b2c3d4e5 gives .* name of 'stolen'"):
        apply_decisions(taxonomy)
    assert taxonomy.read_text() == before
    assert load_decisions(taxonomy)[0].applied_in is None


def test_nothing_is_merged_into_a_reason_that_is_retired_or_a_decision_that_stops_adding_one(taxonomy):
    split = proposal("5p1175p117", "Exchange rates / fees", kind="split", reasons=["exchange_rate"])
    split = split.model_copy(update={"cluster_ids": [3, 4]})
    record(taxonomy, split, "accepted", parts=[SplitPart(name="Rates"), SplitPart(name="Fees")])
    with pytest.raises(TaxonomyError, match="'exchange_rate' is retired by proposal 5p1175p117"):
        record(taxonomy, proposal("f0e1d2c3b4", "Rate shown"), "accepted", into="exchange_rate")
    record(taxonomy, proposal("a1b2c3d4e5", "Change PIN"), "accepted")
    record(taxonomy, proposal("0a1b2c3d4e", "Forgot PIN"), "accepted", into="a1b2c3d4e5")
    with pytest.raises(TaxonomyError, match="'Forgot PIN' is merged into the new reason of this proposal"):
        record(taxonomy, proposal("a1b2c3d4e5", "Change PIN"), "rejected", why="not a reason")
    data = yaml.safe_load(taxonomy.read_text())  # retired by hand after a merge into it was accepted
    record(taxonomy, proposal("9a8b7c6d5e", "Card late"), "accepted", into="card_arrival")
    next(r for r in data["reasons"] if r["id"] == "card_arrival")["status"] = "retired"
    taxonomy.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(TaxonomyError, match="'Card late'.* merged into 'card_arrival', which is retired"):
        apply_decisions(taxonomy)


def test_a_note_stays_one_line_of_the_changelog(taxonomy):
    record(taxonomy, proposal("a1b2c3d4e5"), "accepted", why="stolen cards\n\n## Version 99 (2020-01-01)\n\n- x")
    apply_decisions(taxonomy)
    log = taxonomy.with_name("taxonomy.changelog.md").read_text()
    assert not [line for line in log.splitlines() if line.startswith("## Version 99")]
    assert "stolen cards ## Version 99 (2020-01-01) - x" in log


def test_a_taxonomy_not_saved_as_utf8_is_named_not_a_crash(taxonomy):
    taxonomy.write_bytes(taxonomy.read_bytes().replace(b"Which rate we use.", b"caf\xe9 rates"))
    with pytest.raises(TaxonomyError, match=r"is not UTF-8 text: byte 0xe9 on line \d+.*save it as UTF-8"):
        load_taxonomy(taxonomy)


def test_decisions_are_not_kept_beside_a_taxonomy_that_moved(taxonomy, tmp_path):
    """The run's taxonomy moved: decisions went beside the missing file and started a new taxonomy at version 1."""
    moved = tmp_path / "elsewhere.yaml"
    shutil.move(taxonomy, moved)
    with pytest.raises(TaxonomyError, match="not there any more.*give --taxonomy"):
        taxonomy_for_run(tmp_path / "run", str(taxonomy))
    assert taxonomy_for_run(tmp_path / "run", str(taxonomy), moved) == moved


def test_a_changelog_is_appended_to_as_it_is(taxonomy):
    """Rewriting the changelog whole read it as UTF-8 (a Windows-1252 one crashed apply) and lost its line ends."""
    log = taxonomy.with_name("taxonomy.changelog.md")
    log.write_bytes(b"# Changes\r\n\r\ncaf\xe9 notes\r\n")
    log.chmod(0o640)
    record(taxonomy, proposal("a1b2c3d4e5"), "accepted", parent="cards")
    apply_decisions(taxonomy)
    assert log.read_bytes().startswith(b"# Changes\r\n\r\ncaf\xe9 notes\r\n\n## Version 2")
    assert log.stat().st_mode & 0o777 == 0o640


def test_apply_with_no_run_here_takes_the_earlier_default_and_says_so(tmp_path, monkeypatch, capsys):
    """`taxonomy apply` without --taxonomy writes the taxonomy a run's decisions went beside; where no run was made
    from this directory it still takes configs/taxonomy.yaml, as earlier versions always did, and says so."""
    monkeypatch.chdir(tmp_path)

    def apply() -> tuple[int, str]:
        try:
            main(["taxonomy", "apply"])
        except SystemExit as end:
            return end.code, capsys.readouterr().err
        return 0, capsys.readouterr().err

    code, said = apply()
    assert code == 2 and f"no run was made from {tmp_path}" in said and "give --taxonomy FILE" in said
    (tmp_path / "configs").mkdir()
    shutil.copy(Path(__file__).parents[1] / "configs" / "taxonomy.yaml", tmp_path / "configs" / "taxonomy.yaml")
    code, said = apply()
    assert code == 2 and "applying configs/taxonomy.yaml, the earlier default" in said
    assert "no accepted proposals wait to be applied to configs/taxonomy.yaml" in said


def test_undoing_an_applied_decision_says_when_it_was_applied_and_what_to_do(
    six_intents_run, taxonomy, tmp_path, capsys
):
    """The proposal may come from an earlier run: the run given need not propose it any more."""
    run, _ = six_intents_run
    record(taxonomy, proposal("a1b2c3d4e5"), "accepted", by="ana")
    apply_decisions(taxonomy)
    today = load_decisions(taxonomy)[0].applied_at[:10]
    code = run_cli("proposals", "undo", "a1b2c3", "--run", str(run), "--taxonomy", str(taxonomy))
    said = " ".join(capsys.readouterr().err.split())
    assert code == 2 and "no proposal" not in said
    assert (
        f"proposal a1b2c3d4e5 'Change PIN' (accepted by ana on {today}) was already applied to taxonomy version 2 on {today}, so undo cannot take it back"
        in said
    )
    assert f"kept as {tmp_path / 'taxonomy.v1.yaml'}" in said
    assert load_decisions(taxonomy)[0].applied_in == 2


def test_a_merge_adds_examples_and_keeps_the_comments_and_quoting_of_those_there(taxonomy):
    """Merging a new reason into one of the file's adds its examples at the end of the list; the examples already
    there keep their owners' comments and quotes (the whole list used to be written anew, dropping them)."""
    mine = """\
version: 1
reasons:
  - id: exchange_rate
    name: Exchange rates
    examples:
      - "what rate do you use"   # most common wording
      - 'is the rate fair'
    # owner below: ana
    owner: fx
"""
    taxonomy.write_text(mine)
    record(taxonomy, proposal("abababab01", "Rates"), "accepted", into="exchange_rate")
    apply_decisions(taxonomy)
    # the new example goes into the list, above the comment that was below it
    added = mine.replace("version: 1", "version: 2").replace("fair'\n", "fair'\n      - how do I rates?\n")
    assert taxonomy.read_text() == added
    # a list only cut keeps its last item's same-line comment, and the lines below it, where they were
    from pipeline.taxonomy.tree import edited_text

    mine = mine.replace("      - 'is the rate fair'\n", "      - 'is the rate fair'   # fair\n")
    current = load_taxonomy(taxonomy)
    rate = current.by_id()["exchange_rate"]
    cut = current.model_copy(
        update={"version": 1, "reasons": [rate.model_copy(update={"examples": rate.examples[1:2]})]}
    )
    assert edited_text(mine, cut) == mine.replace('      - "what rate do you use"   # most common wording\n', "")


def test_applying_keeps_the_owners_comments_and_layout_where_nothing_changed(taxonomy):
    """Owners comment their taxonomy and indent it their way; apply changes the lines it must and no others."""
    mine = """\
# Our reasons. Ask Dana before adding a group.
version: 1
reasons:
  # cards first: most contacts are about cards
  - id: cards
    name: Cards
    description: "Anything about cards."   # quoted on purpose
  - id: card_arrival
    name: Card not arrived
    parent: cards
    description: Still waiting.
  - id: exchange_rate
    name: Exchange rates
    description: Which rate we use.
    status: active   # said out loud, though it is the default
"""
    taxonomy.write_text(mine)
    record(taxonomy, proposal("a1b2c3d4e5"), "accepted", parent="cards", by="ana")
    apply_decisions(taxonomy)
    assert taxonomy.read_text() == mine.replace("version: 1", "version: 2") + (
        "  - id: change_pin\n"
        "    name: Change PIN\n"
        "    description: Customers contact us about change pin (machine words).\n"
        "    examples:\n"
        "      - how do I change pin?\n"
        "    parent: cards\n"
    )
    assert (taxonomy.parent / "taxonomy.v1.yaml").read_text() == mine

    # texts YAML 1.1 reads as something else ('no', 'On', '1:30') are quoted, comments kept: ruamel writes YAML 1.2,
    # which left them plain, and apply failed reading its own result back
    odd = proposal("f6e5d4c3b2", name="Declined").model_copy(update={"examples": ["no", "On", "1:30", "2026-02-30"]})
    record(taxonomy, odd, "accepted", parent="cards", by="ana")
    apply_decisions(taxonomy)
    assert taxonomy.read_text().startswith("# Our reasons.")
    assert load_taxonomy(taxonomy).by_id()["declined"].examples == ["no", "On", "1:30", "2026-02-30"]


def test_taxonomy_check_names_an_accepted_decision_that_apply_would_refuse(taxonomy, capsys):
    """The reason a pending retire concerns was renamed by hand: check said 'valid', and only apply refused."""
    record(taxonomy, proposal("a1b2c3d4e5", "Card not arrived", "retire", ["card_arrival"]), "accepted")
    taxonomy.write_text(taxonomy.read_text().replace("card_arrival", "card_late"))
    code = run_cli("taxonomy", "check", str(taxonomy))
    said = " ".join(capsys.readouterr().err.split())
    assert code == 2
    assert "the file is valid, but `touchless taxonomy apply` would refuse" in said and "card_arrival" in said


def test_a_name_in_other_letters_gives_an_id_in_latin_ones(taxonomy):
    """Ids are ASCII: a German or Chinese name gave 'geldautomat_rger' or 'reason', 'reason_2', ids kept for ever."""
    record(taxonomy, proposal("a1b2c3d4e5"), "accepted", name="Geldautomat hat Karte eingezogen – Ärger")
    record(taxonomy, proposal("f0f0f0f0f0", "Refund"), "accepted", name="退款")
    assert {"geldautomat_hat_karte_eingezogen_arger", "tui_kuan"} <= set(next_taxonomy(taxonomy).updated.by_id())


def test_rejecting_a_proposal_an_earlier_run_s_acceptance_covers_takes_that_acceptance_back(taxonomy):
    """The next run proposed an accepted change again under another id, shown accepted; rejecting it left the old
    acceptance waiting, and apply carried it out."""
    before = proposal("0a1b2c3d4e", "Card late", "retire", ["card_arrival"])
    record(taxonomy, before, "accepted", by="ana")
    again = before.model_copy(update={"proposal_id": "9f8e7d6c5b"})
    assert decided([again], load_decisions(taxonomy), 0.5, taxonomy_version=1)[0].status == "accepted"
    done = record(taxonomy, again, "rejected", why="keep it after all", by="bo")
    assert done.replaced is not None and done.replaced.proposal_id == "0a1b2c3d4e"
    assert [(d.proposal_id, d.decision) for d in load_decisions(taxonomy)] == [("9f8e7d6c5b", "rejected")]
    assert next_taxonomy(taxonomy).changes == []  # nothing left for apply to carry out


def test_the_apply_command_accept_prints_can_be_pasted(six_intents_run, tmp_path, capsys, monkeypatch):
    """A taxonomy in a folder with a space was printed bare: the pasted command failed."""
    import shlex

    monkeypatch.setattr(out, "width", 300)
    run = tmp_path / "my runs" / "run"
    shutil.copytree(six_intents_run[0], run)
    pid = pd.read_parquet(run / "proposals.parquet").sort_values("rank")["proposal_id"].iloc[0]
    assert run_cli("proposals", "accept", pid, "--run", str(run), "--by", "ana") == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if "taxonomy apply" in line)
    words = shlex.split(line[line.index("touchless") : line.index(" to write it")])
    assert words == ["touchless", "taxonomy", "apply", "--taxonomy", str(taxonomy_for_run(run, None))]

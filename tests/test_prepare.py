"""Text preparation: emails and chats in, clean and redacted customer words out, nothing dropped silently."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from pipeline.config import load_config
from pipeline.text.prepare import read_and_prepare
from tests.conftest import DATA

CFG = load_config()

EMAIL = """<html><body><p>Hi team,</p><p>My refund for order 5531 still hasn't arrived &amp; it's been 3 weeks.</p>
<p>Can you check? <a href="https://shop.example.com/orders?id=5531&u=anna">link</a></p>
<p>Thanks,<br>Anna Schmidt<br>Sent from my iPhone</p></body></html>
On Mon, 5 Jan 2026 at 10:02, Example Support <support@example.com> wrote:
> Thank you for contacting us. Your ticket number is 5531.
> Please type your reply above this line
"""

OUTLOOK = """The card reader charged me twice for one coffee.
Please refund the second charge.

Regards,
Tom Becker
Senior Buyer | Example Ltd | +44 20 7946 0958

This email and any attachments are confidential and intended solely for the addressee.
From: Example Support <help@example.com>
Sent: 04 January 2026 18:00
To: tom@example.com
Subject: RE: double charge
"""


def prepare(tmp_path, frame: pd.DataFrame, **overrides):
    path = tmp_path / "input.csv"
    frame.to_csv(path, index=False)
    return read_and_prepare(path, load_config(overrides=overrides or None))


def test_emails_lose_markup_quotes_signatures_and_footers(tmp_path):
    contacts, report = prepare(tmp_path, pd.DataFrame({"contact_id": ["e1", "e2"], "text": [EMAIL, OUTLOOK]}))
    first, second = contacts["text"]
    assert first.startswith("My refund for order 5531 still hasn't arrived & it's been 3 weeks.")
    assert "Can you check?" in first
    for gone in ("Hi team", "<p>", "Anna", "iPhone", "wrote:", "ticket number", "https://", "reply above"):
        assert gone not in first, gone
    assert second == "The card reader charged me twice for one coffee.\nPlease refund the second charge."
    row = contacts.iloc[0]
    assert row["removed_html_tags"] > 5 and row["removed_quoted_lines"] >= 3
    assert row["removed_signature_lines"] >= 2
    assert contacts.iloc[1]["removed_footer_lines"] >= 1 and contacts.iloc[1]["removed_signature_lines"] >= 1
    assert report.kind == "contacts"


def test_cleaning_can_be_turned_off_but_redaction_cannot(tmp_path):
    contacts, _ = prepare(tmp_path, pd.DataFrame({"contact_id": ["e2"], "text": [OUTLOOK]}), prepare={"clean": False})
    text = contacts["text"][0]
    assert "Regards" in text and "confidential" in text  # not cleaned
    assert "7946" not in text and "[PHONE]" in text and "[EMAIL]" in text  # still redacted


def test_a_messages_export_becomes_one_contact_per_conversation(tmp_path):
    messages = pd.DataFrame(
        {
            "conversation_id": ["c1"] * 7 + ["c2"] * 3,
            "role": [
                "Visitor",
                "Bot",
                "Visitor",
                "Agent",
                "Visitor",
                "Visitor",
                "Supervisor",
                "customer",
                "agent",
                "customer",
            ],
            "text": [
                "hi",
                "What can I help you with? Track my order / Refund",
                "Refund",
                "Sure, what is your email?",
                "anna.schmidt@example.com",
                "the blender arrived broken, I want my money back",
                "escalated",
                "hello",
                "How can I help?",
                "thanks bye",
            ],
            "sent_at": pd.date_range("2026-01-05 09:00", periods=10, freq="min", tz="UTC").astype(str),
        }
    )
    contacts, report = prepare(tmp_path, messages)
    assert report.kind == "messages" and report.conversations == 2
    c1 = contacts.set_index("contact_id").loc["c1"]
    assert c1["text"] == "Refund\nthe blender arrived broken, I want my money back"
    assert c1["turns"] == 6 and c1["customer_turns"] == 4  # the supervisor, a role it does not know, left out
    assert str(c1["created_at"]) == "2026-01-05 09:00:00+00:00" and str(c1["last_at"]) == "2026-01-05 09:05:00+00:00"
    assert c1["removed_no_reason_turns"] == 2  # "hi" and the email-only turn
    assert c1["conversation_id"] == "c1"
    assert contacts.set_index("contact_id").loc["c2", "text_status"] == "no_reason"
    assert any("'supervisor'" in w for w in report.warnings)
    assert report.columns.startswith("read as messages (one row per message, 2 conversations by 'conversation_id'")


def test_a_file_with_the_columns_of_both_kinds_says_how_it_was_read(tmp_path):
    """A contacts export that also has conversation and role columns is read as messages, as documented; the
    person is told, with the flag that reads one contact per row."""
    rows = pd.DataFrame(
        {
            "contact_id": ["k1", "k2", "k3"],
            "conversation_id": ["c1", "c2", "c3"],
            "role": ["user", "user", "admin"],
            "text": ["my card was declined", "where is my refund", "the app keeps crashing"],
        }
    )
    _, report = prepare(tmp_path, rows)
    assert report.kind == "messages"
    assert any("if each row is one contact, run with --input-kind contacts" in w for w in report.warnings)


def test_multidogo_chats_are_read_as_messages(tmp_path):
    contacts, report = read_and_prepare(DATA / "multidogo_finance_messages.csv", CFG)
    assert report.kind == "messages" and len(contacts) == 60
    assert (contacts["customer_turns"] > 1).all()
    assert contacts["removed_no_reason_turns"].sum() > 60  # greetings and thanks in nearly every chat
    assert not contacts["text"].str.contains(r"^(?:hi|hello|thank you)$", flags=re.I, regex=True).any()


def test_other_languages_are_flagged_and_set_aside_or_kept(tmp_path):
    frame = pd.DataFrame(
        {
            "contact_id": ["en", "es", "de", "short", "ar", "ru", "shop", "es2", "it"],
            "text": [
                "my card was charged twice for the same coffee yesterday",
                "mi tarjeta no ha llegado todavía y ya pasaron dos semanas",
                "meine Karte ist noch nicht angekommen, was soll ich tun",
                "gracias",
                # the identifier is less than 0.9 sure of these (0.81, 0.57): they were read as English and clustered
                "لم تصل بطاقتي بعد، أرجو المساعدة",
                "моя карта до сих пор не пришла, помогите",
                "charged twice by ООО Яндекс Маркет Москва",  # English, naming a shop in its own letters
                # 0.89 and 0.88 sure: under the old 0.9 they were read as English
                "He perdido mi tarjeta y necesito bloquearla inmediatamente por favor",
                "Ho perso la mia carta, potete bloccarla subito?",
            ],
        }
    )
    contacts, report = prepare(tmp_path, frame)
    status = dict(zip(contacts["contact_id"], contacts["text_status"]))
    other = "other_language"
    assert status == {
        "en": "ok",
        "es": other,
        "de": other,
        "short": "ok",
        "ar": other,
        "ru": other,
        "shop": "ok",
        "es2": other,
        "it": other,
    }
    assert dict(zip(contacts["contact_id"], contacts["language"]))["es"] == "es"
    assert report.other_language == 6 and any("es 2" in w for w in report.warnings)
    kept, _ = prepare(tmp_path, frame, prepare={"language": {"other": "keep"}})
    assert (kept["text_status"] == "ok").all()
    # where Russian is expected, an unsure Cyrillic text is Russian, as before (the identifier said 'bg' at 0.28)
    russian, _ = prepare(tmp_path, frame[frame["contact_id"] == "ru"], prepare={"language": {"expected": ["ru"]}})
    assert russian["text_status"].tolist() == ["ok"] and russian["language"].tolist() == ["ru"]


@pytest.mark.parametrize(
    "bad",
    [
        {"prepare": {"cleaning": {"boilerplate": ["(unclosed"]}}},
        {"prepare": {"redact": {"id_patterns": {"order id": "\\d+"}}}},
    ],
)
def test_bad_rules_in_config_are_named(bad):
    from pipeline.errors import ConfigError

    with pytest.raises(ConfigError, match="prepare"):
        load_config(overrides=bad)


def test_pasted_again_texts_share_a_duplicate_group(tmp_path, test_config):
    from flows.discover import discover

    texts = pd.read_csv(DATA / "banking77_six.csv")["text"].tolist()[:40]
    pasted = "My card still hasn't arrived after two weeks, where is it?"
    frame = pd.DataFrame(
        {
            "contact_id": [f"c{i}" for i in range(44)],
            "text": texts
            + [pasted, pasted.upper(), pasted + "!!", "my card still hasnt arrived after two weeks where is it"],
            "created_at": pd.date_range("2026-01-01", periods=44, freq="h", tz="UTC").astype(str),
        }
    )
    frame.to_csv(tmp_path / "in.csv", index=False)
    discover(input_path=str(tmp_path / "in.csv"), out_dir=str(tmp_path / "out"), config_path=str(test_config))
    out = pd.read_parquet(tmp_path / "out" / "contacts.parquet").set_index("contact_id")
    assert set(out.loc[["c40", "c41", "c42", "c43"], "duplicate_group"]) == {"c40"}
    assert out.loc[[f"c{i}" for i in range(40)], "duplicate_group"].isna().sum() >= 36


def test_texts_the_model_reads_alike_are_one_duplicate_group():
    """Accents aside, these are one text to the (uncased) model: identical vectors, so one group, though their
    lower-cased keys differ; the repeats of a vector are linked to its first instead of compared pairwise."""
    import numpy as np

    from pipeline.model.embed import embedder
    from pipeline.text.duplicates import duplicate_groups

    texts = ["My café card was declined", "where is my refund", "my cafe card was declined"] * 2 + ["Change my PIN"]
    contacts = pd.DataFrame(
        {"contact_id": [f"c{i}" for i in range(7)], "text": texts, "created_at": pd.NaT, "row": range(7)}
    )
    vectors = embedder(load_config().embedding).embed(texts).vectors
    assert np.array_equal(vectors[0], vectors[2])
    groups = duplicate_groups(contacts, vectors, np.arange(7), np.zeros(7, dtype=int), 0.95)
    assert groups.iloc[:6].tolist() == ["c0", "c1", "c0", "c0", "c1", "c0"]
    assert pd.isna(groups.iloc[6])


def test_duplicate_groups_compare_every_pair_of_a_cluster_across_blocks(monkeypatch):
    """A cluster is compared a block of members at a time, each block against the members from its own first on:
    with blocks of a few members, the groups are those of comparing every pair at once, and each group's contact is
    its earliest (unknown times last, then the input's order), whatever the frame's index."""
    import numpy as np
    from scipy.sparse.csgraph import connected_components

    from pipeline.text import duplicates

    rng = np.random.default_rng(3)
    originals = rng.standard_normal((12, 16)).astype(np.float32)
    vectors = originals[rng.integers(0, 12, 60)] + rng.normal(0, 0.03, (60, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    labels = rng.integers(0, 3, 60)
    times = pd.Series(pd.date_range("2026-01-01", periods=60, freq="h", tz="UTC")).sample(frac=1, random_state=1)
    times.iloc[::7] = pd.NaT
    contacts = pd.DataFrame(
        {
            "contact_id": [f"c{i}" for i in range(60)],
            "text": [f"text {i}" for i in range(60)],  # no two alike: every group comes from the vectors
            "created_at": times.to_numpy(),
            "row": range(60),
        },
        index=range(100, 160),
    )
    monkeypatch.setattr(duplicates, "_BLOCK_SIMILARITIES", 40)  # blocks of 1 or 2 members
    groups = duplicates.duplicate_groups(contacts, vectors, np.arange(60), labels, 0.98)

    linked = (vectors @ vectors.T >= 0.98) & (labels[:, None] == labels[None, :])
    _, roots = connected_components(linked, directed=False)
    first = contacts.reset_index(drop=True).assign(root=roots).sort_values(["created_at", "row"], na_position="last")
    expected = first.groupby("root")["contact_id"].first()[roots].to_numpy()
    expected[np.bincount(roots)[roots] == 1] = None
    assert groups.index.equals(contacts.index)
    assert groups.notna().sum() >= 20  # the test plants groups
    assert [g if pd.notna(g) else None for g in groups] == expected.tolist()


def test_messages_input_kind_can_be_forced(tmp_path, test_config, capsys):
    from flows.cli import main

    frame = pd.read_csv(DATA / "multidogo_finance_messages.csv").rename(
        columns={"conversation_id": "chat", "role": "who"}
    )
    frame.to_csv(tmp_path / "chats.csv", index=False)
    config = tmp_path / "config.yaml"
    config.write_text(test_config.read_text() + "input:\n  messages:\n    columns:\n      role: who\n")
    try:
        main(
            [
                "discover",
                str(tmp_path / "chats.csv"),
                "--out",
                str(tmp_path / "out"),
                "--config",
                str(config),
                "--input-kind",
                "messages",
                "--id-column",
                "chat",
            ]
        )
    except SystemExit as exc:
        assert not exc.code, capsys.readouterr().err
    out = pd.read_parquet(tmp_path / "out" / "contacts.parquet")
    assert len(out) == 60 and out["conversation_id"].notna().all() and (out["turns"] > 1).all()


def test_terms_keep_words_the_lookup_table_would_turn_into_other_words():
    """Keywords are built of terms: "pending" and "number" are words of their own, not forms of "pend" and "numb"
    (spaCy's lookup table maps them so, not knowing the part of speech), while true inflections still meet their
    lemma ("cards" and "card", "charged" and "charge")."""
    from pipeline.text.prepare import content_terms

    terms = content_terms(
        ["My payment is pending and the tracking number is wrong", "Both cards were charged for a second rent"], 16
    )
    assert terms[0].split() == ["payment", "pending", "track", "number", "wrong"]
    assert terms[1].split() == ["card", "charge", "rent"]


def test_the_shipped_spellings_match_the_installed_lookup_data():
    """kept_spellings.txt is derived from spacy-lookups-data: regenerate it (`python -m pipeline.text.lemmas`)
    whenever that pin moves."""
    from pipeline.text.lemmas import as_looked_up, derive_kept_spellings, kept_spellings

    derived = derive_kept_spellings()
    assert {"number": "numb", "pending": "pend", "matter": "matt"}.items() <= derived.items()
    assert "cards" not in derived and "charged" not in derived and "deleted" not in derived
    assert derived == kept_spellings()
    assert as_looked_up("pin number") == as_looked_up("Pin Number") == "pin numb"


def test_the_details_digest_does_not_move_between_versions():
    """Every run keeps these digests: if a new pandas (its keyed hash) or a change here moved them, the next assign
    would read every contact of every run again. This value was printed when the digest was made."""
    from pipeline.read.digests import with_details

    details = pd.DataFrame(
        {
            "created_at": pd.to_datetime(["2026-08-31T09:36:16Z", None], utc=True),
            "customer_id": ["K1", None],
            "handle_time_s": [91.0, np.nan],
            "turns": [3.0, np.nan],  # counts with a gap, as a run's table gives them back
            "plan": ["gold", ""],
        }
    )
    assert with_details(["w1", "w2"], details, ["plan"]).tolist() == ["w1:33aa99e8b7195716", "w2:29fa2e413dd9696a"]


def test_worker_processes_prepare_what_the_run_own_process_does(monkeypatch):
    """A large export is prepared in worker processes (`prepare.processes`). With parts so small that two workers
    share a small file, an export of contacts and one of messages come out the same as in the run's own process:
    every column, and the report of what was cleaned, redacted and set aside."""
    import pipeline.text.prepare as prepare_module

    started = []

    class Started(prepare_module.ProcessPoolExecutor):  # the real pool, counted
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            started.append(self._max_workers)

    monkeypatch.setattr(prepare_module, "ProcessPoolExecutor", Started)
    monkeypatch.setattr(prepare_module, "TEXTS_PER_PART", 25)
    monkeypatch.setattr(prepare_module, "PARTS_PER_WORKER", 1)
    for path in (DATA / "banking77_six.csv", DATA / "multidogo_finance_messages.csv"):
        alone, alone_report = read_and_prepare(path, load_config(overrides={"prepare": {"processes": 1}}))
        assert started == []
        shared, shared_report = read_and_prepare(path, load_config(overrides={"prepare": {"processes": 2}}))
        assert started == [2]
        started.clear()
        pd.testing.assert_frame_equal(alone, shared)
        assert alone_report == shared_report
        assert alone["text"].str.len().gt(0).mean() > 0.9 and alone["terms"].str.len().gt(0).mean() > 0.9
    assert alone_report.redacted  # the messages export has names and numbers to redact


def test_a_text_column_named_as_another_field_is_the_text_only(tmp_path):
    """--column text=reason: the field `reason`, left at its own name, would read the same column: it was refused as
    mapped to the text (no way out but renaming the export); it is absent instead."""
    frame = pd.DataFrame({"contact_id": ["a", "b"], "reason": ["my card never came", "where is my refund"]})
    contacts, report = prepare(tmp_path, frame, input={"columns": {"text": "reason"}})
    assert contacts["text"].tolist() == ["my card never came", "where is my refund"]
    assert contacts["reason"].isna().all()
    assert report.columns.startswith("columns read: contact_id, text <- 'reason'. not found:")  # not 'reason (empty)'
    assert "reason (off:" in report.columns

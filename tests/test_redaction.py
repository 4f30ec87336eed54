"""Redaction: every planted email, phone, card, IBAN, address and name in the corpus is gone, no look-alike (amount,
date, card brand, "my card is broken") is touched, and no placeholder cuts a word."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.text.redact import (
    PLACEHOLDER,
    IdPattern,
    Redactor,
    asks_for_name,
    iban_ok,
    luhn_ok,
    redact_name_answer,
)
from tests.redaction_corpus import cases, luhn_complete

CASES = cases()
KINDS = ["EMAIL", "PHONE", "CARD", "IBAN", "ADDRESS", "NAME", "NUMBER"]


@pytest.fixture(scope="module")
def redacted() -> list[str]:
    return Redactor().redact_many([text for text, _, _ in CASES])[0]


def cut_words(text: str) -> list[str]:
    """Placeholders with a letter right before or after them: a word cut in two ("br[NAME]")."""
    return [
        text[max(m.start() - 10, 0) : m.end() + 10]
        for m in PLACEHOLDER.finditer(text)
        if (m.start() > 0 and text[m.start() - 1].isalpha()) or (m.end() < len(text) and text[m.end()].isalpha())
    ]


def test_the_corpus_is_large_and_varied():
    assert len(CASES) >= 350
    kinds = {kind for _, secrets, _ in CASES for kind in secrets}
    assert kinds == set(KINDS)
    assert sum(not secrets for _, secrets, _ in CASES) >= 60  # look-alikes that must come back as they were


@pytest.mark.parametrize("kind", KINDS)
def test_every_planted_secret_is_replaced_by_its_placeholder(kind, redacted):
    missed = [
        (text, out)
        for (text, secrets, _), out in zip(CASES, redacted)
        for value in secrets.get(kind, [])
        if value in out or f"[{kind}]" not in out
    ]
    assert not missed, missed[:5]


def test_look_alikes_come_back_unchanged(redacted):
    changed = [(text, out) for (text, secrets, _), out in zip(CASES, redacted) if not secrets and out != text]
    assert not changed, changed[:5]


def test_amounts_dates_and_plain_numbers_survive(redacted):
    broken = [(keep, out) for (_, _, keeps), out in zip(CASES, redacted) for keep in keeps if keep not in out]
    assert not broken, broken[:5]


def test_no_placeholder_cuts_a_word_in_the_corpus(redacted):
    assert not [cut for out in redacted for cut in cut_words(out)]


FRAGMENTS = [
    "my",
    "card",
    "is",
    "broken",
    "Thanks",
    "thanks,",
    "br",
    "best",
    "buy",
    "february",
    "Anna",
    "Smith",
    "Visa",
    "Mastercard",
    "regards",
    "my name is",
    "O'Brien",
    "José",
    "Flat 2,",
    "8 Maple Avenue",
    "London",
    "NW1 6XE",
    "PO Box 12",
    "CA 94105",
    "+44 20 7946 0958",
    "anna@example.com",
    "GB82 WEST 1234 5698 7654 32",
    "10.0.0.12",
    "2024-01-15",
    "$12.50",
    "order 12345",
    "x",
    "7",
    "\n",
    ".",
    ",",
]


@st.composite
def texts(draw) -> list[str]:
    """Fragments of customer text and personal data, often glued to letters ("card4111...", "zzAnna")."""
    card = luhn_complete(draw(st.sampled_from(["4", "51", "37"])), 16, random.Random(draw(st.integers(0, 999))))
    parts = st.lists(st.sampled_from(FRAGMENTS + [card]), min_size=1, max_size=12)
    joins = st.sampled_from(["", " ", " ", ", ", "\n"])
    return ["".join(p + draw(joins) for p in draw(parts)) for _ in range(draw(st.integers(5, 15)))]


@settings(deadline=None)  # examples: the project's hypothesis profile (tests/conftest.py)
@given(batch=texts())
def test_no_placeholder_ever_cuts_a_word(batch):
    out, _ = Redactor().redact_many(batch)
    assert not [(text, cut) for text, red in zip(batch, out) for cut in cut_words(red)]


@pytest.mark.parametrize(
    "question",
    [
        "What is your name?",
        "your name?",
        "May I have your name please",
        "Who am I speaking with?",
        "Can I get your full name?",
        "Could you tell me your first name",
        "what's the name on the account?",
    ],
)
def test_agent_questions_for_the_name_are_recognised(question):
    assert asks_for_name(question)


@pytest.mark.parametrize(
    "line", ["What is your booking number?", "Your name will be printed on the card.", "How can I help you today?"]
)
def test_other_agent_turns_ask_no_name(line):
    assert not asks_for_name(line)


@pytest.mark.parametrize(
    "answer, expected",
    [
        ("robin", "[NAME]"),
        ("james martin", "[NAME]"),
        ("it's Anna Smith", "it's [NAME]"),
        ("I'm Tom.", "I'm [NAME]."),
        ("my name is priya", "my name is [NAME]"),
        ("this is Kenji Watanabe", "this is [NAME]"),
        ("yes, it's anna", "yes, it's [NAME]"),
    ],
)
def test_a_bare_name_after_the_question_is_redacted(answer, expected):
    assert redact_name_answer(answer) == (expected, 1)


@pytest.mark.parametrize(
    "answer",
    [
        "why?",
        "ok",
        "no thanks",
        "I don't know",
        "hyu 524",
        "my card is broken",
        "it is on the card",
        "one moment please",
        "my name is anna and my card is broken",
    ],
)
def test_an_answer_that_is_not_just_a_name_stays(answer):
    assert redact_name_answer(answer) == (answer, 0)


def test_checks_keep_look_alikes_out():
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert iban_ok("GB82 WEST 1234 5698 7654 32") and not iban_ok("GB83 WEST 1234 5698 7654 32")
    text = "ref 4111111111111112 and GB83 WEST 1234 5698 7654 32"
    out = Redactor(names=False).redact(text)
    assert "[CARD]" not in out and "[IBAN]" not in out
    assert "4111111111111112" not in out  # still an account-like number: redacted as [NUMBER]


def test_an_identifier_with_a_long_number_is_one_word_never_a_cut_phone():
    """'ORD-12345678' was redacted as 'ORD-[PHONE]': a word cut, and an order number called a phone."""
    redactor = Redactor(names=False)
    assert redactor.redact("My order ORD-12345678 has not arrived") == "My order [NUMBER] has not arrived"
    assert redactor.redact("Invoice INV-2026-000123456 is wrong") == "Invoice [NUMBER] is wrong"
    assert redactor.redact("COVID-19 delays, model X-100") == "COVID-19 delays, model X-100"
    assert redactor.redact("call me on +44-20-7946-0958") == "call me on [PHONE]"
    assert redactor.redact("ref ORD-12345678-refund please") == "ref [NUMBER]-refund please"  # a word after it stays
    assert redactor.redact("call me tel-0123456789") == "call me tel-[PHONE]"


def test_company_id_patterns_and_urls():
    redactor = Redactor([IdPattern("ORDER", r"\bORD-\d{6}\b")], names=False)
    out = redactor.redact("order ORD-123456 see https://shop.example.com/track?id=99&u=anna 10.0.0.12")
    assert out == "order [ORDER] see [URL] [IP]"


def test_counts_by_type():
    texts = ["I live at 8 Maple Avenue, London NW1 6XE. Thanks,\nAnna", "my card is broken"]
    out, counts = Redactor().redact_many(texts)
    assert out == ["I live at [ADDRESS]. Thanks,\n[NAME]", "my card is broken"]
    assert +counts[0] == {"ADDRESS": 1, "NAME": 1} and not +counts[1]


def test_a_contact_longer_than_the_recogniser_reads_at_once_is_redacted_whole():
    """spaCy refuses texts over a million characters; a long contact is read piece by piece (`_NER_PIECE`), names
    found in a later piece, and no word is cut where the pieces meet."""
    from pipeline.text.redact import _NER_PIECE

    filler = "my card payment was declined again and nobody explains why " * 2_000  # 120,000 characters
    text = filler + "Please ask Margaret Thompson to call me back. " + filler
    out = Redactor().redact(text)
    assert len(text) > 2 * _NER_PIECE
    assert "Margaret" not in out and "Thompson" not in out and "[NAME]" in out
    assert out.count("declined") == text.count("declined")

"""Redaction: 100% of emails, phones, cards and IBANs in the corpus, no amount or date touched, names mostly."""

from __future__ import annotations

import pytest

from pipeline.redact import Redactor, iban_ok, luhn_ok
from tests.redaction_corpus import cases

CASES = cases()


@pytest.fixture(scope="module")
def redacted() -> list[str]:
    return Redactor().redact_many([text for text, _, _ in CASES])[0]


def test_the_corpus_is_large_and_varied():
    assert len(CASES) >= 200
    kinds = {kind for _, secrets, _ in CASES for kind in secrets}
    assert kinds == {"EMAIL", "PHONE", "CARD", "IBAN", "NAME"}


@pytest.mark.parametrize("kind", ["EMAIL", "PHONE", "CARD", "IBAN"])
def test_every_structured_secret_is_replaced_by_its_placeholder(kind, redacted):
    missed = [
        (text, out)
        for (text, secrets, _), out in zip(CASES, redacted)
        for value in secrets.get(kind, [])
        if value in out or f"[{kind}]" not in out
    ]
    assert not missed, missed[:5]


def test_amounts_dates_and_plain_numbers_survive(redacted):
    broken = [(keep, out) for (_, _, keeps), out in zip(CASES, redacted) for keep in keeps if keep not in out]
    assert not broken, broken[:5]


def test_most_names_are_found(redacted):
    names = [(value, out) for (_, secrets, _), out in zip(CASES, redacted) for value in secrets.get("NAME", [])]
    recall = sum(value not in out for value, out in names) / len(names)
    print(f"name recall {recall:.2f} over {len(names)} names")
    assert recall >= 0.85


def test_checks_keep_look_alikes_out():
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert iban_ok("GB82 WEST 1234 5698 7654 32") and not iban_ok("GB83 WEST 1234 5698 7654 32")
    text = "ref 4111111111111112 and GB83 WEST 1234 5698 7654 32"
    out = Redactor(names=False).redact(text)
    assert "[CARD]" not in out and "[IBAN]" not in out
    assert "4111111111111112" not in out  # still an account-like number: redacted as [NUMBER]


def test_company_id_patterns_and_urls():
    from pipeline.redact import IdPattern

    redactor = Redactor([IdPattern("ORDER", r"\bORD-\d{6}\b")], names=False)
    out = redactor.redact("order ORD-123456 see https://shop.example.com/track?id=99&u=anna 10.0.0.12")
    assert out == "order [ORDER] see [URL] [IP]"

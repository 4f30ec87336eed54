"""Spellings the lookup lemmatizer must leave as written.

spaCy's English lookup table maps a spelling to one lemma without knowing the word's part of speech, so a word
that is a noun or adjective in its own right is read as the inflection of a rarer word: "number" -> "numb",
"pending" -> "pend", "matter" -> "matt", "rent" -> "rend", "data" -> "datum". Keywords built of such lemmas
("pin numb", "payment pend") name words no customer wrote. A lemma is kept only when it is at least 1/20 as common
as the spelling it replaces (`lexeme_prob` of the same spacy-lookups-data release); a true inflection's lemma is
common ("cards" -> "card", "charged" -> "charge"). Those frequencies appear to be counted on Reddit comments, where
"[deleted]" stands in every removed comment ("deleted" ranks with "time"): "deleted" is read as "delete" whatever
they say (`_SKEWED`).

The spellings and the lemmas they escape are derived once from the lookup data and shipped beside this module
(`kept_spellings.txt`), because loading the million-word frequency table costs ~3 s in every process;
`python -m pipeline.text.lemmas` writes the file again (tests/test_prepare.py checks it matches the installed data).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pipeline.errors import ModelError

KEPT_SPELLINGS = Path(__file__).with_name("kept_spellings.txt")
_MAX_RARER = 3.0  # natural-log units: a lemma more than e^3 (~20) times rarer than its spelling is not its lemma
_UNSEEN = -20.0  # spacy-lookups-data's own probability for a word it never saw
_SKEWED = {"deleted"}  # far more common in the frequency counts than in English: "[deleted]" marks removed comments


def derive_kept_spellings() -> dict[str, str]:
    """Lower-case spelling of letters -> the lookup lemma it keeps clear of (far rarer than the spelling)."""
    import spacy_lookups_data
    from spacy.util import load_language_data  # reads the .json.gz the package ships

    lemmas, prob = (load_language_data(spacy_lookups_data.en[name]) for name in ("lemma_lookup", "lexeme_prob"))
    return {
        word: lemma
        for word, lemma in sorted(lemmas.items())
        if word.isalpha()  # what content_terms looks up: a token of letters
        and word == word.lower()
        and lemma.isalpha()  # "second" -> "2": content_terms drops such number words before their lemma
        and lemma != word
        and word not in _SKEWED
        and prob.get(lemma, _UNSEEN) < prob.get(word, _UNSEEN) - _MAX_RARER
    }


@lru_cache(maxsize=1)
def kept_spellings() -> dict[str, str]:
    """Spelling -> the lookup lemma it is not read as ("number" -> "numb"), from the shipped file."""
    pairs = [line.split("\t") for line in KEPT_SPELLINGS.read_text(encoding="utf-8").splitlines() if line]
    if any(len(pair) != 2 for pair in pairs):
        raise ModelError(f"{KEPT_SPELLINGS} is damaged: reinstall touchless (or run `python -m pipeline.text.lemmas`)")
    return dict(pairs)


def as_looked_up(keyword: str) -> str:
    """A keyword as versions before this rule wrote it ("pin number" -> "pin numb"): decisions taken on a proposal
    whose keywords held such lemmas still match the same proposal now."""
    escaped = kept_spellings()
    return " ".join(escaped.get(word, word) for word in keyword.lower().split())


if __name__ == "__main__":
    KEPT_SPELLINGS.write_text(
        "".join(f"{word}\t{lemma}\n" for word, lemma in derive_kept_spellings().items()), encoding="utf-8"
    )

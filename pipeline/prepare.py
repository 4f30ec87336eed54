"""Prepare contact text: normalise it and derive the lemmas that describe clusters.

One spaCy pipeline object does the work through `nlp.pipe`. It is a blank English pipeline with the lookup
lemmatizer (thousands of texts a second), because the tagger-based lemmatizer of a trained pipeline costs ~30x more
for the same keywords.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import spacy
from spacy.lang.en.stop_words import STOP_WORDS
from spacy.language import Language

from pipeline.config import PrepareConfig

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u2028\u2029\ufeff]")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_LINES = re.compile(r"\n\s*\n+")


@dataclass(frozen=True)
class PreparedTexts:
    """`text`: what is embedded and shown; `terms`: space-joined content lemmas for keywords."""

    text: list[str]
    terms: list[str]


@lru_cache(maxsize=1)
def build_nlp() -> Language:
    nlp = spacy.blank("en")
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    nlp.initialize()
    return nlp


def normalise(text: str) -> str:
    """Unicode-normalised, control characters out, runs of spaces and blank lines collapsed."""
    text = unicodedata.normalize("NFKC", text)
    text = _CONTROL.sub(" ", text)
    text = _SPACES.sub(" ", text)
    text = _LINES.sub("\n", text)
    return text.strip()


def prepare_texts(texts: Sequence[str], cfg: PrepareConfig) -> PreparedTexts:
    nlp = build_nlp()
    clean = [normalise(t) for t in texts]
    terms = [" ".join(content_lemmas(doc)) for doc in nlp.pipe(clean, batch_size=cfg.batch_size)]
    return PreparedTexts(text=clean, terms=terms)


def content_lemmas(doc) -> list[str]:
    """Lower-cased lemmas of the words that carry meaning: no stop words, punctuation, numbers or placeholders."""
    out = []
    for tok in doc:
        if tok.is_stop or tok.is_punct or tok.is_space or tok.like_num or not tok.is_alpha:
            continue
        lemma = tok.lemma_.lower()
        if len(lemma) > 1 and lemma not in STOP_WORDS:
            out.append(lemma)
    return out

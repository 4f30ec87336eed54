"""Describe each cluster for a person: keywords (c-TF-IDF), a readable name, and the contacts nearest its centre."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from pipeline.config import DescribeConfig
from pipeline.model.cluster import centroids
from pipeline.model.names import Meaning, name_clusters
from pipeline.model.vector_file import likeness

_BETWEEN = "|"  # never a term: terms are lemmas of words made of letters (pipeline/text/prepare.py)


@dataclass(frozen=True)
class TermCounts:
    """How often each term (a content lemma or two in a row, as `prepare` writes them) is used in each class of
    contacts: what class-based TF-IDF weighs. Counted once per run: classes made of whole classes (a run's reason
    groups are sums of its clusters) are summed from these (`merged`), not counted again from every contact, which
    at a million contacts builds a vocabulary of ~1.2 million terms each time."""

    ids: np.ndarray  # (classes,) class ids, ascending
    matrix: sparse.csr_matrix  # (classes, terms): how often each term is used in each class
    vocab: np.ndarray  # (terms,) the terms

    @classmethod
    def of(cls, terms: Sequence[str], labels: np.ndarray) -> TermCounts:
        """The counts of `terms` (one string per contact) in each class of `labels` (-1: in none, not counted).
        `terms` may be an Arrow-backed pandas array: a contact's terms become a Python string only while its class
        is joined."""
        if len(terms) != len(labels):
            raise ValueError(f"{len(terms)} contacts' terms for {len(labels)} labels")
        order = np.argsort(labels, kind="stable")
        order = order[labels[order] >= 0]
        ids, starts = np.unique(labels[order], return_index=True)
        ids = ids.astype(int)
        if not len(ids):
            return cls(ids, sparse.csr_matrix((0, 0)), np.array([], dtype=object))
        # each class's terms joined, in their order, with a separator token between contacts, so that no two-word
        # term spans the end of one contact and the start of the next ('limit limit' out of "... a limit?" and
        # "limit for ..."); terms holding it are dropped. Each class's terms are taken alone: pandas' groupby made
        # every contact's terms Python strings at once (0.21 GB at a million contacts)
        column = pd.Series(terms).array
        ends = np.append(starts[1:], len(order))
        joined = [f" {_BETWEEN} ".join(column.take(order[start:end])) for start, end in zip(starts, ends)]
        from sklearn.feature_extraction.text import (
            CountVectorizer,  # here: `assign` never describes, and saves the import
        )

        vectorizer = CountVectorizer(token_pattern=r"\S+", ngram_range=(1, 2), lowercase=False)
        try:
            counts = vectorizer.fit_transform(joined).astype(np.float64)
        except ValueError:  # no terms at all (e.g. every text was a number)
            return cls(ids, sparse.csr_matrix((len(ids), 0)), np.array([], dtype=object))
        vocab = vectorizer.get_feature_names_out()
        real = np.array([_BETWEEN not in term.split(" ") for term in vocab], dtype=bool)
        return cls(ids, counts[:, real].tocsr(), vocab[real])

    def merged(self, into: dict[int, int]) -> TermCounts:
        """The counts of classes made of these: `into` gives each class the class it joins (a class it does not
        name joins none)."""
        kept = np.array([int(c) in into for c in self.ids], dtype=bool)
        joins = np.array([into[int(c)] for c in self.ids[kept]], dtype=int)
        ids = np.unique(joins)
        join = sparse.csr_matrix(
            (np.ones(len(joins)), (np.searchsorted(ids, joins), np.flatnonzero(kept))), shape=(len(ids), len(self.ids))
        )
        return TermCounts(ids, (join @ self.matrix).tocsr(), self.vocab)

    def keywords(self, n_keywords: int) -> dict[int, list[str]]:
        """Top terms per class by class-based TF-IDF: a term scores high when frequent in one class and rare in
        the others (the weighting BERTopic uses: tf per class x log(1 + mean words per class / term frequency))."""
        if not len(self.vocab) or not len(self.ids):
            return {int(c): [] for c in self.ids}
        counts = self.matrix
        tf = sparse.diags(1.0 / np.maximum(counts.sum(axis=1).A1, 1.0)) @ counts
        words_per_class = counts.sum() / len(self.ids)
        idf = np.log(1.0 + words_per_class / np.maximum(counts.sum(axis=0).A1, 1.0))
        scores = (tf @ sparse.diags(idf)).tocsr()
        out = {}
        for row, c in enumerate(self.ids):
            values = scores[row].toarray().ravel()
            top = [i for i in np.argsort(-values, kind="stable")[: n_keywords * 3] if values[i] > 0]
            out[int(c)] = _drop_covered([str(self.vocab[i]) for i in top])[:n_keywords]
        return out


def class_tfidf_keywords(terms: Sequence[str], labels: np.ndarray, n_keywords: int) -> dict[int, list[str]]:
    """Top terms per class of `labels` by class-based TF-IDF (`TermCounts.keywords`)."""
    return TermCounts.of(terms, labels).keywords(n_keywords)


def _drop_covered(terms: list[str]) -> list[str]:
    """Drop a word once a longer term holding it ranks in the list (`exchange rate` makes `rate` redundant), and a
    term whose words a higher-ranked term already gives in another order (`pending payment` after `payment
    pending`): the same words twice tell a person nothing more."""
    phrases = [set(t.split()) for t in terms if " " in t]
    seen: set[frozenset[str]] = set()
    kept = []
    for t in terms:
        words = frozenset(t.split())
        if words in seen or (" " not in t and any(words <= p for p in phrases)):
            continue
        seen.add(words)
        kept.append(t)
    return kept


def typical_members(
    vectors: np.ndarray, labels: np.ndarray, centres: dict[int, np.ndarray], n: int
) -> dict[int, np.ndarray]:
    """Indices of each cluster's members nearest (cosine) to its centre (`centroids`): its most typical contacts."""
    out = {}
    for c, centre in centres.items():
        members = np.flatnonzero(labels == c)
        out[c] = members[np.argsort(-likeness(vectors, members, centre), kind="stable")[: max(n, 1) * 3]]
    return out


def distinct(texts: Sequence[str], order: np.ndarray, n: int) -> list[str]:
    picked: list[str] = []
    for i in order:
        if texts[i] not in picked:
            picked.append(texts[i])
        if len(picked) == n:
            break
    return picked


def describe_clusters(
    texts: Sequence[str],
    counts: TermCounts,
    vectors: np.ndarray,
    labels: np.ndarray,
    cfg: DescribeConfig,
    embed: Callable[[list[str]], np.ndarray] | None = None,
) -> pd.DataFrame:
    """One row per cluster: `cluster_id`, `label` (a readable name), `keywords`, `examples` (typical contacts).
    `texts` must already be redacted; only the typical contacts' are read (an Arrow-backed array serves: a million
    texts made Python strings at once were 130 MB). `counts`: the terms' counts in the clusters of `labels`.
    `embed` (texts -> unit vectors with the contacts' model): a name is chosen among a cluster's candidate phrases by
    its meaning (`names.Meaning`)."""
    keywords = counts.keywords(cfg.n_keywords)
    cluster_ids, centre_vectors = centroids(vectors, labels)
    centres = dict(zip(cluster_ids.tolist(), centre_vectors))
    typical = typical_members(vectors, labels, centres, max(cfg.n_examples, cfg.label_docs))
    meaning = Meaning(centres, embed, cfg.name_shortlist, cfg.name_contrast) if embed is not None else None
    samples = {c: distinct(texts, idx, cfg.label_docs) for c, idx in typical.items()}
    names = name_clusters(samples, keywords, meaning=meaning)
    ids = sorted(keywords)
    return pd.DataFrame(
        {
            "cluster_id": ids,
            "label": [names[c] for c in ids],
            "keywords": [keywords[c] for c in ids],
            "examples": [distinct(texts, typical[c], cfg.n_examples) for c in ids],
        }
    )


def reason_keywords(terms: Sequence[str], reason_ids: list[str | None], n_keywords: int) -> dict[str, list[str]]:
    """What the contacts of each reason say that those of the other reasons do not (c-TF-IDF, as for clusters)."""
    names = sorted({r for r in reason_ids if r is not None})
    code = {r: i for i, r in enumerate(names)}
    labels = np.array([code.get(r, -1) if r is not None else -1 for r in reason_ids])
    return {names[c]: words for c, words in class_tfidf_keywords(terms, labels, n_keywords).items()}

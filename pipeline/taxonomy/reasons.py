"""Give every contact a reason from the taxonomy, or none when nothing fits well enough.

Zero-shot: each reason is described by its name and description and by its examples; a contact takes the reason
whose texts it is most alike (cosine of embeddings), if at least `min_similarity` alike to some reason. With
`self_training`, a light classifier (logistic regression on the embeddings) then learns from the most confident of
those picks and the reasons' own texts, and re-reads every contact: a reason's contacts are more alike each other
than the few texts written for it (BANKING77, 77 reasons: 0.73 -> 0.79 of contacts given their true reason).
Where contacts carry reasons chosen by agents, the same kind of classifier learns from those, and is used when it
beats the text-only reading on a held-out part of those contacts; it then needs `min_probability`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pipeline.config import ClusterConfig, TaxonomyConfig
from pipeline.model.vector_file import blockwise, releasing, take
from pipeline.taxonomy.tree import Taxonomy

if TYPE_CHECKING:  # scikit-learn is imported only where a classifier is made: commands that read no reasons skip it
    from sklearn.linear_model import LogisticRegression

_MIN_LABELLED = 50  # agent-labelled contacts needed to try a classifier
_MIN_PER_REASON = 5
# contacts a classifier is fitted (or checked) on at most: a seeded sample beyond it (a bound on memory and time, not
# a tuned value). Fitted on the confident half of a million contacts, reading their reasons took 1.7 GB and 29.5 s;
# on this sample, 0.45 GB and 12.3 s
_MAX_TRAINING = 50_000


@dataclass(frozen=True)
class ReasonModel:
    """The reasons' texts as vectors: one row per text, `owner` says whose."""

    ids: list[str]
    vectors: np.ndarray
    owner: np.ndarray

    def similarity(self, vectors: np.ndarray) -> np.ndarray:
        """(contacts, reasons): each contact's best cosine to any text of each reason."""
        out = np.full((len(vectors), len(self.ids)), -1.0, dtype=np.float32)
        texts_of = [self.owner == r for r in range(len(self.ids))]
        # in blocks: every contact against every text is 1M x texts
        for start in releasing(range(0, len(vectors), 16_384), vectors):
            sims = vectors[start : start + 16_384] @ self.vectors.T
            for r, mine in enumerate(texts_of):
                out[start : start + len(sims), r] = sims[:, mine].max(axis=1)
        return out


@dataclass(frozen=True)
class Readers:
    """The classifiers a reading learned from its contacts: `texts` re-reads the zero-shot picks (learned from the
    most confident of them, `self_training`), `agents` reads what agents would choose (learned from their reasons,
    where it beat the texts on held-out contacts: `held_out`). A run keeps them, and `assign` reads a day's contacts
    with them while the taxonomy is the one they were learned for: learned anew from each day's file, a contact's
    reason depended on what else that file held (3 of 10 contacts read otherwise in a file of 10 than in one of 80).
    Kept as arrays (`<name>_classes`, `_coef`, `_intercept`), made classifiers again when first used: a command that
    loads a run without reading reasons does not import scikit-learn."""

    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    held_out: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        texts: LogisticRegression | None = None,
        agents: LogisticRegression | None = None,
        held_out: dict[str, float] | None = None,
    ) -> Readers:
        arrays = {}
        for name, classifier in (("texts", texts), ("agents", agents)):
            if classifier is not None:
                arrays |= {
                    f"{name}_classes": classifier.classes_,
                    f"{name}_coef": classifier.coef_,
                    f"{name}_intercept": classifier.intercept_,
                }
        return cls(arrays, dict(held_out or {}))

    @cached_property
    def texts(self) -> LogisticRegression | None:
        return self._classifier("texts")

    @cached_property
    def agents(self) -> LogisticRegression | None:
        return self._classifier("agents")

    def _classifier(self, name: str) -> LogisticRegression | None:
        if f"{name}_coef" not in self.arrays:
            return None
        from sklearn.linear_model import LogisticRegression

        found = LogisticRegression()
        found.classes_, found.coef_ = self.arrays[f"{name}_classes"], self.arrays[f"{name}_coef"]
        found.intercept_, found.n_features_in_ = self.arrays[f"{name}_intercept"], found.coef_.shape[1]
        return found

    def saved(self) -> dict[str, np.ndarray]:
        return {**self.arrays, "held_out": np.array(json.dumps(self.held_out))}

    @classmethod
    def from_saved(cls, saved) -> Readers:
        """From `saved()`'s arrays (an `np.load` of them: read whole here, the file is closed after)."""
        return cls({k: saved[k] for k in saved.files if k != "held_out"}, json.loads(str(saved["held_out"])))


@dataclass
class Assignment:
    reason_id: list[str | None]
    reason_score: np.ndarray
    method: str  # zero_shot | classifier
    held_out: dict[str, float] = field(default_factory=dict)  # accuracy of each method on agent-labelled contacts
    text_reason: list[str | None] = field(default_factory=list)  # zero-shot pick: what the text alone says
    readers: Readers = field(default_factory=Readers)  # what it learned, or the run's readers it applied


@dataclass(frozen=True)
class Reading:
    """The reasons of some contacts (`rows` of the contacts frame), how they were read, and what to warn about."""

    rows: np.ndarray
    assignment: Assignment
    warnings: list[str]

    def method(self) -> dict:
        """How reasons were read, for the run's manifest: zero-shot or a classifier, with held-out accuracies."""
        return {"method": self.assignment.method, "held_out_accuracy": self.assignment.held_out}

    def present(self, min_contacts: int) -> int:
        """How many reasons at least `min_contacts` contacts are read as: the reasons of the taxonomy these contacts
        hold, each of which the clustering should be able to give a cluster of its own."""
        counts = pd.Series(self.assignment.reason_id, dtype=object).value_counts()
        return int((counts >= min_contacts).sum())


def fewest_clusters(reading: Reading | None, contacts: int, cfg: ClusterConfig) -> int:
    """The fewest clusters the clustering of `contacts` may find (`cluster.taxonomy_floor`): the reasons `reading`
    gives to `min_cluster_size` contacts each; 0 without a reading or with `target_reasons`. Above `sample_size`
    the clusters are found on a sample: a reason counts when its share of the contacts would give the sample
    `min_cluster_size` of them (a rare reason, absent from the sample, cannot have a cluster)."""
    if reading is None or not cfg.taxonomy_floor or cfg.target_reasons is not None:
        return 0
    sampled = max(1.0, contacts / cfg.sample_size)
    return reading.present(math.ceil(cfg.min_cluster_size * sampled))


def read_reasons(
    vectors: np.ndarray,
    agent_values: pd.Series,
    rows: np.ndarray,
    taxonomy: Taxonomy,
    model: ReasonModel,
    cfg: TaxonomyConfig,
    seed: int,
    readers: Readers | None = None,
) -> Reading:
    """The reason of each contact at `rows` (whose vectors these are): from its text, or from a classifier trained
    on agents' reasons where that is better. `agent_values`: the input's `reason` column, for every contact.
    `readers`: a run's, learned for this taxonomy, to read with instead of learning from these contacts."""
    agent, warnings = agent_reasons(agent_values, taxonomy)
    labelled = agent.iloc[rows] if agent.notna().any() else None
    return Reading(rows, assign_reasons(vectors, model, labelled, cfg, seed, readers), warnings)


def reason_texts(taxonomy: Taxonomy) -> tuple[list[str], list[str], list[int]]:
    """(assignable ids, texts, owner index per text): name + description, then each example."""
    reasons = taxonomy.assignable()
    texts, owner = [], []
    for i, reason in enumerate(reasons):
        for text in [f"{reason.name}. {reason.description}".strip(), *reason.examples]:
            texts.append(text)
            owner.append(i)
    return [r.id for r in reasons], texts, owner


def reason_model(taxonomy: Taxonomy, embed) -> ReasonModel:
    """`embed`: texts -> unit vectors (the run's embedder, so reasons and contacts share one space)."""
    ids, texts, owner = reason_texts(taxonomy)
    return ReasonModel(ids=ids, vectors=embed(texts), owner=np.array(owner))


def agent_reasons(values: pd.Series, taxonomy: Taxonomy) -> tuple[pd.Series, list[str]]:
    """Agent-chosen reasons as taxonomy ids (matched by id or by name, any case); unknown values become null."""
    lookup = {}
    for reason in taxonomy.reasons:
        lookup[reason.id.lower()] = reason.id
        lookup[reason.name.lower()] = reason.id
    codes, uniques = pd.factorize(values)  # a few distinct values over a long history: each is looked up once
    plain = pd.Series(uniques, dtype="string").str.strip().str.lower()
    found = plain.map(lookup).astype(object)
    known = np.append(found.where(found.notna(), None).to_numpy(dtype=object), None)  # code -1: no value
    mapped = pd.Series(known[codes], index=values.index, dtype=object)
    unknown_values = plain.notna() & found.isna()
    warnings = []
    if unknown_values.any():
        counts = pd.Series(np.bincount(codes[codes >= 0], minlength=len(uniques)))[unknown_values.to_numpy()]
        by_value = counts.groupby(plain[unknown_values].to_numpy()).sum().sort_values(ascending=False, kind="stable")
        names = ", ".join(f"'{v}'" for v in by_value.index[:8])
        warnings.append(
            f"{int(by_value.sum())} agent-chosen reason(s) are not in the taxonomy ({names}); they are not used"
        )
    return mapped, warnings


def assign_reasons(
    vectors: np.ndarray,
    model: ReasonModel,
    labelled: pd.Series | None,
    cfg: TaxonomyConfig,
    seed: int,
    readers: Readers | None = None,
) -> Assignment:
    """`labelled`: agent-chosen taxonomy ids per contact (None where absent), or None when no contact has one.
    `readers`: the run's (`Readers`): applied as they are, nothing is learned from these contacts."""
    sims = model.similarity(vectors)
    texts = readers.texts if readers is not None else _self_trained(vectors, sims, model, cfg, seed)
    reading = sims.argmax(axis=1) if texts is None else blockwise(texts.predict, vectors)
    fits = sims.max(axis=1)
    zero = (
        [model.ids[r] if f >= cfg.min_similarity else None for r, f in zip(reading, fits)],
        sims[np.arange(len(sims)), reading].astype(np.float32),
    )
    if readers is not None:
        if readers.agents is None:
            return Assignment(
                *zero, method="zero_shot", held_out=readers.held_out, text_reason=zero[0], readers=readers
            )
        return _by_agents(readers.agents, vectors, zero[0], readers, cfg)
    learned = Readers.of(texts)
    if labelled is None:
        return Assignment(*zero, method="zero_shot", text_reason=zero[0], readers=learned)
    known = np.flatnonzero(labelled.notna().to_numpy() & labelled.isin(model.ids).to_numpy())
    counts = labelled.iloc[known].value_counts()
    if len(known) < _MIN_LABELLED or (counts >= _MIN_PER_REASON).sum() < 2:
        return Assignment(*zero, method="zero_shot", text_reason=zero[0], readers=learned)
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    y = labelled.iloc[known].to_numpy().astype(str)
    keep = np.isin(y, counts.index[counts >= _MIN_PER_REASON])
    known, y = known[keep], y[keep]
    train, test = train_test_split(np.arange(len(known)), test_size=cfg.holdout_share, random_state=seed, stratify=y)
    train, test = _at_most(train, seed, y[train]), _at_most(test, seed, y[test])
    classifier = LogisticRegression(C=cfg.classifier_c, max_iter=1000).fit(take(vectors, known[train]), y[train])
    held_out = {
        "classifier": float((classifier.predict(take(vectors, known[test])) == y[test]).mean()),
        "zero_shot": float((np.array(model.ids)[reading[known[test]]] == y[test]).mean()),
        "contacts": int(len(test)),
    }
    if held_out["classifier"] <= held_out["zero_shot"]:
        learned = Readers.of(texts, held_out=held_out)  # the held-out scores, for the run's record
        return Assignment(*zero, method="zero_shot", held_out=held_out, text_reason=zero[0], readers=learned)
    every = _at_most(np.arange(len(known)), seed, y)
    classifier.fit(take(vectors, known[every]), y[every])
    return _by_agents(classifier, vectors, zero[0], Readers.of(texts, classifier, held_out), cfg)


def _by_agents(
    classifier: LogisticRegression, vectors: np.ndarray, text_reason: list, readers: Readers, cfg: TaxonomyConfig
) -> Assignment:
    """Reasons as the classifier learned from agents' reasons reads them (none below `min_probability`)."""
    probabilities = blockwise(classifier.predict_proba, vectors)
    best = probabilities.argmax(axis=1)
    chosen = _pick(list(classifier.classes_), best, probabilities.max(axis=1), cfg.min_probability)
    return Assignment(*chosen, method="classifier", held_out=readers.held_out, text_reason=text_reason, readers=readers)


def _self_trained(
    vectors: np.ndarray, sims: np.ndarray, model: ReasonModel, cfg: TaxonomyConfig, seed: int
) -> LogisticRegression | None:
    """The classifier that re-reads each contact's most alike reason from its text: trained on the most confident
    `self_training` share of those picks (by the margin over the runner-up; a seeded sample of `_MAX_TRAINING` of
    them in a larger run) and on the reasons' own texts, so that every reason keeps examples; its classes are
    indices into `model.ids`. None where there is too little to learn from."""
    if cfg.self_training <= 0 or len(vectors) < _MIN_LABELLED or len(model.ids) < 2:
        return None
    from sklearn.linear_model import LogisticRegression

    best = sims.argmax(axis=1)
    top_two = np.partition(sims, -2, axis=1)[:, -2:]
    margin = top_two[:, 1] - top_two[:, 0]
    confident = _at_most(np.flatnonzero(margin >= np.quantile(margin, 1 - cfg.self_training)), seed)
    return LogisticRegression(C=cfg.classifier_c, max_iter=1000).fit(
        np.vstack([take(vectors, confident), model.vectors]), np.concatenate([best[confident], model.owner])
    )


def _at_most(rows: np.ndarray, seed: int, classes: np.ndarray | None = None) -> np.ndarray:
    """`rows`, or a seeded sample of about `_MAX_TRAINING` of them (in their order) when there are more. With
    `classes` (each row's reason) every reason keeps its share, and at least `_MIN_PER_REASON` rows (all, when it
    has fewer): a rare reason is never sampled out of the classifier."""
    if len(rows) <= _MAX_TRAINING:
        return rows
    rng = np.random.default_rng(seed)
    if classes is None:
        return rows[np.sort(rng.choice(len(rows), _MAX_TRAINING, replace=False))]
    keep = []
    for reason in np.unique(classes):
        mine = np.flatnonzero(classes == reason)
        n = max(min(len(mine), _MIN_PER_REASON), round(len(mine) * _MAX_TRAINING / len(rows)))
        keep.append(mine if n >= len(mine) else rng.choice(mine, n, replace=False))
    return rows[np.sort(np.concatenate(keep))]


def _pick(ids: list[str], best: np.ndarray, score: np.ndarray, threshold: float) -> tuple[list[str | None], np.ndarray]:
    chosen = [ids[b] if s >= threshold else None for b, s in zip(best, score)]
    return chosen, score.astype(np.float32)

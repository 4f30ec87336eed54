"""Score clusters against known reasons: NMI, ARI and ACC, over clustered contacts and over every contact.

"Every contact" is the score a taxonomy owner lives with: noise is one more cluster for NMI and ARI (the convention
BERTopic's own evaluations use) and is never a correct match for ACC.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from sklearn.metrics.cluster import contingency_matrix


@dataclass(frozen=True)
class Scores:
    nmi: float
    ari: float
    acc: float


@dataclass(frozen=True)
class Evaluation:
    contacts: int
    labels: int  # distinct true reasons
    clusters: int  # clusters found, noise not counted
    noise_share: float  # after any noise reassignment
    clustered: Scores  # over contacts in some cluster
    every_contact: Scores  # over all contacts, noise counted as wrong

    def as_dict(self) -> dict:
        return asdict(self)


def hungarian_accuracy(truth: np.ndarray, predicted: np.ndarray, ignore: int | None = None) -> float:
    """Share of contacts whose cluster is matched one-to-one to their true reason (best matching).

    Contacts in the `ignore` cluster (noise) can never be matched, so they count as wrong.
    """
    truth_ids, truth_codes = np.unique(truth, return_inverse=True)
    pred_ids, pred_codes = np.unique(predicted, return_inverse=True)
    table = contingency_matrix(truth_codes, pred_codes, sparse=False)
    if ignore is not None and ignore in pred_ids:
        table[:, np.flatnonzero(pred_ids == ignore)[0]] = 0
    rows, cols = linear_sum_assignment(table, maximize=True)
    return float(table[rows, cols].sum() / len(truth))


def evaluate_run(contacts: pd.DataFrame, labels: pd.Series) -> Evaluation:
    """Score a run's contacts (`contact_id`, `cluster_id`) against known labels indexed by contact id."""
    scored = contacts[contacts["contact_id"].isin(labels.index)]
    return evaluate(labels.loc[scored["contact_id"]].to_numpy(), scored["cluster_id"].to_numpy())


def evaluate(truth, predicted, noise: int = -1) -> Evaluation:
    truth = np.asarray(truth).astype(str)
    predicted = np.asarray(predicted)
    clustered = predicted != noise

    def scores(t: np.ndarray, p: np.ndarray, ignore: int | None) -> Scores:
        if len(t) == 0:
            return Scores(0.0, 0.0, 0.0)
        return Scores(
            nmi=float(normalized_mutual_info_score(t, p)),
            ari=float(adjusted_rand_score(t, p)),
            acc=hungarian_accuracy(t, p, ignore=ignore),
        )

    return Evaluation(
        contacts=len(truth),
        labels=len(np.unique(truth)),
        clusters=len(np.unique(predicted[clustered])),
        noise_share=float(1.0 - clustered.mean()) if len(truth) else 0.0,
        clustered=scores(truth[clustered], predicted[clustered], None),
        every_contact=scores(truth, predicted, noise),
    )

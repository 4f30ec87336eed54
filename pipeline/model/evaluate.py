"""Score clusters against known reasons: NMI, ARI and ACC, over clustered contacts and over every contact.

"Every contact" is the score a taxonomy owner lives with: noise is one more cluster for NMI and ARI (the convention
BERTopic's own evaluations use) and is never a correct match for ACC.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from sklearn.metrics.cluster import contingency_matrix

from pipeline.config import Config, InputConfig
from pipeline.errors import InputError
from pipeline.read.contacts import as_id_text
from pipeline.read.files import read_table
from pipeline.read.messages import is_messages


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
    unlabelled: int = 0  # contacts with no known reason: not scored (`evaluate_run`)

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
    at = labels.index.get_indexer(contacts["contact_id"].astype(object))  # a hash lookup (isin on strings is slow)
    scored = at >= 0
    scores = evaluate(labels.to_numpy()[at[scored]], contacts["cluster_id"].to_numpy()[scored])
    return replace(scores, unlabelled=int((~scored).sum()))


def evaluate(truth, predicted, noise: int = -1) -> Evaluation:
    # the reasons as integer codes: as strings, a million of them were copied and sorted by every score
    truth = pd.factorize(np.asarray(truth).astype(str))[0]
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


def load_labels(path: str | Path, cfg: InputConfig, column: str) -> pd.Series:
    """The known reason of each contact (for scoring), indexed by contact id, spaces around it dropped; rows without
    one (empty, or only spaces) are left out.
    In a messages export the contact is the conversation, and its reason the label most of its messages carry."""
    wanted = {cfg.columns.contact_id, cfg.messages.columns.conversation_id, cfg.messages.columns.role, column}
    raw = read_table(path, cfg.encoding, columns=wanted)
    messages = is_messages(raw, cfg)
    id_column = cfg.messages.columns.conversation_id if messages else cfg.columns.contact_id
    if column == id_column:
        raise InputError(
            f"the label column '{column}' is the column of ids",
            file=str(path),
            column=column,
            hint="give the column that holds each contact's known reason (--label-column)",
        )
    for name in (id_column, column):
        if name not in raw.columns:
            found = read_table(path, cfg.encoding).columns  # every column, to name them
            raise InputError(
                f"column '{name}' is missing (columns found: {', '.join(map(str, found))})",
                file=str(path),
                column=name,
            )
    labels = raw[[id_column, column]].dropna(subset=[id_column])
    labels = labels.assign(**{id_column: as_id_text(labels[id_column]).astype(str).str.strip()})
    if not messages:  # a repeated contact id: its first row, the one the reader keeps
        labels = labels.drop_duplicates(subset=id_column, keep="first")
    labels = labels.dropna(subset=[column]).astype({column: str})
    labels[column] = labels[column].str.strip()  # " Card lost" and "Card lost " are one reason; "   " is none
    labels = labels[labels[column] != ""]
    if labels.empty:  # scored as 0 contacts with 0.000 everywhere, and said to hold "one label for every contact"
        raise InputError(
            f"the label column '{column}' holds no label: every row is empty",
            file=str(path),
            column=column,
            hint="give the column that holds each contact's known reason (--label-column)",
        )
    if messages:
        return labels.groupby(id_column, sort=False)[column].agg(lambda v: v.value_counts().index[0])
    return labels.set_index(id_column)[column]


def score_run(
    path: str | Path, cfg: Config, column: str, contacts: pd.DataFrame, known: pd.Series | None = None
) -> dict:
    """The run's clusters (`contacts`: contact_id, cluster_id) scored against the known reasons in `column` of the
    input (`known`: as `load_labels` read them, else read here), as `metrics.json` holds them."""
    known = load_labels(path, cfg.input, column) if known is None else known
    scored = evaluate_run(contacts[["contact_id", "cluster_id"]], known)
    if scored.contacts == 0:  # scored as 0 contacts, 0.000 everywhere
        raise InputError(
            f"no contact of the run has a label in '{column}': its {len(known):,} labels are of other ids",
            file=str(path),
            column=column,
            hint="the labels must be on the contacts' own rows (in a messages export, on the conversations' rows)",
        )
    return {"label_column": column, **scored.as_dict()}

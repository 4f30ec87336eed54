"""Proposals to refine the taxonomy, each with its evidence, for a taxonomy owner to accept or reject.

Kinds:
- `new_reason`: a cluster whose centre is unlike every reason (fit below `new_reason_max_fit`);
- `split`: a reason whose fitting clusters are two or more distinct groups, each with a fair share of its contacts;
- `merge`: two reasons whose contacts fall into the same clusters;
- `retire`: an active reason with (almost) no contacts in the run;
- `mislabel`: contacts an agent gave one reason that read like another, often enough to matter;
- `secondary`: a cluster that is a process step (authentication, "speak to a human"), proposed for exclusion.

A proposal's id hashes its kind, reasons and the keywords of its clusters, so the same evidence gives the same id
in every run. Proposals are ranked by the touches they affect.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from pipeline.config import ProposalsConfig
from pipeline.model.centres import ClusterModel
from pipeline.taxonomy.reasons import ReasonModel
from pipeline.taxonomy.tree import Taxonomy, sentence_case


class Proposal(BaseModel):
    """One proposed change: what runs write to `proposals` (one row each), what review commands read back, and
    what a decision keeps a snapshot of."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["new_reason", "split", "merge", "retire", "mislabel", "secondary"]
    reason_ids: list[str]
    cluster_ids: list[int]
    name: str
    description: str
    confidence: float
    contacts: int
    touches: int
    keywords: list[str]
    examples: list[str]
    evidence: str  # one sentence a person can check: why this was proposed
    proposal_id: str = ""
    status: Literal["open", "accepted", "rejected"] = "open"


@dataclass(frozen=True)
class ClusterFacts:
    """What proposals need to know of the run's clusters, indexed by cluster id."""

    ids: np.ndarray
    centres: np.ndarray  # unit-length mean embeddings
    labels: dict[int, str]
    keywords: dict[int, list[str]]
    examples: dict[int, list[str]]
    links: np.ndarray | None = None  # (k, k) graph links between clusters, indexed like `ids` (see Clustering)
    touches: dict[int, int] = field(default_factory=dict)


def cluster_facts(model: ClusterModel, descriptions: pd.DataFrame, stats: pd.DataFrame) -> ClusterFacts:
    """`model`: the run's clusters (ids, centres, links); `descriptions`: cluster_id, label, keywords, examples;
    `stats`: touch statistics indexed by cluster id."""
    by_id = descriptions.set_index("cluster_id")
    return ClusterFacts(
        ids=model.ids,
        centres=model.centres,
        labels=by_id["label"].to_dict(),
        keywords={c: list(k) for c, k in by_id["keywords"].items()},
        examples={c: list(e) for c, e in by_id["examples"].items()},
        links=model.links,
        touches={int(c): int(n) for c, n in stats["contacts"].items()},
    )


def propose(
    contacts: pd.DataFrame,
    clusters: ClusterFacts,
    taxonomy: Taxonomy | None,
    model: ReasonModel | None,
    secondary: np.ndarray,
    cfg: ProposalsConfig,
) -> list[Proposal]:
    """All proposals for a run. `contacts` needs `cluster_id`, `reason_id` (None when unassigned) and, for
    mislabels, `agent_reason` (taxonomy ids chosen by agents) and `text_reason` (the zero-shot reading)."""
    sizes = contacts[contacts["cluster_id"] >= 0]["cluster_id"].value_counts()
    big = [int(c) for c in clusters.ids if sizes.get(c, 0) >= cfg.min_cluster_contacts]
    process = _secondary_clusters(clusters, big, secondary, cfg)
    out = [_secondary(c, clusters, sizes, sim, cfg) for c, sim in process.items()]
    candidates = [c for c in big if c not in process]
    if model is None:
        out += [_new_reason(c, clusters, sizes, None, None) for c in candidates]
    else:
        per_reason = model.similarity(clusters.centres)  # (clusters, reasons)
        position = {int(c): i for i, c in enumerate(clusters.ids)}
        best = {c: int(per_reason[position[c]].argmax()) for c in candidates}
        best_fit = {c: float(per_reason[position[c]].max()) for c in candidates}
        # the cluster that fits a reason best is that reason, however loosely; others must fit well enough
        top = {}
        for c in candidates:
            if best_fit[c] > best_fit.get(top.get(best[c]), -2.0):
                top[best[c]] = c
        new = [c for c in candidates if best_fit[c] < cfg.new_reason_max_fit and top[best[c]] != c]
        out += [_new_reason(c, clusters, sizes, model.ids[best[c]], best_fit[c]) for c in new]
        fitting = {c: model.ids[best[c]] for c in candidates if c not in new}
        out += _splits(contacts, clusters, fitting, sizes, cfg)
        out += _merges(contacts, taxonomy, clusters, cfg)
        out += _retires(contacts, taxonomy, cfg)
        if "agent_reason" in contacts and contacts["agent_reason"].notna().any():
            out += _mislabels(contacts, taxonomy, cfg)
    for p in out:
        p.proposal_id = proposal_id(p, clusters)
    return sorted(out, key=lambda p: (-p.touches, -p.confidence, p.proposal_id))


def proposal_id(p: Proposal, clusters: ClusterFacts) -> str:
    words = sorted({k for c in p.cluster_ids for k in clusters.keywords.get(c, [])[:5]})
    key = "|".join([p.kind, ",".join(sorted(p.reason_ids)), ",".join(words)])
    return hashlib.sha1(key.encode()).hexdigest()[:10]


def _touches(clusters: ClusterFacts, ids: list[int], sizes: pd.Series) -> int:
    return int(sum(clusters.touches.get(c, sizes.get(c, 0)) for c in ids))


def _new_reason(c: int, clusters: ClusterFacts, sizes: pd.Series, nearest: str | None, fit: float | None) -> Proposal:
    label = clusters.labels[c]
    if nearest is None:
        evidence = f"{int(sizes[c])} contacts form cluster {c} ('{label}'); no taxonomy was given to hold it against"
        confidence = 0.5
    else:
        evidence = (
            f"{int(sizes[c])} contacts form cluster {c} ('{label}'), and its centre is at most {fit:.2f} alike "
            f"to any reason (nearest: '{nearest}')"
        )
        confidence = float(np.clip(1.0 - fit, 0.0, 1.0))
    return Proposal(
        kind="new_reason",
        reason_ids=[],
        cluster_ids=[c],
        name=sentence_case(label),
        description=f"Customers contact us about {label} ({', '.join(clusters.keywords[c][:5])}).",
        confidence=round(confidence, 3),
        contacts=int(sizes[c]),
        touches=_touches(clusters, [c], sizes),
        keywords=clusters.keywords[c],
        examples=clusters.examples[c],
        evidence=evidence,
    )


def _splits(
    contacts: pd.DataFrame, clusters: ClusterFacts, fitting: dict[int, str], sizes: pd.Series, cfg: ProposalsConfig
) -> list[Proposal]:
    """A reason is two or more things when the clusters it fits best each hold a fair share of its contacts and
    their centres are apart."""
    out = []
    assigned = contacts[contacts["reason_id"].notna() & (contacts["cluster_id"] >= 0)]
    position = {int(c): i for i, c in enumerate(clusters.ids)}
    for reason in sorted(set(fitting.values())):
        mine = assigned[assigned["reason_id"] == reason]
        if mine.empty:
            continue
        shares = mine["cluster_id"].value_counts() / len(mine)
        parts = [c for c in shares.index if fitting.get(int(c)) == reason and shares[c] >= cfg.split_min_share]
        parts = _distinct(sorted(int(c) for c in parts), clusters, position, cfg)
        if len(parts) < 2:
            continue
        share = ", ".join(f"{shares[c]:.0%} in '{clusters.labels[c]}'" for c in parts)
        out.append(
            Proposal(
                kind="split",
                reason_ids=[reason],
                cluster_ids=parts,
                name=" / ".join(sentence_case(clusters.labels[c]) for c in parts),
                description=f"Split '{reason}' into: "
                + "; ".join(sentence_case(clusters.labels[c]) for c in parts)
                + ".",
                confidence=round(float(min(shares[c] for c in parts) * len(parts)), 3),
                contacts=int(len(mine)),
                touches=_touches(clusters, parts, sizes),
                keywords=[k for c in parts for k in clusters.keywords[c][:4]],
                examples=[e for c in parts for e in clusters.examples[c][:3]][:6],
                evidence=f"the contacts of '{reason}' form {len(parts)} distinct clusters: {share}",
            )
        )
    return out


def _distinct(parts: list[int], clusters: ClusterFacts, position: dict[int, int], cfg: ProposalsConfig) -> list[int]:
    """Keep clusters that are apart: centres not too alike, and few neighbour links between them (two halves of one
    reason blur into each other; two reasons do not). In id order, so the result is deterministic."""
    kept: list[int] = []
    for c in parts:
        i = position[c]
        if all(
            float(clusters.centres[i] @ clusters.centres[position[k]]) < cfg.split_max_similarity
            and (clusters.links is None or clusters.links[i, position[k]] < cfg.split_max_links)
            for k in kept
        ):
            kept.append(c)
    return kept


def _merges(contacts: pd.DataFrame, taxonomy: Taxonomy, clusters: ClusterFacts, cfg: ProposalsConfig) -> list[Proposal]:
    """Two reasons are one when their contacts are spread over the same clusters (histogram intersection)."""
    assigned = contacts[contacts["reason_id"].notna() & (contacts["cluster_id"] >= 0)]
    table = pd.crosstab(assigned["reason_id"], assigned["cluster_id"])
    table = table[table.sum(axis=1) >= cfg.min_cluster_contacts]
    shares = table.div(table.sum(axis=1), axis=0)
    names = taxonomy.by_id()
    out = []
    reasons = list(shares.index)
    for i, a in enumerate(reasons):
        for b in reasons[i + 1 :]:
            overlap = float(np.minimum(shares.loc[a], shares.loc[b]).sum())
            if overlap < cfg.merge_min_overlap:
                continue
            shared = [int(c) for c in shares.columns if min(shares.loc[a, c], shares.loc[b, c]) >= 0.1]
            n = int(table.loc[a].sum() + table.loc[b].sum())
            out.append(
                Proposal(
                    kind="merge",
                    reason_ids=[a, b],
                    cluster_ids=shared,
                    name=f"{names[a].name} + {names[b].name}",
                    description=f"Merge '{names[a].name}' and '{names[b].name}': their contacts cannot be told apart.",
                    confidence=round(overlap, 3),
                    contacts=n,
                    touches=n,
                    keywords=[k for c in shared for k in clusters.keywords.get(c, [])[:4]],
                    examples=[e for c in shared for e in clusters.examples.get(c, [])[:3]][:6],
                    evidence=f"{overlap:.0%} of their contacts fall into the same clusters",
                )
            )
    return out


def _retires(contacts: pd.DataFrame, taxonomy: Taxonomy, cfg: ProposalsConfig) -> list[Proposal]:
    counts = contacts["reason_id"].value_counts()
    out = []
    for reason in taxonomy.assignable():
        n = int(counts.get(reason.id, 0))
        if reason.kind == "reason" and n <= cfg.retire_max_contacts:
            out.append(
                Proposal(
                    kind="retire",
                    reason_ids=[reason.id],
                    cluster_ids=[],
                    name=reason.name,
                    description=f"Retire '{reason.name}': no one contacted us about it in this period.",
                    confidence=round(1.0 - n / (cfg.retire_max_contacts + 1), 3),
                    contacts=n,
                    touches=n,
                    keywords=[],
                    examples=[],
                    evidence=f"{n} contact(s) in this run fit '{reason.name}'",
                )
            )
    return out


def _mislabels(contacts: pd.DataFrame, taxonomy: Taxonomy, cfg: ProposalsConfig) -> list[Proposal]:
    """Agent-chosen reasons that the text contradicts: contacts an agent filed under A read like B (by the
    zero-shot reading, which learnt nothing from the agents)."""
    both = contacts[contacts["agent_reason"].notna() & contacts["text_reason"].notna()]
    names = taxonomy.by_id()
    out = []
    for agent, group in both.groupby("agent_reason", sort=True):
        read = group["text_reason"].value_counts()
        for other, n in read.items():
            share = n / len(group)
            if other == agent or n < cfg.mislabel_min_contacts or share < cfg.mislabel_min_share:
                continue
            examples = group.loc[group["text_reason"] == other, "text"].head(5).tolist()
            out.append(
                Proposal(
                    kind="mislabel",
                    reason_ids=[agent, other],
                    cluster_ids=[],
                    name=f"{names[agent].name} -> {names[other].name}",
                    description=f"Contacts agents file under '{names[agent].name}' often read like '{names[other].name}': "
                    "check the reason guide or the agents' training.",
                    confidence=round(float(share), 3),
                    contacts=int(n),
                    touches=int(n),
                    keywords=[],
                    examples=examples,
                    evidence=f"{int(n)} of {len(group)} contacts ({share:.0%}) labelled '{agent}' read like '{other}'",
                )
            )
    return out


def _secondary_clusters(
    clusters: ClusterFacts, big: list[int], secondary: np.ndarray, cfg: ProposalsConfig
) -> dict[int, float]:
    if not len(secondary) or not big:
        return {}
    position = {int(c): i for i, c in enumerate(clusters.ids)}
    sims = clusters.centres[[position[c] for c in big]] @ secondary.T
    best = sims.max(axis=1)
    return {c: float(s) for c, s in zip(big, best) if s >= cfg.secondary_min_similarity}


def _secondary(c: int, clusters: ClusterFacts, sizes: pd.Series, similarity: float, cfg: ProposalsConfig) -> Proposal:
    label = clusters.labels[c]
    return Proposal(
        kind="secondary",
        reason_ids=[],
        cluster_ids=[c],
        name=sentence_case(label),
        description=f"'{label}' is a step in handling a contact, not why the customer came: exclude it from reasons.",
        confidence=round(similarity, 3),
        contacts=int(sizes[c]),
        touches=_touches(clusters, [c], sizes),
        keywords=clusters.keywords[c],
        examples=clusters.examples[c],
        evidence=f"cluster {c} ('{label}') is {similarity:.2f} alike to process steps such as "
        f"'{cfg.secondary_examples[0]}'",
    )

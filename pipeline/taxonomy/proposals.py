"""Proposals to refine the taxonomy, each with its evidence, for a taxonomy owner to accept or reject.

A cluster is held against what each reason really holds, not only against how alike its centre is to the reason's
few written texts: each text of a reason (its name and description, each example) *claims* the cluster it lies in
(the cluster whose centre is nearest). A reason's home is the clusters its texts claim.

Kinds:
- `new_reason`: a cluster no reason's text claims, that is a community (more of its neighbour links inside it than
  outside), not a fragment of a claimed cluster (a fragment is densely linked to it in the neighbour graph:
  `fragment_min_links` for a loose community, more for a tight one; a missing sibling is a community of its own)
  and whose centre is not very alike to some reason (`new_reason_max_fit`). A cluster whose rate just stepped up
  (trend new or growing) is claimed only by a reason whose texts lie there most (one stray example of a reason that
  lives in another cluster must not hide a new topic), and is not judged too small (it is young). A cluster linked
  to a claimed one is no fragment of its reason when at least `new_reason_unfit_share` of its contacts fit no
  reason: a fragment's contacts read as the reason. It is proposed at confidence 0: the taxonomy lacks what they
  ask, or no example covers how they ask it;
- `split`: a reason whose texts claim two or more distinct clusters (few links between them, centres apart), each
  with a fair share of the reason's contacts;
- `merge`: two reasons whose contacts fall into the same clusters and cannot be told apart: a classifier trained on
  their contacts does little better than chance (`merge_max_accuracy`), so a coarse clustering alone never merges;
- `retire`: an active reason with (almost) no contacts in the run, whose texts are not the main claim of any cluster;
- `mislabel`: contacts an agent gave one reason that read like another, often enough to matter;
- `secondary`: a cluster that is a process step (authentication, "speak to a human"), proposed for exclusion; one
  like a step the taxonomy already has as a reason of kind `secondary` is that reason, proposed as nothing.

A proposal's id hashes its kind, reasons and the keywords of its clusters, so the same evidence gives the same id
in every run of one version (a version that spells keywords differently gives the proposals it touches new ids once;
decisions still find them by their keywords: `decisions._same`). Proposals are ranked by the touches they affect.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
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
    # the chain of runs its cluster ids belong to (`ClusterModel.lineage`): a later run of the chain proposing the
    # same change of the same clusters meets the decision taken on this one, however its keywords moved
    cluster_lineage: str | None = None


@dataclass(frozen=True)
class ProcessSteps:
    """Steps in handling a contact that are no reason to contact us ("speak to a human"), as texts and their unit
    vectors (row per text), each with the taxonomy's `secondary` reason it belongs to (None: one of the config's
    `secondary_examples`). A cluster alike to a configured step is proposed as `secondary`, its evidence naming the
    step; one alike to a step the taxonomy has is that reason already, and no `new_reason` either."""

    texts: list[str]
    vectors: np.ndarray
    reasons: list[str | None]

    @classmethod
    def of(
        cls, taxonomy: Taxonomy | None, cfg: ProposalsConfig, embed: Callable[[list[str]], np.ndarray]
    ) -> ProcessSteps:
        """`secondary_examples`, and the name and examples of each active reason of kind `secondary`."""
        held = [r for r in (taxonomy.assignable() if taxonomy else []) if r.kind == "secondary"]
        owned = [(text, r.id) for r in held for text in [r.name, *r.examples]]
        texts = [*cfg.secondary_examples, *(text for text, _ in owned)]
        return cls(texts, embed(texts), [None] * len(cfg.secondary_examples) + [r for _, r in owned])


@dataclass(frozen=True)
class ClusterFacts:
    """What proposals need to know of the run's clusters, indexed by cluster id."""

    ids: np.ndarray
    centres: np.ndarray  # unit-length mean embeddings
    labels: dict[int, str]
    keywords: dict[int, list[str]]
    examples: dict[int, list[str]]
    links: np.ndarray | None = None  # (k, k) graph links between clusters, indexed like `ids` (see Clustering)
    thresholds: np.ndarray | None = None  # (k,) cosine a contact needs to join each cluster (see ClusterModel)
    lineage: str | None = None  # the chain of runs in which these ids name the same clusters (see ClusterModel)


def cluster_facts(model: ClusterModel, descriptions: pd.DataFrame) -> ClusterFacts:
    """`model`: the run's clusters (ids, centres, links); `descriptions`: cluster_id, label, keywords, examples."""
    by_id = descriptions.set_index("cluster_id")
    return ClusterFacts(
        ids=model.ids,
        centres=model.centres,
        labels=by_id["label"].to_dict(),
        keywords={c: list(k) for c, k in by_id["keywords"].items()},
        examples={c: list(e) for c, e in by_id["examples"].items()},
        links=model.links,
        thresholds=model.thresholds,
        lineage=model.lineage,
    )


def propose(
    contacts: pd.DataFrame,
    clusters: ClusterFacts,
    taxonomy: Taxonomy | None,
    model: ReasonModel | None,
    steps: ProcessSteps,
    cfg: ProposalsConfig,
    embed: Callable[[list[str]], np.ndarray] | None = None,
    new_clusters: set[int] | frozenset[int] = frozenset(),
    read_at: float = 0.0,
    growing_clusters: set[int] | frozenset[int] = frozenset(),
) -> list[Proposal]:
    """All proposals for a run. `contacts` needs `cluster_id`, `reason_id` (None when unassigned) and, for
    mislabels, `agent_reason` (taxonomy ids chosen by agents) and `text_reason_id` (the zero-shot reading).
    `embed`: texts -> unit vectors (the run's embedder), to test whether two reasons' contacts can be told apart;
    without it no merge is proposed. `new_clusters`: clusters whose trend is `new` (they were born in the recent
    windows): one no reason's text lies in is a missing reason, however near it is to an older cluster.
    `growing_clusters`: clusters whose rate stepped up. A new or growing cluster is held only by a reason whose texts
    lie there more than in any other cluster: one stray example of a reason that lives elsewhere does not make a
    cluster that just appeared that reason. `read_at`: the cosine at which a contact is read as a reason
    (`taxonomy.min_similarity`)."""
    sizes = contacts.loc[contacts["cluster_id"] >= 0, "cluster_id"].value_counts()
    trending = set(new_clusters) | set(growing_clusters)
    big = [int(c) for c in clusters.ids if sizes.get(c, 0) >= cfg.min_cluster_contacts]
    process = _secondary_clusters(clusters, big, steps, cfg)
    out = [_secondary(c, clusters, sizes, *nearest, cfg) for c, nearest in process.items() if nearest is not None]
    candidates = [c for c in big if c not in process]
    if model is None:
        out += [_new_reason(c, clusters, sizes, None, None, Separation(), 0.0, cfg) for c in candidates]
    else:
        position = {int(c): i for i, c in enumerate(clusters.ids)}
        fit = model.similarity(clusters.centres)  # (clusters, reasons): best cosine to any text of each reason
        votes = _claims(model, clusters)  # (clusters, reasons): texts of each reason lying in each cluster
        most = votes[[position[c] for c in big]].max(axis=0) if big else np.zeros(len(model.ids))
        claimed = [c for c in big if _held(votes[position[c]], most, c in trending)]
        # each cluster's share of contacts that fit no reason, in one pass (not one over every contact per cluster)
        unplaced_share = contacts["reason_id"].isna().groupby(contacts["cluster_id"]).mean()
        typical = float(np.median([sizes[c] for c in claimed])) if claimed else 0.0
        for c in candidates:
            if c in claimed:
                continue
            i = position[c]
            attach, near = _attachment(i, [position[h] for h in claimed if h != c], clusters)
            cohesion = float(clusters.links[i, i]) if clusters.links is not None else None
            limit = _fragment_limit(cohesion, cfg)
            best = int(fit[i].argmax())
            relative = float(sizes[c]) / typical if typical else 1.0
            born, young = c in new_clusters, c in trending
            unfit = float(unplaced_share.get(c, 0.0))
            unplaced = cfg.new_reason_unfit_share is not None and unfit >= cfg.new_reason_unfit_share
            if not born and (
                not _community(i, clusters)
                or (attach >= limit and not unplaced)
                or (relative < cfg.new_reason_min_size and not young)
                or fit[i, best] >= cfg.new_reason_max_fit
            ):
                continue  # no community, a fragment of a claimed cluster (linked to it, or a sliver), or a reason
            out.append(
                _new_reason(
                    c,
                    clusters,
                    sizes,
                    _cited(taxonomy, model.ids[best]),
                    float(fit[i, best]),
                    Separation(
                        attach,
                        clusters.ids[near] if near is not None else None,
                        cohesion,
                        limit,
                        relative,
                        born,
                        young,
                    ),
                    unfit,
                    cfg,
                )
            )
        out += _splits(contacts, taxonomy, clusters, model, votes, big, sizes, cfg)
        out += _merges(contacts, taxonomy, clusters, cfg, embed)
        out += _retires(contacts, taxonomy, model, votes, [position[c] for c in big], cfg, embed, read_at)
        if "agent_reason" in contacts and contacts["agent_reason"].notna().any():
            out += _mislabels(contacts, taxonomy, cfg)
    for p in out:
        p.proposal_id = proposal_id(p, clusters)
        p.cluster_lineage = clusters.lineage
    return sorted(out, key=lambda p: (-p.touches, -p.confidence, p.proposal_id))


def proposal_id(p: Proposal, clusters: ClusterFacts) -> str:
    words = sorted({k for c in p.cluster_ids for k in clusters.keywords.get(c, [])[:5]})
    key = "|".join([p.kind, ",".join(sorted(p.reason_ids)), ",".join(words)])
    return hashlib.sha1(key.encode()).hexdigest()[:10]


def _touches(ids: list[int], sizes: pd.Series) -> int:
    return int(sum(sizes.get(c, 0) for c in ids))


@dataclass(frozen=True)
class Separation:
    """How apart a cluster no reason's text lies in stands from the clusters that reasons' texts lie in."""

    attach: float = 0.0  # its strongest neighbour-graph link to such a cluster (share of its links)
    neighbour: int | None = None  # that cluster
    cohesion: float | None = None  # the share of its links that stay inside it (None: no graph)
    limit: float = 0.0  # the link to `neighbour` from which it would be a fragment of it (`_fragment_limit`)
    relative: float = 1.0  # its size over the median size of such clusters
    born: bool = False  # its contacts began in the recent weeks (trend: new)
    young: bool = False  # its rate stepped up in the recent weeks (trend: new or growing): small because young


def _new_reason(
    c: int,
    clusters: ClusterFacts,
    sizes: pd.Series,
    nearest: str | None,  # the closest reason, as `_cited` names it
    fit: float | None,
    apart: Separation,
    unassigned: float,
    cfg: ProposalsConfig,
) -> Proposal:
    label = clusters.labels[c]
    if nearest is None:
        evidence = f"{int(sizes[c])} contacts form cluster {c} ('{label}'); no taxonomy was given to hold it against"
        confidence = 0.5
    else:
        # a share that rounds to 0% is said as none, or left out: "0% of them fit no reason" reads as a riddle
        fragment = apart.attach >= apart.limit
        linked = ""
        if apart.neighbour is not None:
            share = f"{apart.attach:.1%}" if fragment else f"only {apart.attach:.1%}"
            inside = (
                f", against {apart.cohesion:.0%} in its own cluster (one this tight is a fragment from "
                f"{apart.limit:.1%})"
                if apart.cohesion is not None
                else ""
            )
            linked = (
                f"; {share if round(apart.attach, 3) else 'none'} of its contacts' closest matches are in the nearest "
                f"cluster a reason holds ({apart.neighbour}, '{clusters.labels.get(apart.neighbour, '')}'){inside}"
            )
        unfit = f"; {unassigned:.0%} of them fit no reason" if f"{unassigned:.0%}" != "0%" else ""
        if fragment and not apart.born and apart.neighbour is not None:
            unfit += (
                " (so many that it is no fragment of that cluster's reason, however linked to it: a reason the "
                "taxonomy lacks, or one whose examples miss how these contacts ask)"
            )
        evidence = (
            f"{int(sizes[c])} contacts form cluster {c} ('{label}'), where no reason's name or example lies; they "
            f"read like no reason (the closest, {nearest}, at a likeness of {fit:.2f}, where 1 is the same)"
            f"{linked}{unfit}; the cluster is {apart.relative:.1f} times the size of a typical cluster a reason holds"
            + (" (its rate stepped up in the recent weeks: a young cluster is small by age)" if apart.young else "")
        )
        confidence = _new_reason_confidence(fit, apart, cfg)
        if apart.born:
            evidence += "; its contacts began in the recent weeks (trend: new)"
            confidence = max(confidence, _unlike(fit, cfg))
    description = f"Customers contact us about {label} ({', '.join(clusters.keywords[c][:5])})."
    return _about_cluster("new_reason", c, clusters, sizes, description, confidence, evidence)


def _about_cluster(
    kind: str, c: int, clusters: ClusterFacts, sizes: pd.Series, description: str, confidence: float, evidence: str
) -> Proposal:
    """A proposal about one cluster: named after it, with its size, touches, keywords and examples."""
    return Proposal(
        kind=kind,
        reason_ids=[],
        cluster_ids=[c],
        name=sentence_case(clusters.labels[c]),
        description=description,
        confidence=round(confidence, 3),
        contacts=int(sizes[c]),
        touches=_touches([c], sizes),
        keywords=clusters.keywords[c],
        examples=clusters.examples[c],
        evidence=evidence,
    )


def _new_reason_confidence(fit: float, apart: Separation, cfg: ProposalsConfig) -> float:
    """How sure a cluster is a missing reason: apart from every claimed cluster (few links), not a sliver (the size
    of a typical reason's cluster) and not very like a reason's texts. Each margin is scaled to 0 at its limit and
    1 at a clear distance; the weakest counts."""
    links = 0.0 if apart.attach >= apart.limit else 1.0 - apart.attach / apart.limit  # 0 at the limit, or past it
    whole = (
        1.0 if apart.young else (apart.relative - cfg.new_reason_min_size) / max(1.0 - cfg.new_reason_min_size, 1e-6)
    )
    return float(np.clip(min(links, whole, _unlike(fit, cfg)), 0.0, 1.0))


_CLEAR = 0.2  # a cosine this far past its limit is a clear case: a margin of 1


def _margin(past: float) -> float:
    """How far a cosine is past its limit (`past`), 0 at the limit (or short of it) to 1 at `_CLEAR` past it."""
    return float(np.clip(past / _CLEAR, 0.0, 1.0))


def _unlike(fit: float, cfg: ProposalsConfig) -> float:
    """How far a cluster's centre is below `new_reason_max_fit`: a margin (`_margin`)."""
    return _margin(cfg.new_reason_max_fit - fit)


_NEAR_MISS = 0.1  # cosine below a cluster's threshold at which a reason's text still counts as lying there


def _claims(model: ReasonModel, clusters: ClusterFacts) -> np.ndarray:
    """(clusters, reasons): how many of each reason's texts (name + description, examples) lie in each cluster: the
    cluster a contact with that text would join (nearest centre, at least as alike as the cluster's threshold). A
    reason none of whose texts would join any cluster lies where its texts nearly join (`_NEAR_MISS`); a reason
    no one writes about (its texts far from every cluster) lies nowhere."""
    votes = np.zeros((len(clusters.ids), len(model.ids)), dtype=np.int32)
    if not len(clusters.ids) or not len(model.vectors):
        return votes
    sims = model.vectors @ clusters.centres.T
    nearest = sims.argmax(axis=1)
    inside = (
        sims[np.arange(len(sims)), nearest] >= clusters.thresholds[nearest]
        if clusters.thresholds is not None
        else np.ones(len(sims), dtype=bool)
    )
    np.add.at(votes, (nearest[inside], model.owner[inside]), 1)
    best = sims[np.arange(len(sims)), nearest]
    nearly = best >= (clusters.thresholds[nearest] - _NEAR_MISS if clusters.thresholds is not None else -1.0)
    homeless = ~np.isin(model.owner, model.owner[inside]) & nearly
    np.add.at(votes, (nearest[homeless], model.owner[homeless]), 1)
    return votes


def _held(here: np.ndarray, most: np.ndarray, trending: bool) -> bool:
    """Whether some reason's texts claim a cluster (`here`: each reason's texts lying in it); for a new or growing
    cluster, only a reason whose texts lie there at least as often as in any other big cluster (`most`) holds it."""
    if not trending:
        return bool(here.sum() > 0)
    return bool(((here > 0) & (here >= most)).any())


_WEAK_COMMUNITY = 0.5  # a cluster with more of its neighbour links inside than outside (Radicchi et al., 2004)


def _community(i: int, clusters: ClusterFacts) -> bool:
    """Whether cluster position `i` is a community of its own: more of its neighbour-graph links stay inside it than
    leave it (the diagonal of `links`). A cluster most of whose links reach other clusters is the seam between
    them, not a missing reason. Without links, and in runs of versions that kept 1.0 on the diagonal, every cluster
    counts as one."""
    return clusters.links is None or bool(clusters.links[i, i] > _WEAK_COMMUNITY)


def _fragment_limit(cohesion: float | None, cfg: ProposalsConfig) -> float:
    """The link to a claimed cluster from which a cluster is a fragment of it: `fragment_min_links` for the loosest
    community (half its links inside), more in proportion to the share of its links it keeps inside (`cohesion`).
    Two sibling reasons share words: a missing one lies close to the reason it is mistaken for, yet holds together;
    a piece the clustering broke off one reason holds together little better than it clings to the rest. The
    proportional form is a choice, not derived; it adds no constant. What led to it: in a scratch probe over the five
    sets of `benchmarks.taxonomy` (default config, 5 seeds), unclaimed clusters linked 0.07-0.12 to a claimed one
    kept mostly 0.72-0.90 of their links inside when they were a missing reason (one 0.56), and 0.49-0.62 when
    they were a piece of the same intent as that cluster. What it gave there: new-reason recall BANKING77 0.35 ->
    0.42, DSTC11 0.80 -> 0.90, MultiDoGO 0.50 -> 0.60, mix141 0.29 -> 0.36, HWU64 unchanged, precision no lower;
    in `benchmarks.over_time`, where the taxonomy lacks only the newborns, 4 more right proposals and 7 more wrong.
    Without a graph (`cohesion` None) the limit stays as configured."""
    if cohesion is None:
        return cfg.fragment_min_links
    return cfg.fragment_min_links * max(cohesion, _WEAK_COMMUNITY) / _WEAK_COMMUNITY


def _attachment(i: int, others: list[int], clusters: ClusterFacts) -> tuple[float, int | None]:
    """The strongest neighbour-graph link from cluster `i` to any of `others` (positions), and which one."""
    if not others:
        return 0.0, None
    if clusters.links is None:  # no graph: the centres' likeness stands in (a fragment is very alike)
        sims = clusters.centres[others] @ clusters.centres[i]
        k = int(sims.argmax())
        return (1.0 if sims[k] >= 0.9 else 0.0), others[k]
    links = clusters.links[i, others]
    k = int(links.argmax())
    return float(links[k]), others[k]


def _cited(taxonomy: Taxonomy | None, reason_id: str) -> str:
    """A reason as evidence cites it: by the name people know it by, its id in brackets to find it in the file."""
    reason = taxonomy.by_id().get(reason_id) if taxonomy else None
    return f"'{reason.name}' ({reason_id})" if reason else f"'{reason_id}'"


def _splits(
    contacts: pd.DataFrame,
    taxonomy: Taxonomy | None,
    clusters: ClusterFacts,
    model: ReasonModel,
    votes: np.ndarray,
    big: list[int],
    sizes: pd.Series,
    cfg: ProposalsConfig,
) -> list[Proposal]:
    """A reason is two or more things when its contacts lie in two or more distinct clusters (next to no links
    between them in the neighbour graph, centres apart), each holding a fair share of the reason's contacts and
    mostly given this reason (or where its texts lie more than any other reason's)."""
    out = []
    assigned = contacts.loc[contacts["reason_id"].notna() & (contacts["cluster_id"] >= 0), ["reason_id", "cluster_id"]]
    sizes_by = assigned.groupby(["reason_id", "cluster_id"]).size()  # once, not a pass over all contacts per reason
    by_reason = {r: part.droplevel(0) for r, part in sizes_by.groupby(level=0)}
    none = pd.Series(dtype=int)
    position = {int(c): i for i, c in enumerate(clusters.ids)}
    for r, reason in enumerate(model.ids):
        counts = by_reason.get(reason, none)
        mine = int(counts.sum())
        shares = counts / max(mine, 1)
        claimed = [c for c in big if votes[position[c], r] > 0]
        held = {c: float(counts.get(c, 0)) / max(float(sizes.get(c, 1)), 1.0) for c in claimed}  # given this reason
        first = {c for c in claimed if votes[position[c], r] > 0 and votes[position[c], r] == votes[position[c]].max()}
        parts = [  # a fair share of its contacts, and its texts lie there more than any other's or it holds most
            c
            for c in claimed
            if shares.get(c, 0.0) >= cfg.split_min_share and (c in first or held[c] >= cfg.split_min_purity)
        ]
        parts = _distinct(sorted(parts, key=lambda c: (-shares.get(c, 0.0), c)), clusters, position, cfg)
        if len(parts) < 2:
            continue
        parts = sorted(parts)
        share = ", ".join(f"{shares.get(c, 0.0):.0%} in '{clusters.labels[c]}'" for c in parts)
        links = max(
            (
                clusters.links[position[a], position[b]]
                for a in parts
                for b in parts
                if a < b and clusters.links is not None
            ),
            default=0.0,
        )
        apart = 1.0 - links / cfg.split_max_links if cfg.split_max_links > 0 else 1.0
        texts = int(sum(votes[position[c], r] for c in parts))
        confidence = float(np.clip(min(apart, min(shares.get(c, 0.0) for c in parts) * len(parts)), 0.0, 1.0))
        out.append(
            Proposal(
                kind="split",
                reason_ids=[reason],
                cluster_ids=parts,
                name=" / ".join(sentence_case(clusters.labels[c]) for c in parts),
                description=f"Split {_cited(taxonomy, reason)} into: "
                + "; ".join(sentence_case(clusters.labels[c]) for c in parts)
                + ".",
                confidence=round(confidence, 3),
                contacts=mine,
                touches=_touches(parts, sizes),
                keywords=[k for c in parts for k in clusters.keywords[c][:4]],
                examples=[e for c in parts for e in clusters.examples[c][:3]][:6],
                evidence=f"the name and examples of {_cited(taxonomy, reason)} lie in {len(parts)} distinct clusters "
                f"({texts} of its {int((model.owner == r).sum())} texts), which hold its contacts: {share}",
            )
        )
    return out


def _distinct(parts: list[int], clusters: ClusterFacts, position: dict[int, int], cfg: ProposalsConfig) -> list[int]:
    """Keep clusters that are apart: centres not too alike, and few neighbour links between them (two halves of one
    reason blur into each other; two reasons do not). In the order given (largest share first): deterministic."""
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


def _merges(
    contacts: pd.DataFrame,
    taxonomy: Taxonomy,
    clusters: ClusterFacts,
    cfg: ProposalsConfig,
    embed: Callable[[list[str]], np.ndarray] | None,
) -> list[Proposal]:
    """Two reasons are one when their contacts are spread over the same clusters (histogram intersection) and a
    classifier cannot tell their contacts apart (cross-validated balanced accuracy at most `merge_max_accuracy`).
    Sharing clusters alone only says the clustering was coarse there."""
    assigned = contacts.loc[
        contacts["reason_id"].notna() & (contacts["cluster_id"] >= 0), ["reason_id", "cluster_id", "text"]
    ]
    table = pd.crosstab(assigned["reason_id"], assigned["cluster_id"])
    table = table[table.sum(axis=1) >= cfg.min_cluster_contacts]
    shares = table.div(table.sum(axis=1), axis=0)
    names = taxonomy.by_id()
    out = []
    reasons = list(shares.index)
    for i, a in enumerate(reasons):
        for b in reasons[i + 1 :]:
            overlap = float(np.minimum(shares.loc[a], shares.loc[b]).sum())
            if overlap < cfg.merge_min_overlap or embed is None:
                continue
            accuracy = _separability(assigned, a, b, embed)
            if accuracy > cfg.merge_max_accuracy:
                continue
            shared = [int(c) for c in shares.columns if min(shares.loc[a, c], shares.loc[b, c]) >= 0.1]
            n = int(table.loc[a].sum() + table.loc[b].sum())
            confidence = float(
                np.clip((cfg.merge_max_accuracy - accuracy) / max(cfg.merge_max_accuracy - 0.5, 1e-6), 0.0, 1.0)
            )
            out.append(
                Proposal(
                    kind="merge",
                    reason_ids=[a, b],
                    cluster_ids=shared,
                    name=f"{names[a].name} + {names[b].name}",
                    description=f"Merge '{names[a].name}' and '{names[b].name}': their contacts cannot be told apart.",
                    confidence=round(confidence, 3),
                    contacts=n,
                    touches=n,
                    keywords=[k for c in shared for k in clusters.keywords.get(c, [])[:4]],
                    examples=[e for c in shared for e in clusters.examples.get(c, [])[:3]][:6],
                    evidence=f"{overlap:.0%} of their contacts fall into the same clusters, and a classifier tells "
                    f"them apart only {accuracy:.0%} of the time (50% is chance)",
                )
            )
    return out


_MERGE_SAMPLE = 200  # contacts of each reason the separability test reads at most


def _separability(assigned: pd.DataFrame, a: str, b: str, embed: Callable[[list[str]], np.ndarray]) -> float:
    """Balanced accuracy of a classifier telling reason `a`'s contacts from `b`'s (5-fold cross-validation on at most
    `_MERGE_SAMPLE` contacts of each, seeded)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    texts, labels = [], []
    for k, reason in enumerate((a, b)):
        mine = assigned.loc[assigned["reason_id"] == reason, "text"]
        if len(mine) > _MERGE_SAMPLE:
            mine = mine.sample(_MERGE_SAMPLE, random_state=0)
        texts += mine.tolist()
        labels += [k] * len(mine)
    labels = np.array(labels)
    folds = int(min(5, np.bincount(labels).min()))
    if folds < 2:
        return 1.0
    scores = cross_val_score(
        LogisticRegression(C=1.0, max_iter=1000, class_weight="balanced"),
        embed(texts),
        labels,
        cv=folds,
        scoring="balanced_accuracy",
    )
    return float(scores.mean())


def _retires(
    contacts: pd.DataFrame,
    taxonomy: Taxonomy,
    model: ReasonModel,
    votes: np.ndarray,
    big: list[int],
    cfg: ProposalsConfig,
    embed: Callable[[list[str]], np.ndarray] | None = None,
    read_at: float = 0.0,
) -> list[Proposal]:
    """A reason with (almost) no contacts, unless its texts are the main claim of some cluster, or more than a few
    contacts lie nearer its texts than any other reason's, alike enough to be read as a reason or nearly (`read_at`,
    the taxonomy's min_similarity, less `_NEAR_MISS`; a reason no one asks about has none, or only unrelated ones): then its contacts exist and were read as another reason, which is not for the owner to
    retire."""
    counts = contacts["reason_id"].value_counts()
    index = {r: i for i, r in enumerate(model.ids)}
    top = votes[big].argmax(axis=1) if len(big) else np.array([], dtype=int)
    held = {int(t) for t, row in zip(top, votes[big]) if row.sum() > 0}
    candidates = [
        r
        for r in taxonomy.assignable()
        if r.kind == "reason" and counts.get(r.id, 0) <= cfg.retire_max_contacts and index.get(r.id) not in held
    ]
    if candidates and embed is not None:
        texts = contacts.loc[contacts["cluster_id"] >= 0, "text"].tolist()
        if texts:
            sims = embed(texts) @ model.vectors.T
            readable = sims.max(axis=1) >= read_at - _NEAR_MISS  # alike enough to be read as a reason, or nearly
            near = np.bincount(model.owner[sims.argmax(axis=1)[readable]], minlength=len(model.ids))
            candidates = [r for r in candidates if near[index[r.id]] <= cfg.retire_max_contacts]
    out = []
    for reason in candidates:
        n = int(counts.get(reason.id, 0))
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
                evidence=f"{n} contact(s) in this run fit '{reason.name}', and no cluster is mainly where its "
                "texts lie",
            )
        )
    return out


def _mislabels(contacts: pd.DataFrame, taxonomy: Taxonomy, cfg: ProposalsConfig) -> list[Proposal]:
    """Agent-chosen reasons that the text contradicts: contacts an agent filed under A read like B (by the
    zero-shot reading, which learnt nothing from the agents)."""
    both = contacts.loc[
        contacts["agent_reason"].notna() & contacts["text_reason_id"].notna(),
        ["agent_reason", "text_reason_id", "text"],
    ]
    names = taxonomy.by_id()
    out = []
    for agent, group in both.groupby("agent_reason", sort=True):
        read = group["text_reason_id"].value_counts()
        for other, n in read.items():
            share = n / len(group)
            if other == agent or n < cfg.mislabel_min_contacts or share < cfg.mislabel_min_share:
                continue
            examples = group.loc[group["text_reason_id"] == other, "text"].head(5).tolist()
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
                    evidence=f"{int(n)} of {len(group)} contacts ({share:.0%}) labelled {_cited(taxonomy, agent)} read "
                    f"like {_cited(taxonomy, other)}",
                )
            )
    return out


def _secondary_clusters(
    clusters: ClusterFacts, big: list[int], steps: ProcessSteps, cfg: ProposalsConfig
) -> dict[int, tuple[float, str] | None]:
    """The clusters at least `secondary_min_similarity` alike to a process step: each with its likeness to the
    configured step it reads most like, to propose it; None where a step the taxonomy holds is that alike too (the
    cluster is that reason of kind secondary already)."""
    if not len(steps.texts) or not big:
        return {}
    position = {int(c): i for i, c in enumerate(clusters.ids)}
    sims = clusters.centres[[position[c] for c in big]] @ steps.vectors.T
    held = np.array([r is not None for r in steps.reasons])
    out: dict[int, tuple[float, str] | None] = {}
    for c, row in zip(big, sims):
        if row.max() < cfg.secondary_min_similarity:
            continue
        configured = np.where(held, -np.inf, row)
        nearest = int(configured.argmax())
        alike_held = held.any() and row[held].max() >= cfg.secondary_min_similarity
        out[c] = None if alike_held else (float(row[nearest]), steps.texts[nearest])
    return out


def _secondary(
    c: int, clusters: ClusterFacts, sizes: pd.Series, similarity: float, step: str, cfg: ProposalsConfig
) -> Proposal:
    """A cluster alike to a process step (`step`, the one it is most alike to). Its confidence is a margin, as
    every other kind's: 0 at `secondary_min_similarity`, 1 at `_CLEAR` past it."""
    label = clusters.labels[c]
    return _about_cluster(
        "secondary",
        c,
        clusters,
        sizes,
        f"'{label}' is a step in handling a contact, not why the customer came: exclude it from reasons.",
        _margin(similarity - cfg.secondary_min_similarity),
        f"cluster {c} ('{label}') reads like the process step '{step}', at a likeness of {similarity:.2f} (1 is "
        f"the same; from {cfg.secondary_min_similarity:.2f} a cluster is proposed as a step)",
    )

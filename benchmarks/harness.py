"""Shared scenario machinery for benchmarks/taxonomy.py and benchmarks/over_time.py.

Labelled sets from $TOUCHLESS_DATA (BANKING77, HWU64, DSTC11 development, MultiDoGO conversations; on request
`mix141`, BANKING77 and HWU64 together), sampled to a few thousand contacts each, and a fast path through discover's own steps (flows/steps.py: prepare, embed, cluster,
describe, reasons, refresh) with no Prefect server and no output folder, so that 5 seeds x 4 sets run in minutes
on a laptop. What varies between the seeds of the taxonomy benchmark (the taxonomy) does not touch the clustering,
so each set is prepared, clustered and described once and held against 5 taxonomies.

Every text is real; reason names for sets other than BANKING77 are the sets' own intent labels made readable.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

import flows  # noqa: F401  (Prefect settings)
from benchmarks.banking77_reasons import REASONS
from benchmarks.datasets import banking77, dstc11, hwu64, multidogo_conversations
from pipeline.config import Config, load_config
from pipeline.model.cluster import MIN_CONTACTS, Clustering

SETS = ("banking77", "hwu64", "dstc11", "multidogo")

_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
# HWU64's and MultiDoGO's labels run words together; a person names the reason in words, and a name scored by its
# meaning ("reportlostcard" is no words to the model) must be compared with those words
_RUN_TOGETHER = {
    "addcontact": "add contact",
    "bookflight": "book flight",
    "changeseatassignment": "change seat assignment",
    "checkbalance": "check balance",
    "checkoffereligibility": "check offer eligibility",
    "closeaccount": "close account",
    "commandstop": "command stop",
    "createoradd": "create or add",
    "datetime": "date time",
    "disputecharge": "dispute charge",
    "dontcare": "don't care",
    "getboardingpass": "get boarding pass",
    "getinformationintent": "get information",
    "getroutingnumber": "get routing number",
    "getseatinfo": "get seat info",
    "lightchange": "light change",
    "lightdim": "light dim",
    "lightoff": "light off",
    "lighton": "light on",
    "lightup": "light up",
    "querycontact": "query contact",
    "replacecard": "replace card",
    "reportlostcard": "report lost card",
    "sendemail": "send email",
    "startserviceintent": "start service",
    "transfermoney": "transfer money",
    "updateaddress": "update address",
    "viewbillsintent": "view bills",
}


def readable(label: str) -> str:
    """An intent label as a reason name: 'alarm_query' -> 'Alarm query', 'GetQuote' -> 'Get quote',
    'reportlostcard' -> 'Report lost card'."""
    words = _CAMEL.sub(" ", label).replace("_", " ").replace("-", " ").lower().split()
    return " ".join(_RUN_TOGETHER.get(w, w) for w in words).capitalize()


@dataclass(frozen=True)
class LabelledSet:
    name: str
    data: pd.DataFrame  # contact_id, text, label, domain
    names: dict[str, tuple[str, str]]  # label -> (reason name, description)
    pool: pd.DataFrame  # texts not in `data` (examples for the taxonomy are drawn here when possible)


def load_set(name: str, per_label: int = 50, seed: int = 0) -> LabelledSet:
    """A labelled set sampled to at most `per_label` contacts per label (labels with fewer than 15 dropped)."""
    if name == "banking77":
        frame = banking77("all").assign(domain="banking")
        names = dict(REASONS)
    elif name == "hwu64":
        frame = hwu64().rename(columns={"scenario": "domain"})
        names = {}
    elif name == "dstc11":
        frame = dstc11().assign(domain="insurance")
        names = {}
    elif name == "mix141":  # many fine reasons across domains: a stand-in for a 150-reason multi-domain set
        frame = pd.concat(
            [banking77("all").assign(domain="banking"), hwu64().rename(columns={"scenario": "domain"})],
            ignore_index=True,
        )
        names = dict(REASONS)
    elif name == "multidogo":
        parts = []
        for domain in ("airline", "finance", "media"):
            conv = multidogo_conversations(domain)
            parts.append(conv.assign(domain=domain, label=domain + "_" + conv["label"]))
        frame = pd.concat(parts, ignore_index=True)
        names = {}
    else:
        raise ValueError(f"unknown set {name}")
    counts = frame["label"].value_counts()
    frame = frame[frame["label"].isin(counts.index[counts >= 15])].reset_index(drop=True)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(frame))
    rank = pd.Series(order).groupby(frame["label"].to_numpy()[order]).cumcount().to_numpy()
    keep = np.zeros(len(frame), dtype=bool)
    keep[order[rank < per_label]] = True
    names = {
        lab: names.get(lab, (readable(lab.split("_", 1)[1] if name == "multidogo" else lab), ""))
        for lab in frame["label"].unique()
    }
    return LabelledSet(name, frame[keep].reset_index(drop=True), names, frame[~keep].reset_index(drop=True))


def config(overrides: dict | None = None) -> Config:
    base = {"embedding": {"threads": 1}}
    if overrides:
        base = _merge(base, overrides)
    return load_config(overrides=base)


def _merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


@dataclass
class Base:
    """A set prepared, embedded, clustered and described: what does not depend on the taxonomy."""

    contacts: pd.DataFrame  # prepared (read + clean + redact + terms), every input row
    usable: np.ndarray
    vectors: np.ndarray
    clustering: Clustering  # over the usable rows, stable ids
    model: object  # ClusterModel
    descriptions: pd.DataFrame
    volume_path: str | None


def prepare_base(
    frame: pd.DataFrame,
    cfg: Config,
    work: Path,
    volume: pd.DataFrame | None = None,
    taxonomy: dict | None = None,
    jitter: int = 0,
) -> Base:
    """discover's steps up to the description of clusters (flows/discover.py), without Prefect or an output folder
    (with times, recent topics are split out of older clusters as discover does: `trends.split_new_topics`; with
    a `taxonomy`, at least as many clusters as the reasons its reading finds: `cluster.taxonomy_floor`;
    with `jitter`, on the contacts' vectors jittered with that seed: `jittered`)."""
    from flows import steps
    from pipeline.model.embed import embedder

    path = work / "contacts.csv"
    frame.drop(columns=["label", "domain", "intent"], errors="ignore").to_csv(path, index=False)
    volume_path = None
    if volume is not None:
        volume_path = str(work / "volume.csv")
        volume.to_csv(volume_path, index=False)
    contacts, report = steps.prepare.fn(str(path), cfg)
    usable = steps.usable_rows(contacts, report, at_least=MIN_CONTACTS)
    texts = contacts["text"].iloc[usable].tolist()
    vectors = embedder(cfg.embedding).embed(texts).vectors
    if jitter:
        vectors = jittered(vectors, jitter)
    reading = None
    if taxonomy is not None:
        with_file, context, models = _reasons(taxonomy, cfg, work, volume_path)
        reading = steps.give_reasons.fn(vectors, contacts, usable, context, models[0], with_file)
    found = steps.cluster.fn(vectors, texts, cfg, steps.contact_times(contacts, usable), reading)
    found, _, _, model = steps.keep_ids.fn(found, vectors, contacts["contact_id"].to_numpy()[usable], None, cfg)
    described, _ = steps.describe.fn(contacts, usable, vectors, found.labels, model, None, cfg)
    return Base(contacts, usable, vectors, found, model, described, volume_path)


def with_taxonomy(base: Base, taxonomy: dict | None, cfg: Config, work: Path):
    """discover's steps from the reasons on (reasons, join, refresh): the refreshed run (contacts, time,
    proposals)."""
    from flows import steps

    cfg, context, models = _reasons(taxonomy, cfg, work, base.volume_path)
    reading = steps.give_reasons.fn(base.vectors, base.contacts, base.usable, context, models[0], cfg)
    duplicates = steps.find_duplicates.fn(base.contacts, base.vectors, base.usable, base.clustering.labels, cfg)
    joined = steps.join.fn(base.contacts, base.clustering.expand(base.usable, len(base.contacts)), duplicates, reading)
    return steps.refresh_run.fn(joined, base.descriptions, base.model, models, context, cfg)


def _reasons(taxonomy: dict | None, cfg: Config, work: Path, volume_path: str | None) -> tuple:
    """(config naming the taxonomy written to `work`, the run's context, its reason models), as discover reads
    them (the taxonomy None: the config's own)."""
    from flows import steps
    from pipeline.run.refresh import read_context

    if taxonomy is not None:
        path = work / "taxonomy.yaml"
        path.write_text(yaml.safe_dump(taxonomy, sort_keys=False))
        cfg = cfg.model_copy(update={"taxonomy": cfg.taxonomy.model_copy(update={"path": str(path)})})
    context = read_context(cfg, volume_path)
    return cfg, context, steps.reason_models.fn(context, cfg)


def jittered(vectors: np.ndarray, seed: int) -> np.ndarray:
    """Unit vectors turned by seeded noise to cosine ~0.99997 of themselves: about how far computing MiniLM in bf16
    rather than fp32 moves them (on benchmarks/scale.py's 4,000 probe texts, jittered fp32 vectors kept a median
    cosine of 0.99997 to fp32's, bf16's a median of 0.99996 and at least 0.99980 then, 0.99978 since
    stop 50's encoder). A run on jittered vectors shows
    how much the scores move when nothing but the vectors' rounding changes (stop 46's note: up to 0.10 in a set's
    new-reason recall, 0.05 in its names)."""
    rng = np.random.default_rng(seed)
    moved = np.asarray(vectors, dtype=np.float32) + rng.normal(0.0, 0.0004, vectors.shape).astype(np.float32)
    return moved / np.linalg.norm(moved, axis=1, keepdims=True)


def cached_base(key: str, make) -> Base:
    """`make()`, kept under $TOUCHLESS_BENCH_CACHE/<key>.pkl when that variable is set (to iterate on what follows
    the clustering without clustering again; clear it after changing clustering or naming)."""
    import os
    import pickle

    folder = os.environ.get("TOUCHLESS_BENCH_CACHE")
    if not folder:
        return make()
    path = Path(folder) / f"{key}.pkl"
    if path.exists():
        return pickle.loads(path.read_bytes())
    base = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(base))
    return base


def scratch() -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix="touchless-bench-")

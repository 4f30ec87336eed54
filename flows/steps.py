"""The Prefect tasks both flows use: each is one pipeline step, with no orchestration logic of its own.

Tasks hand each other in-memory tables and return new values (they never change their arguments: on the Dask
runner an argument is a copy, and a change would be lost). No result persistence (contact text must not land in
Prefect's storage) and no hashing of large inputs for cache keys.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from prefect import task, unmapped
from prefect.cache_policies import NO_CACHE

from flows.progress import progress_bar, timed
from pipeline.config import Config
from pipeline.errors import InputError, ModelError
from pipeline.model.centres import ClusterModel, fit_cluster_model
from pipeline.model.cluster import Clustering, cluster_contacts, relabel
from pipeline.model.describe import TermCounts, describe_clusters, reason_keywords
from pipeline.model.embed import embedder
from pipeline.model.groups import describe_groups
from pipeline.model.lineage import chain_id, stable_ids
from pipeline.overtime.emerging import split_emerging
from pipeline.read.report import InputReport
from pipeline.run.contacts import join_contacts, lost_reasons, with_reasons
from pipeline.run.folder import Manifest, Run, check_output_folder, local_copy, output_lock, read_manifest
from pipeline.run.manifests import taxonomy_changed
from pipeline.run.refresh import Context, Refreshed, refresh
from pipeline.taxonomy.proposals import ProcessSteps
from pipeline.taxonomy.reasons import (
    Readers,
    Reading,
    ReasonModel,
    fewest_clusters,
    read_reasons,
    reason_model,
)
from pipeline.text.duplicates import duplicate_groups
from pipeline.text.prepare import read_and_prepare

_task = task(cache_policy=NO_CACHE, persist_result=False)
# reading the input may meet a file still being copied in, or a network filesystem hiccup: try again
_io_task = task(
    cache_policy=NO_CACHE,
    persist_result=False,
    retries=2,
    retry_delay_seconds=5,
    retry_condition_fn=lambda task, run, state: isinstance(state.result(raise_on_failure=False), OSError),
)


def step(fn):
    """A task, shown while it runs and timed in the log."""
    return _task(timed(fn))


def io_step(fn):
    """A task that reads a file (retried on I/O errors), shown while it runs and timed in the log."""
    return _io_task(timed(fn))


@contextmanager
def run_folder(out_dir: str, user_files: list[str | None]) -> Iterator[tuple[Path, Run | None]]:
    """The folder a run writes (a local mirror for a URL), checked and locked for the whole run, with the run it
    holds now (None when it is new)."""
    with local_copy(out_dir) as out:
        check_output_folder(out, user_files)
        with output_lock(out):
            yield out, Run.load(out) if read_manifest(out) else None


@io_step
def prepare(
    input_path: str,
    cfg: Config,
    known: pd.Series | None = None,
    date_orders: dict[str, str] | None = None,
    held: pd.DataFrame | None = None,
    scored: str | None = None,
    held_details: Callable[[np.ndarray, list[str]], pd.DataFrame] | None = None,
) -> tuple[pd.DataFrame, InputReport]:
    """Read, clean and redact in one step: the raw text never leaves it. `known`: source digests by contact id of
    contacts a run holds already (left out unless their text or details changed); `date_orders`: how its dates
    were read; `held`: the run's conversations, which a messages export may continue; `scored`: evaluate's column
    of known reasons, set aside; `held_details`: the run's fields of its contacts, kept where the export lacks
    the field (`Run.details`)."""
    return read_and_prepare(input_path, cfg, known, date_orders, held, scored, held_details)


@dataclass(frozen=True)
class Embedded:
    vectors: np.ndarray
    computed: int  # distinct texts the model ran on
    cached: int  # distinct texts found in the cache

    def counts(self) -> Embedded:
        """The counts alone: a run lets its vectors go once no step needs them (1.5 GB at a million contacts)."""
        return Embedded(np.empty((0, 0), dtype=np.float32), self.computed, self.cached)


@_task
def embed_partition(texts: list[str], cfg: Config) -> list[np.ndarray]:
    """One partition's vectors, wherever the task runner puts it (a Dask worker needs touchless installed), in a
    list that `embed` empties once it has cached them: the returned value stays held until the flow ends (a probe
    on the thread runner: 60 partitions' vectors still held after the loop even with the futures dropped, freed
    with the list emptied), and a million texts' vectors held so are 1.5 GB beside the run's own."""
    return [embedder(cfg.embedding).encode(texts)]


def hand_back_freed_memory() -> None:
    """Give the system back what the encoder's threads freed. glibc keeps memory a thread frees in that thread's
    arena for its next use; once the partitions ran (on the thread runner, in this process), after a cold million
    contacts 377 MB of it stayed held through the rest of the run (92 MB at 100,000). Not on Linux, or a C library
    without `malloc_trim` (musl): nothing to do."""
    if not sys.platform.startswith("linux"):
        return
    try:
        trim = ctypes.CDLL(None).malloc_trim  # the C library the process runs on
    except (OSError, AttributeError):
        return
    trim(0)


@timed(spinner=False)  # it draws its own bar
def embed(texts: list[str], cfg: Config, show_progress: bool) -> Embedded:
    """Vectors for `texts`: the texts not cached yet are embedded in partitions mapped over the flow's task runner
    (threads here, or a Dask cluster); each finished partition is cached at once, so a killed run keeps it."""
    model = embedder(cfg.embedding)
    todo = model.missing(texts)
    size = cfg.embedding.partition_size
    partitions = [todo[i : i + size] for i in range(0, len(todo), size)]
    with progress_bar("embedding", len(todo), show_progress) as advance:
        futures = embed_partition.map(partitions, unmapped(cfg)) if partitions else []
        for partition, future in zip(partitions, futures):
            model.store(partition, future.result().pop())  # emptied: Prefect holds the list, not the vectors
            advance(len(partition))
    if partitions:
        hand_back_freed_memory()
    result = model.embed(texts)
    return Embedded(result.vectors, len(todo), result.cached - len(todo))


@step
def cluster(
    vectors: np.ndarray,
    texts: list[str],
    cfg: Config,
    times: np.ndarray | None = None,
    reading: Reading | None = None,
) -> Clustering:
    """The clusters of the contacts' `vectors` and `texts` (their words count beside the vectors); with the
    taxonomy's `reading` of them, at least as many as its reasons given to `cluster.min_cluster_size` contacts
    (`cluster.taxonomy_floor`: graph method, no `target_reasons`). Then, with contact `times`, a new topic hidden
    inside an older cluster gets a cluster of its own (pipeline/overtime/emerging.py), so that its trend can show;
    not above `cluster.sample_size` contacts, where the neighbour graph is a sample's."""
    at_least = fewest_clusters(reading, len(vectors), cfg.cluster)
    found = cluster_contacts(vectors, cfg.cluster, cfg.reduce, cfg.seed, texts, at_least)
    if times is None or not cfg.trends.split_new_topics or len(vectors) > cfg.cluster.sample_size:
        return found
    return split_emerging(vectors, times, found, cfg.trends, cfg.cluster.neighbors, seed=cfg.seed)


def contact_times(contacts: pd.DataFrame, usable: np.ndarray) -> np.ndarray | None:
    """The creation times of the usable contacts, or None when no contact has one."""
    if "created_at" not in contacts or contacts["created_at"].isna().all():
        return None
    return contacts["created_at"].iloc[usable].to_numpy()


@step
def keep_ids(
    found: Clustering, vectors: np.ndarray, contact_ids: np.ndarray, previous: Run | None, cfg: Config
) -> tuple[Clustering, pd.DataFrame, int, ClusterModel]:
    """Match this run's clusters to the previous run's (made with the same embedding model) so a cluster keeps its
    id; the lineage between, the next unused id, and the cluster model under the stable ids."""
    fingerprint = embedder(cfg.embedding).ref.fingerprint
    model = fit_cluster_model(vectors, found, cfg.cluster.reassign_similarity, fingerprint)
    before = previous.previous_clusters(fingerprint) if previous else None
    mapping, lineage, next_id = stable_ids(before, contact_ids, found.labels, model.centres)
    chain = previous.cluster_model.lineage if before is not None else None
    model = replace(model, lineage=chain or chain_id())
    return relabel(found, mapping), lineage, next_id, model.relabelled(mapping)


@step
def find_duplicates(
    contacts: pd.DataFrame, vectors: np.ndarray, usable: np.ndarray, labels: np.ndarray, cfg: Config
) -> pd.Series:
    return duplicate_groups(contacts, vectors, usable, labels, cfg.prepare.duplicate_similarity)


@step
def join(contacts: pd.DataFrame, placement: Clustering, duplicates: pd.Series, reading: Reading | None) -> pd.DataFrame:
    joined = join_contacts(contacts, placement, duplicates)
    return joined if reading is None else with_reasons(joined, reading)


@step
def reason_models(context: Context, cfg: Config) -> tuple[ReasonModel | None, ProcessSteps]:
    """The taxonomy's reasons as vectors, and the process steps that are not reasons (for `secondary` proposals)."""
    model = embedder(cfg.embedding)

    def embed(texts: list[str]) -> np.ndarray:
        return model.embed(texts).vectors

    taxonomy = context.taxonomy
    reasons = reason_model(taxonomy, embed) if taxonomy and taxonomy.assignable() else None  # none to give
    return reasons, ProcessSteps.of(taxonomy, cfg.taxonomy.proposals, embed)


@step
def give_reasons(
    vectors: np.ndarray,
    contacts: pd.DataFrame,
    rows: np.ndarray,
    context: Context,
    reasons: ReasonModel | None,
    cfg: Config,
    readers: Readers | None = None,
) -> Reading | None:
    """The reasons of the contacts at `rows` (whose vectors these are); None without a taxonomy or a reason in it
    that contacts can be given. `readers`: the run's, to read with (`assign`, the taxonomy unchanged)."""
    if reasons is None or not len(rows):
        return None
    return read_reasons(vectors, contacts["reason"], rows, context.taxonomy, reasons, cfg.taxonomy, cfg.seed, readers)


def warnings_of(*parts: Reading | Refreshed | None) -> list[str]:
    """What reading the reasons (agents' reasons the taxonomy lacks) and the refresh (reasons withheld) leave for
    the run's report."""
    return [w for part in parts if part is not None for w in part.warnings]


@step
def describe(
    contacts: pd.DataFrame,
    usable: np.ndarray,
    vectors: np.ndarray,
    labels: np.ndarray,
    model: ClusterModel,
    reading: Reading | None,
    cfg: Config,
) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Each cluster's keywords, name, examples and reason group; each reason's distinctive keywords."""
    # as stored (Arrow-backed at a million contacts): only the strings a step reads become Python strings
    texts, terms = contacts["text"].iloc[usable].array, contacts["terms"].iloc[usable].array
    counts = TermCounts.of(terms, labels)
    clusters = describe_clusters(texts, counts, vectors, labels, cfg.describe, embedder(cfg.embedding).encode)
    groups = describe_groups(texts, counts, vectors, labels, model.ids, model.centres, cfg.describe)
    keywords = reason_keywords(terms, reading.assignment.reason_id, cfg.describe.n_keywords) if reading else {}
    return clusters.merge(groups, on="cluster_id", how="left"), keywords


@step
def refresh_run(
    contacts: pd.DataFrame,
    descriptions: pd.DataFrame,
    model: ClusterModel,
    models: tuple[ReasonModel | None, ProcessSteps],
    context: Context,
    cfg: Config,
) -> Refreshed:
    return refresh(contacts, descriptions, model, models[0], models[1], context, cfg)


def run_readers(run: Run, context: Context, report: InputReport) -> Readers | None:
    """The classifiers the run read its reasons with, to read a day's contacts as the run's were. None where the
    taxonomy changed (every contact is read again, and new ones are learned from them all), or where the run keeps
    none: made before they were kept, which `report` is told."""
    if taxonomy_changed(run.manifest, context):
        return None
    if run.readers is None and context.taxonomy is not None:
        report.warnings.append(
            "this run was made before the classifiers that read its reasons were kept: the day's contacts are read "
            "with classifiers learned from this file alone, so a contact's reason can depend on what else the file "
            "holds; run discover again to keep them"
        )
    return run.readers


def cluster_model(run: Run | None, out: Path, cfg: Config) -> ClusterModel:
    """The clusters of the run in `out`, to put new contacts into."""
    if run is None or run.cluster_model is None:
        raise ModelError(f"{out} holds no clusters to assign to: run `touchless discover ... --out {out}` first")
    if run.cluster_model.fingerprint != embedder(cfg.embedding).ref.fingerprint:
        raise ModelError(f"the run in {out} was made with another embedding model; run discover again")
    return run.cluster_model


def reread_reasons(
    contacts: pd.DataFrame,
    manifest: Manifest,
    context: Context,
    reasons: ReasonModel | None,
    report: InputReport,
    cfg: Config,
    show_progress: bool,
) -> tuple[pd.DataFrame, Reading | None]:
    """When the taxonomy changed since the run read its reasons, every contact's reason is read again (its vector
    comes from the embedding cache) and the report says so; else the contacts are returned as they are."""
    if not taxonomy_changed(manifest, context):
        return contacts, None
    usable = usable_rows(contacts)
    vectors = embed(contacts["text"].iloc[usable].tolist(), cfg, show_progress).vectors
    reading = give_reasons(vectors, contacts, usable, context, reasons, cfg)
    lost = lost_reasons(contacts, context.taxonomy)
    now = context.taxonomy.version
    change = (
        f"version {manifest.taxonomy_version} -> {now}"
        if manifest.taxonomy_version != now
        else f"edited, still version {now}"
    )
    report.warnings.append(
        f"the taxonomy changed since this run read its reasons ({change}): every contact's reason was read again "
        f"({lost:,} had a reason it no longer offers)"
    )
    return (contacts if reading is None else with_reasons(contacts, reading)), reading


def usable_rows(contacts: pd.DataFrame, report: InputReport | None = None, at_least: int = 0) -> np.ndarray:
    """The contacts that are clustered: those whose text states a reason, in the expected language; fewer than
    `at_least` is an error that says where the others went."""
    usable = np.flatnonzero((contacts["text_status"] == "ok").to_numpy())
    if len(usable) < at_least:
        statuses = contacts["text_status"].value_counts()
        why = ", ".join(f"{n:,} {status.replace('_', ' ')}" for status, n in statuses.items() if status != "ok")
        raise InputError(
            f"only {len(usable)} of {len(contacts):,} contacts have text that states a reason "
            f"({why or 'no others'}); touchless needs at least {at_least} to find reasons",
            file=report.file if report else None,
            column=report.text_column if report else None,
        )
    return usable

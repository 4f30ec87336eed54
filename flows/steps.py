"""The Prefect tasks both flows use: each is one pipeline step, with no orchestration logic of its own.

Tasks hand each other in-memory tables: no result persistence (contact text must not land in Prefect's storage)
and no hashing of large inputs for cache keys.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from prefect import task, unmapped
from prefect.cache_policies import NO_CACHE

from flows.progress import progress_bar
from pipeline.config import Config
from pipeline.embed import Embedder
from pipeline.inputs import InputReport
from pipeline.prepare import read_and_prepare
from pipeline.reasons import Assignment, ReasonModel, agent_reasons, assign_reasons, reason_model
from pipeline.taxonomy import Taxonomy
from pipeline.touches import issues

step = task(cache_policy=NO_CACHE, persist_result=False)
# reading the input may meet a file still being copied in, or a network filesystem hiccup: try again
io_step = task(cache_policy=NO_CACHE, persist_result=False, retries=2, retry_delay_seconds=5,
               retry_condition_fn=lambda task, run, state: isinstance(state.result(raise_on_failure=False), OSError))


@io_step
def load_and_prepare(input_path: str, cfg: Config, known: np.ndarray | None = None) -> tuple[pd.DataFrame, InputReport]:
    """Read, clean and redact in one step: the raw text never leaves it. `known`: contact ids to leave out."""
    return read_and_prepare(input_path, cfg, () if known is None else known)


@step
def embed_partition(texts: list[str], cfg: Config) -> np.ndarray:
    """One partition's vectors, wherever the task runner puts it (a Dask worker needs touchless installed)."""
    return Embedder(cfg.embedding).encode(texts)


def embed(texts: list[str], cfg: Config, show_progress: bool) -> tuple[np.ndarray, int, int]:
    """Vectors for `texts`: the texts not cached yet are embedded in partitions mapped over the flow's task runner
    (threads here, or a Dask cluster); each finished partition is cached at once, so a killed run keeps it."""
    embedder = Embedder(cfg.embedding)
    todo = embedder.missing(texts)
    partitions = [todo[i : i + cfg.embedding.partition_size] for i in range(0, len(todo), cfg.embedding.partition_size)]
    with progress_bar("embedding", show_progress) as on_progress:
        done = 0
        if on_progress:
            on_progress(0, len(todo))
        futures = embed_partition.map(partitions, unmapped(cfg)) if partitions else []
        for partition, future in zip(partitions, futures):
            embedder.store(partition, future.result())
            done += len(partition)
            if on_progress:
                on_progress(done, len(todo))
    result = embedder.embed(texts)
    return result.vectors, len(todo), result.cached - len(todo)


@step
def give_reasons(
    contacts: pd.DataFrame, vectors: np.ndarray, usable: np.ndarray, taxonomy: Taxonomy, cfg: Config
) -> tuple[Assignment, ReasonModel, list[str]]:
    """Each usable contact's reason from the taxonomy (zero-shot, or trained on agents' reasons where better);
    fills `reason_id`, `reason_score`, `text_reason` and `agent_reason` in `contacts`."""
    embedder = Embedder(cfg.embedding)
    model = reason_model(taxonomy, lambda texts: embedder.embed(texts).vectors)
    agent, warnings = agent_reasons(contacts["reason"], taxonomy)
    labelled = agent.iloc[usable] if agent.notna().any() else None
    assignment = assign_reasons(vectors, model, labelled, cfg.taxonomy, cfg.seed)
    rows = contacts.index[usable]
    contacts.loc[rows, "reason_id"] = assignment.reason_id
    contacts.loc[rows, "reason_score"] = assignment.reason_score
    contacts.loc[rows, "text_reason"] = assignment.text_reason
    contacts["agent_reason"] = agent
    return assignment, model, warnings


@step
def group_touches(contacts: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    return issues(contacts, cfg.touches.window_days)


def prepare_columns(contacts: pd.DataFrame) -> None:
    """The columns later steps fill, present from the start (null until filled)."""
    for column, value in (("reason_id", None), ("reason_score", np.nan), ("text_reason", None), ("agent_reason", None)):
        contacts[column] = pd.Series(value, index=contacts.index, dtype=object if value is None else float)


def file_sha256(location: str) -> str:
    """Of a local file or a URL: identifies the input a run read."""
    import hashlib

    import fsspec

    digest = hashlib.sha256()
    with fsspec.open(location, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def where(location: str | None) -> str | None:
    """A path made absolute, a URL as given: how run.json names the files a run read."""
    if location is None:
        return None
    return location if "://" in location else str(Path(location).resolve())


def watermark(contacts: pd.DataFrame) -> str | None:
    """The newest contact's time: how far the run has read."""
    newest = contacts["created_at"].max()
    return None if pd.isna(newest) else newest.isoformat()

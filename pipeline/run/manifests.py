"""What a run's manifest says it read: the input and its hash, the taxonomy, the volume, the config, the report."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from pipeline.config import Config
from pipeline.read.report import InputReport
from pipeline.run.folder import EmbeddingInfo, Manifest
from pipeline.run.refresh import Context
from pipeline.taxonomy.reasons import Reading

_DISCOVER_ONLY = ("reduce", "cluster", "describe")  # assign places contacts in the run's clusters, named as they are
# what the run's readers were learned with (`pipeline.taxonomy.reasons.Readers`): an assign that reads with them keeps
# them, until a changed taxonomy has every contact read again
_LEARNED = ("self_training", "classifier_c", "holdout_share")


def discover_manifest(
    input_path: str,
    volume_path: str | None,
    cfg: Config,
    context: Context,
    report: InputReport,
    reading: Reading | None,
    fingerprint: str,
    next_id: int,
    contacts: pd.DataFrame,
) -> Manifest:
    return Manifest(
        kind="discover",
        input=where(input_path),
        input_sha256=file_sha256(input_path),
        contacts=len(contacts),
        volume=where(volume_path),
        **_taxonomy(cfg, context, reading),
        embedding=EmbeddingInfo(model=cfg.embedding.model, fingerprint=fingerprint),
        next_cluster_id=next_id,
        watermark=watermark(contacts),
        config=cfg.model_dump(mode="json"),
        report=report.as_dict(),
    )


def assign_manifest(
    previous: Manifest,
    input_path: str,
    volume_path: str | None,
    cfg: Config,
    context: Context,
    report: InputReport,
    reread: Reading | None,
    contacts: pd.DataFrame,
) -> Manifest:
    """The run's manifest after `assign`: what discover read stays; what this day read is added, and the settings
    the run's tables are now computed with (touches, trends, ranking ... of a `--config` hold for the next assign
    too; how the clusters were made and how exports are read stay the run's). `reread`: every contact's reasons,
    read again with a changed taxonomy, which the manifest then names."""
    taxonomy = _taxonomy(cfg, context, reread) if reread is not None else {}
    config = cfg.model_dump(mode="json")
    # how the clusters were made stays as it was, and so does how the first export was read (a --column given for
    # one day's file is not the next day's)
    config |= {
        section: previous.config[section] for section in ("input", *_DISCOVER_ONLY) if section in previous.config
    }
    if reread is None and "taxonomy" in previous.config:  # the run's readers read the day: they keep their settings
        config["taxonomy"] |= {k: previous.config["taxonomy"][k] for k in _LEARNED if k in previous.config["taxonomy"]}
    return previous.model_copy(
        update={
            "kind": "assign",
            "config": config,
            "assigned_input": where(input_path),
            "assigned_input_sha256": file_sha256(input_path),
            "contacts": len(contacts),
            "volume": where(volume_path),
            "watermark": watermark(contacts),
            "assign_report": report.as_dict(),
            **taxonomy,
        }
    )


def discover_only_changes(stored: dict, cfg: Config, readers_kept: bool = False) -> list[str]:
    """The settings of `cfg` that differ from the run's stored config in sections only discover uses, and, where
    the run's readers read the day (`readers_kept`), those they were learned with: an assign cannot apply them, so
    the person is told to give them to a discover."""
    now = cfg.model_dump(mode="json")
    keys = [(section, key) for section in _DISCOVER_ONLY for key in now[section]]
    keys += [("taxonomy", key) for key in _LEARNED] if readers_kept else []
    return [
        f"{section}.{key}"
        for section, key in keys
        if key in stored.get(section, {}) and stored[section][key] != now[section][key]
    ]


def taxonomy_changed(manifest: Manifest, context: Context) -> bool:
    """Whether the taxonomy differs from the one the run's reasons were read with (a run made before the file's
    hash was kept is judged by the version)."""
    if context.taxonomy is None:
        return False
    if manifest.taxonomy_sha256 is not None:
        return manifest.taxonomy_sha256 != context.taxonomy_sha256
    return manifest.taxonomy_version != context.taxonomy.version


def _taxonomy(cfg: Config, context: Context, reading: Reading | None) -> dict:
    return {
        "taxonomy": where(cfg.taxonomy.path),
        "taxonomy_sha256": context.taxonomy_sha256,
        "taxonomy_version": context.taxonomy.version if context.taxonomy else None,
        "reason_assignment": reading.method() if reading else None,
    }


def file_sha256(location: str) -> str:
    """Of a local file or a URL: identifies the input a run read."""
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

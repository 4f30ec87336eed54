"""Shared fixtures: a Prefect test backend for the session, small real data, one discover run to share."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import settings

# Property tests run whole flows: a few fixed examples in CI, many more with HYPOTHESIS_PROFILE=explore.
settings.register_profile("ci", max_examples=4, derandomize=True)
settings.register_profile("explore", max_examples=100)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Prefect binds its console handler to the stream pytest captured first; quiet it as the CLI does.
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "CRITICAL")

DATA = Path(__file__).resolve().parent / "data"
SIX_INTENTS = DATA / "banking77_six.csv"


@pytest.fixture(scope="session", autouse=True)
def prefect_backend():
    """One temporary Prefect database and server for the whole session (~9 s to start)."""
    from prefect.testing.utilities import prefect_test_harness

    import flows  # noqa: F401  (Prefect settings before Prefect is imported)

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def embedding_cache(tmp_path_factory) -> Path:
    """A fresh embedding cache for the session, so tests can count what gets embedded."""
    return tmp_path_factory.mktemp("embedding-cache")


@pytest.fixture(scope="session")
def test_config(tmp_path_factory, embedding_cache) -> Path:
    path = tmp_path_factory.mktemp("config") / "config.yaml"
    path.write_text(f"embedding:\n  cache_dir: {embedding_cache}\n")
    return path


@pytest.fixture(scope="session")
def six_intents() -> pd.DataFrame:
    return pd.read_csv(SIX_INTENTS)


@pytest.fixture(scope="session")
def six_intents_run(tmp_path_factory, test_config):
    """discover over 300 BANKING77 texts of six intents, run once through the real flow."""
    from flows.discover import discover

    out = tmp_path_factory.mktemp("runs") / "six"
    result = discover(input_path=str(SIX_INTENTS), out_dir=str(out), config_path=str(test_config))
    return out, result


def run_cli(*args: str) -> int:
    """`touchless ARGS` in this process; its exit code."""
    from flows.cli import main

    try:
        main(list(args))
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def tree_digest(folder: Path) -> str:
    """One digest of every path and file's bytes below `folder`: equal digests, an untouched folder."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        digest.update(str(path.relative_to(folder)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()

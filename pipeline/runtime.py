"""Process-wide settings that must hold before heavy libraries are imported."""

from __future__ import annotations

import os
from pathlib import Path

# Forced, not defaulted: touchless must never reach a model hub, whatever a shell says.
_OFFLINE = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "DO_NOT_TRACK": "1",
}


def configure_offline() -> None:
    os.environ.update(_OFFLINE)
    # numba compiles UMAP's kernels on first use; a cache folder lets later processes reuse them.
    os.environ.setdefault("NUMBA_CACHE_DIR", str(cache_home() / "numba"))


def cache_home() -> Path:
    """The user cache folder for touchless (embeddings, Prefect home, compiled kernels)."""
    root = os.environ.get("TOUCHLESS_CACHE_DIR")
    if root:
        return Path(root).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "touchless"

"""Process-wide settings that must hold before heavy libraries are imported."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
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


def die_with(parent: int) -> None:
    """End this process when `parent` ends, by any means: SIGKILL from the kernel on Linux, and a watchdog for
    the moment before prctl took effect and for systems without it. For the children touchless starts (its
    temporary Prefect server, prepare's worker processes): none may outlive the run, even one killed by SIGKILL.
    Linux signals the child when the thread that started it ends: start it from one that outlives it."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    if os.getppid() != parent:  # died before prctl
        os._exit(1)
    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()

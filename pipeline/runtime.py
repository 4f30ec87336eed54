"""Process-wide settings that must hold before heavy libraries are imported."""

from __future__ import annotations

import math
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


def cores() -> int:
    """The cores this process may use: those it may run on, fewer where its container's CPU quota says so (a
    2-CPU container on a 64-core host sees 64 in `os.cpu_count()`; threads or processes sized by that would
    crowd its 2)."""
    found = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    for quota_file, period_file in (
        ("/sys/fs/cgroup/cpu.max", None),  # cgroup v2: "<quota> <period>" or "max <period>"
        ("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/cpu/cpu.cfs_period_us"),  # v1: -1 is no quota
    ):
        try:
            fields = Path(quota_file).read_text().split()
            if period_file:
                fields.append(Path(period_file).read_text().strip())
            quota, period = float(fields[0]), float(fields[1])
        except (OSError, ValueError, IndexError):  # no such file, or "max": no quota there
            continue
        if quota > 0 and period > 0:
            return max(1, min(found, math.ceil(quota / period)))
    return found


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

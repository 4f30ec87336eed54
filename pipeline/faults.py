"""Named points in the write path where the fault-injection tests kill or fail a run (tests/test_faults.py).

A run reaches `checkpoint("table:contacts")`, `checkpoint("swap:exchanged")` ... as it writes. Nothing happens
unless the environment names that point: `TOUCHLESS_KILL_AT=<point>` kills the process there with SIGKILL (as an
out-of-memory killer or a power cut would), `TOUCHLESS_FAIL_AT=<point>` raises the error a full disk raises,
`TOUCHLESS_INTERRUPT_AT=<point>` what Ctrl-C raises, and
`TOUCHLESS_FAULT_NO_EXCHANGE=1` makes the swap act as on a filesystem without an atomic exchange. The tests then
prove that readers always find a whole run and that no process is left behind.
"""

from __future__ import annotations

import errno
import os
import signal


def checkpoint(point: str) -> None:
    if os.environ.get("TOUCHLESS_KILL_AT") == point:
        os.kill(os.getpid(), signal.SIGKILL)
    if os.environ.get("TOUCHLESS_FAIL_AT") == point:
        raise OSError(errno.ENOSPC, f"No space left on device (injected at {point})")
    if os.environ.get("TOUCHLESS_INTERRUPT_AT") == point:
        raise KeyboardInterrupt  # Ctrl-C there


def exchange_unavailable() -> bool:
    """Whether to act as on a filesystem that cannot exchange two paths atomically (the two-rename swap)."""
    return os.environ.get("TOUCHLESS_FAULT_NO_EXCHANGE") == "1"

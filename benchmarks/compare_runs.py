"""Compare two run folders table by table: the proof that a change kept behaviour (or the list of what moved).

    python -m benchmarks.compare_runs OLD_RUN NEW_RUN

Prints, per table, whether it is identical; where not, the columns that differ and a few differing rows. Columns
only one side has are listed, not compared. Exit status 1 when a shared column differs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from pipeline.run.schemas import TABLES


def compare(old: Path, new: Path) -> bool:
    same_everywhere = True
    for name in TABLES:
        missing = [str(folder) for folder in (old, new) if not (folder / f"{name}.parquet").exists()]
        if missing:
            print(f"{name}: not in {', '.join(missing)}")
            same_everywhere = same_everywhere and len(missing) == 2
            continue
        a, b = (pd.read_parquet(folder / f"{name}.parquet") for folder in (old, new))
        shared = [c for c in a.columns if c in b.columns]
        only = sorted(set(a.columns) ^ set(b.columns))
        note = f" (columns on one side only: {', '.join(only)})" if only else ""
        if len(a) != len(b):
            print(f"{name}: {len(a)} rows against {len(b)}{note}")
            same_everywhere = False
            continue
        differing = [c for c in shared if not _equal(a[c], b[c])]
        if not differing:
            print(f"{name}: identical, {len(a)} rows{note}")
            continue
        same_everywhere = False
        print(f"{name}: {len(differing)} column(s) differ: {', '.join(differing)}{note}")
        for c in differing[:4]:
            rows = [i for i in range(len(a)) if not _equal(a[c].iloc[[i]], b[c].iloc[[i]])]
            print(f"  {c}: {len(rows)} row(s), e.g. row {rows[0]}: {a[c].iloc[rows[0]]!r} -> {b[c].iloc[rows[0]]!r}")
    return same_everywhere


def _equal(x: pd.Series, y: pd.Series) -> bool:
    left, right = x.reset_index(drop=True), y.reset_index(drop=True)
    if left.dtype == object or right.dtype == object:
        return left.map(_plain).equals(right.map(_plain))
    return left.equals(right)


def _plain(value):
    return tuple(value.tolist()) if hasattr(value, "tolist") and not isinstance(value, str) else value


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    args = parser.parse_args()
    print(f"reproduce: python -m benchmarks.compare_runs {args.old} {args.new}")
    sys.exit(0 if compare(args.old, args.new) else 1)

"""A self-contained HTML page per run for taxonomy owners: each proposal with its evidence, examples and a chart.

No server, no scripts, no external files: one page to open in a browser or attach to an email. The page is a
Jinja2 template (`templates/review.html`) with autoescaping on, so every text shown (already redacted) is escaped.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from pipeline.run.folder import Manifest

KIND_NAMES = {
    "new_reason": "New reason",
    "split": "Split a reason",
    "merge": "Merge two reasons",
    "retire": "Retire a reason",
    "mislabel": "Agents' labels disagree",
    "secondary": "Process step, not a reason",
}


def kind_counts(counts: Mapping[str, int]) -> str:
    """'new reason × 3, split a reason × 1': how many proposals of each kind, most first."""
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{KIND_NAMES.get(k, k).lower()} × {n}" for k, n in ordered)


COLOURS = {
    "new_reason": "#1b7f5b",
    "split": "#8a5a00",
    "merge": "#3355aa",
    "retire": "#777",
    "mislabel": "#a02c2c",
    "secondary": "#6b4aa0",
}


@lru_cache(maxsize=1)
def templates() -> Environment:
    return Environment(
        loader=PackageLoader("pipeline.run", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=False,
        keep_trailing_newline=True,
    )


def review_page(proposals: pd.DataFrame, clusters: pd.DataFrame, manifest: Manifest) -> str:
    """`proposals` and `clusters` as written to the run's tables; `manifest`: the run's."""
    shown = proposals[proposals["status"] != "rejected"].sort_values("rank")
    counts = shown["kind"].value_counts()
    sizes = {int(c): int(n) for c, n in zip(clusters["cluster_id"], clusters["size"])}
    largest = clusters.sort_values("size", ascending=False).head(30)
    env = templates().overlay()
    env.filters["size_of"] = lambda c: sizes.get(int(c), 0)
    return env.get_template("review.html").render(
        input=_name(manifest.input),
        contacts=manifest.contacts,
        taxonomy=manifest.taxonomy,
        when=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        proposals=[_row(p) for p in shown.itertuples()],
        hidden=int((proposals["status"] == "rejected").sum()),
        summary=kind_counts(counts) or "nothing to review",
        clusters=clusters,
        largest=[_row(r) for r in largest.itertuples()],
        biggest_cluster=max(int(largest["size"].max()) if len(largest) else 1, 1),
        names=dict(zip(clusters["cluster_id"].astype(int), clusters["label"])),
        kinds=KIND_NAMES,
        colours=COLOURS,
        bar=bar,
        groups=_groups(clusters),
    )


def bar(value: float, biggest: float, width: int, colour: str = "#1b7f5b") -> Markup:
    """A horizontal bar as inline SVG (numbers only go into it)."""
    filled = max(1, int(width * value / biggest)) if value > 0 else 0
    return Markup(
        f"<svg width='{width}' height='10' role='img' aria-label='{float(value):g}'>"
        f"<rect width='{width}' height='10' rx='3' fill='#e6e6e2'/>"
        f"<rect width='{filled}' height='10' rx='3' fill='{colour}'/></svg>"
    )


def _groups(clusters: pd.DataFrame) -> list[dict]:
    """The reason groups, largest first, each with its clusters, largest first."""
    if "group_id" not in clusters or clusters["group_id"].isna().all():
        return []
    out = []
    for _, members in clusters.sort_values("size", ascending=False).groupby("group_id", sort=False):
        out.append(
            {
                "label": members["group_label"].iloc[0],
                "size": int(members["size"].sum()),
                "clusters": [_row(r) for r in members.itertuples()],
            }
        )
    return sorted(out, key=lambda g: -g["size"])


def _row(row) -> dict:
    """A table row with plain Python values (lists, not arrays) for the template."""
    return {k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in row._asdict().items()}


def _name(location: str | None) -> str:
    return (location or "").rstrip("/").rsplit("/", 1)[-1]

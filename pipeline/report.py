"""A self-contained HTML page per run for taxonomy owners: each proposal with its evidence, examples and a chart.

No server, no scripts, no external files: one page to open in a browser or attach to an email. All text shown is
already redacted.
"""

from __future__ import annotations

import html
from datetime import datetime, timezone

import pandas as pd

KIND_NAMES = {
    "new_reason": "New reason",
    "split": "Split a reason",
    "merge": "Merge two reasons",
    "retire": "Retire a reason",
    "mislabel": "Agents' labels disagree",
    "secondary": "Process step, not a reason",
}
_COLOURS = {"new_reason": "#1b7f5b", "split": "#8a5a00", "merge": "#3355aa", "retire": "#777", "mislabel": "#a02c2c",
            "secondary": "#6b4aa0"}

_STYLE = """
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f6f6f4;color:#222}
main{max-width:980px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px} h2{font-size:18px;margin:32px 0 8px}
.meta{color:#666;margin-bottom:16px} .card{background:#fff;border-radius:10px;padding:16px 20px;margin:14px 0;
box-shadow:0 1px 3px rgba(0,0,0,.08)} .badge{display:inline-block;color:#fff;border-radius:12px;padding:1px 10px;
font-size:12px;margin-right:8px} .id{font-family:ui-monospace,monospace;color:#888;font-size:12px}
.name{font-size:17px;font-weight:600} .evidence{margin:6px 0 10px} .nums span{margin-right:18px;color:#444}
.chips span{display:inline-block;background:#eef0ec;border-radius:4px;padding:0 6px;margin:2px 4px 2px 0;font-size:13px}
ul.ex{margin:8px 0 0 0;padding-left:20px;color:#333} ul.ex li{margin:2px 0}
code{background:#eef0ec;padding:1px 5px;border-radius:4px} table{border-collapse:collapse;width:100%;background:#fff}
td,th{padding:6px 8px;border-bottom:1px solid #eee;text-align:left;vertical-align:top;font-size:14px}
.muted{color:#888}
"""


def review_page(proposals: pd.DataFrame, clusters: pd.DataFrame, run: dict) -> str:
    """`proposals` and `clusters` as written to the run's tables; `run`: input name, contacts, taxonomy."""
    open_ = proposals[proposals["status"] != "rejected"].sort_values("rank")
    hidden = int((proposals["status"] == "rejected").sum())
    counts = open_["kind"].value_counts()
    summary = ", ".join(f"{n} {KIND_NAMES[k].lower()}" for k, n in counts.items()) or "nothing to review"
    sizes = clusters.set_index("cluster_id")["size"].to_dict()
    names = clusters.set_index("cluster_id")["label"].to_dict()
    cards = "".join(_card(row, sizes, names) for row in open_.itertuples())
    top = clusters.sort_values("size", ascending=False).head(30)
    biggest = max(int(top["size"].max()) if len(top) else 1, 1)
    rows = "".join(
        f"<tr><td>{int(r.cluster_id)}</td><td>{_e(r.label)}</td><td>{_bar(int(r.size), biggest, 160)} {int(r.size)}</td>"
        f"<td class='muted'>{_e(', '.join(list(r.keywords)[:6]))}</td></tr>"
        for r in top.itertuples()
    )
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>touchless review: {_e(run['input'])}</title>
<style>{_STYLE}</style></head><body><main>
<h1>Proposed changes to the reason taxonomy</h1>
<div class="meta">{_e(run['input'])} · {run['contacts']:,} contacts · {len(clusters)} clusters ·
taxonomy: {_e(run.get('taxonomy') or 'none given')} · {when}</div>
<div class="card"><b>{len(open_)} proposal(s)</b>: {_e(summary)}{f' · {hidden} rejected earlier and hidden' if hidden else ''}.
<div class="muted" style="margin-top:6px">Decide with <code>touchless proposals accept ID</code> (optionally
<code>--name</code>, <code>--description</code>, <code>--parent</code>) or <code>touchless proposals reject ID
--reason "..."</code>, then write the next taxonomy with <code>touchless taxonomy apply</code>. Proposals are
ordered by how many touches they affect.</div></div>
{cards}
<h2>The largest clusters</h2>
<table><tr><th>id</th><th>name</th><th>contacts</th><th>keywords</th></tr>{rows}</table>
</main></body></html>
"""


def _card(p, sizes: dict, names: dict) -> str:
    colour = _COLOURS.get(p.kind, "#555")
    parts = [int(c) for c in p.cluster_ids]
    chart = ""
    if len(parts) > 1:
        biggest = max(sizes.get(c, 0) for c in parts) or 1
        chart = "<div style='margin:8px 0'>" + "".join(
            f"<div>{_bar(sizes.get(c, 0), biggest, 220, colour)} {sizes.get(c, 0)} · {_e(names.get(c, ''))}</div>"
            for c in parts
        ) + "</div>"
    status = "" if p.status == "open" else f" <b>({_e(p.status)})</b>"
    return f"""<div class="card"><span class="badge" style="background:{colour}">{_e(KIND_NAMES.get(p.kind, p.kind))}</span>
<span class="id">#{int(p.rank)} · {_e(p.proposal_id)}</span>{status}
<div class="name">{_e(p.name)}</div><div>{_e(p.description)}</div>
<div class="evidence muted">Evidence: {_e(p.evidence)}</div>
<div class="nums"><span><b>{int(p.contacts):,}</b> contacts</span><span><b>{int(p.touches):,}</b> touches</span>
<span>confidence {_bar(float(p.confidence), 1.0, 80, colour)} {p.confidence:.2f}</span></div>{chart}
<div class="chips">{''.join(f'<span>{_e(k)}</span>' for k in list(p.keywords)[:10])}</div>
<ul class="ex">{''.join(f'<li>{_e(x)}</li>' for x in list(p.examples)[:5])}</ul></div>"""


def _bar(value: float, biggest: float, width: int, colour: str = "#1b7f5b") -> str:
    filled = max(1, int(width * value / biggest)) if value > 0 else 0
    return (f"<svg width='{width}' height='10' role='img' aria-label='{value}'>"
            f"<rect width='{width}' height='10' rx='3' fill='#e6e6e2'/>"
            f"<rect width='{filled}' height='10' rx='3' fill='{colour}'/></svg>")


def _e(text) -> str:
    return html.escape(str(text), quote=True)

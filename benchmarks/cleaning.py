"""Conversation-level discovery on MultiDoGO chats with cleaning on and off, side by side.

Each domain's test split is read as a messages export (one contact per chat, customer turns only; a chat's reason
is its most frequent non-generic turn intent). Redaction runs in both arms; only `prepare.clean` differs.

    python -m benchmarks.cleaning
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import pandas as pd

from benchmarks.datasets import multidogo_messages
from pipeline.config import load_config
from pipeline.model.cluster import cluster_contacts
from pipeline.model.embed import Embedder
from pipeline.model.evaluate import evaluate, load_labels
from pipeline.text.prepare import read_and_prepare


def run(path: Path, clean: bool) -> dict:
    cfg = load_config(overrides={"prepare": {"clean": clean}})
    contacts, report = read_and_prepare(path, cfg)
    usable = contacts["text_status"] == "ok"
    texts = contacts.loc[usable, "text"].tolist()
    vectors = Embedder(cfg.embedding).embed(texts).vectors
    labels = pd.Series(-1, index=contacts.index)
    labels[usable] = cluster_contacts(vectors, cfg.cluster, cfg.reduce, cfg.seed, texts).labels
    truth = load_labels(path, cfg.input, "label")
    e = evaluate(truth.loc[contacts["contact_id"]].to_numpy(), labels.to_numpy())
    words = contacts["text"].str.split().str.len().mean()
    return {
        "cleaning": "on" if clean else "off",
        "chats": e.contacts,
        "true reasons": e.labels,
        "clusters": e.clusters,
        "not clustered": f"{1 - usable.mean():.1%}",
        "words per chat": round(words, 1),
        "NMI": round(e.every_contact.nmi, 3),
        "ARI": round(e.every_contact.ari, 3),
        "ACC": round(e.every_contact.acc, 3),
    }


def main() -> None:
    print("reproduce: python -m benchmarks.cleaning", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for domain in ("airline", "finance", "media"):
            path = Path(tmp) / f"{domain}.csv"
            multidogo_messages(domain, "test").to_csv(path, index=False)
            for clean in (False, True):
                rows.append({"domain": domain, **run(path, clean)})
                print(rows[-1], file=sys.stderr, flush=True)
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    means = table.groupby("cleaning")[["NMI", "ARI", "ACC"]].mean().round(3)
    print("\nmean over domains:\n" + means.to_string())


if __name__ == "__main__":
    main()

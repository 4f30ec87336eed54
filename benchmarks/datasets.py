"""Loaders for the labelled customer-service data the benchmarks score on (BANKING77, HWU64, MultiDoGO, DSTC11).

Each loader returns a contacts frame: `contact_id`, `text`, `label` (the true reason, for scoring only).
The data is not shipped (only small slices are): set TOUCHLESS_DATA to the folder that holds `banking77/`, `hwu64/`,
`multidogo/` and `dstc11/` (its README says where each set comes from and under which licence).
"""

from __future__ import annotations

import csv
import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SLOT = re.compile(r"\[\s*[\w.]+\s*:\s*([^\]]*)\]")  # HWU64 slot marks: '[date : today]'


def data_dir() -> Path:
    """The labelled data folder, named by TOUCHLESS_DATA (TOUCHLESS_SHARED_DATA is still read, the older name)."""
    folder = os.environ.get("TOUCHLESS_DATA") or os.environ.get("TOUCHLESS_SHARED_DATA")
    if not folder:
        raise SystemExit(
            "The benchmarks need the labelled data sets: set TOUCHLESS_DATA to the folder that holds banking77/, "
            "hwu64/, multidogo/ and dstc11/ (see CONTRIBUTING.md, Benchmarks)."
        )
    if not Path(folder).is_dir():
        raise SystemExit(f"TOUCHLESS_DATA={folder} is not a folder.")
    return Path(folder)


def banking77(split: str = "test") -> pd.DataFrame:
    """BANKING77 (CC-BY-4.0, PolyAI): single banking queries, 77 intents. split: train | test | all."""
    parts = ["train", "test"] if split == "all" else [split]
    frames = []
    for part in parts:
        frame = pd.read_csv(data_dir() / "banking77" / f"{part}.csv")
        frame["contact_id"] = [f"b77-{part}-{i:05d}" for i in range(len(frame))]
        frames.append(frame)
    frame = pd.concat(frames, ignore_index=True)
    return frame.rename(columns={"category": "label"})[["contact_id", "text", "label"]]


def hwu64() -> pd.DataFrame:
    """HWU64 (CC-BY-4.0): home-assistant commands; slot marks ('[date : today]') are replaced by their values."""
    frame = pd.read_csv(data_dir() / "hwu64" / "hwu64.csv")
    frame["text"] = frame["text"].astype(str).map(lambda t: re.sub(r"\s+", " ", SLOT.sub(r"\1", t)).strip())
    frame["contact_id"] = [f"hwu-{i:05d}" for i in range(len(frame))]
    return frame.rename(columns={"intent": "label"})[["contact_id", "text", "label", "scenario"]]


def per_label(frame: pd.DataFrame, n: int, seed: int = 0) -> pd.DataFrame:
    """At most `n` contacts of each label, drawn with a fixed seed."""
    frame = frame.sample(frac=1.0, random_state=seed)
    return frame[frame.groupby("label").cumcount() < n].sort_index().reset_index(drop=True)


def banking77_few(reasons: int = 18, per_reason: int = 23, seed: int = 5) -> pd.DataFrame:
    """A small set of few reasons (a stand-in for a team's first export: ~400 calls, 18 reasons): `reasons`
    BANKING77 test intents drawn with a fixed seed, `per_reason` contacts each."""
    frame = banking77("test")
    rng = np.random.default_rng(seed)
    chosen = rng.choice(sorted(frame["label"].unique()), reasons, replace=False)
    return per_label(frame[frame["label"].isin(chosen)], per_reason)


def banking_and_home(per_reason: int = 30) -> pd.DataFrame:
    """Many fine reasons across domains (a stand-in for a 150-reason multi-domain set): BANKING77 test's 77 intents
    and HWU64's 64, `per_reason` contacts each (4,230 in all)."""
    home = hwu64().drop(columns="scenario")
    return pd.concat(
        [per_label(banking77("test"), per_reason), per_label(home.assign(label="home: " + home["label"]), per_reason)],
        ignore_index=True,
    )


def dstc11() -> pd.DataFrame:
    """DSTC11 track 2 development (CDLA-Permissive-2.0, Amazon): 913 insurance call utterances, 22 intents."""
    rows = [json.loads(line) for line in (data_dir() / "dstc11" / "development.jsonl").read_text().splitlines() if line]
    frame = pd.DataFrame(rows)
    return frame.rename(columns={"utterance_id": "contact_id", "utterance": "text", "intent": "label"})[
        ["contact_id", "text", "label"]
    ]


# Turn intents that say nothing about why the customer came.
MULTIDOGO_GENERIC = {
    "openinggreeting",
    "closinggreeting",
    "thankyou",
    "contentonly",
    "outofdomain",
    "confirmation",
    "rejection",
}


def multidogo_turns(domain: str, split: str = "train") -> pd.DataFrame:
    """MultiDoGO (CDLA-Permissive-1.0, Amazon): customer turns of multi-turn chats, one row a turn."""
    path = data_dir() / "multidogo" / domain / f"{split}.tsv"
    frame = pd.read_csv(path, sep="\t", quoting=csv.QUOTE_MINIMAL, dtype=str, keep_default_na=False)
    frame["turnNumber"] = pd.to_numeric(frame["turnNumber"]).astype(int)  # finance writes "0.0"
    return frame.sort_values(["conversationId", "turnNumber"], kind="stable").reset_index(drop=True)


def multidogo_conversations(domain: str, split: str = "train") -> pd.DataFrame:
    """One contact per conversation: its customer turns joined; its reason = most frequent non-generic intent."""
    turns = multidogo_turns(domain, split)
    rows = []
    for conv, group in turns.groupby("conversationId", sort=True):
        intents = [i for turn in group["intent"] for i in turn.split("<div>") if i.lower() not in MULTIDOGO_GENERIC]
        if not intents:
            continue
        label = pd.Series(intents).value_counts().index[0]
        rows.append({"contact_id": conv, "text": "\n".join(group["utterance"]), "label": label})
    return pd.DataFrame(rows)


def multidogo_messages(domain: str, split: str = "test") -> pd.DataFrame:
    """MultiDoGO as a messages export: `conversation_id`, `role` (all customer: the data holds customer turns only),
    `text`, `sent_at` (simulated: one minute per turn number, from a fixed start), and `label`, the conversation's
    reason (its most frequent non-generic turn intent) repeated on each of its messages."""
    turns = multidogo_turns(domain, split)
    reasons = multidogo_conversations(domain, split).set_index("contact_id")["label"]
    turns = turns[turns["conversationId"].isin(reasons.index)]
    start = pd.Timestamp("2026-01-05T09:00:00Z")
    return pd.DataFrame(
        {
            "conversation_id": turns["conversationId"].to_numpy(),
            "role": "customer",
            "text": turns["utterance"].to_numpy(),
            "sent_at": (start + pd.to_timedelta(turns["turnNumber"], unit="min"))
            .dt.strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_numpy(),
            "label": reasons.reindex(turns["conversationId"]).to_numpy(),
        }
    )

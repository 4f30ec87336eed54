"""Build the small data slices shipped with touchless from the labelled data in $TOUCHLESS_DATA (run once; outputs are committed).

- pipeline/demo/banking77_demo.csv and demo_volume.csv: the demo's contacts over 12 weeks and the business volume
  (real BANKING77 texts; times, customers, tickets, repeat contacts and volume simulated by pipeline/demo/simulate.py).
- tests/data/banking77_six.csv: ~300 texts of six intents for the tests.
- tests/data/multidogo_finance_messages.csv: 60 MultiDoGO finance chats as a messages export, for the tests.

    python -m benchmarks.make_slices
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmarks.datasets import ROOT, banking77, multidogo_messages
from pipeline.demo.simulate import Simulation, simulate

SEED = 7
DEMO_INTENTS = 30
DEMO_PER_INTENT = 80
TEST_INTENTS = [
    "card_arrival",
    "exchange_rate",
    "lost_or_stolen_card",
    "top_up_failed",
    "cash_withdrawal_charge",
    "change_pin",
]


DEMO_NEW_INTENTS = ("apple_pay_or_google_pay", "card_swallowed")  # appear only in the last two weeks


def demo_slice() -> Simulation:
    data = banking77("all")
    rng = np.random.default_rng(SEED)
    intents = sorted(rng.choice(sorted(data["label"].unique()), size=DEMO_INTENTS, replace=False))
    parts = [data[data["label"] == i].sample(DEMO_PER_INTENT, random_state=SEED) for i in intents]
    texts = pd.concat(parts).rename(columns={"label": "intent"})
    simulation = simulate(texts, weeks=12, contacts=2_400, new_intents=DEMO_NEW_INTENTS, seed=SEED)
    simulation.contacts["contact_id"] = simulation.contacts["contact_id"].str.replace("S", "C", regex=False)
    return simulation


def test_slice() -> pd.DataFrame:
    data = banking77("train")
    parts = [data[data["label"] == i].sample(50, random_state=SEED) for i in TEST_INTENTS]
    out = pd.concat(parts).sample(frac=1.0, random_state=SEED).reset_index(drop=True)
    out["contact_id"] = [f"T{i:04d}" for i in range(1, len(out) + 1)]
    return out.rename(columns={"label": "intent"})[["contact_id", "text", "intent"]]


def messages_slice() -> pd.DataFrame:
    messages = multidogo_messages("finance", "test")
    rng = np.random.default_rng(SEED)
    keep = rng.choice(sorted(messages["conversation_id"].unique()), size=60, replace=False)
    return messages[messages["conversation_id"].isin(keep)].reset_index(drop=True)


def main() -> None:
    demo = ROOT / "pipeline" / "demo" / "banking77_demo.csv"
    demo.parent.mkdir(parents=True, exist_ok=True)
    simulation = demo_slice()
    simulation.contacts.to_csv(demo, index=False)
    simulation.volume.to_csv(demo.with_name("demo_volume.csv"), index=False)
    tests = ROOT / "tests" / "data" / "banking77_six.csv"
    tests.parent.mkdir(parents=True, exist_ok=True)
    test_slice().to_csv(tests, index=False)
    messages_slice().to_csv(tests.parent / "multidogo_finance_messages.csv", index=False)
    print(f"wrote {demo} and {tests.parent}")


if __name__ == "__main__":
    main()

"""Throughput of text preparation on one core: cleaning, redaction, and the whole read step.

The 10,000 contacts are real BANKING77 queries; a seeded share of them is wrapped the way exports arrive (HTML
email with a quoted reply, signature and legal footer; a greeting; an email address, phone or card number; a name).
The wrapping is simulated, the customer text is real.

    python -m benchmarks.prepare_speed            # one core (thread pools capped to 1)
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import random  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import pandas as pd  # noqa: E402

from benchmarks.datasets import banking77  # noqa: E402
from pipeline.config import load_config  # noqa: E402
from pipeline.text.clean import Cleaner  # noqa: E402
from pipeline.text.prepare import read_and_prepare  # noqa: E402
from pipeline.text.redact import Redactor  # noqa: E402

N = 10_000
NAMES = ["Anna Schmidt", "John Carter", "Priya Patel", "Li Wei", "Maria Lopez", "Tom Becker", "Grace Okafor"]


def simulated_exports(seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    texts = banking77("all")["text"].tolist()
    rng.shuffle(texts)
    out = []
    for text in texts[:N]:
        roll = rng.random()
        name = rng.choice(NAMES)
        if roll < 0.2:
            text = (
                f"<html><body><p>Hi team,</p><p>{text}</p><p>My number is +44 20 7946 {rng.randint(1000, 9999)}.</p>"
                f"<p>Thanks,<br>{name}</p></body></html>\nOn Mon, 5 Jan 2026 at 10:02, Support <help@example.com> wrote:\n"
                "> Thank you for contacting us.\n> Please type your reply above this line"
            )
        elif roll < 0.35:
            text = (
                f"{text}\nYou can reach me at {name.split()[0].lower()}@example.com\n\nRegards,\n{name}\n\n"
                "This email and any attachments are confidential and intended solely for the addressee."
            )
        elif roll < 0.45:
            text = f"Hello, this is {name}. {text} Card 4111 1111 1111 1111."
        out.append(text)
    return out


def rate(seconds: float) -> str:
    return f"{N / seconds:8.0f} contacts/s"


def main() -> None:
    print("reproduce: python -m benchmarks.prepare_speed", flush=True)
    cfg = load_config()
    texts = simulated_exports()
    cleaner = Cleaner(cfg.prepare.cleaning)
    redactor = Redactor(names=True)
    patterns_only = Redactor(names=False)
    redactor.redact_many(texts[:50])  # load spaCy's recogniser outside the timings

    start = time.perf_counter()
    cleaned = [cleaner.clean(t).text for t in texts]
    t_clean = time.perf_counter() - start
    start = time.perf_counter()
    patterns_only.redact_many(cleaned)
    t_patterns = time.perf_counter() - start
    start = time.perf_counter()
    redactor.redact_many(cleaned, batch_size=cfg.prepare.batch_size)
    t_redact = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "contacts.csv"
        pd.DataFrame({"contact_id": range(N), "text": texts}).to_csv(path, index=False)
        start = time.perf_counter()
        read_and_prepare(path, cfg)
        t_all = time.perf_counter() - start

    print(f"\n{N:,} contacts, one core ({sys.platform}):")
    print(f"  cleaning                                   {rate(t_clean)}")
    print(f"  redaction, patterns only                   {rate(t_patterns)}")
    print(f"  redaction, patterns + names (spaCy NER)    {rate(t_redact)}")
    print(f"  cleaning + redaction                       {rate(t_clean + t_redact)}")
    print(f"  whole read step (read, clean, redact, language, lemmas)  {rate(t_all)}")


if __name__ == "__main__":
    main()

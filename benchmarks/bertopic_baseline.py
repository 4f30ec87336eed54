"""BERTopic 0.17 with default settings, scored like touchless: the baseline in benchmarks/quality.py.

    python -m benchmarks.bertopic_baseline DATA.csv RESULT.json [--embedding-cache DIR]

With --embedding-cache it clusters touchless's own (cached) embeddings, so both methods see the same vectors;
without, it embeds the texts itself with the same model, as a BERTopic user would (the end-to-end timing).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

import pipeline  # noqa: F401  (offline settings)
from pipeline.config import load_config
from pipeline.embed import Embedder, resolve_model
from pipeline.evaluate import evaluate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data", type=Path)
    parser.add_argument("result", type=Path)
    parser.add_argument("--embedding-cache", type=Path)
    args = parser.parse_args()
    from bertopic import BERTopic

    data = pd.read_csv(args.data)
    texts = data["text"].astype(str).tolist()
    cfg = load_config().embedding
    if args.embedding_cache:
        vectors = Embedder(cfg.model_copy(update={"cache_dir": str(args.embedding_cache)})).embed(texts).vectors
        topics, _ = BERTopic().fit_transform(texts, vectors)
    else:
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(resolve_model(cfg.model).path), device="cpu")
        topics, _ = BERTopic(embedding_model=model).fit_transform(texts)
    result = evaluate(data["label"].astype(str).to_numpy(), pd.Series(topics).to_numpy())
    args.result.write_text(json.dumps(result.as_dict(), indent=2))


if __name__ == "__main__":
    main()

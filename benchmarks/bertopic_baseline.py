"""BERTopic 0.17 with default settings, scored like touchless: the baseline in benchmarks/quality.py.

    python -m benchmarks.bertopic_baseline DATA.csv RESULT.json [--embedding-cache DIR]

It reads DATA.csv (contacts or messages, with a `label` column) through touchless's own read step, so both methods
cluster the same prepared texts. With --embedding-cache it also uses touchless's (cached) embeddings, so both see
the same vectors; without, it embeds the texts itself with the same model, as a BERTopic user would (the
end-to-end timing). Contacts touchless sets aside (no text, no reason) count as BERTopic noise.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import pipeline  # noqa: F401  (offline settings)
from pipeline.config import load_config
from pipeline.model.embed import Embedder, resolve_model
from pipeline.model.evaluate import evaluate, load_labels
from pipeline.text.prepare import read_and_prepare


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data", type=Path)
    parser.add_argument("result", type=Path)
    parser.add_argument("--embedding-cache", type=Path)
    args = parser.parse_args()
    from bertopic import BERTopic

    config = load_config()
    contacts, _ = read_and_prepare(args.data, config)
    usable = (contacts["text_status"] == "ok").to_numpy()
    texts = contacts.loc[usable, "text"].tolist()
    cfg = config.embedding
    if args.embedding_cache:
        vectors = Embedder(cfg.model_copy(update={"cache_dir": str(args.embedding_cache)})).embed(texts).vectors
        topics, _ = BERTopic().fit_transform(texts, vectors)
    else:
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(resolve_model(cfg.model).path), device="cpu")
        topics, _ = BERTopic(embedding_model=model).fit_transform(texts)
    predicted = np.full(len(contacts), -1)
    predicted[usable] = topics
    truth = load_labels(args.data, config.input, "label").loc[contacts["contact_id"]]
    result = evaluate(truth.to_numpy(), predicted)
    args.result.write_text(json.dumps(result.as_dict(), indent=2))


if __name__ == "__main__":
    main()

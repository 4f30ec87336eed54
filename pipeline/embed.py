"""Embed texts with a sentence-transformers model, offline, batched, each text once ever.

Vectors are cached on disk in SQLite under a key that hashes the model's weights, the numeric precision and the
text, so a text is embedded once per model whatever run or process asks for it, and a killed run keeps what it had
embedded (each chunk is committed as it completes).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import sqlite3
import threading
from contextlib import closing, nullcontext
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import yaml

from models import EMBEDDING_REFERENCE
from pipeline.config import EmbeddingConfig
from pipeline.errors import ModelError
from pipeline.runtime import cache_home

ProgressCallback = Callable[[int, int], None]  # (done, total)


@dataclass(frozen=True)
class EmbeddingModelRef:
    name: str
    path: Path
    fingerprint: str  # sha256 of the weights: identifies the model in cache keys


@dataclass(frozen=True)
class Embeddings:
    vectors: np.ndarray  # (n, dim) float32, unit length
    computed: int  # distinct texts the model ran on in this call
    cached: int  # distinct texts found in the cache


def resolve_model(name: str) -> EmbeddingModelRef:
    """A registered name (models/embedding.yaml) or a folder holding a sentence-transformers model."""
    registry = yaml.safe_load(EMBEDDING_REFERENCE.read_text(encoding="utf-8"))
    if name in registry:
        entry = registry[name]
        try:
            package = importlib.import_module(entry["package"])
        except ImportError:
            raise ModelError(
                f"embedding model '{name}' needs the package '{entry['package']}', which is not installed; "
                "run the set-up command from the README"
            ) from None
        path = Path(package.get_model_path())
        weights = path / entry["weights_file"]
        digest = _sha256(weights)
        if digest != entry["weights_sha256"]:
            raise ModelError(f"the weights in {weights} are not the genuine {name} model (sha256 {digest[:12]}…)")
        return EmbeddingModelRef(name, path, digest)
    path = Path(name).expanduser()
    weights = [p for p in (path / "model.safetensors", path / "pytorch_model.bin") if p.is_file()]
    if not weights:
        raise ModelError(
            f"embedding.model '{name}' is neither a known model ({', '.join(registry)}) "
            "nor a folder holding a sentence-transformers model"
        )
    return EmbeddingModelRef(path.name, path.resolve(), _sha256(weights[0]))


@lru_cache(maxsize=8)
def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def resolve_precision(precision: str) -> str:
    """`auto` means bf16 where the CPU has bf16 units (AVX512-BF16 or AMX): about 3x faster, cosine >= 0.9999.
    Read from /proc/cpuinfo where there is one, so a run whose texts are all cached never imports torch."""
    if precision != "auto":
        return precision
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        flags = cpuinfo.read_text(errors="replace")
        return "bf16" if ("avx512_bf16" in flags or "amx_bf16" in flags) else "fp32"
    import torch

    return "bf16" if torch.ops.mkldnn._is_mkldnn_bf16_supported() else "fp32"


class EmbeddingCache:
    """Vectors by key in one SQLite file; safe for several processes (WAL), durable per committed chunk."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "embeddings.sqlite"
        with closing(self._connect()) as db, db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vec BLOB NOT NULL) WITHOUT ROWID")

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=60)

    def get_many(self, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        return {key: np.frombuffer(blob, dtype=np.float32) for key, blob in self._select(keys, "key, vec")}

    def holds(self, keys: Sequence[bytes]) -> set[bytes]:
        """Which of `keys` are cached, without reading their vectors."""
        return {key for (key,) in self._select(keys, "key")}

    def _select(self, keys: Sequence[bytes], columns: str) -> list[tuple]:
        rows: list[tuple] = []
        with closing(self._connect()) as db:
            for start in range(0, len(keys), 900):  # SQLite's bound-parameter limit
                part = keys[start : start + 900]
                rows += db.execute(f"SELECT {columns} FROM vectors WHERE key IN ({','.join('?' * len(part))})", part)
        return rows

    def put_many(self, items: Iterable[tuple[bytes, np.ndarray]]) -> None:
        rows = [(k, np.ascontiguousarray(v, dtype=np.float32).tobytes()) for k, v in items]
        with closing(self._connect()) as db, db:
            db.executemany("INSERT OR REPLACE INTO vectors (key, vec) VALUES (?, ?)", rows)


class Embedder:
    """Loads the model lazily (only when some text is not cached) and embeds through the cache."""

    _load_lock = threading.Lock()

    def __init__(self, cfg: EmbeddingConfig) -> None:
        self.cfg = cfg
        self.ref = resolve_model(cfg.model)
        self.precision = resolve_precision(cfg.precision)
        folder = Path(cfg.cache_dir).expanduser() if cfg.cache_dir else cache_home() / "embeddings"
        self.cache = EmbeddingCache(folder)
        self._model = None

    @property
    def model(self):
        with self._load_lock:
            if self._model is None:
                self._model = _load_model(str(self.ref.path), self.cfg.threads)
            return self._model

    def key(self, text: str) -> bytes:
        return hashlib.sha256(f"{self.ref.fingerprint}\0{self.precision}\0{text}".encode()).digest()

    def missing(self, texts: Sequence[str]) -> list[str]:
        """The distinct texts the cache does not hold yet, in first-seen order."""
        keys = {t: self.key(t) for t in dict.fromkeys(texts)}
        held = self.cache.holds(list(keys.values()))
        return [t for t, key in keys.items() if key not in held]

    def store(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        self.cache.put_many((self.key(t), v) for t, v in zip(texts, vectors))

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for `texts` straight from the model (no cache): what an embedding task runs."""
        return self._encode(list(texts))

    def embed(self, texts: Sequence[str], on_progress: ProgressCallback | None = None) -> Embeddings:
        unique = list(dict.fromkeys(texts))
        keys = {t: self.key(t) for t in unique}
        found = self.cache.get_many(list(keys.values()))
        todo = [t for t in unique if keys[t] not in found]
        if on_progress:
            on_progress(0, len(todo))
        for start in range(0, len(todo), self.cfg.chunk_size):
            chunk = todo[start : start + self.cfg.chunk_size]
            vectors = self._encode(chunk)
            self.cache.put_many((keys[t], v) for t, v in zip(chunk, vectors))
            found.update((keys[t], v) for t, v in zip(chunk, vectors))
            if on_progress:
                on_progress(start + len(chunk), len(todo))
        dim = next(iter(found.values())).shape[0] if found else 0
        out = np.empty((len(texts), dim), dtype=np.float32)
        for i, text in enumerate(texts):
            out[i] = found[keys[text]]
        return Embeddings(out, computed=len(todo), cached=len(unique) - len(todo))

    def _encode(self, texts: list[str]) -> np.ndarray:
        import torch

        autocast = torch.autocast("cpu", dtype=torch.bfloat16) if self.precision == "bf16" else nullcontext()
        with torch.inference_mode(), autocast:
            return self.model.encode(texts, self.cfg.batch_size)


class MeanPoolingEncoder:
    """A sentence-transformers model of the mean-pooling BERT kind (all-MiniLM-L6-v2 and its family), run as a few
    lines of plain torch over its safetensors weights and its `tokenizers` tokenizer: the same vectors as
    sentence-transformers (max abs difference 3e-7; tests/test_embed.py) without importing it or transformers:
    loading the model in a fresh process takes 1.7 s instead of 4.5 s, which a daily run pays for a few contacts."""

    def __init__(self, path: Path) -> None:
        import torch
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        config = json.loads((path / "config.json").read_text())
        self.heads, self.eps = config["num_attention_heads"], config["layer_norm_eps"]
        self.layers, self.hidden_size = config["num_hidden_layers"], config["hidden_size"]
        self.weights = {k: v.to(torch.float32) for k, v in load_file(str(path / "model.safetensors")).items()}
        self.prefix = "" if "embeddings.word_embeddings.weight" in self.weights else "bert."
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        max_length = json.loads((path / "sentence_bert_config.json").read_text())["max_seq_length"]
        self.tokenizer.enable_truncation(max_length=min(max_length, config["max_position_embeddings"]))
        self.tokenizer.enable_padding(pad_id=config.get("pad_token_id", 0))

    @staticmethod
    def fits(path: Path) -> bool:
        pooling, modules, config = path / "1_Pooling" / "config.json", path / "modules.json", path / "config.json"
        needed = (pooling, modules, config, path / "sentence_bert_config.json", path / "tokenizer.json",
                  path / "model.safetensors")
        if not all(p.is_file() for p in needed):
            return False
        model = json.loads(config.read_text())
        kinds = [m["type"].rsplit(".", 1)[-1] for m in json.loads(modules.read_text())]
        modes = [k for k, v in json.loads(pooling.read_text()).items() if k.startswith("pooling_mode") and v]
        return (modes == ["pooling_mode_mean_tokens"] and kinds == ["Transformer", "Pooling", "Normalize"]
                and model.get("model_type") == "bert" and model.get("hidden_act") == "gelu"
                and model.get("position_embedding_type", "absolute") == "absolute")

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        import torch

        order = np.argsort([-len(t) for t in texts], kind="stable")  # similar lengths share a batch: less padding
        out = np.empty((len(texts), self.hidden_size), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            rows = order[start : start + batch_size]
            encoded = self.tokenizer.encode_batch([texts[i] for i in rows])
            mask = torch.tensor([e.attention_mask for e in encoded])
            hidden = self._forward(torch.tensor([e.ids for e in encoded]), mask).float()
            weights = mask.unsqueeze(-1).float()
            pooled = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
            out[rows] = torch.nn.functional.normalize(pooled, dim=1).numpy()
        return out

    def _forward(self, ids, mask):
        """BERT's encoder (absolute positions, one segment, GELU), as transformers' BertModel computes it."""
        import torch
        from torch.nn.functional import gelu, layer_norm, linear, scaled_dot_product_attention

        w, p = self.weights, self.prefix

        def norm(x, name):
            return layer_norm(x, (x.shape[-1],), w[f"{name}.weight"], w[f"{name}.bias"], self.eps)

        def dense(x, name):
            return linear(x, w[f"{name}.weight"], w[f"{name}.bias"])

        x = (w[f"{p}embeddings.word_embeddings.weight"][ids]
             + w[f"{p}embeddings.position_embeddings.weight"][torch.arange(ids.shape[1])]
             + w[f"{p}embeddings.token_type_embeddings.weight"][0])
        x = norm(x, f"{p}embeddings.LayerNorm")
        batch, length, width = x.shape
        attend = mask.bool()[:, None, None, :]  # (batch, 1, 1, length): padding is never attended to

        def heads(t):
            return t.view(batch, length, self.heads, width // self.heads).transpose(1, 2)

        for layer in range(self.layers):
            name = f"{p}encoder.layer.{layer}"
            q, k, v = (heads(dense(x, f"{name}.attention.self.{part}")) for part in ("query", "key", "value"))
            context = scaled_dot_product_attention(q, k, v, attn_mask=attend).transpose(1, 2).reshape(batch, length, width)
            x = norm(dense(context, f"{name}.attention.output.dense") + x, f"{name}.attention.output.LayerNorm")
            x = norm(dense(gelu(dense(x, f"{name}.intermediate.dense")), f"{name}.output.dense") + x,
                     f"{name}.output.LayerNorm")
        return x


class SentenceTransformersEncoder:
    """Any other sentence-transformers model folder."""

    def __init__(self, path: Path) -> None:
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(path), device="cpu", local_files_only=True)

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        vectors = self.model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True)
        return vectors.astype(np.float32)


@lru_cache(maxsize=2)
def _load_model(path: str, threads: int):
    import torch

    torch.set_num_threads(threads or os.cpu_count() or 1)
    folder = Path(path)
    try:
        return MeanPoolingEncoder(folder) if MeanPoolingEncoder.fits(folder) else SentenceTransformersEncoder(folder)
    except Exception as exc:  # many loader errors; all mean the same to a user
        raise ModelError(f"cannot load the embedding model from {path}: {exc}") from exc

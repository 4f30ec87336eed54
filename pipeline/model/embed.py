"""Embed texts with a sentence-transformers model, offline, batched, each text once ever.

Vectors are cached on disk in SQLite under a key that hashes the model's weights, the numeric precision and the
text, so a text is embedded once per model whatever run or process asks for it, and a killed run keeps what it had
embedded (each chunk is committed as it completes).
"""

from __future__ import annotations

import hashlib
import importlib
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import yaml

from models import EMBEDDING_REFERENCE
from pipeline.config import EmbeddingConfig
from pipeline.errors import ConfigError, ModelError
from pipeline.model.encoders import load_encoder
from pipeline.model.vector_file import allocate, release, take
from pipeline.runtime import cache_home


@dataclass(frozen=True)
class EmbeddingModelRef:
    name: str
    path: Path
    fingerprint: str  # sha256 of the weights: identifies the model in cache keys
    plain_torch: bool = False  # a registered model tested to give the same vectors as plain torch


@dataclass(frozen=True)
class Embeddings:
    vectors: np.ndarray  # (n, dim) float32, unit length
    computed: int  # distinct texts the model ran on in this call
    cached: int  # distinct texts found in the cache


def registered_models() -> dict[str, dict]:
    return yaml.safe_load(EMBEDDING_REFERENCE.read_text(encoding="utf-8"))


def resolve_model(name: str) -> EmbeddingModelRef:
    """A registered name (models/embedding.yaml) or a folder holding a sentence-transformers model."""
    registry = registered_models()
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
        return EmbeddingModelRef(name, path, digest, plain_torch=entry.get("encoder") == "mean_pooling")
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


# the plain-torch encoder's bf16 vectors were computed under autocast over fp32 weights before they were computed on
# bf16 weights (a little apart), so its new ones are cached under a new name; other encoders still use autocast
_PLAIN_TORCH_BF16 = "bf16-weights"


def resolve_precision(precision: str) -> str:
    """`auto` means bf16 where the CPU has bf16 units (AVX512-BF16 or AMX): 3.1x fp32's texts/s at the default batch
    size on a 2-core AMX Xeon (2,186 against 709), least cosine 0.9997 to fp32's vectors (benchmarks/scale.py).
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
            # a new file only: 16 KiB pages hold a 1.5 KB vector in its B-tree leaf; with SQLite's 4 KiB default
            # each row spilled into an overflow page of its own (2.5x the file, two reads a lookup)
            db.execute("PRAGMA page_size=16384")
            db.execute("PRAGMA journal_mode=WAL")  # readers never wait for a writer; a crash keeps committed chunks
            # a new file only: rows appended in a rowid table, the key in an index of its own. Keyed by a hash, rows
            # kept in key order (WITHOUT ROWID, the layout before) were inserted all over the file: a million
            # vectors took 378 s to cache against 121 s, in commits of 1,024 (a synthetic probe, stop 34's note;
            # reading 74,000 back 1.2-1.3x slower, holds() 2x faster).
            # Older files keep their layout: the statements below read and write both
            db.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vec BLOB NOT NULL)")

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=60)
        db.execute("PRAGMA synchronous=NORMAL")  # in WAL mode still crash-safe; a power cut may lose the last chunk
        return db

    def get_many(self, keys: Sequence[bytes]) -> Iterator[tuple[bytes, np.ndarray]]:
        """The cached (key, vector) of `keys`, a few hundred read at a time (never all of them held at once)."""
        for key, blob in self._select(keys, "key, vec"):
            yield key, np.frombuffer(blob, dtype=np.float32)

    def holds(self, keys: Sequence[bytes]) -> set[bytes]:
        """Which of `keys` are cached, without reading their vectors."""
        return {key for (key,) in self._select(keys, "key")}

    def _select(self, keys: Sequence[bytes], columns: str) -> Iterator[tuple]:
        # in key order the key's B-tree is read in one pass: 204k lookups on a cold disk 105 -> 10 s (measured on the
        # earlier layout, where the key's B-tree holds the rows)
        keys = sorted(keys)
        with closing(self._connect()) as db:
            for start in range(0, len(keys), 900):  # SQLite's bound-parameter limit
                part = keys[start : start + 900]
                yield from db.execute(f"SELECT {columns} FROM vectors WHERE key IN ({','.join('?' * len(part))})", part)

    def put_many(self, items: Iterable[tuple[bytes, np.ndarray]]) -> None:
        rows = [(k, np.ascontiguousarray(v, dtype=np.float32).tobytes()) for k, v in items]
        with closing(self._connect()) as db, db:
            db.executemany("INSERT OR REPLACE INTO vectors (key, vec) VALUES (?, ?)", rows)


@lru_cache(maxsize=4)
def embedder(cfg: EmbeddingConfig) -> Embedder:
    """The process's one embedder for a config: the model is resolved, checked and loaded once, however many
    steps embed."""
    return Embedder(cfg)


def alike_together(texts: list[str]) -> list[str]:
    """`texts` sorted so that those differing only in case and spacing are neighbours: they fall in one partition,
    where an uncased model's encoder computes them once (MeanPoolingEncoder.encode)."""
    return sorted(texts, key=lambda text: " ".join(text.casefold().split()))


# vectors written into a mapped result between two hand-backs of its pages (the cache's, and each block of repeats
# copied from their first): written in no order, each may be a page of its own (64 MB)
_RELEASE_EVERY = 16_384


class Embedder:
    """Loads the model lazily (only when some text is not cached) and embeds through the cache."""

    _load_lock = threading.Lock()

    def __init__(self, cfg: EmbeddingConfig) -> None:
        self.cfg = cfg
        self.ref = resolve_model(cfg.model)
        self.precision = resolve_precision(cfg.precision)
        folder = Path(cfg.cache_dir).expanduser() if cfg.cache_dir else cache_home() / "embeddings"
        blocked = next((f for f in (folder, *folder.parents) if f.exists() and not f.is_dir()), None)
        if blocked is not None:  # mkdir's "File exists" named neither the setting nor what to do
            raise ConfigError(
                f"embedding.cache_dir {folder}: {blocked} is a file, not a folder; give a folder for the embedding cache"
            )
        self.cache = EmbeddingCache(folder)
        self._model = None

    @property
    def model(self):
        with self._load_lock:
            if self._model is None:
                self._model = load_encoder(str(self.ref.path), self.cfg.threads, self.ref.plain_torch, self.precision)
            return self._model

    def key(self, text: str) -> bytes:
        computed = _PLAIN_TORCH_BF16 if self.precision == "bf16" and self.ref.plain_torch else self.precision
        return hashlib.sha256(f"{self.ref.fingerprint}\0{computed}\0{text}".encode()).digest()

    def missing(self, texts: Sequence[str]) -> list[str]:
        """The distinct texts the cache does not hold yet, texts that differ only in case and spacing side by side
        (`alike_together`)."""
        keys = {t: self.key(t) for t in dict.fromkeys(texts)}
        held = self.cache.holds(list(keys.values()))
        return alike_together([t for t, key in keys.items() if key not in held])

    def store(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        self.cache.put_many((self.key(t), v) for t, v in zip(texts, vectors))

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for `texts` straight from the model (no cache): what an embedding task runs."""
        return self._encode(list(texts))

    def embed(self, texts: Sequence[str]) -> Embeddings:
        """Vectors for `texts`, from the cache where it holds them; the rest are embedded and cached a chunk at a
        time (a killed process keeps what it finished).

        Each vector is written straight into the result at its text's first position and then copied to the text's
        repeats, a block at a time: the only matrix held is the result (a million vectors, 1.5 GB, not twice that),
        and a big one is a mapped file (`vector_file`) whose pages go back to the kernel as they are written."""
        first = {}  # each distinct text's first position
        for i, text in enumerate(texts):
            first.setdefault(text, i)
        text_of = {self.key(t): t for t in first}
        out: np.ndarray | None = None
        done = np.zeros(len(texts), dtype=bool)
        written = 0

        def put(text: str, vector: np.ndarray) -> None:
            nonlocal out, written
            if out is None:
                out = allocate(len(texts), len(vector), self.cache.path.parent)
            out[first[text]] = vector
            done[first[text]] = True
            written += 1
            if written % _RELEASE_EVERY == 0:
                release(out)

        for key, vector in self.cache.get_many(list(text_of)):
            put(text_of[key], vector)
        todo = alike_together([t for t, i in first.items() if not done[i]])
        for start in range(0, len(todo), self.cfg.chunk_size):
            chunk = todo[start : start + self.cfg.chunk_size]
            vectors = self._encode(chunk)
            self.cache.put_many((self.key(t), v) for t, v in zip(chunk, vectors))
            for text, vector in zip(chunk, vectors):
                put(text, vector)
        if out is None:
            return Embeddings(np.empty((0, 0), dtype=np.float32), computed=0, cached=0)
        source = np.fromiter((first[t] for t in texts), dtype=np.int64, count=len(texts))
        repeats = np.flatnonzero(source != np.arange(len(texts)))
        for start in range(0, len(repeats), _RELEASE_EVERY):
            at = repeats[start : start + _RELEASE_EVERY]
            out[at] = take(out, source[at])
            release(out)
        release(out)
        return Embeddings(out, computed=len(todo), cached=len(first) - len(todo))

    def _encode(self, texts: list[str]) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return self.model.encode(texts, self.cfg.batch_size)

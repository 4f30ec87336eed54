"""The encoders behind `Embedder`: a plain-torch mean-pooling BERT for the MiniLM family, sentence-transformers
for any other model folder."""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from functools import lru_cache
from math import inf
from pathlib import Path

import numpy as np

from pipeline.errors import ModelError
from pipeline.runtime import cores


class MeanPoolingEncoder:
    """A sentence-transformers model of the mean-pooling BERT kind (all-MiniLM-L6-v2 and its family), run as a few
    lines of plain torch over its safetensors weights and its `tokenizers` tokenizer: the same vectors as
    sentence-transformers (max abs difference 3e-7; tests/test_embed.py) without importing it or transformers:
    loading the model in a fresh process takes 1.7 s instead of 4.5 s, which a daily run pays for a few contacts.

    `precision` bf16 keeps the weights in bf16 and computes in it (the attention weights in fp32), for CPUs with
    bf16 units (AMX): 1.3x the texts/s of running the fp32 weights under autocast, which casts every weight on every
    batch (1,107-1,201 against 1,433-1,498 through the embedder, alternating runs on a 2-core AMX machine, before
    the fused dense layers and the streams); least cosine to fp32's vectors 0.9997 (benchmarks/scale.py)."""

    def __init__(self, path: Path, precision: str = "fp32") -> None:
        import torch
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        config = json.loads((path / "config.json").read_text())
        self.heads, self.eps = config["num_attention_heads"], config["layer_norm_eps"]
        self.layers, self.hidden_size = config["num_hidden_layers"], config["hidden_size"]
        dtype = torch.bfloat16 if precision == "bf16" else torch.float32
        self.weights = {k: v.to(dtype) for k, v in load_file(str(path / "model.safetensors")).items()}
        self.prefix = "" if "embeddings.word_embeddings.weight" in self.weights else "bert."
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        max_length = json.loads((path / "sentence_bert_config.json").read_text())["max_seq_length"]
        self.tokenizer.enable_truncation(max_length=min(max_length, config["max_position_embeddings"]))
        self.tokenizer.no_padding()  # batches are padded here, to their own longest text
        self.dense = fused_dense(dtype)

    @staticmethod
    def fits(path: Path) -> bool:
        pooling, modules, config = path / "1_Pooling" / "config.json", path / "modules.json", path / "config.json"
        needed = (
            pooling,
            modules,
            config,
            path / "sentence_bert_config.json",
            path / "tokenizer.json",
            path / "model.safetensors",
        )
        if not all(p.is_file() for p in needed):
            return False
        model = json.loads(config.read_text())
        kinds = [m["type"].rsplit(".", 1)[-1] for m in json.loads(modules.read_text())]
        modes = [k for k, v in json.loads(pooling.read_text()).items() if k.startswith("pooling_mode") and v]
        return (
            modes == ["pooling_mode_mean_tokens"]
            and kinds == ["Transformer", "Pooling", "Normalize"]
            and model.get("model_type") == "bert"
            and model.get("hidden_act") == "gelu"
            and model.get("position_embedding_type", "absolute") == "absolute"
        )

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        """Unit vectors. The texts are tokenised once, sorted by their number of tokens and cut into batches of
        about `batch_size` x 128 tokens: short texts go in large batches, long ones in small, and almost no position
        is padding. A small budget (1,024 tokens by default) is faster than a large one on a CPU: the activations
        between the matrix products stay in its cache. Texts the tokenizer reads alike (it lower-cases, drops accents
        and spacing: "Card lost" and "card  lost") are one input to the model, so they are computed once.

        With torch on several threads, the batches run side by side, each with one torch thread (`_streams`)."""
        import torch

        first: dict[tuple[int, ...], int] = {}
        encoded, same_as = [], np.empty(len(texts), dtype=np.int64)
        for i, tokens in enumerate(self.tokenizer.encode_batch(texts)):
            same_as[i] = first.setdefault(tuple(tokens.ids), len(encoded))
            if same_as[i] == len(encoded):
                encoded.append(tokens)
        lengths = np.array([len(e.ids) for e in encoded])
        order = np.argsort(-lengths, kind="stable")
        out = np.empty((len(encoded), self.hidden_size), dtype=np.float32)
        budget = batch_size * 128
        batches, start = [], 0
        while start < len(order):
            longest = max(int(lengths[order[start]]), 1)
            batches.append(order[start : start + max(1, budget // longest)])
            start += len(batches[-1])

        def embed(rows: np.ndarray) -> None:  # rows: the batch's places in `encoded` and `out`, longest first
            longest = max(int(lengths[rows[0]]), 1)
            ids = np.zeros((len(rows), longest), dtype=np.int64)
            mask = np.zeros((len(rows), longest), dtype=np.int64)
            for i, row in enumerate(rows):
                ids[i, : lengths[row]] = encoded[row].ids
                mask[i, : lengths[row]] = 1
            with torch.inference_mode():  # thread-local: a stream's thread does not inherit its caller's
                mask_t = torch.from_numpy(mask)
                hidden = self._forward(torch.from_numpy(ids), mask_t).float()
                weights = mask_t.unsqueeze(-1).float()
                pooled = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
                out[rows] = torch.nn.functional.normalize(pooled, dim=1).numpy()

        _streams(embed, batches, torch.get_num_threads())
        return out[same_as]

    def _forward(self, ids, mask):
        """BERT's encoder (absolute positions, one segment, GELU), as transformers' BertModel computes it.

        Each dense layer is one oneDNN product with its bias and GELU computed inside it, where torch has that
        kernel (`fused_dense`): a plain `linear` copies the bias into its output before the product and GELU reads
        the product back (7% and 7% of a bf16 pass under torch's profiler). Attention is written out (two products
        and a softmax): for the short texts of support contacts, torch's fused attention kernel took 27% of the
        time in bf16, and beside the fused dense layers it was slower in fp32 too (a scratch comparison, three
        alternating runs: 436 texts/s with it, 457 without).

        The attention weights are laid out keys by queries and normalised over the keys (`_softmax_over_keys`).
        For a batch of 73 texts of 14 tokens on one core (a scratch timing, best of five), torch's softmax over the
        last dimension, the keys in the usual layout, took 1.7 ms in bf16 and 2.8 ms in fp32 a layer: the slowest
        step outside the products. Over the keys as the outer dimension it took 1.1 and 0.8 ms, and with one shift
        for the whole batch 0.8 and 0.3 ms. A batch whose texts are all of one length (most of them: the texts are
        sorted by length) has no padding to mask."""
        import torch
        from torch.nn.functional import layer_norm

        w, p, dense = self.weights, self.prefix, self.dense

        def norm(x, name):
            return layer_norm(x, (x.shape[-1],), w[f"{name}.weight"], w[f"{name}.bias"], self.eps)

        x = (
            w[f"{p}embeddings.word_embeddings.weight"][ids]
            + w[f"{p}embeddings.position_embeddings.weight"][torch.arange(ids.shape[1])]
            + w[f"{p}embeddings.token_type_embeddings.weight"][0]
        )
        batch, length, width = x.shape
        x = norm(x, f"{p}embeddings.LayerNorm").view(batch * length, width)  # rows are tokens
        padded = ~mask.bool()
        padding = (
            torch.zeros((batch, 1, length, 1), dtype=x.dtype).masked_fill(padded[:, None, :, None], -inf)
            if padded.any()
            else None
        )
        scale = (width // self.heads) ** -0.5

        def heads(t):
            return t.view(batch, length, self.heads, width // self.heads).transpose(1, 2)

        for layer in range(self.layers):
            name = f"{p}encoder.layer.{layer}"
            q, k, v = (
                heads(dense(x, w[f"{name}.attention.self.{part}.weight"], w[f"{name}.attention.self.{part}.bias"]))
                for part in ("query", "key", "value")
            )
            scores = k @ q.transpose(-1, -2)  # batch, heads, keys, queries
            if padding is not None:
                scores += padding
            attended = _softmax_over_keys(scores, scale).transpose(-1, -2) @ v
            context = attended.transpose(1, 2).reshape(batch * length, width)
            x = norm(
                dense(context, w[f"{name}.attention.output.dense.weight"], w[f"{name}.attention.output.dense.bias"])
                + x,
                f"{name}.attention.output.LayerNorm",
            )
            inner = dense(x, w[f"{name}.intermediate.dense.weight"], w[f"{name}.intermediate.dense.bias"], "gelu")
            x = norm(
                dense(inner, w[f"{name}.output.dense.weight"], w[f"{name}.output.dense.bias"]) + x,
                f"{name}.output.LayerNorm",
            )
        return x.view(batch, length, width)


def _softmax_over_keys(scores, scale: float):
    """The softmax of `scale` x attention scores laid out batch, heads, keys, queries, over the keys, computed in
    fp32 and given back in the scores' precision. It shifts the scores by the batch's one largest, not each query's:
    one reduction over the whole tensor, where torch's softmax finds each query's largest along a dimension of a
    dozen keys (see `_forward` for the times). The same result unless some query's scaled scores all lie far below
    the batch's largest (e^-60 of it): then the whole batch takes torch's own softmax."""
    import torch

    # in fp32: bf16 would round a score's distance from the largest (0.06 at 20: 6% of its weight); out of place:
    # in fp32 `.float()` is `scores` itself, which the caller holds
    exact = scores.float() * scale
    weights = (exact - exact.amax()).exp_()
    total = weights.sum(dim=-2, keepdim=True)
    if total.amin() < _LEAST_TOTAL:
        return torch.softmax(exact, dim=-2).to(scores.dtype)
    return weights.div_(total).to(scores.dtype)


_LEAST_TOTAL = 1e-26  # about e^-60: bf16 and fp32 hold numbers down to ~1e-38 at full precision


def _streams(work, batches: list, threads: int) -> None:
    """`work` on every batch: in as many streams side by side as there are `threads` (and batches), each running
    torch on `threads // streams` threads of its own (one, where there are at least as many batches as threads),
    where there are several of both; else one after the other on the caller's thread. Where the matrix products are
    fast, splitting each small operation (a layer norm, a softmax over 14 tokens) across cores costs more than it
    saves: on a 2-core Xeon with AMX, before the attention's softmax changed, bf16 ran 1,857-1,983 texts/s on one
    stream of two threads and 2,206-2,264 on two of one (batch 8, three alternating passes each); fp32 ran alike
    both ways there (639-643 and 630-634), and held to AVX2 (441-450 and 445-451).

    While the streams run, torch's count for threads that first use it is theirs; touchless runs one embedding task
    at a time (the thread runner's single worker), and no other thread starts torch work meanwhile."""
    streams = min(threads, len(batches))
    if streams < 2:
        for batch in batches:
            work(batch)
        return
    import torch

    def own_threads() -> None:
        torch.get_num_threads()  # torch's per-thread set-up first: it reads the process's count, set by the next line
        torch.set_num_threads(threads // streams)

    try:
        with ThreadPoolExecutor(streams, initializer=own_threads) as pool:
            for _ in pool.map(work, batches):  # results are written in place; this re-raises a batch's error
                pass
    finally:
        # back to the process's count, which threads started later take: the caller's own (`load_encoder` set both)
        torch.set_num_threads(threads)


def plain_dense(x, weight, bias, activation: str = "none"):
    """`x @ weight.T + bias`, then GELU where `activation` is "gelu": torch's own `linear` and `gelu`."""
    from torch.nn.functional import gelu, linear

    out = linear(x, weight, bias)
    return gelu(out) if activation == "gelu" else out


def fused_dense(dtype):
    """A dense layer in `dtype` as one oneDNN product with the bias and GELU inside it (the kernel torch's own
    compiler calls on CPUs, `torch.ops.mkldnn._linear_pointwise`), or `plain_dense` where this torch lacks it, or
    it cannot run in `dtype` on this CPU, or it does not give plain_dense's values on a small probe.

    On a 2-core AMD EPYC with AVX-512 and bf16, the encoder with the plain layers and with these, alternating four
    times (benchmarks/scale.py's `encoder_share`, batch 8): fp32 435 -> 482 texts/s, bf16 795 -> 827. The fp32 gain
    is oneDNN's product, faster there than the one `linear` calls (MKL's); with both held to AVX2
    (ONEDNN_MAX_CPU_ISA, MKL_ENABLE_INSTRUCTIONS) the two encoders ran alike (428 and 426 texts/s)."""
    import torch

    try:
        kernel = torch.ops.mkldnn._linear_pointwise
        generator = torch.Generator().manual_seed(0)
        x, weight, bias = (torch.randn(shape, generator=generator).to(dtype) for shape in ((4, 8), (6, 8), (6,)))
        tolerance = 1e-5 if dtype == torch.float32 else 2e-2  # bf16 keeps 8 bits of mantissa
        same = all(
            torch.allclose(
                kernel(x, weight, bias, act, [], "none").float(),
                plain_dense(x, weight, bias, act).float(),
                rtol=tolerance,
                atol=tolerance,
            )
            for act in ("none", "gelu")
        )
    except (AttributeError, RuntimeError):  # no such operator in this build, or it cannot run here
        return plain_dense
    if not same:
        return plain_dense

    def dense(x, weight, bias, activation: str = "none"):
        return kernel(x, weight, bias, activation, [], "none")

    return dense


class SentenceTransformersEncoder:
    """Any other sentence-transformers model folder; bf16 through torch's autocast."""

    def __init__(self, path: Path, precision: str = "fp32") -> None:
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self.precision = precision

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        import torch

        autocast = torch.autocast("cpu", dtype=torch.bfloat16) if self.precision == "bf16" else nullcontext()
        with autocast:
            vectors = self.model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True)
        return vectors.astype(np.float32)


@lru_cache(maxsize=2)
def load_encoder(path: str, threads: int, plain_torch: bool, precision: str = "fp32"):
    """`plain_torch`: the model is registered as one the plain-torch encoder is tested on. `precision`: fp32 or
    bf16 (`resolve_precision`). `threads` 0: the process's OMP_NUM_THREADS where it is set (a Dask worker's share
    of its machine: Dask sets it), else every core."""
    import torch

    torch.set_num_threads(threads or int(os.environ.get("OMP_NUM_THREADS") or 0) or cores())
    folder = Path(path)
    try:
        if plain_torch and MeanPoolingEncoder.fits(folder):
            return MeanPoolingEncoder(folder, precision)
        return SentenceTransformersEncoder(folder, precision)
    except Exception as exc:  # many loader errors; all mean the same to a user
        raise ModelError(f"cannot load the embedding model from {path}: {exc}") from exc

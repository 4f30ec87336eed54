"""Scale: touchless against BERTopic defaults at growing sizes, and the encoder against this machine's GEMM ceiling.

    python -m benchmarks.scale --sizes 10000,100000 [--no-bertopic] [--dask WORKERS] [--distinct [--cold]]
        [--precision auto|fp32|bf16] [--isa native|avx2] [--work DIR]

Sets are built from the shared real texts (BANKING77 and HWU64, their intents as labels; HWU64's slot marks,
'[date : today]', replaced by their values as everywhere else in benchmarks/), sampled with replacement and lightly
perturbed (case, punctuation, a filler word: seeded) so that texts are not identical; the texts are real, the
perturbation simulated. Each method runs in a fresh process with a cold embedding cache; both
are scored on every contact. The encoder part measures matrix-product throughput here (the ceiling: the faster of
torch's matmul and the oneDNN product the encoder's dense layers run) in fp32 and, where the CPU has bf16 units
(what `embedding.precision: auto` picks then), in bf16; then embeds 4,000 texts with touchless's encoder in each
and reports texts/s, the useful GFLOP/s (2 x non-embedding parameters per real token, plus attention), its share of
the ceiling of its own precision, and how close bf16's vectors are to fp32's (least cosine). One line then times
the large-set vote's product and its pick of each contact's nearest sampled points (argpartition against top-k).

The light perturbation leaves many texts alike: a million contacts hold ~205,000 distinct texts. `--distinct`
appends two seeded words of the texts' own vocabulary to each, so that nearly every text differs, and fills the
embedding cache before the run with a vector for each, made without the encoder (simulated: the model's vector of
the text it was made from, turned by seeded noise to cosine ~0.95 of it): every stage after the encoder then
works at the full distinct size, in minutes instead of the hour the encoder would take on a machine without bf16
units. With `--cold` nothing is cached before: the encoder embeds every distinct text (the whole cold run). BERTopic
is not run with `--distinct`.

`--precision fp32` runs touchless in fp32 whatever the CPU has (`embedding.precision`; `bf16` forces bf16): how a
machine without bf16 units runs, measured on one that has them. The encoder lines measure fp32 and what `auto` picks
whatever the flag says. BERTopic computes in fp32 either way.

`--isa avx2` runs everything (the encoder lines, touchless and BERTopic) as on a machine with AVX2 and no bf16 units,
on one that has more: each library that picks its kernels by the CPU is held to AVX2 (`AVX2_HOLD`), and touchless
runs fp32, what `precision: auto` picks on such a machine. An emulation: the held products are not the same chip's,
so the GEMM ceiling the encoder lines measure under the hold is the figure to compare with (the encoder's share of
it), not the other machine's. The first line says which kernels torch ran.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks import datasets as ds
from benchmarks.quality import MeasuredFailure, bertopic_run, require_bertopic, touchless_run
from pipeline.runtime import cores

FILLERS = ["", "", "", " please", " thanks", " asap", " !", " ?"]

# each library that chooses its kernels by the CPU, held to AVX2: what a machine with AVX2 and no bf16 units runs
AVX2_HOLD = {
    "ONEDNN_MAX_CPU_ISA": "AVX2",  # oneDNN: the encoder's dense layers
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",  # MKL: torch's matmul
    "ATEN_CPU_CAPABILITY": "avx2",  # torch's own kernels: softmax, layer norm, GELU
    "OPENBLAS_CORETYPE": "Haswell",  # NumPy's and SciPy's OpenBLAS
    "NUMBA_CPU_NAME": "haswell",  # numba's compiled code: pynndescent, UMAP
}


def build(size: int, seed: int = 7, distinct: bool = False) -> pd.DataFrame:
    """`size` contacts of real texts with light, seeded perturbations; `label` is the text's intent, `base` the
    text it was made from. `distinct`: two words of the texts' vocabulary appended, so nearly all texts differ."""
    pool = pd.concat([ds.banking77("all"), ds.hwu64()[["text", "label"]]], ignore_index=True)
    rng = np.random.default_rng(seed)
    pick = pool.iloc[rng.integers(0, len(pool), size)].reset_index(drop=True)
    lower = rng.random(size) < 0.3
    text = pick["text"].where(~lower, pick["text"].str.lower()) + rng.choice(FILLERS, size)
    times = pd.Timestamp("2026-08-31", tz="UTC") + pd.to_timedelta(rng.integers(0, 84 * 86400, size), unit="s")
    if distinct:
        vocabulary = np.array(sorted({w for t in pool["text"] for w in t.lower().split() if w.isalpha()}))
        words = rng.choice(vocabulary, (size, 2))
        text = text + " " + words[:, 0] + " " + words[:, 1]
    return pd.DataFrame(
        {
            "contact_id": [f"s{i:07d}" for i in range(size)],
            "text": text,
            "label": pick["label"],
            "created_at": times.astype(str),
            "base": pick["text"],
        }
    )


def prefill_cache(data: pd.DataFrame, csv: Path, cache: Path, precision: str, seed: int = 7) -> int:
    """Cache a vector for every contact's prepared text without running the encoder on it (simulated): the model's
    vector of its `base` text plus seeded noise (cosine ~0.95 to it), unit length. Returns how many were cached.
    `precision` is the run's `embedding.precision`: the cache keys on it, and a run in another would find none."""
    from pipeline.config import load_config
    from pipeline.model.embed import Embedder
    from pipeline.text.prepare import read_and_prepare

    cfg = load_config()
    embedder = Embedder(cfg.embedding.model_copy(update={"cache_dir": str(cache), "precision": precision}))
    prepared, _ = read_and_prepare(csv, cfg)
    ok = prepared[prepared["text_status"] == "ok"]
    base = data.set_index("contact_id")["base"].loc[ok["contact_id"]].to_numpy()
    codes, bases = pd.factorize(base)
    vectors = embedder.encode(list(bases))
    first = np.flatnonzero(~ok["text"].duplicated().to_numpy())  # each prepared text once
    texts = ok["text"].to_numpy(dtype=object)[first]
    rng = np.random.default_rng(seed)
    for start in range(0, len(texts), 50_000):
        block = vectors[codes[first[start : start + 50_000]]]
        block = block + rng.normal(0.0, 0.017, block.shape).astype(np.float32)  # 384 x 0.017^2: cosine ~0.95
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        embedder.store(texts[start : start + 50_000].tolist(), block)
    return len(texts)


def gemm_ceiling(precision: str = "fp32", n: int = 2048, repeats: int = 5) -> float:
    """This machine's matrix-product throughput now (GFLOP/s), in `precision` (fp32 or bf16): the faster of torch's
    matmul and the product the encoder's dense layers run (`fused_dense`: oneDNN's, where torch has it). They differ:
    on a 2-core AMD EPYC, matmul's fp32 product ran at 173 GFLOP/s and oneDNN's at 210."""
    import torch

    from pipeline.model.encoders import fused_dense

    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    dense = fused_dense(dtype)
    best = math.inf
    with torch.inference_mode():
        for product in (lambda: a @ b, lambda: dense(a, b, None)):
            product()
            for _ in range(repeats):
                start = time.perf_counter()
                product()
                best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def encoder_share(
    texts: list[str], ceiling: float, batch_size: int, precision: str, exact: np.ndarray | None = None
) -> dict:
    """The encoder's speed in `precision` on the distinct model inputs of `texts` (best of two passes), its share
    of `ceiling` (GFLOP/s, measured in the same precision), its `vectors` and their least cosine to `exact` (fp32's
    vectors of the same texts; themselves when not given)."""
    import torch

    from pipeline.config import load_config
    from pipeline.model.embed import resolve_model
    from pipeline.model.encoders import MeanPoolingEncoder

    cfg = load_config().embedding
    torch.set_num_threads(cfg.threads or cores())
    encoder = MeanPoolingEncoder(resolve_model(cfg.model).path, precision)
    params = sum(v.numel() for k, v in encoder.weights.items() if "embeddings" not in k)
    # texts the tokenizer reads alike are computed once by the encoder: keep one of each, so texts/s is work done
    tokens = {tuple(e.ids): text for text, e in zip(texts, encoder.tokenizer.encode_batch(texts))}
    texts = list(tokens.values())
    lengths = np.array([len(ids) for ids in tokens])
    flops = float(np.sum(lengths * (2 * params) + 4 * encoder.layers * lengths**2 * encoder.hidden_size))
    with torch.inference_mode():
        encoder.encode(texts[:200], batch_size)  # warm-up
        seconds = math.inf
        for _ in range(2):
            start = time.perf_counter()
            vectors = encoder.encode(texts, batch_size)
            seconds = min(seconds, time.perf_counter() - start)
    exact = vectors if exact is None else exact
    useful = flops / seconds / 1e9
    return {
        "texts/s": len(texts) / seconds,
        "tokens/text": lengths.mean(),
        "useful GFLOP/s": useful,
        "share": useful / ceiling,
        "floor texts/s": ceiling * 1e9 / (flops / len(texts)),
        "cosine to fp32": float(np.min(np.sum(vectors * exact, axis=1))),
        "vectors": vectors,
    }


def encoder_lines(probe: list[str], best: str | None = None) -> None:
    """The encoder in fp32 and in `best` (default: what `precision: auto` picks, bf16 where the CPU has bf16 units),
    each against the GEMM ceiling of its own precision measured now."""
    import torch

    from pipeline.config import load_config
    from pipeline.model.embed import resolve_precision

    print(f"torch's kernels: {torch.backends.cpu.get_cpu_capability()}", flush=True)
    best = best or resolve_precision(load_config().embedding.precision)
    exact = None  # fp32's vectors, from its first pass (fp32 runs first)
    for precision in dict.fromkeys(["fp32", best]):
        ceiling = gemm_ceiling(precision, repeats=20)
        for batch_size in (64, 32, 16, 8, 4):  # embedding.batch_size: the default is 8 (about 1,024 tokens a batch)
            e = encoder_share(probe, ceiling, batch_size, precision, exact)
            exact = e["vectors"] if exact is None else exact
            print(
                f"encoder {precision}, batch_size {batch_size:2d}: {e['texts/s']:.0f} texts/s ({e['tokens/text']:.0f} "
                f"tokens a text), {e['useful GFLOP/s']:.1f} useful GFLOP/s of a {ceiling:.1f} GFLOP/s {precision} "
                f"GEMM ceiling measured now: {e['share']:.0%} (the floor for these texts: {e['floor texts/s']:.0f} "
                f"texts/s); least cosine to fp32 {e['cosine to fp32']:.5f}",
                flush=True,
            )


def selection_line(points: int = 50_000, queries: int = 8_192, k: int = 15, block: int = 256) -> None:
    """The large-set vote's two costs per million queries, each block of similarities computed once: the product
    with the sampled points and picking each query's `k` most alike, by numpy's argpartition (before) and torch's
    top-k (`pipeline.model.cluster.most_alike`), on random unit vectors."""
    import torch

    from pipeline.model.cluster import most_alike

    rng = np.random.default_rng(0)
    unit = rng.standard_normal((points + queries, 384)).astype(np.float32)
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    sampled, asked = unit[:points], unit[points:]
    most_alike(asked[:2] @ sampled.T, k)  # torch imported before the clock runs
    threads = torch.get_num_threads()
    spent = {"product": 0.0, "argpartition": 0.0, "top-k": 0.0, "top-k, 1 thread": 0.0}
    for start in range(0, queries, block):
        begin = time.perf_counter()
        sims = asked[start : start + block] @ sampled.T
        product = time.perf_counter()
        top = np.argpartition(sims, -k, axis=1)[:, -k:]
        np.take_along_axis(sims, top, axis=1)  # the old pick read the values so
        partitioned = time.perf_counter()
        most_alike(sims, k)
        picked = time.perf_counter()
        torch.set_num_threads(1)
        most_alike(sims, k)
        torch.set_num_threads(threads)
        spent["product"] += product - begin
        spent["argpartition"] += partitioned - product
        spent["top-k"] += picked - partitioned
        spent["top-k, 1 thread"] += time.perf_counter() - picked
    per_million = {name: seconds * 1e6 / queries for name, seconds in spent.items()}
    print(
        f"vote of a million queries onto {points:,} sampled points, seconds: product {per_million['product']:.0f}, "
        f"picking the {k} nearest: argpartition {per_million['argpartition']:.0f}, top-k {per_million['top-k']:.0f} "
        f"on torch's {threads} threads, {per_million['top-k, 1 thread']:.0f} on one",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000", help="comma-separated numbers of contacts")
    parser.add_argument("--no-bertopic", action="store_true")
    parser.add_argument(
        "--dask", type=int, default=0, metavar="WORKERS", help="also run touchless on a local Dask cluster of WORKERS"
    )
    parser.add_argument(
        "--distinct", action="store_true", help="nearly all texts distinct, their vectors cached before (simulated)"
    )
    parser.add_argument("--cold", action="store_true", help="with --distinct: no vectors cached before, all embedded")
    parser.add_argument(
        "--precision", choices=("auto", "fp32", "bf16"), default="auto", help="touchless's embedding.precision"
    )
    parser.add_argument(
        "--isa",
        choices=("native", "avx2"),
        default="native",
        help="avx2: every library held to AVX2 and touchless in fp32, as on a machine without bf16 units (emulated)",
    )
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    if args.cold and not args.distinct:
        parser.error("--cold goes with --distinct (without it every run is cold)")
    if args.isa == "avx2":
        if args.precision == "bf16":
            parser.error("--isa avx2 runs fp32: a machine with AVX2 alone has no bf16 units")
        args.precision = "fp32"
        if any(os.environ.get(name) != value for name, value in AVX2_HOLD.items()):
            # NumPy's OpenBLAS chose its kernels when this process imported it: start again with the hold in place,
            # so this process's products are held too; the runs it starts inherit it
            os.execve(sys.executable, sys.orig_argv, os.environ | AVX2_HOLD)
    if not args.no_bertopic and not args.distinct:
        require_bertopic(parser)
    sizes = [int(s) for s in args.sizes.split(",")]
    work = args.work or Path(tempfile.mkdtemp(prefix="touchless-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    print(
        f"reproduce: python -m benchmarks.scale --sizes {args.sizes}{' --no-bertopic' if args.no_bertopic else ''}"
        f"{f' --dask {args.dask}' if args.dask else ''}{' --distinct' if args.distinct else ''}"
        f"{' --cold' if args.cold else ''}"
        f"{f' --precision {args.precision}' if args.precision != 'auto' and args.isa == 'native' else ''}"
        f"{f' --isa {args.isa}' if args.isa != 'native' else ''}",
        flush=True,
    )
    # continues the `embedding:` section touchless_run's config opens
    precision = f"  precision: {args.precision}\n" if args.precision != "auto" else ""
    encoder_lines(build(4000, seed=1)["text"].tolist(), "fp32" if args.isa == "avx2" else None)
    selection_line()
    rows = []
    for size in sizes:
        data = build(size, distinct=args.distinct)
        csv = work / f"set-{size}.csv"
        data.drop(columns="base").to_csv(csv, index=False)
        cache, prefilled = work / f"cache-t-{size}", args.distinct and not args.cold
        if prefilled:
            print(f"{prefill_cache(data, csv, cache, args.precision):,} distinct texts, vectors cached", flush=True)
        metrics, wall, peak = touchless_run(csv, work / f"touchless-{size}", cache, precision)
        rows.append(("touchless", size, metrics, wall, peak))
        print(_line(*rows[-1]), flush=True)
        if args.dask:  # the same run with the embedding partitions as Dask work on worker processes
            more = f"{precision}runner:\n  kind: dask\n  workers: {args.dask}\n"
            metrics, dask_wall, dask_peak = touchless_run(
                csv,
                work / f"touchless-dask-{size}",
                cache if prefilled else work / f"cache-d-{size}",
                more,
            )
            print(
                _line(f"touchless, Dask {args.dask}", size, metrics, dask_wall, dask_peak),
                f"  Dask/threads time {dask_wall / wall:.2f} (peak: the largest single process)",
                flush=True,
            )
        if not args.no_bertopic and not args.distinct:
            try:
                metrics, wall, peak = bertopic_run(csv, work / f"bertopic-{size}.json", None)
            except MeasuredFailure as failed:
                if failed.signal is None:  # an error, not a result: its message must be seen
                    raise
                # killed (9: e.g. by the kernel when memory ran out, as at a million): a result, and the run goes on
                print(
                    f"{'BERTopic defaults':18s} {size:>9,} contacts  killed by signal {failed.signal} after "
                    f"{failed.wall:.1f} s at {failed.peak:.0f} MB peak; touchless/BERTopic time < "
                    f"{rows[-1][3] / failed.wall:.2f}",
                    flush=True,
                )
                continue
            rows.append(("BERTopic defaults", size, metrics, wall, peak))
            print(
                _line(*rows[-1]),
                f"  touchless/BERTopic time {rows[-2][3] / wall:.2f}, memory {rows[-2][4] / peak:.2f}",
                flush=True,
            )
    ours = [(n, w) for m, n, _, w, _ in rows if m == "touchless"]
    if len(ours) > 1:
        (n0, w0), (n1, w1) = ours[0], ours[-1]
        print(f"touchless scaling exponent (wall time ~ n^b): b = {math.log(w1 / w0) / math.log(n1 / n0):.2f}")


def _line(method: str, size: int, m: dict, wall: float, peak: float) -> str:
    e = m["every_contact"]
    return (
        f"{method:18s} {size:>9,} contacts  {wall:7.1f} s  {peak:7.0f} MB  NMI {e['nmi']:.3f}  ARI {e['ari']:.3f}"
        f"  clusters {m['clusters']:4d}  unclustered {m['noise_share']:.1%}"
    )


if __name__ == "__main__":
    main()

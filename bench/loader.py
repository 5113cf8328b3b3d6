"""Data loader speed on CPU: the flat-binary shards against the same sequences in Parquet,
and against what the 1.3B preset consumes on one GPU.

    python bench/loader.py [--sequences N] [--seq-len 2048] [--batch-size 8] [--repeat 3]
                           [--gpu-tokens-per-s 55200] [--workdir DIR] [--json]

Both formats hold the same N sequences of seq_len + 1 uint16 tokens (random ids below
62,000: token values do not change the cost of copying them). The loader is timed the way
training calls it: `corpus.train.data.Batches.next()` for micro-batches of --batch-size
sequences, from the first row to the last, including the conversion to an int64 torch tensor
(no GPU copy). The Parquet reader does the same through pyarrow (one `tokens` column of
fixed-size lists, row groups of 1,024 sequences, zstd as the pipeline writes, and uncompressed),
reading each row group once and slicing micro-batches from it. Files are freshly written, so
both read from the page cache: this measures the loader's CPU cost, not a disk.

The target is 10x what one GPU consumes training the 1.3B preset: HuggingFace's compiled 1.3B
reaches about 46k tokens/s on one H200 and ours aims at 1.2x that, so --gpu-tokens-per-s
defaults to 55,200.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

if __package__ in (None, ""):  # run as a script: the repository root makes bench, corpus importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from corpus.tokens.shards import FORMAT, MANIFEST, ShardWriter, shard_name  # noqa: E402
from corpus.train.data import Batches  # noqa: E402


def write_shards(workdir: str, seqs: np.ndarray, per_shard: int) -> str:
    out = os.path.join(workdir, "bin")
    os.makedirs(out, exist_ok=True)
    shards = []
    for i, start in enumerate(range(0, len(seqs), per_shard)):
        with open(os.path.join(out, shard_name(i)), "wb") as f:
            w = ShardWriter(f, np.uint16)
            w.write(seqs[start:start + per_shard])
        shards.append(w.describe(shard_name(i)))
    manifest = {"format": FORMAT, "seq_len": seqs.shape[1] - 1, "dtype": "uint16",
                "vocab_size": 62000, "eos_id": 2, "shards": shards}
    with open(os.path.join(out, MANIFEST), "w") as f:
        json.dump(manifest, f)
    return out


def write_parquet(workdir: str, seqs: np.ndarray, compression: str) -> str:
    path = os.path.join(workdir, f"tokens-{compression}.parquet")
    values = pa.array(seqs.ravel(), pa.uint16())
    column = pa.FixedSizeListArray.from_arrays(values, seqs.shape[1])
    pq.write_table(pa.table({"tokens": column}), path, row_group_size=1024, compression=compression)
    return path


def time_bin(tokens_dir: str, batch: int, seq_len: int, n: int) -> float:
    data = Batches(tokens_dir, batch, seq_len)
    cpu = torch.device("cpu")
    t = time.perf_counter()
    for _ in range(n // batch):
        x, y = data.next(cpu)
    return time.perf_counter() - t


def time_parquet(path: str, batch: int, seq_len: int, n: int) -> float:
    t = time.perf_counter()
    f = pq.ParquetFile(path)
    group, group_start, cursor = None, 0, 0
    for _ in range(n // batch):
        rows = []
        need = batch
        while need:
            if group is None or cursor >= group_start + len(group):
                k = cursor // 1024
                col = f.read_row_group(k, columns=["tokens"]).column("tokens").combine_chunks()
                group = col.values.to_numpy().reshape(len(col), -1)
                group_start = k * 1024
            take = min(need, group_start + len(group) - cursor)
            rows.append(group[cursor - group_start:cursor - group_start + take])
            cursor, need = cursor + take, need - take
        block = torch.from_numpy(np.concatenate(rows)[:, :seq_len + 1].astype(np.int64))
        x, y = block[:, :-1], block[:, 1:]
    return time.perf_counter() - t


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sequences", type=int, default=32768)
    p.add_argument("--seq-len", type=int, default=2048)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--gpu-tokens-per-s", type=float, default=46000 * 1.2)
    p.add_argument("--workdir")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    seqs = rng.integers(0, 62000, size=(args.sequences, args.seq_len + 1), dtype=np.uint16)
    with tempfile.TemporaryDirectory(dir=args.workdir) as work:
        paths = {"flat binary (memmap)": write_shards(work, seqs, per_shard=args.sequences // 4),
                 "parquet zstd": write_parquet(work, seqs, "zstd"),
                 "parquet uncompressed": write_parquet(work, seqs, "none")}
        tokens = (args.sequences // args.batch_size) * args.batch_size * args.seq_len
        results = []
        for name, path in paths.items():
            timer = time_bin if name.startswith("flat") else time_parquet
            best = min(timer(path, args.batch_size, args.seq_len, args.sequences)
                       for _ in range(args.repeat))
            size = sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path)) \
                if os.path.isdir(path) else os.path.getsize(path)
            results.append({"format": name, "bytes": size, "seconds": round(best, 4),
                            "tokens_per_s": tokens / best,
                            "x_gpu_1.3b": tokens / best / args.gpu_tokens_per_s})
    if args.json:
        print(json.dumps({"args": vars(args), "results": results}, indent=2))
        return 0
    print(f"{args.sequences:,} sequences of {args.seq_len + 1} tokens, micro-batches of "
          f"{args.batch_size}; 1.3B on one GPU consumes {args.gpu_tokens_per_s:,.0f} tokens/s")
    print(f"{'format':<24}{'MB':>9}{'s':>9}{'M tokens/s':>13}{'x 1.3B GPU':>12}")
    for r in results:
        print(f"{r['format']:<24}{r['bytes'] / 1e6:>9.1f}{r['seconds']:>9.3f}"
              f"{r['tokens_per_s'] / 1e6:>13.1f}{r['x_gpu_1.3b']:>12.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

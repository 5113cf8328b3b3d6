"""Token shards: flat little-endian binaries of fixed-length sequences, and a JSON manifest.

    TOKENS_DIR/shard-00000.bin    sequences of `seq_len + 1` tokens, back to back (uint16
                                  when the vocabulary fits, else uint32); no header
    TOKENS_DIR/leftover.bin       the last tokens that did not fill a sequence
    TOKENS_DIR/manifest.json      written last: format, seq_len, dtype, tokenizer, shards
                                  (path, sequences, bytes, sha256), token counts

A reader maps the shards into memory (`TokenShards`) and copies out contiguous runs of
sequences: no decoding, no per-row work (bench/loader.py measured this against Parquet).
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import BinaryIO

import numpy as np

FORMAT = "corpus-tokens/1"
MANIFEST = "manifest.json"
LEFTOVER = "leftover.bin"


def shard_name(index: int) -> str:
    return f"shard-{index:05d}.bin"


class ShardWriter:
    """Appends sequences (2-D arrays) to a binary stream, counting and hashing them."""

    def __init__(self, stream: BinaryIO, dtype):
        self.stream, self.dtype = stream, np.dtype(dtype).newbyteorder("<")
        self.sha = hashlib.sha256()
        self.sequences = self.bytes = 0

    def write(self, tokens: np.ndarray) -> None:
        data = np.ascontiguousarray(tokens, dtype=self.dtype).tobytes()
        self.stream.write(data)
        self.sha.update(data)
        self.sequences += len(tokens) if tokens.ndim == 2 else 0
        self.bytes += len(data)

    def describe(self, path: str) -> dict:
        return {"path": path, "sequences": self.sequences, "bytes": self.bytes,
                "sha256": self.sha.hexdigest()}


def read_manifest(tokens_dir: str) -> dict:
    path = os.path.join(tokens_dir, MANIFEST)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{tokens_dir}: no {MANIFEST} (run `corpus export-tokens` first)")
    with open(path, encoding="utf-8") as f:
        manifest = json.load(f)
    if manifest.get("format") != FORMAT:
        raise ValueError(f"{path}: format {manifest.get('format')!r}, expected {FORMAT!r}")
    return manifest


class TokenShards:
    """All sequences of a token directory as one array of rows, memory-mapped."""

    def __init__(self, tokens_dir: str, split: str = "train"):
        """`split`: "train" (the manifest's `shards`) or "validation" (the held-out documents,
        `validation.shards`; LookupError when the export has none)."""
        self.manifest = m = read_manifest(tokens_dir)
        self.seq_tokens = m["seq_len"] + 1
        self.dtype = np.dtype(m["dtype"]).newbyteorder("<")
        self.shards = []
        if split == "validation":
            listed = (m.get("validation") or {}).get("shards") or []
            if not sum(s["sequences"] for s in listed):
                raise LookupError(f"{tokens_dir}: no validation sequences")
        else:
            listed = m["shards"]
        for s in listed:
            path = os.path.join(tokens_dir, s["path"])
            if os.path.getsize(path) != s["bytes"]:
                raise ValueError(f"{path}: {os.path.getsize(path)} bytes, manifest says {s['bytes']}")
            self.shards.append(np.memmap(path, dtype=self.dtype, mode="r",
                                         shape=(s["sequences"], self.seq_tokens)))
        self.starts = np.cumsum([0] + [len(s) for s in self.shards])
        if not len(self):
            raise ValueError(f"{tokens_dir}: no complete sequence")

    def __len__(self) -> int:
        return int(self.starts[-1])

    def rows(self, start: int, count: int) -> np.ndarray:
        """`count` sequences from global row `start` on, wrapping around at the end."""
        out = np.empty((count, self.seq_tokens), dtype=self.dtype)
        done = 0
        while done < count:
            row = (start + done) % len(self)
            k = int(np.searchsorted(self.starts, row, side="right")) - 1
            local = row - int(self.starts[k])
            n = min(count - done, len(self.shards[k]) - local)
            out[done:done + n] = self.shards[k][local:local + n]
            done += n
        return out

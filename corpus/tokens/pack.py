"""Documents to token sequences, as pure functions over Arrow batches (Spark calls them).

    tokenize_batches(batches, model) -> batches of TOKENIZED_SCHEMA: a document's tokens with
                                        the end-of-document id appended, as little-endian bytes
    Packer(seq_tokens)                  cuts the concatenated documents into rows of
                                        `seq_tokens` tokens, across document boundaries
    pack_shards(batches, seq_tokens, dtype, open_shard)
                                        rows sorted by (shard, key, id) -> one shard file each;
                                        yields a SUMMARY_SCHEMA row per shard with its tail

No token is lost: a shard's tail (fewer than `seq_tokens` tokens) travels in its summary, and
the export packs the tails of all shards together (see corpus.tokens.export).
"""

from __future__ import annotations

from typing import BinaryIO, Callable, Iterable, Iterator

import numpy as np
import pyarrow as pa

from corpus.tokens.shards import ShardWriter, shard_name
from corpus.tokens.tokenizer import cached_tokenizer

TOKENIZED_SCHEMA = pa.schema([
    pa.field("id", pa.string()),
    pa.field("source", pa.string()),
    pa.field("topic", pa.string()),
    pa.field("key", pa.int64()),
    pa.field("n_tokens", pa.int64()),  # end-of-document id included
    pa.field("tokens", pa.binary()),
])
SUMMARY_SCHEMA = pa.schema([
    pa.field("shard", pa.int32()),
    pa.field("path", pa.string()),
    pa.field("sequences", pa.int64()),
    pa.field("bytes", pa.int64()),
    pa.field("sha256", pa.string()),
    pa.field("documents", pa.int64()),
    pa.field("tokens", pa.int64()),    # the shard's documents' tokens: sequences and tail
    pa.field("tail", pa.binary()),
])


def tokenize_batches(batches: Iterable[pa.RecordBatch], model: bytes) -> Iterator[pa.RecordBatch]:
    """Each document's token ids plus the end-of-document id, in the tokenizer's dtype."""
    tok = cached_tokenizer(model)
    eos = np.array([tok.eos_id], dtype=tok.dtype)
    for batch in batches:
        ids = tok.encode_batch(batch.column("text").to_pylist())
        docs = [np.concatenate([x, eos]) for x in ids]
        yield pa.RecordBatch.from_arrays(
            [batch.column("id"), batch.column("source"), batch.column("topic"), batch.column("key"),
             pa.array([len(d) for d in docs], pa.int64()),
             pa.array([d.tobytes() for d in docs], pa.binary())],
            schema=TOKENIZED_SCHEMA)


class Packer:
    """Concatenates token arrays and hands out full rows of `seq_tokens` tokens."""

    def __init__(self, seq_tokens: int, dtype):
        self.seq_tokens, self.dtype = seq_tokens, np.dtype(dtype)
        self.pending: list[np.ndarray] = []
        self.pending_tokens = 0

    def add(self, tokens: np.ndarray) -> np.ndarray:
        """The rows that `tokens` completes (shape (k, seq_tokens), k possibly 0)."""
        self.pending.append(tokens)
        self.pending_tokens += len(tokens)
        k = self.pending_tokens // self.seq_tokens
        if not k:
            return np.empty((0, self.seq_tokens), self.dtype)
        flat = np.concatenate(self.pending)
        cut = k * self.seq_tokens
        self.pending = [flat[cut:]]
        self.pending_tokens = len(flat) - cut
        return flat[:cut].reshape(k, self.seq_tokens)

    def tail(self) -> np.ndarray:
        """What is left: fewer than `seq_tokens` tokens."""
        return np.concatenate(self.pending) if self.pending else np.empty(0, self.dtype)


class _OpenShard:
    """One shard being written: its stream, writer, packer and counts."""

    def __init__(self, index: int, stream: BinaryIO, seq_tokens: int, dtype):
        self.index, self.stream, self.dtype = index, stream, dtype
        self.writer, self.packer = ShardWriter(stream, dtype), Packer(seq_tokens, dtype)
        self.documents = self.tokens = 0

    def add(self, tokens: np.ndarray) -> None:
        self.writer.write(self.packer.add(tokens))
        self.documents += 1
        self.tokens += len(tokens)

    def close(self) -> pa.RecordBatch:
        self.stream.close()
        row = {"shard": self.index, **self.writer.describe(shard_name(self.index)),
               "documents": self.documents, "tokens": self.tokens,
               "tail": self.packer.tail().astype(self.dtype).tobytes()}
        return pa.RecordBatch.from_pylist([row], schema=SUMMARY_SCHEMA)


def pack_shards(batches: Iterable[pa.RecordBatch], seq_tokens: int, dtype,
                open_shard: Callable[[str], BinaryIO]) -> Iterator[pa.RecordBatch]:
    """Rows of (shard, tokens) sorted by shard then document order: each shard's documents are
    packed into `open_shard(name)`; one SUMMARY_SCHEMA row per shard."""
    dtype = np.dtype(dtype).newbyteorder("<")
    shard = None
    for batch in batches:
        for index, data in zip(batch.column("shard").to_pylist(), batch.column("tokens").to_pylist()):
            if shard is None or shard.index != index:
                if shard is not None:
                    yield shard.close()
                shard = _OpenShard(index, open_shard(shard_name(index)), seq_tokens, dtype)
            shard.add(np.frombuffer(data, dtype=dtype))
    if shard is not None:
        yield shard.close()

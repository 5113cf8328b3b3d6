"""The executors' side of balancing: functions over Arrow batches, no Spark.

    label_batches(batches, p)             -> the documents with topic, topic_score, cell, key,
                                             size and tokens (the stage keeps them on disk)
    hist_batches(batches, p, rates, bits) -> emitted size per (cell, position bucket)
    shard_batches(batches, p, rates, bits, bounds) -> per (shard, cell): docs, rows, size, tokens
    emit_batches(batches, p, rates, bits, bounds, schema) -> outcome rows, one per emitted copy

The three planning passes read the narrow columns (NARROW) of the labelled documents; the
emitting pass reads them whole. Each document is classified once.

A document's `key` is a 64-bit hash of its content (source, url, title, text), so every choice
made from it depends on the document and the seed only, not on where the inputs live or how
they are partitioned. Its copies: floor(rate) plus one when its draw falls below frac(rate)
(corpus.topics.mixture.copies_many). Copy j's position is the document's first position plus j
times 2^64 / copies, so the copies of one document lie as far apart on the position circle as
they can, and so in different shards. The planning passes and the emitting pass compute the
same copies and positions from the same columns; the stage checks that the shards hold what
was planned.
"""

from __future__ import annotations

from typing import Iterable, Iterator, Mapping

import numpy as np
import pyarrow as pa
import xxhash

from corpus.balance.plan import cell_name
from corpus.balance.size import sizes
from corpus.topics.mixture import copies_many, draws

DOWNSAMPLED = "downsampled"
LABEL_FIELDS = [pa.field("topic", pa.string()), pa.field("topic_score", pa.float32()),
                pa.field("cell", pa.string()), pa.field("key", pa.int64()),
                pa.field("size", pa.int64()), pa.field("tokens", pa.int64())]
NARROW = ("cell", "key", "size", "tokens")  # what the planning passes read
HIST_SCHEMA = pa.schema([pa.field("cell", pa.string()), pa.field("bucket", pa.int64()),
                         pa.field("size", pa.int64())])
SHARD_SCHEMA = pa.schema([pa.field("shard", pa.int32()), pa.field("cell", pa.string()),
                          pa.field("docs", pa.int64()), pa.field("rows", pa.int64()),
                          pa.field("size", pa.int64()), pa.field("tokens", pa.int64())])
EMIT_FIELDS = [pa.field("topic", pa.string()), pa.field("topic_score", pa.float32()),
               pa.field("repeat", pa.int32()), pa.field("part", pa.int32()),
               pa.field("pos", pa.int64()), pa.field("key", pa.int64()),
               pa.field("reason", pa.string()), pa.field("detail", pa.string())]
SORT = ("part", "pos", "key", "repeat", "id")  # a total order of the emitted rows
_POSITION_STREAM = 1


def _own(docs: pa.Schema, fields: list) -> pa.Schema:
    own = {f.name for f in LABEL_FIELDS + EMIT_FIELDS}
    return pa.schema([f for f in docs if f.name not in own] + fields)


def labelled_schema(docs: pa.Schema) -> pa.Schema:
    """The documents with their labels (label_batches)."""
    return _own(docs, LABEL_FIELDS)


def outcome_schema(docs: pa.Schema) -> pa.Schema:
    """The emitted rows: the documents' columns and the balance columns."""
    return _own(docs, EMIT_FIELDS)


def content_keys(batch: pa.RecordBatch) -> np.ndarray:
    """xxh3-64 of (source, url, title, text) per document, as uint64."""
    cols = [batch.column(n).to_pylist() if n in batch.schema.names else [None] * batch.num_rows
            for n in ("source", "url", "title", "text")]
    return np.fromiter((xxhash.xxh3_64_intdigest("\0".join(v or "" for v in row).encode("utf-8", "surrogatepass"))
                        for row in zip(*cols)), dtype=np.uint64, count=batch.num_rows)


def classify(batch: pa.RecordBatch, p: Mapping) -> tuple[list[str], list[float]]:
    """The topic and its probability of each document (corpus.topics.classify)."""
    from corpus.topics.classify import cached_classifier

    clf = cached_classifier(p["model"], p["taxonomy"], p["head_chars"], p["min_score"])
    titles = batch.column("title").to_pylist() if "title" in batch.schema.names else [None] * batch.num_rows
    return clf.predict(titles, batch.column("text").to_pylist())


def label_batches(batches: Iterable[pa.RecordBatch], p: Mapping) -> Iterator[pa.RecordBatch]:
    """Each document with its topic and score, cell, content key, size and tokens."""
    for batch in batches:
        topics, scores = classify(batch, p)
        cells = [cell_name(lang, t) for lang, t in zip(batch.column("lang").to_pylist(), topics)]
        texts = batch.column("text")
        size = sizes(texts, p["unit"])
        tokens = size if p["unit"] == "tokens" else sizes(texts, "tokens")
        own = {"topic": pa.array(topics, pa.string()), "topic_score": pa.array(scores, pa.float32()),
               "cell": pa.array(cells, pa.string()), "key": pa.array(content_keys(batch).view(np.int64)),
               "size": pa.array(size), "tokens": pa.array(tokens)}
        schema = labelled_schema(batch.schema)
        yield pa.RecordBatch.from_arrays([own[f.name] if f.name in own else batch.column(f.name)
                                          for f in schema], schema=schema)


def placement(keys: np.ndarray, rates: np.ndarray, seed: int, bits: int):
    """(copies per document, document index per emitted row, repeat, position, bucket)."""
    n = copies_many(seed, keys, rates)
    first = draws(seed, keys, _POSITION_STREAM)
    doc = np.repeat(np.arange(keys.size), n)
    repeat = np.arange(doc.size) - np.repeat(np.cumsum(n) - n, n)
    step = (np.uint64(2**64 - 1) // np.maximum(n, 1).astype(np.uint64))[doc]
    with np.errstate(over="ignore"):
        pos = first[doc] + step * repeat.astype(np.uint64)
    return n, doc, repeat, pos, (pos >> np.uint64(64 - bits)).astype(np.int64)


def _rates(cells, rates: Mapping[str, float]) -> np.ndarray:
    return np.array([rates.get(c, 0.0) for c in cells], dtype=np.float64)


def _narrow(batch: pa.RecordBatch):
    return (batch.column("cell").to_pylist(), batch.column("key").to_numpy().view(np.uint64),
            batch.column("size").to_numpy(), batch.column("tokens").to_numpy())


def hist_batches(batches, p: Mapping, rates: Mapping[str, float], bits: int):
    """Emitted size per (cell, position bucket)."""
    for batch in batches:
        cells, keys, size, _ = _narrow(batch)
        _, doc, _, _, bucket = placement(keys, _rates(cells, rates), int(p["seed"]), bits)
        names, cell_ids = np.unique(np.array(cells, dtype=object)[doc], return_inverse=True) if doc.size \
            else (np.array([], dtype=object), np.zeros(0, np.int64))
        flat = cell_ids.astype(np.int64) * (1 << bits) + bucket
        keys_, sums = np.unique(flat, return_inverse=True)
        totals = np.bincount(sums, weights=size[doc]).astype(np.int64) if flat.size else np.zeros(0, np.int64)
        yield pa.RecordBatch.from_arrays(
            [pa.array(names[keys_ >> bits].tolist(), pa.string()), pa.array(keys_ & ((1 << bits) - 1)),
             pa.array(totals)], schema=HIST_SCHEMA)


def shard_of(cells: list, bucket: np.ndarray, bounds: Mapping[str, np.ndarray], bits: int) -> np.ndarray:
    """The shard of each row from its cell and position bucket (plan.shard_bounds)."""
    out = np.zeros(len(cells), dtype=np.int32)
    names = np.array(cells, dtype=object)
    shards = len(next(iter(bounds.values()))) if bounds else 1
    for c in dict.fromkeys(cells):
        at = np.flatnonzero(names == c)
        if c in bounds:
            out[at] = np.searchsorted(bounds[c], bucket[at], side="right") - 1
        else:  # a cell with nothing emitted (its dropped rows): spread evenly
            out[at] = (bucket[at] * shards) >> bits
    return out


def shard_batches(batches, p: Mapping, rates: Mapping[str, float], bits: int, bounds: Mapping):
    """Per (shard, cell): documents (first copies), rows, size and tokens emitted; documents
    emitted zero times count under shard -1."""
    for batch in batches:
        cells, keys, size, tokens = _narrow(batch)
        n, doc, repeat, _, bucket = placement(keys, _rates(cells, rates), int(p["seed"]), bits)
        acc: dict = {}
        row_cells = [cells[d] for d in doc.tolist()]
        for shard, d, r in zip(shard_of(row_cells, bucket, bounds, bits).tolist(), doc.tolist(), repeat.tolist()):
            a = acc.setdefault((shard, cells[d]), [0, 0, 0, 0])
            a[0] += r == 0
            a[1] += 1
            a[2] += int(size[d])
            a[3] += int(tokens[d])
        for d in np.flatnonzero(n == 0).tolist():
            a = acc.setdefault((-1, cells[d]), [0, 0, 0, 0])
            a[0] += 1
            a[2] += int(size[d])
            a[3] += int(tokens[d])
        rows = [{"shard": s, "cell": c, "docs": v[0], "rows": v[1], "size": v[2], "tokens": v[3]}
                for (s, c), v in acc.items()]
        yield pa.RecordBatch.from_pylist(rows, schema=SHARD_SCHEMA)


def emit_batches(batches, p: Mapping, rates: Mapping[str, float], bits: int, bounds: Mapping,
                 schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    """Outcome rows: one kept row per copy (repeat 0, 1, ...; part: its shard; pos: its
    position), and one `downsampled` row for a document emitted zero times."""
    seed = int(p["seed"])
    for batch in batches:
        cells, keys, _, _ = _narrow(batch)
        r = _rates(cells, rates)
        n, doc, repeat, pos, bucket = placement(keys, r, seed, bits)
        gone = np.flatnonzero(n == 0)
        _, gone_doc, _, gone_pos, gone_bucket = placement(keys[gone], np.ones(gone.size), seed, bits)
        idx = np.concatenate([doc, gone[gone_doc]])
        order = np.argsort(idx, kind="stable")  # rows in document order
        idx = idx[order]
        rep = np.concatenate([repeat, np.zeros(gone.size, np.int64)])[order]
        position = np.concatenate([pos, gone_pos])[order]
        part = shard_of([cells[i] for i in np.concatenate([doc, gone[gone_doc]]).tolist()],
                        np.concatenate([bucket, gone_bucket]), bounds, bits)[order]
        dropped = np.concatenate([np.zeros(doc.size, bool), np.ones(gone.size, bool)])[order]
        taken = batch.take(pa.array(idx, pa.int64()))
        reason = pa.array(np.where(dropped, DOWNSAMPLED, None).tolist(), pa.string())
        detail = pa.array([f"{cells[i]} rate={r[i]:.4g}" if d else None
                           for i, d in zip(idx.tolist(), dropped.tolist())], pa.string())
        own = {"repeat": pa.array(rep.astype(np.int32)), "part": pa.array(part),
               "pos": pa.array(position.view(np.int64)), "reason": reason, "detail": detail}
        yield pa.RecordBatch.from_arrays(
            [own[f.name] if f.name in own else taken.column(f.name) for f in schema], schema=schema)


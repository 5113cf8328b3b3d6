"""Pairs within Hamming distance k from the rows of the permuted tables, bucket by bucket.

Input: Arrow batches of (id, simhash, table, key) rows sorted by (table, key, simhash, id), as
one Spark partition after `repartition(table, key).sortWithinPartitions(...)`, so a bucket
(the documents sharing one table's key) is a run of consecutive rows. Each bucket of at most
`max_bucket` rows gives every pair in it whose fingerprints are within distance k; a larger
bucket (boilerplate: thousands of pages with one fingerprint) links only identical
fingerprints, each to the smallest id having it (a star), and is reported as capped.

Output batches (BUCKET_SCHEMA): pair rows (id_a < id_b, distance; table null) and one row per
capped bucket (table, key, size; ids null). A pair shared by several tables comes out once per
table. Everything is numpy over runs of ~64k rows; only one bucket is held across batches.
"""

from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np
import pyarrow as pa

from corpus.dedup.tables import pairs_in_groups, popcount

BUCKET_SCHEMA = pa.schema([
    pa.field("id_a", pa.string()), pa.field("id_b", pa.string()),
    pa.field("distance", pa.int32()),
    pa.field("table", pa.int32()), pa.field("key", pa.int64()), pa.field("size", pa.int64()),
])
_COLUMNS = ("id", "simhash", "table", "key")
_ROWS_PER_PASS = 1 << 16


def bucket_pairs(batches: Iterable[pa.RecordBatch], k: int,
                 max_bucket: int) -> Iterator[pa.RecordBatch]:
    """Verified pairs and capped buckets of sorted (id, simhash, table, key) batches."""
    held: list[dict] = []
    rows, next_pass = 0, _ROWS_PER_PASS
    for batch in batches:
        held.append(_columns(batch))
        rows += batch.num_rows
        if rows >= next_pass:
            cols = _concat(held)
            done = int(np.flatnonzero(_bucket_starts(cols))[-1])  # the last bucket may go on
            yield from _scan({c: v[:done] for c, v in cols.items()}, k, max_bucket)
            held = [{c: v[done:] for c, v in cols.items()}]
            rows -= done
            next_pass = max(_ROWS_PER_PASS, 2 * rows)  # a huge bucket: not rescanned per batch
    if rows:
        yield from _scan(_concat(held), k, max_bucket)


def _columns(batch: pa.RecordBatch) -> dict[str, np.ndarray]:
    return {"id": np.asarray(batch.column("id").to_numpy(zero_copy_only=False), dtype=object),
            "simhash": batch.column("simhash").to_numpy().astype(np.int64).view(np.uint64),
            "table": batch.column("table").to_numpy().astype(np.int64),
            "key": batch.column("key").to_numpy().astype(np.int64)}


def _concat(parts: list[dict]) -> dict[str, np.ndarray]:
    if len(parts) == 1:
        return parts[0]
    return {c: np.concatenate([p[c] for p in parts]) for c in _COLUMNS}


def _bucket_starts(cols: dict) -> np.ndarray:
    """Whether each row starts a bucket (its (table, key) differs from the previous row's)."""
    t, key = cols["table"], cols["key"]
    new = np.ones(t.size, dtype=bool)
    new[1:] = (t[1:] != t[:-1]) | (key[1:] != key[:-1])
    return new


def _scan(cols: dict, k: int, max_bucket: int) -> Iterator[pa.RecordBatch]:
    """The output rows of complete buckets."""
    n = cols["id"].size
    if n == 0:
        return
    starts = np.flatnonzero(_bucket_starts(cols))
    sizes = np.diff(np.append(starts, n))
    size_of_row = np.repeat(sizes, sizes)
    big = size_of_row > max_bucket
    ids, fps = cols["id"], cols["simhash"]

    # small buckets: every pair of rows p < q of one bucket, one numpy pass per offset q - p
    bucket = np.repeat(np.arange(starts.size), sizes)
    label = bucket.copy()
    label[big] = -1 - np.flatnonzero(big)  # rows of capped buckets pair with nothing here
    pq = pairs_in_groups(np.arange(n), label)
    if pq.size:
        p, q = pq[:, 0], pq[:, 1]
        dist = popcount(fps[p] ^ fps[q])
        keep = dist <= k
        p, q, dist = p[keep], q[keep], dist[keep]
        a, b = ids[p], ids[q]
        swap = b < a
        a, b = np.where(swap, b, a), np.where(swap, a, b)
        yield _pair_batch(a, b, dist)

    # capped buckets: identical fingerprints link to the first (smallest) id having them
    if big.any():
        rows = np.flatnonzero(big)
        b, f = bucket[rows], fps[rows]
        run_start = np.ones(rows.size, dtype=bool)
        run_start[1:] = (b[1:] != b[:-1]) | (f[1:] != f[:-1])
        root = rows[np.maximum.accumulate(np.where(run_start, np.arange(rows.size), 0))]
        leaf = ~run_start
        yield _pair_batch(ids[root[leaf]], ids[rows[leaf]], np.zeros(int(leaf.sum()), np.int64))
        capped = starts[sizes > max_bucket]
        nulls = pa.nulls(capped.size, pa.string())
        yield pa.RecordBatch.from_arrays(
            [nulls, nulls, pa.nulls(capped.size, pa.int32()),
             pa.array(cols["table"][capped], pa.int32()), pa.array(cols["key"][capped], pa.int64()),
             pa.array(sizes[sizes > max_bucket], pa.int64())], schema=BUCKET_SCHEMA)


def _pair_batch(a: np.ndarray, b: np.ndarray, dist: np.ndarray) -> pa.RecordBatch:
    m = len(a)
    return pa.RecordBatch.from_arrays(
        [pa.array(a, pa.string()), pa.array(b, pa.string()), pa.array(dist, pa.int32()),
         pa.nulls(m, pa.int32()), pa.nulls(m, pa.int64()), pa.nulls(m, pa.int64())],
        schema=BUCKET_SCHEMA)

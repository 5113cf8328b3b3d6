"""MinHash-LSH near-duplicate pairs on Spark: DataFrames in, DataFrames out.

Signatures and band keys are computed in the executors (`corpus.dedup.minhash.minhash_keys`
over Arrow batches). Each (document, band) row is shuffled by (band, key) and sorted, and the
bucket scan of the SimHash tables (`corpus.dedup.buckets.bucket_pairs`, with every fingerprint
0 and k = 0) gives every pair of a bucket of at most `max_bucket` members; a larger bucket
(boilerplate) is split into a star: each member linked to the bucket's smallest id (so its
documents still end up in one cluster when verification accepts those links), and counted.
Candidate pairs come out once (`distinct`). Then, per pair, the signatures' agreement (the
estimated Jaccard) and, with `verify`, the exact Jaccard of the two shingle sets (the texts
joined back to the pairs, shingled again in the executors); pairs below the threshold are
dropped. Nothing per document reaches the driver.
"""

from __future__ import annotations

from typing import Iterable, Iterator, Mapping, NamedTuple

import numpy as np
import pyarrow as pa

from corpus.dedup.minhash import MINHASH_SCHEMA, Bands, Shingler, exact_jaccard, minhash_keys

PAIR_SCHEMA = pa.schema([
    pa.field("id_a", pa.string()), pa.field("id_b", pa.string()),
    pa.field("est_jaccard", pa.float64()), pa.field("jaccard", pa.float64()),
])


class MinHashPairs(NamedTuple):
    """`pairs`: (id_a, id_b, est_jaccard, jaccard) with id_a < id_b, each accepted pair once
    (jaccard: the exact Jaccard, null without verification). `candidates`: the pairs sharing a
    band, before verification. `capped`: (table = band, key, size) per bucket of more than
    max_bucket members. `release()` unpersists what was persisted."""

    pairs: object
    candidates: object
    capped: object
    persisted: tuple

    def capped_buckets(self) -> int:
        return self.capped.count()

    def release(self) -> None:
        for df in self.persisted:
            df.unpersist()


def _verify(batches: Iterable[pa.RecordBatch], cfg: Mapping, threshold: float,
            verify: bool) -> Iterator[pa.RecordBatch]:
    """(id_a, id_b, text_a, text_b, sig_a, sig_b) batches to PAIR_SCHEMA rows: the estimated
    and (with verify) exact Jaccard; pairs under the threshold left out."""
    shingler = Shingler(cfg) if verify else None
    for batch in batches:
        n = batch.num_rows
        if n == 0:
            continue
        sa, sb = batch.column("sig_a"), batch.column("sig_b")
        a = np.frombuffer(b"".join(sa.to_pylist()), "<u4")
        b = np.frombuffer(b"".join(sb.to_pylist()), "<u4")
        width = a.size // n
        est = np.mean(a.reshape(n, width) == b.reshape(n, width), axis=1)
        if verify:
            texts = batch.column("text_a").to_pylist() + batch.column("text_b").to_pylist()
            h, d = shingler.hashes(texts, want64=True)
            bounds = np.searchsorted(d, np.arange(2 * n + 1))
            sets = [h[bounds[i]:bounds[i + 1]] for i in range(2 * n)]
            jac = np.array([exact_jaccard(sets[i], sets[n + i]) for i in range(n)])
            keep = jac >= threshold
            jac_arr = pa.array(jac[keep], pa.float64())
        else:
            keep = np.ones(n, dtype=bool)
            jac_arr = pa.nulls(int(keep.sum()), pa.float64())
        mask = pa.array(keep)
        yield pa.RecordBatch.from_arrays(
            [batch.column("id_a").filter(mask), batch.column("id_b").filter(mask),
             pa.array(est[keep], pa.float64()), jac_arr], schema=PAIR_SCHEMA)


def minhash_pairs_df(docs_df, cfg: Mapping, bands: Bands, ids_df=None) -> MinHashPairs:
    """Near-duplicate pairs by MinHash-LSH among `docs_df` (id, text; ids unique), restricted
    to the ids of `ids_df` (id) when given. `cfg`: the dedup.minhash section."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from corpus.dedup.buckets import BUCKET_SCHEMA, bucket_pairs
    from corpus.spark import spark_schema

    mh_cfg = dict(cfg)
    max_bucket = int(mh_cfg.get("max_bucket", 1000))
    threshold = float(mh_cfg.get("threshold", 0.8))
    verify = bool(mh_cfg.get("verify", True))
    b, r = bands.bands, bands.rows
    texts = docs_df.select("id", "text").where(F.col("id").isNotNull())
    keys = texts.mapInArrow(lambda it: minhash_keys(it, mh_cfg, b, r), spark_schema(MINHASH_SCHEMA))
    if ids_df is not None:
        keys = keys.join(ids_df.select("id"), "id")
    keys = keys.where(F.col("bands").isNotNull()).persist(StorageLevel.MEMORY_AND_DISK)
    rows = keys.select("id", F.posexplode("bands").alias("table", "key"))
    rows = rows.select("id", F.lit(0).cast("long").alias("simhash"),
                       F.col("table").cast("int").alias("table"), "key")
    scanned = (rows.repartition("table", "key").sortWithinPartitions("table", "key", "simhash", "id")
               .mapInArrow(lambda it: bucket_pairs(it, 0, max_bucket), spark_schema(BUCKET_SCHEMA))
               .persist(StorageLevel.MEMORY_AND_DISK))
    candidates = scanned.where(F.col("table").isNull()).select("id_a", "id_b").distinct()
    capped = scanned.where(F.col("table").isNotNull()).select("table", "key", "size")

    sigs = keys.select("id", "signature")
    joined = (candidates
              .join(sigs.select(F.col("id").alias("id_a"), F.col("signature").alias("sig_a")), "id_a")
              .join(sigs.select(F.col("id").alias("id_b"), F.col("signature").alias("sig_b")), "id_b"))
    cols = ["id_a", "id_b", "sig_a", "sig_b"]
    if verify:
        joined = (joined
                  .join(texts.select(F.col("id").alias("id_a"), F.col("text").alias("text_a")), "id_a")
                  .join(texts.select(F.col("id").alias("id_b"), F.col("text").alias("text_b")), "id_b"))
        cols += ["text_a", "text_b"]
    else:
        joined = joined.withColumn("text_a", F.lit(None).cast("string")).withColumn(
            "text_b", F.lit(None).cast("string"))
        cols += ["text_a", "text_b"]
    pairs = joined.select(*cols).mapInArrow(
        lambda it: _verify(it, mh_cfg, threshold, verify), spark_schema(PAIR_SCHEMA))
    return MinHashPairs(pairs, candidates, capped, (keys, scanned))

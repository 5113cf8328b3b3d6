"""Near-duplicate pairs and their clusters on Spark: DataFrames in, DataFrames out.

`candidate_pairs_df` finds every pair of documents whose 64-bit SimHash fingerprints are within
Hamming distance k through the permuted tables of `corpus.dedup.tables` (one row per document
and table, shuffled and sorted by (table, key), each bucket scanned and verified with numpy).
`connected_components` turns the pairs into clusters with alternating large-star / small-star
rounds (Kiveris, Lattanzi, Mirrokni, Rastogi, Vassilvitskii, SoCC 2014).

Nothing per document is collected to the driver: the only driver-side results are counts.
Fingerprints are `long` columns holding the uint64 bits in two's complement
(`corpus.dedup.tables.to_signed`).
"""

from __future__ import annotations

from typing import NamedTuple

from corpus.dedup.tables import Layout


class CandidatePairs(NamedTuple):
    """`pairs`: (id_a, id_b, distance) with id_a < id_b, each pair once. `capped`: one row
    (table, key, size) per bucket with more than max_bucket members, whose pairs were not
    enumerated (only identical fingerprints in it were linked). Both are read from `scanned`,
    the persisted output of the bucket scan; `release()` unpersists it."""

    pairs: object
    capped: object
    scanned: object

    def capped_buckets(self) -> int:
        """How many buckets were capped (a Spark job)."""
        return self.capped.count()

    def release(self) -> None:
        self.scanned.unpersist()


def _tables_df(spark, layout: Layout):
    """One row per table: its index and the (rshift, mask, lshift) of each run of its key,
    padded with runs that contribute nothing (mask 0)."""
    width = layout.max_runs
    rows = []
    for t, triples in enumerate(layout.runs):
        padded = list(triples) + [(0, 0, 0)] * (width - len(triples))
        row = [t]
        for rshift, mask, lshift in padded:
            row += [rshift, mask - (1 << 64) if mask >= 1 << 63 else mask, lshift]
        rows.append(tuple(row))
    cols = ["table int"] + [f"r{j} int, m{j} long, l{j} int" for j in range(width)]
    return spark.createDataFrame(rows, ", ".join(cols))


def _key_expr(layout: Layout, fp: str = "simhash") -> str:
    """Spark SQL for a table's key from the columns of `_tables_df` (same bits as Layout.keys)."""
    terms = [f"shiftleft(shiftrightunsigned({fp}, r{j}) & m{j}, l{j})"
             for j in range(layout.max_runs)]
    return " | ".join(terms)


def table_keys_df(docs_df, layout: Layout):
    """(id, simhash, table, key): one row per document and table."""
    from pyspark.sql import functions as F

    spark = docs_df.sparkSession
    tables = F.broadcast(_tables_df(spark, layout))
    return (docs_df.select("id", F.col("simhash").cast("long").alias("simhash"))
            .crossJoin(tables)
            .select("id", "simhash", "table", F.expr(_key_expr(layout)).alias("key")))


def candidate_pairs_df(docs_df, layout: Layout, k: int, max_bucket: int = 1000) -> CandidatePairs:
    """Pairs of documents within Hamming distance `k`, through the tables of `layout`.

    `docs_df` has `id` (string, unique) and `simhash` (long). Rows with a null simhash are
    ignored. The (document, table) rows are shuffled once, by (table, key), and sorted within
    partitions, so that each bucket (documents sharing a table's key) is a run of rows that
    `corpus.dedup.buckets.bucket_pairs` scans with numpy: a bucket of at most `max_bucket`
    members gives every pair in it within distance k; a larger one (boilerplate: many pages
    with one fingerprint) links its identical fingerprints to the smallest id having them
    (distance 0, a star) and is listed in `capped`; its other pairs still come out of any
    table where they share a bucket that is not capped. Pairs found in several tables come
    out once (a `distinct` over the pairs, not over the table rows).
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from corpus.dedup.buckets import BUCKET_SCHEMA, bucket_pairs
    from corpus.spark import spark_schema

    if layout.k < k:
        raise ValueError(f"a layout for k={layout.k} cannot guarantee pairs within {k}")
    docs = docs_df.where(F.col("simhash").isNotNull() & F.col("id").isNotNull())
    scanned = (table_keys_df(docs, layout)
               .repartition("table", "key").sortWithinPartitions("table", "key", "simhash", "id")
               .mapInArrow(lambda batches: bucket_pairs(batches, k, max_bucket),
                           spark_schema(BUCKET_SCHEMA))
               .persist(StorageLevel.MEMORY_AND_DISK))
    pairs = scanned.where(F.col("table").isNull()).select("id_a", "id_b", "distance").distinct()
    capped = scanned.where(F.col("table").isNotNull()).select("table", "key", "size")
    return CandidatePairs(pairs, capped, scanned)


# --- connected components --------------------------------------------------------------------

def _star_round(edges):
    """One large-star step then one small-star step. `edges`: (src, dst), src > dst (repeats
    allowed). Returns the new edges, deduplicated, with a `changed` flag: false on every row
    means neither step changed the edge set, which happens once it is a star forest whose
    centres are their components' smallest ids (and, rounds being deterministic, only then).

    Large-star: every node u links each strictly larger neighbour to m(u), the smallest of u
    and its neighbours (one output row per input edge; changed where m(u) != u).
    Small-star: every node u links itself and its smaller neighbours to the smallest of them
    (changed where u has more than one smaller neighbour, or a large-star change landed on u).
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    both = edges.select(F.col("src").alias("u"), F.col("dst").alias("v")).unionByName(
        edges.select(F.col("dst").alias("u"), F.col("src").alias("v")))
    m = F.least(F.col("u"), F.min("v").over(Window.partitionBy("u")))
    large = (both.withColumn("m", m).where(F.col("v") > F.col("u"))
             .select(F.col("v").alias("src"), F.col("m").alias("dst"),
                     (F.col("m") != F.col("u")).alias("changed")))
    # small-star over the large-star output, which may repeat an edge: min != max counts
    # distinct smaller neighbours correctly
    w = Window.partitionBy("src")
    several = F.min("dst").over(w) != F.max("dst").over(w)
    small = large.select("src", "dst", F.min("dst").over(w).alias("m"),
                         (several | F.max("changed").over(w)).alias("changed"))
    out = small.select(
        F.explode(F.array(F.struct(F.col("src").alias("s"), F.col("m").alias("d")),
                          F.struct(F.col("dst").alias("s"), F.col("m").alias("d")))).alias("e"),
        "changed")
    return (out.select(F.col("e.s").alias("src"), F.col("e.d").alias("dst"), "changed")
            .where(F.col("src") != F.col("dst"))
            .groupBy("src", "dst").agg(F.max("changed").alias("changed")))


def connected_components(edges_df, spark=None, checkpoint_dir: str | None = None,
                         max_iter: int = 50, checkpoint_every: int = 1, driver_edges: int = 0):
    """(id, component) for every id in an edge of `edges_df` (src, dst: string ids; the graph
    is undirected; null ends are ignored, self-loops give singleton components); component is
    the smallest id of the id's connected component.

    Rounds of large-star then small-star until a round changes nothing (each round counts the
    edges it may have changed: a Spark count, nothing collected); O(log^2 n) rounds in theory,
    about log2 of the longest path in practice (9 for a 200-node path). The input is
    materialised once, then every `checkpoint_every` rounds (default: every round) the lineage
    is cut with `checkpoint()` under `checkpoint_dir` when given (reliable: survives losing an
    executor), else `localCheckpoint()` (faster; a lost executor fails the job); rounds in
    between are persisted. Raises RuntimeError when `max_iter` rounds do not converge.
    Deterministic: the result depends only on the edge set.
    A graph of at most `driver_edges` edges (counted, not collected, first) is solved on the
    driver instead (`components_of`, union-find; the same result without the rounds' jobs):
    the driver then holds at most that many edges.
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    spark = spark or edges_df.sparkSession
    if checkpoint_dir:
        spark.sparkContext.setCheckpointDir(checkpoint_dir)
    ends = edges_df.select(F.col("src").cast("string").alias("src"),
                           F.col("dst").cast("string").alias("dst"))
    # the input is read once (it may be an expensive query, e.g. the pair search)
    ends = ends.checkpoint(eager=True) if checkpoint_dir else ends.localCheckpoint(eager=True)
    if driver_edges and ends.count() <= driver_edges:
        pairs = [(r.src, r.dst) for r in ends.collect()]
        return spark.createDataFrame(sorted(components_of(pairs).items()), "id string, component string")
    nodes = (ends.select(F.col("src").alias("id"))
             .unionByName(ends.select(F.col("dst").alias("id")))
             .where(F.col("id").isNotNull()).distinct())
    edges = (ends.where(F.col("src").isNotNull() & F.col("dst").isNotNull()
                        & (F.col("src") != F.col("dst")))
             .select(F.greatest("src", "dst").alias("src"), F.least("src", "dst").alias("dst")))

    held = []  # the previous round's output, released once the next one is materialised
    converged = False
    for rnd in range(1, max_iter + 1):
        nxt = _star_round(edges.select("src", "dst"))
        cached = []
        if rnd % checkpoint_every == 0:
            # eager: the reliable checkpoint's write recomputes only the last stage (the
            # shuffle files are reused), and its partitions stay coalesced by AQE, which a
            # persisted plan's are not (spark.sql.optimizer.canChangeCachedPlanOutputPartitioning)
            nxt = nxt.checkpoint(eager=True) if checkpoint_dir else nxt.localCheckpoint(eager=True)
        else:
            nxt = nxt.persist(StorageLevel.MEMORY_AND_DISK)
            cached = [nxt]
        changed = nxt.where(F.col("changed")).count()
        for old in held:
            old.unpersist()
        held[:] = cached
        edges = nxt
        if changed == 0:
            converged = True
            break
    if not converged:
        edges.unpersist()
        raise RuntimeError(f"connected components did not converge in {max_iter} rounds")
    # a star forest now: every edge is (leaf, root), the root the smallest id of its component
    parents = edges.select(F.col("src").alias("id"), F.col("dst").alias("component"))
    return (nodes.join(parents, "id", "left")
            .select("id", F.coalesce("component", "id").alias("component")))


def components_of(edges) -> dict[str, str]:
    """{id: the smallest id of its connected component} for every non-null end of `edges`
    ((a, b) pairs; self-loops give singletons): union-find, in memory."""
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        for x in (a, b):
            if x is not None:
                parent.setdefault(x, x)
        if a is not None and b is not None:
            ra, rb = root(a), root(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    return {x: root(x) for x in parent}

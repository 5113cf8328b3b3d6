"""The dedup stage on Spark: exact duplicates by text hash, then near duplicates by SimHash
(permuted tables, exact Hamming verification, connected components), one representative kept
per group by one rule: highest quality score, then longest text, then smallest id.

Decisions are made on a narrow projection (id, hashes, score, length) and joined back to the
documents once; nothing per document reaches the driver, only counts and the report's top
clusters.
"""

from __future__ import annotations

from typing import Mapping

import pyarrow as pa

from corpus.dedup.fingerprint import FINGERPRINT_FIELDS, fingerprint_batches
from corpus.dedup.spark_dedup import candidate_pairs_df, connected_components
from corpus.dedup.tables import choose_layout

def _rank_order():
    """The representative rule as a window ordering."""
    from pyspark.sql import functions as F

    return [F.col("quality_score").desc_nulls_last(), F.col("length").desc(), F.col("id").asc()]


def dedup_outcomes_df(spark, docs, docs_in: int, cfg: Mapping):
    """Outcomes (documents + simhash, cluster_id, reason, detail) and the run report."""
    from pyspark import StorageLevel
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from corpus.spark import spark_schema

    in_schema = pa.schema(_arrow_fields(docs))
    fp_schema = pa.schema(list(in_schema) + FINGERPRINT_FIELDS)
    sim_cfg = dict(cfg["simhash"])
    fp = docs.mapInArrow(lambda b: fingerprint_batches(b, sim_cfg, fp_schema),
                         spark_schema(fp_schema)).persist(StorageLevel.MEMORY_AND_DISK)
    narrow = fp.select("id", "url", "text_hash", "simhash", "quality_score", "length")

    # exact duplicates: one per text hash (and per URL when asked)
    ranked = narrow.withColumn(
        "exact_rep", F.first("id").over(Window.partitionBy("text_hash").orderBy(*_rank_order())))
    if cfg["exact"].get("by_url"):  # then one per URL among those: a text survivor's URL group
        by_url = (ranked.where(F.col("exact_rep") == F.col("id"))
                  .withColumn("url_rep", F.first("id").over(
                      Window.partitionBy(F.coalesce("url", "id")).orderBy(*_rank_order())))
                  .select(F.col("id").alias("exact_rep"), "url_rep"))
        ranked = (ranked.join(by_url, "exact_rep")
                  .withColumn("exact_rep", F.col("url_rep")).drop("url_rep"))
    ranked = ranked.persist(StorageLevel.MEMORY_AND_DISK)
    survivors = ranked.where(F.col("exact_rep") == F.col("id"))

    # near duplicates among the survivors
    k = int(sim_cfg["k"])
    layout = _layout(sim_cfg, k, docs_in)
    found = candidate_pairs_df(survivors.select("id", "simhash"), layout, k,
                               int(sim_cfg["max_bucket"]))
    pairs = found.pairs.persist(StorageLevel.MEMORY_AND_DISK)
    components = connected_components(
        pairs.select(F.col("id_a").alias("src"), F.col("id_b").alias("dst")), spark,
        cfg.get("checkpoint_dir"))
    clustered = (components.join(survivors.select("id", "quality_score", "length"), "id")
                 .withColumn("near_rep", F.first("id").over(
                     Window.partitionBy("component").orderBy(*_rank_order())))
                 .select("id", "near_rep"))

    # every document's final representative: that of its exact representative's cluster
    final = (survivors.select(F.col("id").alias("exact_rep")).join(
        clustered.withColumnRenamed("id", "exact_rep"), "exact_rep", "left")
        .select("exact_rep", F.coalesce("near_rep", "exact_rep").alias("rep")))
    decisions = ranked.select("id", "exact_rep").join(final, "exact_rep").select(
        "id",
        F.when(F.col("exact_rep") != F.col("id"), F.lit("exact_duplicate"))
         .when(F.col("rep") != F.col("id"), F.lit("near_duplicate")).alias("reason"),
        F.when(F.col("rep") != F.col("id"), F.col("rep")).alias("detail"),
        F.col("rep").alias("cluster_id"),
    )
    outcomes = fp.drop("text_hash", "length").join(decisions, "id")
    report = _report(spark, fp, pairs, found, decisions, layout, docs_in, cfg)
    return outcomes, report


def _layout(sim_cfg: Mapping, k: int, n_docs: int):
    from corpus.dedup.tables import Layout

    if sim_cfg.get("blocks", "auto") == "auto":
        return choose_layout(k, max(n_docs, 1))
    return Layout(k=k, blocks=int(sim_cfg["blocks"]))


def _report(spark, fp, pairs, found, decisions, layout, docs_in: int, cfg: Mapping) -> dict:
    """Counts, the cluster size histogram and the largest clusters with text previews."""
    from pyspark.sql import functions as F

    sizes = decisions.groupBy("cluster_id").agg(F.count(F.lit(1)).alias("size"))
    hist = sizes.where(F.col("size") > 1).groupBy("size").count().orderBy("size").collect()
    top_n = int(cfg.get("report_top_clusters", 10))
    top = sizes.where(F.col("size") > 1).orderBy(F.col("size").desc(), "cluster_id").limit(top_n)
    members = (decisions.join(top.select("cluster_id"), "cluster_id")
               .join(fp.select("id", "url", F.substring("text", 1, 300).alias("preview")), "id")
               .collect())
    clusters = {}
    for row in top.collect():
        clusters[row.cluster_id] = {"cluster_id": row.cluster_id, "size": row.size, "examples": []}
    for m in sorted(members, key=lambda r: (r.reason is not None, r.id)):
        ex = clusters[m.cluster_id]["examples"]
        if len(ex) < int(cfg.get("report_examples", 5)):
            ex.append({"id": m.id, "url": m.url, "reason": m.reason, "preview": m.preview})
    return {
        "docs_in": docs_in,
        "layout": {"k": layout.k, "blocks": layout.blocks, "tables": layout.n_tables,
                   "describe": layout.describe(),
                   "key_bits": list(layout.key_bits),
                   "expected_candidates_per_doc": layout.expected_candidates(max(docs_in, 1))},
        "pairs_within_k": pairs.count(),
        "capped_buckets": found.capped_buckets(),
        "cluster_size_histogram": {int(r["size"]): int(r["count"]) for r in hist},
        "largest_clusters": [clusters[r] for r in clusters],
    }


def _arrow_fields(docs):
    """The Arrow fields of a DataFrame read from a stage's Parquet output."""
    from pyspark.sql.pandas.types import to_arrow_schema

    return list(to_arrow_schema(docs.schema))

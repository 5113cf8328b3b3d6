"""The dedup stage on Spark: exact duplicates by text hash, then near duplicates by SimHash
(permuted tables, exact Hamming verification, connected components), by MinHash-LSH (band
buckets, exact Jaccard verification; corpus.dedup.minhash_spark) or by both (`near`), one
representative kept per group by one rule: highest quality score, then longest text, then
smallest content key.

Decisions are made on a narrow table (id, hashes, score, length; ~100 bytes per document)
and joined back to the documents once; nothing per document reaches the driver, only counts
and the report's top clusters, except in a SimHash run of at most `driver_docs` documents,
whose narrow table is decided on the driver (corpus.dedup.inmemory: the same decisions).
"""

from __future__ import annotations

import json
from typing import Mapping

from corpus.dedup.fingerprint import KEY_SCHEMA, dedup_keys
from corpus.dedup.spark_dedup import candidate_pairs_df, connected_components
from corpus.dedup.tables import choose_layout


def _rank_order():
    """The representative rule as a window ordering: the best quality score, then the longest
    text; ties go to the smallest content key (a hash of source, text, URL, title, fetch time and
    meta), so the choice does not depend on where the input files are (ids do); the id last."""
    from pyspark.sql import functions as F

    return [F.col("quality_score").desc_nulls_last(), F.col("length").desc(),
            F.col("content_key").asc(), F.col("id").asc()]


def dedup_outcomes_df(spark, docs, docs_in: int, cfg: Mapping):
    """Outcomes (documents + simhash, cluster_id, reason, detail) and the run report (its
    cluster examples without URL and preview: the stage fills them from the outcome write,
    `with_previews` and `fill_previews`)."""
    from pyspark import StorageLevel
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from corpus.spark import spark_schema

    sim_cfg = dict(cfg["simhash"])
    content_key = F.xxhash64("source", "text", "url", "title", "fetch_time",
                             F.map_entries("meta")).alias("content_key")
    keys = (docs.select("id", "url", "text", "quality_score", content_key)
            .mapInArrow(lambda b: dedup_keys(b, sim_cfg), spark_schema(KEY_SCHEMA)))
    method = cfg.get("near", "simhash")
    if method == "simhash" and docs_in <= int(cfg.get("driver_docs", 0)):
        return _decide_on_driver(spark, docs, keys, docs_in, cfg)
    keys = keys.persist(StorageLevel.MEMORY_AND_DISK)

    # exact duplicates: one per text hash (and per URL when asked)
    ranked = keys.withColumn(
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

    # near duplicates among the survivors (SimHash here; MinHash or both: _near_by_minhash)
    if method != "simhash":
        return _near_by_minhash(spark, docs, docs_in, cfg, method, ranked, keys, survivors)
    k = int(sim_cfg["k"])
    layout = _layout(sim_cfg, k, docs_in)
    found = candidate_pairs_df(survivors.select("id", "simhash"), layout, k,
                               int(sim_cfg["max_bucket"]))
    pairs = found.pairs.persist(StorageLevel.MEMORY_AND_DISK)
    clustered = _near_representatives(spark, pairs, survivors, cfg)

    # every document's final representative: that of its exact representative's cluster
    final = (survivors.select(F.col("id").alias("exact_rep")).join(
        clustered.withColumnRenamed("id", "exact_rep"), "exact_rep", "left")
        .select("exact_rep", F.coalesce("near_rep", "exact_rep").alias("rep")))
    decisions = ranked.select("id", "exact_rep", "simhash").join(final, "exact_rep").select(
        "id", "simhash",
        F.when(F.col("exact_rep") != F.col("id"), F.lit("exact_duplicate"))
         .when(F.col("rep") != F.col("id"), F.lit("near_duplicate")).alias("reason"),
        F.when(F.col("rep") != F.col("id"), F.col("rep")).alias("detail"),
        F.col("rep").alias("cluster_id"),
    ).persist(StorageLevel.MEMORY_AND_DISK)
    report = _report(pairs, found, decisions, layout, docs_in, cfg)
    for done in (pairs, ranked, keys):  # `decisions` holds all that the outcomes need
        done.unpersist()
    found.release()
    return docs.join(decisions, "id"), report


def _near_representatives(spark, pairs, survivors, cfg: Mapping):
    """(id, near_rep) for every document in a pair: the representative of its connected
    component by the rule of `_rank_order`."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    components = connected_components(
        pairs.select(F.col("id_a").alias("src"), F.col("id_b").alias("dst")), spark,
        cfg.get("checkpoint_dir"), driver_edges=int(cfg.get("driver_edges", 0)))
    return (components.join(survivors.select("id", "quality_score", "length", "content_key"), "id")
            .withColumn("near_rep", F.first("id").over(Window.partitionBy("component").orderBy(*_rank_order())))
            .select("id", "near_rep"))


def _layout(sim_cfg: Mapping, k: int, n_docs: int):
    from corpus.dedup.tables import Layout

    if sim_cfg.get("blocks", "auto") == "auto":
        return choose_layout(k, max(n_docs, 1))
    return Layout(k=k, blocks=int(sim_cfg["blocks"]))


def _report(pairs, found, decisions, layout, docs_in: int, cfg: Mapping) -> dict:
    """Counts, the cluster size histogram and the largest clusters with a few members each
    (their URLs and previews are filled from the outcome write: `fill_previews`)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    sizes = (decisions.groupBy("cluster_id").agg(F.count(F.lit(1)).alias("size"))
             .where(F.col("size") > 1)).persist()  # clusters, not documents: read twice
    hist = sizes.groupBy("size").count().orderBy("size").collect()
    top = sizes.orderBy(F.col("size").desc(), "cluster_id").limit(
        int(cfg.get("report_top_clusters", 10))).collect()
    sizes.unpersist()
    clusters = {r.cluster_id: {"cluster_id": r.cluster_id, "size": r.size, "examples": []}
                for r in top}
    # a few members of each listed cluster (the representative first); their URLs and previews
    # come from the pass that writes the outcomes (with_previews, fill_previews)
    first = Window.partitionBy("cluster_id").orderBy(F.col("reason").isNotNull(), "id")
    members = (decisions.where(F.col("cluster_id").isin(list(clusters)))
               .withColumn("n", F.row_number().over(first))
               .where(F.col("n") <= int(cfg.get("report_examples", 5)))
               .select("id", "cluster_id", "reason").collect())
    for m in sorted(members, key=lambda r: (r.reason is not None, r.id)):
        clusters[m.cluster_id]["examples"].append(
            {"id": m.id, "url": None, "reason": m.reason, "preview": None})
    capped = found.capped_buckets() if found is not None else 0
    return _report_of(layout, docs_in, pairs.count(), capped,
                      {int(r["size"]): int(r["count"]) for r in hist}, list(clusters.values()))


def _report_of(layout, docs_in: int, pairs: int, capped: int, hist: dict, clusters: list) -> dict:
    return {
        "docs_in": docs_in,
        "layout": {"k": layout.k, "blocks": layout.blocks, "tables": layout.n_tables,
                   "describe": layout.describe(),
                   "key_bits": list(layout.key_bits),
                   "expected_candidates_per_doc": layout.expected_candidates(max(docs_in, 1))},
        "pairs_within_k": pairs,
        "capped_buckets": capped,
        "cluster_size_histogram": hist,
        "largest_clusters": clusters,
    }


def _decide_on_driver(spark, docs, keys, docs_in: int, cfg: Mapping):
    """`near: simhash` for at most `driver_docs` documents: the narrow table (~100 bytes per
    document) comes to the driver once and corpus.dedup.inmemory makes the same decisions and
    report as the Spark path, without its ~20 small jobs; the decisions go back as a local
    table joined to the documents."""
    from corpus.dedup.inmemory import decide, report_clusters

    sim_cfg = cfg["simhash"]
    layout = _layout(sim_cfg, int(sim_cfg["k"]), docs_in)
    decisions, counts = decide(keys.toArrow(), cfg, layout)
    shown = report_clusters(decisions, int(cfg.get("report_top_clusters", 10)),
                            int(cfg.get("report_examples", 5)))
    report = _report_of(layout, docs_in, counts["pairs_within_k"], counts["capped_buckets"],
                        shown["cluster_size_histogram"], shown["largest_clusters"])
    return docs.join(spark.createDataFrame(decisions), "id"), report


PREVIEW_CHARS = 300
PREVIEW_NOTE = "__preview"  # a note row (corpus.outcomes): not written, its detail comes back


def example_ids(report: Mapping) -> frozenset:
    """The ids of the documents the report shows as cluster examples."""
    return frozenset(e["id"] for c in report["largest_clusters"] for e in c["examples"])


def with_previews(batches, ids: frozenset):
    """The outcome batches, each followed by a note row per document of `ids` in it: its id,
    URL and the first PREVIEW_CHARS characters of its text, as JSON (`fill_previews`)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not ids:
        yield from batches
        return
    wanted = pa.array(sorted(ids), pa.string())
    for batch in batches:
        yield batch
        hit = pc.is_in(batch.column("id"), value_set=wanted)
        if not pc.any(hit).as_py():
            continue
        rows = batch.filter(hit)
        noted = zip(*(rows.column(c).to_pylist() for c in ("id", "url", "text")))
        notes = [json.dumps({"id": i, "url": u, "preview": (t or "")[:PREVIEW_CHARS]}, ensure_ascii=False)
                 for i, u, t in noted]
        for name, values in (("reason", [PREVIEW_NOTE] * rows.num_rows), ("detail", notes)):
            i = rows.schema.get_field_index(name)
            rows = rows.set_column(i, rows.schema.field(i), pa.array(values, pa.string()))
        yield rows


def fill_previews(report: Mapping, notes: list[str]) -> None:
    """Each cluster example of the report gets its URL and preview from the write's notes."""
    seen = {n["id"]: n for n in map(json.loads, notes)}  # a retried task notes its rows again
    for cluster in report["largest_clusters"]:
        for example in cluster["examples"]:
            note = seen.get(example["id"])
            if note:
                example["url"], example["preview"] = note["url"], note["preview"]


def _near_by_minhash(spark, docs, docs_in: int, cfg: Mapping, method: str, ranked, keys, survivors):
    """The near-duplicate part for `near: minhash | both`: the pairs of MinHash-LSH (and of
    SimHash with both) are the edges of one graph; its connected components are the clusters,
    one representative each by `_rank_order`. A dropped document's reason is `near_duplicate`
    where a SimHash pair touches it, `minhash_duplicate` where only MinHash pairs do; the
    outcomes get three more columns: `near_method` (simhash, minhash or both: the methods of
    the pairs touching the document), `jaccard` (the highest Jaccard of its MinHash pairs:
    exact with verification, else estimated) and `est_jaccard` (the highest estimate from the
    signatures: the share of equal values)."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from corpus.dedup.minhash import bands_of
    from corpus.dedup.minhash_spark import minhash_pairs_df

    sim_cfg = dict(cfg["simhash"])
    mh_cfg = dict(cfg["minhash"])
    k = int(sim_cfg["k"])
    layout = _layout(sim_cfg, k, docs_in)
    edges, found = [], None
    if method == "both":
        found = candidate_pairs_df(survivors.select("id", "simhash"), layout, k,
                                   int(sim_cfg["max_bucket"]))
        edges.append(found.pairs.select("id_a", "id_b", F.lit("simhash").alias("method"),
                                        F.lit(None).cast("double").alias("jaccard"),
                                        F.lit(None).cast("double").alias("est_jaccard")))
    bands = bands_of(mh_cfg)
    mh = minhash_pairs_df(docs, mh_cfg, bands, survivors.select("id"))
    edges.append(mh.pairs.select("id_a", "id_b", F.lit("minhash").alias("method"),
                                 F.coalesce("jaccard", "est_jaccard").alias("jaccard"), "est_jaccard"))
    pairs = edges[0] if len(edges) == 1 else edges[0].unionByName(edges[1])
    pairs = pairs.persist(StorageLevel.MEMORY_AND_DISK)
    clustered = _near_representatives(spark, pairs, survivors, cfg)
    ends = pairs.select(F.col("id_a").alias("id"), "method", "jaccard", "est_jaccard").unionByName(
        pairs.select(F.col("id_b").alias("id"), "method", "jaccard", "est_jaccard"))
    per_doc = ends.groupBy("id").agg(
        F.max(F.col("method") == "simhash").alias("by_simhash"),
        F.max(F.col("method") == "minhash").alias("by_minhash"),
        F.max("jaccard").alias("jaccard"), F.max("est_jaccard").alias("est_jaccard"))
    per_doc = per_doc.select(
        "id", "jaccard", "est_jaccard", "by_simhash",
        F.when(F.col("by_simhash") & F.col("by_minhash"), F.lit("both"))
         .when(F.col("by_simhash"), F.lit("simhash")).otherwise(F.lit("minhash")).alias("near_method"))

    final = (survivors.select(F.col("id").alias("exact_rep")).join(
        clustered.withColumnRenamed("id", "exact_rep"), "exact_rep", "left")
        .select("exact_rep", F.coalesce("near_rep", "exact_rep").alias("rep")))
    decisions = (ranked.select("id", "exact_rep", "simhash").join(final, "exact_rep")
                 .join(per_doc, "id", "left").select(
        "id", "simhash",
        F.when(F.col("exact_rep") != F.col("id"), F.lit("exact_duplicate"))
         .when((F.col("rep") != F.col("id")) & F.coalesce("by_simhash", F.lit(False)),
               F.lit("near_duplicate"))
         .when(F.col("rep") != F.col("id"), F.lit("minhash_duplicate")).alias("reason"),
        F.when(F.col("rep") != F.col("id"), F.col("rep")).alias("detail"),
        F.col("rep").alias("cluster_id"),
        F.when(F.col("exact_rep") == F.col("id"), F.col("near_method")).alias("near_method"),
        F.when(F.col("exact_rep") == F.col("id"), F.col("jaccard")).alias("jaccard"),
        F.when(F.col("exact_rep") == F.col("id"), F.col("est_jaccard")).alias("est_jaccard"),
    ).persist(StorageLevel.MEMORY_AND_DISK))
    sim_pairs = found.pairs if found is not None else pairs.limit(0)
    report = _report(sim_pairs, found, decisions, layout, docs_in, cfg)
    by_method = {r["method"]: int(r["count"]) for r in pairs.groupBy("method").count().collect()}
    report["near"] = method
    report["minhash"] = {
        "bands": bands.bands, "rows": bands.rows, "num_perm": bands.num_perm,
        "threshold": bands.threshold, "s_curve_midpoint": bands.midpoint,
        "false_positive_area": bands.false_positive, "false_negative_area": bands.false_negative,
        "describe": bands.describe(), "candidate_pairs": mh.candidates.count(),
        "pairs": by_method.get("minhash", 0), "verified": bool(mh_cfg.get("verify", True)),
        "capped_buckets": mh.capped_buckets(),
    }
    for done in (pairs, ranked, keys):
        done.unpersist()
    mh.release()
    if found is not None:
        found.release()
    return docs.join(decisions, "id"), report

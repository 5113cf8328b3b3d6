"""The documents the tokenizer and the token export read: a committed stage of a run (which
one: corpus.stages.tokens.source_stage).

Each document gets a seeded 64-bit key (Spark's xxhash64 of the seed and its id): the key
samples documents for the tokenizer and orders them for the export, so both depend on the
documents and the seed only, never on how the input happens to be partitioned.
"""

from __future__ import annotations

from corpus.rundir import RunDir


def documents(spark, run: RunDir, stage: str, seed: int, first_copies: bool = False):
    """The stage's documents as (id, source, topic, text, key): `topic` is the `topic` column,
    else `meta['topic']`, else null; `key` is the seeded xxhash64 of the id, and of the copy
    number too where a stage emits copies of a document as rows (balance's `repeat`), so
    copies land apart. `first_copies` keeps one row per document (the tokenizer's sample)."""
    from pyspark.sql import functions as F

    df = spark.read.parquet(run.spark_uri(stage))
    copy = ["repeat"] if "repeat" in df.columns else []
    if copy and first_copies:
        df = df.where(F.col("repeat") == 0)
    if "topic" in df.columns:
        topic = F.col("topic").cast("string")
    elif "meta" in df.columns:
        topic = F.col("meta").getItem("topic")
    else:
        topic = F.lit(None).cast("string")
    return df.select("id", "source", topic.alias("topic"), "text",
                     F.xxhash64(F.lit(int(seed)), "id", *copy).alias("key"))

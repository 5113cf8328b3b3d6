"""Which documents the tokenizer and the token export read: a committed stage of a run.

By default the last committed stage in pipeline order (dedup after clean after ingest...).
Each document gets a seeded 64-bit key (Spark's xxhash64 of the seed and its id): the key
samples documents for the tokenizer and orders them for the export, so both depend on the
documents and the seed only, never on how the input happens to be partitioned.
"""

from __future__ import annotations

from corpus.rundir import RunDir


class SourceError(RuntimeError):
    """No committed document stage to read."""


def document_stage(run: RunDir, stage: str | None = None) -> tuple[str, dict]:
    """(stage, its manifest entry): `stage`, or the last committed stage in pipeline order."""
    from corpus.pipeline import STAGE_ORDER

    committed = run.manifest()["stages"]
    if stage is None:
        known = [s for s in STAGE_ORDER if s in committed]
        if not known:
            raise SourceError(f"{run.uri} has no committed document stage (run `corpus run` first)")
        stage = known[-1]
    if stage not in committed:
        raise SourceError(f"{run.uri}: stage {stage!r} is not committed "
                          f"(committed: {', '.join(committed) or 'none'})")
    return stage, committed[stage]


def documents(spark, run: RunDir, stage: str, seed: int):
    """The stage's documents as (id, source, topic, text, key): `topic` is the `topic` column,
    else `meta['topic']`, else null; `key` is the seeded xxhash64 of the id."""
    from pyspark.sql import functions as F

    df = spark.read.parquet(run.spark_uri(stage))
    if "topic" in df.columns:
        topic = F.col("topic").cast("string")
    elif "meta" in df.columns:
        topic = F.col("meta").getItem("topic")
    else:
        topic = F.lit(None).cast("string")
    return df.select("id", "source", topic.alias("topic"), "text",
                     F.xxhash64(F.lit(int(seed)), "id").alias("key"))

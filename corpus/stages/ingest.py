"""ingest: every input file read on an executor of its own (one task per file, records
streamed) into outcome rows (corpus.ingest)."""

from __future__ import annotations

import json

from corpus.stages.base import Stage, StageResult


def body(ctx) -> StageResult:
    from corpus.schema import OUTCOME_SCHEMA

    ingest_cfg = ctx.cfg["ingest"]
    batch_rows = int(ingest_cfg["batch_rows"])

    def read_files(batches):
        from corpus.ingest.checks import tallied_batches  # outcomes, then a note: the tally

        for batch in batches:
            for kind, uri in zip(batch.column("kind").to_pylist(), batch.column("uri").to_pylist()):
                yield from tallied_batches(kind, uri, ingest_cfg, batch_rows)

    files = ctx.files
    tasks = ctx.spark.sparkContext.parallelize([(f.kind, f.uri) for f in files], max(1, len(files)))
    return StageResult(ctx.spark.createDataFrame(tasks, "kind string, uri string"),
                       per_batch=read_files, schema=OUTCOME_SCHEMA, check=check)


def check(ctx, notes: list[str]) -> None:
    """Every file's outcomes match its reader's own count; no two documents share an id."""
    from corpus.ingest.checks import check_tallies, check_unique_ids

    check_tallies(json.loads(n) for n in notes)
    staged = [ctx.run.spark_uri(ctx.run.staging(ctx.stage, name)) for name in ("docs", "dropped")]
    check_unique_ids(ctx.spark.read.parquet(*staged).select("id", "locator"))


STAGE = Stage(name="ingest", needs=(), config=("inputs", "ingest", "dropped"), body=body,
              doc="input files -> documents")

"""ingest: every input file read on an executor of its own (one task per file, records
streamed) into outcome rows (corpus.ingest)."""

from __future__ import annotations

from corpus.stages.base import Stage, StageResult


def body(ctx) -> StageResult:
    from corpus.schema import OUTCOME_SCHEMA

    ingest_cfg = ctx.cfg["ingest"]
    batch_rows = int(ingest_cfg["batch_rows"])

    def read_files(batches):
        from corpus.ingest import read_input
        from corpus.schema import to_batches

        for batch in batches:
            for kind, uri in zip(batch.column("kind").to_pylist(), batch.column("uri").to_pylist()):
                yield from to_batches(read_input(kind, uri, ingest_cfg), max_rows=batch_rows)

    files = ctx.files
    tasks = ctx.spark.sparkContext.parallelize([(f.kind, f.uri) for f in files], max(1, len(files)))
    return StageResult(ctx.spark.createDataFrame(tasks, "kind string, uri string"),
                       per_batch=read_files, schema=OUTCOME_SCHEMA)


STAGE = Stage(name="ingest", needs=(), config=("inputs", "ingest", "dropped"), body=body,
              doc="input files -> documents")

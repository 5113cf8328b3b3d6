"""ingest: every input file read on an executor of its own (one task per file, records
streamed) into outcome rows (corpus.ingest). reports/ingest.json lists, per file, the records
its reader's independent count saw and the outcomes it emitted (checked equal before the
commit)."""

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
    report: dict = {"files": []}
    return StageResult(ctx.spark.createDataFrame(tasks, "kind string, uri string"),
                       per_batch=read_files, schema=OUTCOME_SCHEMA, report=report,
                       check=lambda c, notes: check(c, notes, report))


def check(ctx, notes: list[str], report: dict) -> None:
    """Every file's outcomes match its reader's own count; no two documents share an id. The
    report lists each file's count and outcomes (reports/ingest.json)."""
    from corpus.ingest.checks import check_ids, check_tallies

    tallies = sorted((json.loads(n) for n in notes), key=lambda t: t["uri"])
    report["files"] = [{k: t.get(k) for k in ("uri", "records", "outcomes", "exact", "whole_file", "error")}
                       for t in tallies]
    check_ids(tallies)
    check_tallies(tallies)


STAGE = Stage(name="ingest", needs=(), config=("inputs", "ingest", "dropped"), body=body,
              doc="input files -> documents")

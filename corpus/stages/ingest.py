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
    listed = ctx.spark.sparkContext.broadcast([(f.kind, f.uri) for f in ctx.files])

    def read_files(batches):  # task i reads file i of the broadcast list
        from corpus.ingest.checks import tallied_batches  # outcomes, then a note: the tally

        for batch in batches:
            for i in batch.column("id").to_pylist():
                kind, uri = listed.value[i]
                yield from tallied_batches(kind, uri, ingest_cfg, batch_rows)

    # one task per file: a range has no Python in it (a parallelized Python list costs ~1 s more)
    tasks = ctx.spark.range(len(ctx.files), numPartitions=max(1, len(ctx.files)))
    report: dict = {"files": []}
    return StageResult(tasks, per_batch=read_files, schema=OUTCOME_SCHEMA, report=report,
                       check=lambda c, notes: check(c, notes, report), release=listed.unpersist)


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

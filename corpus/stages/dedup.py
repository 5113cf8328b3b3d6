"""dedup: exact, then SimHash near-duplicate removal over the cleaned documents
(corpus.dedup)."""

from __future__ import annotations

from corpus.stages.base import Stage, StageResult


def body(ctx) -> StageResult:
    from corpus.dedup.stage import dedup_outcomes_df, example_ids, fill_previews, with_previews

    docs, docs_in = ctx.read("clean")
    outcomes, report = dedup_outcomes_df(ctx.spark, docs, docs_in, ctx.cfg["dedup"])
    ids = example_ids(report)  # the report's examples: previews noted by the write, not a scan
    return StageResult(outcomes, per_batch=lambda batches: with_previews(batches, ids),
                       docs_in=docs_in, report=report, check=lambda c, notes: fill_previews(report, notes))


STAGE = Stage(name="dedup", needs=("clean",), config=("dedup", "dropped"), body=body,
              doc="exact and SimHash near-duplicate removal")

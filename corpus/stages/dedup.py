"""dedup: exact, then SimHash near-duplicate removal over the cleaned documents
(corpus.dedup)."""

from __future__ import annotations

from corpus.stages.base import Stage, StageResult


def body(ctx) -> StageResult:
    from corpus.dedup.stage import dedup_outcomes_df

    docs, docs_in = ctx.read("clean")
    outcomes, report = dedup_outcomes_df(ctx.spark, docs, docs_in, ctx.cfg["dedup"])
    return StageResult(outcomes, docs_in=docs_in, report=report)


STAGE = Stage(name="dedup", needs=("clean",), config=("dedup", "dropped"), body=body,
              doc="exact and SimHash near-duplicate removal")

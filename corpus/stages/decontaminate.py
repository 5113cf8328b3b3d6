"""decontaminate: documents sharing an n-gram with a registered evaluation set, dropped or
cut (corpus.decontam)."""

from __future__ import annotations

from corpus.stages.base import Stage, StageResult


def body(ctx) -> StageResult:
    from corpus.decontam.stage import decontaminate_outcomes_df

    docs, docs_in = ctx.read("dedup")
    outcomes, report = decontaminate_outcomes_df(ctx.spark, docs, docs_in,
                                                 ctx.cfg["decontaminate"], ctx.run)
    return StageResult(outcomes, docs_in=docs_in, report=report)


def files(cfg) -> list:
    """The benchmark registry (the benchmarks' own bytes version the index)."""
    from corpus.config import project_path

    return [project_path(cfg["decontaminate"]["registry"])]


STAGE = Stage(name="decontaminate", needs=("dedup",), config=("decontaminate", "dropped"),
              body=body, files=files, doc="17-gram overlap with registered benchmarks")

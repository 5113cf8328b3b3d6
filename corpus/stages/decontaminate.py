"""decontaminate: documents sharing an n-gram with a registered evaluation set, dropped or
cut (corpus.decontam)."""

from __future__ import annotations

from corpus.stages.base import Stage, StageResult


def body(ctx) -> StageResult:
    from corpus.decontam.stage import decontaminate_outcomes

    docs, docs_in = ctx.read("dedup")
    per_batch, schema, report, check = decontaminate_outcomes(ctx.spark, docs, docs_in,
                                                              ctx.cfg["decontaminate"])
    return StageResult(docs, per_batch=per_batch, schema=schema, docs_in=docs_in, report=report,
                       check=check)


def files(cfg) -> list:
    """The benchmark registry (the benchmarks' own bytes version the index)."""
    from corpus.config import project_path

    return [project_path(cfg["decontaminate"]["registry"])]


STAGE = Stage(name="decontaminate", needs=("dedup",), config=("decontaminate", "dropped"),
              body=body, files=files, doc="17-gram overlap with registered benchmarks")

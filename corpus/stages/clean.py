"""clean: normalization, language id, rules and the quality classifier over the ingested
documents (corpus.quality.clean)."""

from __future__ import annotations

from corpus.stages.base import Stage, StageResult


def body(ctx) -> StageResult:
    from corpus.quality.clean import CLEAN_OUTCOME_SCHEMA, clean_batches

    docs, docs_in = ctx.read("ingest")
    clean_cfg = ctx.cfg["clean"]
    return StageResult(docs, per_batch=lambda batches: clean_batches(batches, clean_cfg),
                       schema=CLEAN_OUTCOME_SCHEMA, docs_in=docs_in)


def files(cfg) -> list:
    """Rule files, word lists, the boilerplate list and the models the stage reads."""
    from corpus.config import project_path

    c = cfg["clean"]
    rules = project_path(c["rules_dir"])
    paths = sorted(p for p in rules.rglob("*") if p.is_file() and p.suffix in (".yaml", ".txt")
                   and p.name != "pipeline.yaml")
    named = [c["normalize"]["boilerplate_file"], c["classifier"]["model"], c["langid"]["model"]]
    return paths + [project_path(p) for p in named if p]


STAGE = Stage(name="clean", needs=("ingest",), config=("clean", "dropped"), body=body,
              files=files, doc="normalize, identify the language, apply rules and the classifier")

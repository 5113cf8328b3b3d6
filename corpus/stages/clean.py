"""clean: normalization, language id, rules and the quality classifier over the ingested
documents (corpus.quality.clean)."""

from __future__ import annotations

from corpus.stages.base import Stage, StageResult


def body(ctx) -> StageResult:
    from corpus.quality.clean import CLEAN_OUTCOME_SCHEMA, clean_batches

    docs, docs_in = ctx.read("ingest")
    clean_cfg, rules = ctx.cfg["clean"], ctx.cfg["rules"]
    return StageResult(docs, per_batch=lambda batches: clean_batches(batches, clean_cfg, rules),
                       schema=CLEAN_OUTCOME_SCHEMA, docs_in=docs_in)


def files(cfg) -> list:
    """The word lists, the boilerplate list and the models the stage reads (the rule sets
    themselves are settings: `rules`)."""
    from corpus.config import project_path

    c = cfg["clean"]
    paths = sorted(p for p in project_path(c["rules_dir"]).rglob("*.txt") if p.is_file())
    named = [c["normalize"]["boilerplate_file"], c["classifier"]["model"], c["langid"]["model"]]
    return paths + [project_path(p) for p in named if p]


STAGE = Stage(name="clean", needs=("ingest",), config=("clean", "rules", "dropped"), body=body,
              files=files, doc="normalize, identify the language, apply rules and the classifier")

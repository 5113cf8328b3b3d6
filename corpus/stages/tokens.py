"""tokenizer and tokens: a SentencePiece model trained on a sample of a run, and the run's
documents as packed token shards (corpus.tokens). Both read one document stage:
`tokenizer.stage` / `tokens.stage`, or by default the last committed document stage in
pipeline order."""

from __future__ import annotations

from typing import Mapping

from corpus.stages.base import Stage, StageError, StageResult


def source_stage(section: str, cfg: Mapping, committed: Mapping) -> str:
    """The document stage that `section` (tokenizer or tokens) reads."""
    from corpus.stages import document_order

    docs = document_order()
    if cfg[section].get("stage"):
        name = cfg[section]["stage"]
        if name not in docs:
            raise StageError(f"{section}.stage: {name!r} is not a document stage ({', '.join(docs)})")
        return name
    done = [s for s in docs if s in committed]
    if not done:
        raise StageError(f"{section} needs a committed document stage; run `corpus run` first")
    return done[-1]


def tokenizer_body(ctx) -> StageResult:
    from corpus.tokens.train_tokenizer import train_tokenizer

    stage = source_stage("tokenizer", ctx.cfg, ctx.run.manifest()["stages"])
    report = train_tokenizer(ctx.spark, ctx.run, ctx.cfg, stage, ctx.staging())
    return StageResult(report=report)


def tokens_body(ctx) -> StageResult:
    from corpus.tokens.export import export_tokens

    stage = source_stage("tokens", ctx.cfg, ctx.run.manifest()["stages"])
    m = export_tokens(ctx.spark, ctx.run, ctx.cfg, stage, ctx.staging())
    emitted: dict = {}  # per source, the documents and tokens of both splits: every row read is kept
    for split in (m["by_source"], (m.get("validation") or {}).get("by_source", {})):
        for source, c in split.items():
            e = emitted.setdefault(source, {"docs": 0, "tokens": 0})
            e["docs"] += c["documents"]
            e["tokens"] += c["tokens"]
    ledger = [{"source": source, "lang": None, "reason": None, "chars": 0, **e}
              for source, e in sorted(emitted.items())]
    return StageResult(report={k: v for k, v in m.items() if k != "shards"}, ledger=ledger)


def _tokens_needs(cfg, committed) -> tuple:
    own = () if cfg["tokens"].get("tokenizer") else ("tokenizer",)
    return (source_stage("tokens", cfg, committed), *own)


def _tokens_files(cfg) -> list:
    return [cfg["tokens"]["tokenizer"]] if cfg["tokens"].get("tokenizer") else []


TOKENIZER = Stage(name="tokenizer", needs=(), config=("tokenizer",), body=tokenizer_body,
                  documents=False, doc="SentencePiece model from a seeded sample",
                  needs_from=lambda cfg, committed: (source_stage("tokenizer", cfg, committed),))
TOKENS = Stage(name="tokens", needs=(), config=("tokens",), body=tokens_body, documents=False,
               files=_tokens_files, needs_from=_tokens_needs,
               doc="packed token shards for corpus.train")

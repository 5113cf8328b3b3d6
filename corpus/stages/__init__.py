"""Every step of a run, declared as a `Stage` (corpus.stages.base), and their order.

The order is topological over `needs`, ties broken by the order of declaration below; adding
a stage is declaring it in a module of this package and listing it here
(docs/architecture.md walks through it).
"""

from __future__ import annotations

from typing import Iterable, Mapping

from corpus.stages import balance, clean, decontaminate, dedup, ingest, tokens
from corpus.stages.base import Stage, StageContext, StageError, StageResult

DECLARED: list[Stage] = [ingest.STAGE, clean.STAGE, dedup.STAGE, decontaminate.STAGE, balance.STAGE,
                         tokens.TOKENIZER, tokens.TOKENS]
STAGES: dict[str, Stage] = {s.name: s for s in DECLARED}

__all__ = ["STAGES", "Stage", "StageContext", "StageError", "StageResult", "document_order",
           "order"]


def order(names: Iterable[str], cfg: Mapping, committed: Mapping) -> list[str]:
    """`names` in an order where every stage comes after the stages it needs among them."""
    names = list(dict.fromkeys(names))
    unknown = [n for n in names if n not in STAGES]
    if unknown:
        raise StageError(f"unknown stage(s) {', '.join(unknown)}; available: {', '.join(STAGES)}")
    rank = {s.name: i for i, s in enumerate(DECLARED)}
    needs = {n: [m for m in STAGES[n].requires(cfg, committed) if m in names] for n in names}
    out: list[str] = []
    while len(out) < len(names):
        ready = [n for n in names if n not in out and all(m in out for m in needs[n])]
        if not ready:
            cycle = sorted(n for n in names if n not in out)
            raise StageError(f"stages {', '.join(cycle)} need each other (a cycle in `needs`)")
        out.append(min(ready, key=rank.__getitem__))
    return out


def document_order() -> list[str]:
    """The document stages in pipeline order."""
    return order([s.name for s in DECLARED if s.documents], {}, {})

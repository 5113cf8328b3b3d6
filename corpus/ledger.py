"""The ledger: for every stage, documents and characters in, kept, and dropped by reason.

Rows are (run_id, stage, source, lang, reason, docs, chars, chars_kept, copies, tokens);
`reason` is null for kept documents. `docs` counts documents (in = kept + dropped holds for
them), `chars` their characters as the stage read them, `chars_kept` the characters of the text
it emits (0 for dropped rows; a stage that rewrites text, e.g. clean's normalization, emits a
different count than it read), so one stage's kept characters are the next one's characters in.
`copies` counts the documents emitted, repeats included (0 for dropped rows), `tokens` the
tokens emitted where a stage knows them (the token export), else null. `funnel` turns the rows of a run into the view
people and scripts read.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Iterable, Mapping

import pyarrow as pa

LEDGER_SCHEMA = pa.schema([
    pa.field("run_id", pa.string()),
    pa.field("stage", pa.string()),
    pa.field("source", pa.string()),
    pa.field("lang", pa.string()),
    pa.field("reason", pa.string()),
    pa.field("docs", pa.int64()),
    pa.field("chars", pa.int64()),
    pa.field("chars_kept", pa.int64()),
    pa.field("copies", pa.int64()),
    pa.field("tokens", pa.int64()),
])
KEY = ("source", "lang", "reason")


def ledger_table(run_id: str, stage: str, counts: Iterable[Mapping]) -> pa.Table:
    """Ledger rows from mappings with source, lang, reason, docs, chars and optionally
    chars_kept (default: chars for kept rows, 0 for dropped ones), copies (default: docs for
    kept rows, 0 for dropped ones) and tokens (default null), in a stable order."""
    rows = sorted(counts, key=lambda r: tuple("" if r[k] is None else str(r[k]) for k in KEY))
    out = []
    for r in rows:
        kept = r["reason"] is None
        out.append(dict(run_id=run_id, stage=stage, source=r["source"], lang=r["lang"],
                        reason=r["reason"], docs=int(r["docs"]), chars=int(r["chars"] or 0),
                        chars_kept=int(r.get("chars_kept", r["chars"] if kept else 0) or 0),
                        copies=int(r.get("copies", r["docs"] if kept else 0)),
                        tokens=None if r.get("tokens") is None else int(r["tokens"])))
    return pa.Table.from_pylist(out, schema=LEDGER_SCHEMA)


def funnel(rows: list[dict], stage_order: list[str]) -> list[dict]:
    """Per stage: docs/chars in and kept, drops by reason, and kept/dropped per source and lang."""
    by_stage: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_stage[r["stage"]].append(r)
    order = [s for s in stage_order if s in by_stage] + sorted(set(by_stage) - set(stage_order))
    out = []
    for stage in order:
        srows = by_stage[stage]
        reasons: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        groups: dict[tuple, dict] = {}
        kept = [0, 0]
        copies = tokens = 0
        for r in srows:
            copies += r.get("copies") or 0
            tokens += r.get("tokens") or 0
            g = groups.setdefault((r["source"], r["lang"]), {"source": r["source"], "lang": r["lang"],
                                                             "in_docs": 0, "kept_docs": 0,
                                                             "in_chars": 0, "kept_chars": 0})
            g["in_docs"] += r["docs"]
            g["in_chars"] += r["chars"]
            if r["reason"] is None:
                kept[0] += r["docs"]; kept[1] += r["chars_kept"]
                g["kept_docs"] += r["docs"]; g["kept_chars"] += r["chars_kept"]
            else:
                reasons[r["reason"]][0] += r["docs"]
                reasons[r["reason"]][1] += r["chars"]
        out.append({
            "stage": stage,
            "in_docs": sum(r["docs"] for r in srows),
            "in_chars": sum(r["chars"] for r in srows),
            "kept_docs": kept[0],
            "kept_chars": kept[1],
            "copies": copies,
            "tokens": tokens or None,
            "dropped": [{"reason": k, "docs": v[0], "chars": v[1]}
                        for k, v in sorted(reasons.items(), key=lambda kv: (-kv[1][0], kv[0]))],
            "groups": sorted(groups.values(), key=lambda g: (str(g["source"]), str(g["lang"]))),
        })
    return out


def format_funnel(stages: list[dict]) -> str:
    """A plain-text table of the funnel for people."""
    lines = []
    for s in stages:
        share = s["kept_docs"] / s["in_docs"] if s["in_docs"] else 0.0
        lines.append(f"stage {s['stage']}: {s['in_docs']:,} in -> {s['kept_docs']:,} kept "
                     f"({share:.1%}); chars {s['in_chars']:,} -> {s['kept_chars']:,}")
        if s.get("copies") and s["copies"] != s["kept_docs"]:
            lines.append(f"  emitted {s['copies']:,} copies ({s['copies'] - s['kept_docs']:+,} by repeats)")
        if s.get("tokens"):
            lines.append(f"  tokens {s['tokens']:,}")
        for d in s["dropped"]:
            lines.append(f"  dropped {d['reason']:<24} {d['docs']:>10,} docs {d['chars']:>14,} chars")
        lines.append(f"  {'source':<10} {'lang':<6} {'in':>10} {'kept':>10} {'kept chars':>14}")
        for g in s["groups"]:
            lines.append(f"  {str(g['source']):<10} {str(g['lang'] or '-'):<6} {g['in_docs']:>10,} "
                         f"{g['kept_docs']:>10,} {g['kept_chars']:>14,}")
    return "\n".join(lines)

#!/usr/bin/env python3
"""Precision/recall of the whole clean stage (normalize, language, rules, classifier) on the
labelled set of bench/quality_eval.py (see its docstring for how it was assembled and labelled).

    python bench/clean_eval.py [--per-source 100] [--json OUT]

A document counts as kept when the clean stage gives it no drop reason. Sources map to the
pipeline's: news -> news, books and poetry -> books, reviews -> forums, ChineseWebText and Common Crawl
pages -> web (so the classifier applies to them, as in a real run).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

if __package__ in (None, ""):  # run as a script: the repository root makes bench, corpus importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.quality_eval import SHARED, labelled_set  # noqa: E402

PIPELINE_SOURCE = {"news": "news", "books_zh": "books", "books_en": "books", "poetry": "books",
                   "reviews": "forums",
                   "cwt_clean": "web", "cwt_dirty": "web", "cc_junk": "web"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-source", type=int, default=100)
    ap.add_argument("--json", metavar="OUT")
    args = ap.parse_args(argv)
    if not SHARED.is_dir():
        print(f"shared data not found at {SHARED}", file=sys.stderr)
        return 2
    from corpus.config import load_config
    from corpus.quality.clean import Cleaner

    docs, _ = labelled_set(SHARED, args.per_source)
    rows = [{"id": d["id"], "source": PIPELINE_SOURCE[d["source"]], "url": d["url"],
             "locator": d["id"], "fetch_time": None, "lang": None, "lang_score": None,
             "title": None, "text": d["text"], "meta": []} for d in docs]
    out = Cleaner(load_config()["clean"]).clean(rows)
    tp = fp = fn = tn = 0
    per_source: dict[str, Counter] = {}
    for d, o in zip(docs, out):
        kept = o["reason"] is None
        per_source.setdefault(d["source"], Counter())[o["reason"] or "kept"] += 1
        if d["label"] == "lq":
            tp, fn = tp + (not kept), fn + kept
        else:
            fp, tn = fp + (not kept), tn + kept
    drop_p = tp / (tp + fp) if tp + fp else 0.0
    drop_r = tp / (tp + fn) if tp + fn else 0.0
    keep_p = tn / (tn + fn) if tn + fn else 0.0
    keep_r = tn / (tn + fp) if tn + fp else 0.0
    result = {"docs": len(docs), "drop": {"precision": drop_p, "recall": drop_r},
              "keep": {"precision": keep_p, "recall": keep_r},
              "per_source": {s: dict(c) for s, c in per_source.items()}}
    print(f"{len(docs)} labelled documents")
    print(f"drop junk: precision {drop_p:.3f} recall {drop_r:.3f}  ({tp} junk dropped, "
          f"{fn} junk kept, {fp} good dropped)")
    print(f"keep good: precision {keep_p:.3f} recall {keep_r:.3f}")
    for s, c in per_source.items():
        n = sum(c.values())
        print(f"  {s:<10} kept {c['kept'] / n:6.1%} of {n:>4}   drops: "
              + ", ".join(f"{r} {k}" for r, k in c.most_common() if r != "kept"))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

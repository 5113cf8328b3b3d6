#!/usr/bin/env python3
"""Precision/recall of a quality model on a labelled set assembled from ../shared/data.

    python bench/quality_eval.py [--model models/quality] [--per-source 100] [--json OUT]

The set (documents as the ingest readers produce them; none of these files is used to train
the shipped model, whose data is sample/ only):

  hq  news     news/sogoucs_sohu_news_sample.xml.dat (Sohu news, 2012), news/lcsts_PART_III.txt
      books    zh_classical_novels/{sanguo_yanyi,shuihu_zhuan,hongloumeng}.txt,
               en_gutenberg/{pg1342,pg2701}.txt, zh_chinese_poetry/{shijing,chuci,mengzi,
               songci_sanbaishou,guwenguanzhi}.json (xiyouji, pg84, lunyu and tangshi are in
               sample/ and train the shipped model, so they are left out here)
      reviews  forums/sophonplus_reviews/{waimai_10k,ChnSentiCorp_htl_all}.csv (user reviews:
               informal but human-written)
      cwt_clean  web/chinesewebtext_quality_fasttext/clean.jsonl (ChineseWebText's own
               "clean" examples: encyclopedia-style web text)
  lq  cwt_dirty  web/chinesewebtext_quality_fasttext/dirty.jsonl (ChineseWebText's "dirty"
               examples: menus and link lists, code, SEO pages, but also fluent articles with a
               few junk lines: their labels are stricter than ours)
      cc_junk  the pages of warc/resiliparse_CC-MAIN-2020-34_excerpt.warc.gz labelled "junk" in
               CC_LABELS below

How the CC pages were labelled: by hand, reading the text that ingest extracts from each page
(the main content, not the raw HTML), one label per URL: "junk" (spam, gambling, porn, menus,
error pages, contact blocks, keyword-injected scraped news), "ok" (fluent prose a reader would
keep), "unsure" (fluent but templated commercial/doorway pages). Only "junk" pages count; "ok"
and "unsure" pages are scored and printed but left out of the figures. The word lists of
scripts/make_quality_negatives.py were written by someone who had read these pages, so the
cc_junk figures are not independent evidence; cwt_dirty is.

Every document of at least --min-chars characters is a candidate; each source keeps at most
--per-source documents (a seeded sample by id), so no source dominates. A document counts as
hq when P(hq) >= --threshold (0.5).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"

# url -> label, from reading each extracted page (see the module docstring).
CC_LABELS = {
    "http://003338.cn/l41/481397.html": "junk",  # scraped news salad, mojibake keyword, 【】 per char
    "http://01spb.ru/company/": "ok",                     # Russian fire-safety company description, fluent
    "http://035.psb556.com/24/i/u_1090813/article.html": "junk",  # car-site 404 text with a betting ad
    "http://037426.cn/": "unsure",                        # trading company brochure, broken English, phone/fax
    "http://041696.com/15477/list_6_4.html": "junk",      # steel plate price list, phone numbers
    "http://044545.com/topic/20200207/015849.html": "junk",  # Mark Six lottery tips, QQ numbers
    "http://0513mt.com/index.php/art/detail/id/8884.html": "junk",  # pornographic story
    "http://05925.net/index.php/vod/type/id/53.html": "junk",  # porn site breadcrumb
    "http://06.live-radsport.ch/fahrerstatistik_801/Anthony_Ravard.html": "junk",  # database error
    "http://0615235.com/02mjqjo%7Bibotij2.btq?odmbtt=106&tdmbtt=121": "junk",  # addresses and phones only
    "http://0755krk.com/76104/list_4_1.html": "junk",     # table header only
    "http://0760.jxtdw.com/area/sanxiang/": "junk",       # job-site hotline only
    "http://077678u.info/erxiaoshujinguang/list_6_2.html": "junk",  # lottery-tips site breadcrumb
    "http://0900-hovenier.nl/gelderland/oosterbeek/": "unsure",  # gardener doorway page per town, fluent Dutch
}

SOURCES = [
    # (label, source name, spec)
    ("hq", "news", "news:{S}/news/sogoucs_sohu_news_sample.xml.dat"),
    ("hq", "news", "news:{S}/news/lcsts_PART_III.txt"),
    ("hq", "books_zh", "books:{S}/books/zh_classical_novels/sanguo_yanyi.txt"),
    ("hq", "books_zh", "books:{S}/books/zh_classical_novels/shuihu_zhuan.txt"),
    ("hq", "books_zh", "books:{S}/books/zh_classical_novels/hongloumeng.txt"),
    ("hq", "books_en", "books:{S}/books/en_gutenberg/pg1342.txt"),
    ("hq", "books_en", "books:{S}/books/en_gutenberg/pg2701.txt"),
    ("hq", "poetry", "books:{S}/books/zh_chinese_poetry/shijing.json"),
    ("hq", "poetry", "books:{S}/books/zh_chinese_poetry/chuci.json"),
    ("hq", "poetry", "books:{S}/books/zh_chinese_poetry/mengzi.json"),
    ("hq", "poetry", "books:{S}/books/zh_chinese_poetry/songci_sanbaishou.json"),
    ("hq", "poetry", "books:{S}/books/zh_chinese_poetry/guwenguanzhi.json"),
    ("hq", "reviews", "forums:{S}/forums/sophonplus_reviews/waimai_10k.csv"),
    ("hq", "reviews", "forums:{S}/forums/sophonplus_reviews/ChnSentiCorp_htl_all.csv"),
    ("hq", "cwt_clean", "jsonl:{S}/web/chinesewebtext_quality_fasttext/clean.jsonl"),
    ("lq", "cwt_dirty", "jsonl:{S}/web/chinesewebtext_quality_fasttext/dirty.jsonl"),
    ("cc", "cc", "warc:{S}/warc/resiliparse_CC-MAIN-2020-34_excerpt.warc.gz"),
]


def labelled_set(shared: Path = SHARED, per_source: int = 100, min_chars: int = 10,
                 seed: int = 1) -> tuple[list[dict], list[dict]]:
    """(labelled documents, CC pages not labelled junk); each doc: label, source, id, url, text."""
    from corpus.config import load_config
    from corpus.quality.training_data import read_spec_documents

    cfg = load_config()
    by_source: dict[str, list[dict]] = {}
    others = []
    for label, source, spec in SOURCES:
        for row in read_spec_documents(spec.format(S=shared), cfg):
            if len(row["text"]) < min_chars:
                continue
            doc = {"label": label, "source": source, "id": row["id"], "url": row.get("url"),
                   "text": row["text"], "lang": row.get("lang")}
            if label == "cc":
                cc = CC_LABELS.get(row.get("url") or "", "unsure")
                if cc != "junk":
                    others.append({**doc, "label": cc})
                    continue
                doc.update(label="lq", source="cc_junk")
            by_source.setdefault(doc["source"], []).append(doc)
    docs = []
    for source, items in by_source.items():
        items.sort(key=lambda d: hashlib.sha256(f"{seed}:{d['id']}".encode()).hexdigest())
        docs.extend(items[:per_source])
    return docs, others


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(REPO / "models" / "quality"),
                    help="model file, or a folder with model.ftz/model.bin (default: the shipped one)")
    ap.add_argument("--shared", type=Path, default=SHARED)
    ap.add_argument("--per-source", type=int, default=100)
    ap.add_argument("--min-chars", type=int, default=10)
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--json", metavar="OUT", help="also write the figures as JSON")
    ap.add_argument("--show", action="store_true", help="print the misclassified documents")
    args = ap.parse_args(argv)
    if not args.shared.is_dir():
        print(f"shared data not found at {args.shared}", file=sys.stderr)
        return 2
    from corpus.quality.evaluate import metrics
    from corpus.quality.model import QualityModel

    model = QualityModel.load(args.model)
    docs, others = labelled_set(args.shared, args.per_source, args.min_chars)
    t0 = time.time()
    scores = model.score_many([d["text"] for d in docs], [d["lang"] for d in docs])
    secs = time.time() - t0
    other_scores = model.score_many([d["text"] for d in others], [d["lang"] for d in others])
    result = metrics([d["label"] for d in docs], scores, args.threshold)
    per_source: dict[str, dict] = {}
    for d, s in zip(docs, scores):
        e = per_source.setdefault(d["source"], {"label": d["label"], "n": 0, "sum": 0.0, "as_hq": 0})
        e["n"] += 1
        e["sum"] += s
        e["as_hq"] += s >= args.threshold
    for e in per_source.values():
        e["mean_p_hq"] = round(e.pop("sum") / e["n"], 4)
        e["share_as_hq"] = round(e["as_hq"] / e["n"], 4)
    out = {
        "model": args.model, "threshold": args.threshold, "per_source_cap": args.per_source,
        "min_chars": args.min_chars, "docs": len(docs), "score_seconds": round(secs, 3),
        "docs_per_second": round(len(docs) / secs, 1),
        "metrics": result, "per_source": per_source,
        "cc_pages": sorted(
            [{"url": d["url"], "label": "junk", "p_hq": round(s, 4)}
             for d, s in zip(docs, scores) if d["source"] == "cc_junk"]
            + [{"url": d["url"], "label": d["label"], "p_hq": round(s, 4)}
               for d, s in zip(others, other_scores)], key=lambda p: p["url"] or ""),
    }
    print(f"model {args.model}: {len(docs)} labelled docs, scored in {secs:.2f}s "
          f"({len(docs) / secs:.0f} docs/s; tokenization included)")
    print(f"{'source':<10} {'label':<5} {'n':>4} {'mean P(hq)':>10} {'as hq':>7}")
    for source, e in per_source.items():
        print(f"{source:<10} {e['label']:<5} {e['n']:>4} {e['mean_p_hq']:>10.3f} {e['share_as_hq']:>7.1%}")
    for label in ("hq", "lq"):
        m = result[label]
        print(f"class {label}: precision {m['precision']:.3f} recall {m['recall']:.3f} "
              f"F1 {m['f1']:.3f} (support {m['support']})")
    o = result["overall"]
    print(f"overall: macro F1 {o['macro_f1']:.3f} accuracy {o['accuracy']:.3f} ROC AUC {o['roc_auc']}")
    print("CC excerpt pages (hand label, P(hq)):")
    for p in out["cc_pages"]:
        print(f"  {p['label']:<6} {p['p_hq']:.3f}  {p['url']}")
    if args.show:
        for d, s in zip(docs, scores):
            if (s >= args.threshold) != (d["label"] == "hq"):
                print(f"--- {d['source']} {d['label']} P(hq)={s:.3f} {d['url'] or d['id']}")
                print("   ", d["text"][:200].replace("\n", " | "))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Compare HTML main-content extractors on the labelled pages in shared/data/extraction.

Sets:
  en  scrapinghub-article-extraction-benchmark: html/<sha256>.html.gz + ground-truth.json
  zh  chinese-web-content-extraction-dataset: original/<uuid>.html + cleaned/<uuid>.txt

Score: bag-of-tokens precision / recall / F1 against the ground truth, macro-averaged over
pages. Tokens are single CJK characters and lowercased runs of other letters/digits.
Speed: pages per second of extraction alone (input already decoded), one process.
"blocks" is corpus.ingest.extract.extract() with its defaults; the others are baselines.

    python bench/extraction.py [--repeat N] [--json] [--only NAME ...] [--pages] [--data DIR]
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):  # run as a script: the repository root makes bench, corpus importable
    sys.path.insert(0, str(ROOT))

from corpus.text import cjk  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "extraction"

_CJK = cjk.char_class("radicals", *cjk.KANA_BLOCKS, "bopomofo", "ext_a", "unified", "hangul_syllables",
                      "compat_ideographs")
_TOKEN = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+")


def tokens(text: str) -> Counter:
    """Bag of tokens: each CJK character, each lowercased run of other letters/digits."""
    return Counter(_TOKEN.findall(text.lower()))


def prf(pred: str, truth: str) -> tuple[float, float, float]:
    """Bag-of-tokens precision, recall, F1 of `pred` against `truth` (all 0 when exactly one
    of them has no tokens, all 1 when neither has)."""
    p, t = tokens(pred or ""), tokens(truth)
    if not p or not t:
        return (1.0, 1.0, 1.0) if not p and not t else (0.0, 0.0, 0.0)
    common = sum((p & t).values())
    prec, rec = common / sum(p.values()), common / sum(t.values())
    return prec, rec, (2 * prec * rec / (prec + rec) if common else 0.0)


# --- data -------------------------------------------------------------------------------

_WRAPPER = re.compile(rb"\A\s*<text\b[^>]*>")
_CHARSET = re.compile(rb"""(?:charset|encoding)\s*=\s*["']?\s*([\w-]+)""", re.I)


def decode(raw: bytes) -> str:
    """Bench-only decoding: drop the dataset's `<text ...>` wrapper line, then the declared
    charset (gb2312/gbk read as gb18030), else UTF-8, else gb18030 when UTF-8 fails."""
    m = _WRAPPER.match(raw)
    if m:
        raw = raw[m.end():]
        if raw.rstrip().endswith(b"</text>"):
            raw = raw.rstrip()[:-7]
    declared = _CHARSET.search((m.group(0) if m else b"") + raw[:4096])
    enc = declared.group(1).decode().lower() if declared else ""
    if enc in ("gb2312", "gbk", "gb18030", "x-gbk"):
        return raw.decode("gb18030", "replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("utf-8" if enc.startswith("utf") else "gb18030", "replace")


def load_en(data: Path) -> list[tuple[str, str, str]]:
    """(id, html, truth) for the scrapinghub benchmark."""
    base = data / "scrapinghub-article-extraction-benchmark"
    truth = json.loads((base / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for path in sorted((base / "html").glob("*.html.gz")):
        key = path.name[: -len(".html.gz")]
        pages.append((key, decode(gzip.decompress(path.read_bytes())), truth[key]["articleBody"]))
    return pages


def load_zh(data: Path) -> list[tuple[str, str, str]]:
    """(id, html, truth) for the Chinese set; original/X.html pairs with cleaned/X.txt."""
    base = data / "chinese-web-content-extraction-dataset"
    pages = []
    for path in sorted((base / "original").glob("*.html")):
        truth = (base / "cleaned" / f"{path.stem}.txt").read_text(encoding="utf-8")
        pages.append((path.stem, decode(path.read_bytes()), truth))
    return pages


# --- candidates -------------------------------------------------------------------------


def candidates() -> dict[str, Callable[[str], str]]:
    """name -> function(html) -> main text. trafilatura is left out when not installed."""
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    from corpus.ingest.extract import extract

    def resili(**kw):
        return lambda html: extract_plain_text(HTMLTree.parse(html), main_content=True, **kw)

    found = {
        "blocks": lambda html: extract(html)[1],
        "resiliparse_all_text": lambda html: extract_plain_text(HTMLTree.parse(html), preserve_formatting=True),
        "resiliparse": resili(),
        "resiliparse_fmt": resili(preserve_formatting=True, list_bullets=False, alt_texts=False),
        "resiliparse_fmt_nocomments": resili(
            preserve_formatting=True, list_bullets=False, alt_texts=False, comments=False),
    }
    try:
        import trafilatura
    except ImportError as exc:  # e.g. lxml without lxml_html_clean
        print(f"trafilatura left out: {exc}", file=sys.stderr)
        return found

    def trafi(**kw):
        return lambda html: trafilatura.extract(html, **kw) or ""

    found.update(trafilatura=trafi(), trafilatura_precision=trafi(favor_precision=True),
                 trafilatura_recall=trafi(favor_recall=True))
    return found


def run(name, fn, pages, repeat):
    """Score one candidate on one set; speed from the fastest of `repeat` timed passes
    (the fastest pass is the least disturbed by other load on the machine)."""
    outs = [fn(html) for _, html, _ in pages]  # also warms up imports and caches
    secs = float("inf")
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        for _, html, _ in pages:
            fn(html)
        secs = min(secs, time.perf_counter() - start)
    scores = [prf(out, truth) for out, (_, _, truth) in zip(outs, pages)]
    n = len(pages)
    return {
        "method": name,
        "set": None,
        "pages": n,
        "precision": sum(s[0] for s in scores) / n,
        "recall": sum(s[1] for s in scores) / n,
        "f1": sum(s[2] for s in scores) / n,
        "pages_per_s": n / secs if secs else float("inf"),
        "per_page": {key: s for (key, _, _), s in zip(pages, scores)},
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3, help="timed passes over each set; the fastest counts (default 3)")
    ap.add_argument("--data", type=Path, default=DATA, help="extraction data folder")
    ap.add_argument("--only", nargs="*", help="run only these candidates")
    ap.add_argument("--json", action="store_true", help="print JSON rows instead of a table")
    ap.add_argument("--pages", action="store_true", help="also print per-page F1")
    args = ap.parse_args(argv)

    if not args.data.is_dir():
        sys.exit(f"no extraction data at {args.data} (see --data)")
    sets = {"en": load_en(args.data), "zh": load_zh(args.data)}
    found = candidates()
    for name in set(args.only or ()) - set(found):
        print(f"unknown candidate {name!r}; known: {', '.join(found)}", file=sys.stderr)
    rows = []
    for name, fn in found.items():
        if args.only and name not in args.only:
            continue
        for set_name, pages in sets.items():
            row = run(name, fn, pages, args.repeat)
            row["set"] = set_name
            rows.append(row)
    base = {r["set"]: r["pages_per_s"] for r in rows if r["method"] == "trafilatura"}
    for r in rows:  # speed relative to trafilatura (defaults) on the same set, when it ran
        r["x_trafilatura"] = r["pages_per_s"] / base[r["set"]] if r["set"] in base else None
    if args.json:
        for row in rows:
            if not args.pages:
                row.pop("per_page")
        print(json.dumps(rows, indent=1))
        return
    print(f"{'method':28} {'set':3} {'pages':>5} {'P':>6} {'R':>6} {'F1':>6} {'pages/s':>9} {'x traf':>7}")
    for r in rows:
        ratio = f"{r['x_trafilatura']:7.1f}" if r["x_trafilatura"] is not None else f"{'-':>7}"
        print(f"{r['method']:28} {r['set']:3} {r['pages']:5d} {r['precision']:6.3f} "
              f"{r['recall']:6.3f} {r['f1']:6.3f} {r['pages_per_s']:9.1f} {ratio}")
    if args.pages:
        for r in rows:
            for key, (p, rc, f) in r["per_page"].items():
                print(f"{r['method']}\t{r['set']}\t{key[:12]}\t{p:.3f}\t{rc:.3f}\t{f:.3f}")


if __name__ == "__main__":
    main()

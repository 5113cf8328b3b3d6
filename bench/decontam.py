"""Decontamination throughput and index size: corpus.decontam vs a straightforward Python
implementation (a set of n-gram strings), same documents, same benchmarks, same run.

    python bench/decontam.py [--shared DIR] [--repeat R] [--plant N] [--json]

Benchmarks: every one in the default registry (rules/benchmarks.yaml: all of
../shared/data/benchmarks). Documents: the books, news, forums and web text of ../shared/data
read with corpus.ingest.read_input (what the ingest stage makes of them), plus --plant
documents (default 50) that each carry one evaluation item, so both engines have matches to
find. Documents go in Arrow batches of 1,024 rows, as in the Spark stage.

  ours      corpus.decontam.stage.scan_batch: fold tables, tokens, 17-gram keys and the
            screen for whole short items, bitmap + binary search in the index; the pass the
            stage runs over every document. (Resolving items and cutting run only on matched
            documents: timed separately, `apply`.)
  python    per document: NFKC, lower case, OpenCC t2s (phrase level), tokens by one regular
            expression (a CJK character, or a run of other letters/digits), then every
            " ".join of 17 consecutive tokens looked up in a set of the benchmarks' 17-gram
            strings. It does not look for whole short items, so it does less than ours.

MB/s per core = UTF-8 megabytes of text / CPU seconds (user + sys) of the timed pass, one
process; --repeat keeps the fastest pass of each. Index size: ours is the numpy bytes (keys
+ bitmap), the baseline's the bytes tracemalloc sees allocated while its set is built.
"""

import argparse
import json
import os
import re
import sys
import time
import tracemalloc
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
if __package__ in (None, ""):  # run as a script: the repository root makes bench, corpus importable
    sys.path.insert(0, REPO)

from corpus.decontam.fold import CJK_PIECES  # noqa: E402
from corpus.text import cjk  # noqa: E402

CJK = cjk.char_class(*CJK_PIECES)  # the stage's CJK tokens
TOKEN = re.compile(f"[{CJK}]|[^\\W_{CJK}]+")
SHARED_INPUTS = [("books", "books"), ("news", "news"), ("forums", "forums"),
                 ("jsonl", "web/chinesewebtext_CC-MAIN-2021-43_cleared1.jsonl")]
BATCH_ROWS = 1024


def shared_documents(shared: str) -> list[tuple[str, str]]:
    """(locator, text) of the shared books, news, forums and web data, as the ingest stage
    reads them."""
    from corpus.config import load_config
    from corpus.ingest import read_input
    from corpus.inputs import list_inputs

    cfg = load_config(overrides=["ingest.jsonl.text_field=raw_content"])["ingest"]
    docs = []
    for kind, rel in SHARED_INPUTS:
        for f in list_inputs([f"{kind}:{os.path.join(shared, rel)}"]):
            docs += [(r["locator"], r["text"]) for r in read_input(f.kind, f.uri, cfg) if not r["reason"]]
    return docs


class PythonBaseline:
    """The straightforward implementation: n-gram strings in a set."""

    def __init__(self, n: int):
        import opencc

        self.n, self.cc, self.ngrams = n, opencc.OpenCC("t2s"), set()

    def tokens(self, text: str) -> list[str]:
        return TOKEN.findall(self.cc.convert(unicodedata.normalize("NFKC", text).lower()))

    def add(self, text: str) -> None:
        toks = self.tokens(text)
        self.ngrams.update(" ".join(toks[i:i + self.n]) for i in range(len(toks) - self.n + 1))

    def matches(self, text: str) -> bool:
        toks = self.tokens(text)
        return any(" ".join(toks[i:i + self.n]) in self.ngrams for i in range(len(toks) - self.n + 1))


def best_of(repeat: int, fn):
    best = None
    for _ in range(repeat):
        c0, w0 = time.process_time(), time.perf_counter()
        out = fn()
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        if best is None or cpu < best[0]:
            best = (cpu, wall, out)
    return best


def main() -> None:
    import numpy as np
    import pyarrow as pa

    from corpus.config import load_config
    from corpus.decontam.fold import tables
    from corpus.decontam.registry import load_registry
    from corpus.decontam.stage import (EXAMPLES_FIELD, OUTCOME_FIELDS, apply_batch, prepare_index, scan_batch,
                                       settings)
    from corpus.schema import DOC_SCHEMA

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", default=os.path.join(os.path.dirname(REPO), "shared", "data"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--plant", type=int, default=50)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    s = settings(load_config()["decontaminate"])
    reg = load_registry(s.registry)
    items = [i for b in reg.benchmarks for i in reg.items(b.name)]
    texts = [text for _, text in shared_documents(args.shared)]
    step = max(len(items) // max(args.plant, 1), 1)
    for k, item in enumerate(items[::step][:args.plant]):  # one item in the middle of a document
        host = texts[(k * 7919) % len(texts)]
        texts.append(host[:len(host) // 2] + "\n" + item.text + "\n" + host[len(host) // 2:])
    mbytes = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    rows = [{"id": f"{i:08d}", "source": "bench", "url": None, "locator": str(i), "fetch_time": None, "lang": None,
             "lang_score": None, "title": None, "text": t, "meta": []} for i, t in enumerate(texts)]
    batches = [pa.RecordBatch.from_pylist(rows[i:i + BATCH_ROWS], schema=DOC_SCHEMA)
               for i in range(0, len(rows), BATCH_ROWS)]

    c0 = time.process_time()
    t = tables()
    tables_cpu = time.process_time() - c0
    c0 = time.process_time()
    index, item_keys, info = prepare_index(s)
    build_cpu = time.process_time() - c0
    scan_cpu, scan_wall, scanned = best_of(args.repeat, lambda: [scan_batch(b, index, t) for b in batches])
    ours_hits = set()
    for b in scanned:
        lengths = b.column("decontam_keys").value_lengths().to_numpy(zero_copy_only=False)
        ours_hits.update(np.array(b.column("id").to_pylist())[lengths > 0].tolist())
    matched = [b.filter(pa.compute.greater(b.column("decontam_keys").value_lengths(), 0)) for b in scanned]
    keys = np.unique(np.concatenate([np.array(m.column("decontam_keys").flatten(), dtype=np.int64) for m in matched]))
    c0 = time.process_time()
    owners = item_keys.owners(keys.view(np.uint64))
    names = item_keys.names(owners)
    out_schema = pa.schema(list(DOC_SCHEMA) + OUTCOME_FIELDS + [EXAMPLES_FIELD])
    for m in matched:
        apply_batch(m, owners, names, s, out_schema)
    apply_cpu = time.process_time() - c0

    base = PythonBaseline(s.n)
    tracemalloc.start()
    c0 = time.process_time()
    for item in items:
        base.add(item.text)
    base_build_cpu = time.process_time() - c0
    base_bytes = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    base_cpu, base_wall, base_flags = best_of(args.repeat, lambda: [base.matches(x) for x in texts])
    base_hits = {rows[i]["id"] for i, hit in enumerate(base_flags) if hit}

    result = {
        "documents": len(texts), "megabytes": round(mbytes, 2), "planted": min(args.plant, len(items)),
        "items": len(items), "benchmarks": [b.name for b in reg.benchmarks],
        "ours": {"scan_cpu_s": scan_cpu, "scan_wall_s": scan_wall, "mb_per_cpu_s": mbytes / scan_cpu,
                 "docs_matched": len(ours_hits), "apply_cpu_s_matched_docs": apply_cpu,
                 "fold_tables_cpu_s": tables_cpu, "index_build_cpu_s": build_cpu,
                 "index_keys": info["ngrams"] + info["whole_item_keys"], "index_bytes": info["bytes_in_memory"],
                 "bytes_per_key": info["bytes_in_memory"] / max(info["ngrams"] + info["whole_item_keys"], 1)},
        "python": {"scan_cpu_s": base_cpu, "scan_wall_s": base_wall, "mb_per_cpu_s": mbytes / base_cpu,
                   "docs_matched": len(base_hits), "index_build_cpu_s": base_build_cpu,
                   "index_keys": len(base.ngrams), "index_bytes": base_bytes,
                   "bytes_per_key": base_bytes / max(len(base.ngrams), 1)},
        "agreement": {"both": len(ours_hits & base_hits), "ours_only": sorted(ours_hits - base_hits),
                      "python_only": sorted(base_hits - ours_hits)},
    }
    result["speedup"] = result["ours"]["mb_per_cpu_s"] / result["python"]["mb_per_cpu_s"]
    result["ours"]["gb_per_100m_keys"] = result["ours"]["bytes_per_key"] * 1e8 / 1e9
    result["python"]["gb_per_100m_keys"] = result["python"]["bytes_per_key"] * 1e8 / 1e9
    if args.json:
        print(json.dumps(result, indent=2))
        return
    o, p = result["ours"], result["python"]
    print(f"{result['documents']:,} documents, {result['megabytes']:.1f} MB of text "
          f"({result['planted']} planted items); "
          f"{result['items']:,} evaluation items of {', '.join(result['benchmarks'])}")
    print(f"{'engine':10s} {'scan cpu s':>10s} {'MB/cpu-s':>9s} {'docs hit':>8s} {'index keys':>11s} "
          f"{'index MB':>9s} {'B/key':>6s} {'GB/100M keys':>12s} {'build cpu s':>11s}")
    for name, r in (("ours", o), ("python", p)):
        print(f"{name:10s} {r['scan_cpu_s']:10.2f} {r['mb_per_cpu_s']:9.2f} {r['docs_matched']:8d} "
              f"{r['index_keys']:11,d} "
              f"{r['index_bytes'] / 1e6:9.1f} {r['bytes_per_key']:6.1f} {r['gb_per_100m_keys']:12.2f} "
              f"{r['index_build_cpu_s']:11.2f}")
    print(f"ours / python: {result['speedup']:.1f}x MB per CPU-second; "
          f"fold tables {o['fold_tables_cpu_s']:.2f} s once per process; "
          f"apply on the {o['docs_matched']} matched documents {o['apply_cpu_s_matched_docs']:.2f} s")
    a = result["agreement"]
    print(f"documents both flag: {a['both']}; only ours: {len(a['ours_only'])}; only python: {len(a['python_only'])}")


if __name__ == "__main__":
    main()

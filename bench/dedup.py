"""Dedup benchmarks: fingerprint throughput against reference implementations, and the whole
dedup stage on Spark local mode at 100k and 1M documents.

    python bench/dedup.py [--sizes N ...] [--skip-fingerprint] [--skip-stage] [--json]
                          [--shared DIR] [--workdir DIR] [--per-group N] [--repeat R]
                          [--master local[2]] [--driver-memory 8g] [--seed S] [--no-plan]
                          [--conf SPARK_KEY=VALUE]... [--set PIPELINE.KEY=VALUE]...

(a) Fingerprints per second per core, one process, the same real documents in the same order
    (a seeded sample of at most --per-group documents of every file under ../shared/data/{books,
    news,forums,web,warc} as the ingest readers cut them: book chapters, poems, news articles,
    reviews and dialogues, web pages; exact duplicate texts kept once; Chinese and English):

      ours/simhash        corpus.dedup.simhash.simhash_batch(texts, shingle=3, min_features=16)
                          over batches of 1,024 documents (as the stage's Arrow batches)
      ours/Fingerprinter  corpus.dedup.fingerprint.Fingerprinter(cfg).batch (OpenCC t2s first)
      python simhash      a plain pure-Python SimHash: the same tokens (each CJK character, each
                          run of other letters/digits, one regex), 3-token shingles, xxhash.xxh64
                          per distinct shingle, raw term-frequency weights, a Python loop over
                          the 64 bits of every feature
      datasketch          MinHash(num_perm=128) per document over the same shingles (UTF-8
                          bytes), one update_batch per document; "datasketch bulk" is the same
                          through MinHash.bulk, which reuses the permutations (the fair use).

    Per core = documents per CPU second of this process (BLAS threads pinned to 1), the best of
    --repeat passes; wall seconds are printed too.

(a') MinHash signatures per core (bench_minhash): ours with hash=fast and hash=sha1 against
    datasketch's MinHash.update_batch (one per document) and MinHash.bulk, same num_perm, seed,
    scheme and shingles (dedup.minhash); the sha1 signatures are checked equal to datasketch's.
    Runs with (a), or alone with --minhash-only.

(b) The dedup stage, as `corpus run --stages dedup` runs it: a run directory with a committed
    `clean` stage (Parquet in CLEAN_DOC_SCHEMA) is made, then `corpus.pipeline.run_stage(ctx,
    "dedup")` is timed: `dedup_outcomes_df`, the outcome counts, writing kept and dropped
    documents, the ledger, the report, and the manifest (sha256 of every file). Spark local
    mode (--master, default local[2]), the project's Spark settings plus --driver-memory, --conf
    and the UI (for the metrics below; no console progress); each size runs in a fresh process
    (its own JVM), its Spark log in WORKDIR/stage-N.log.

    Documents (deterministic, --seed): real text cut into units (paragraphs; long paragraphs cut
    into sentence runs of at most ~400 characters; every unit once) from the shared books
    (Chinese novels and classics, poetry, Gutenberg English), news (LCSTS, SogouCS), forums
    (hotel and takeaway reviews, LCCC dialogues), ChineseWebText and the WARC pages. A base
    document draws a pool (weighted, Chinese first: ~84% zh) and a length (log-normal, median
    ~600 characters, 120..8,000) and joins random units of that pool (in random order) up to
    that length, so unplanted documents share at most a unit or two. Planted among them, each
    pointing at an earlier base document of the same 50,000-document chunk: 5% exact duplicates
    (half byte-identical, half with case/whitespace changes that the exact key removes) and 15%
    near duplicates, evenly of four kinds: 1-3% random character edits, 1-3 inserted
    boilerplate lines, paragraphs (or sentences) reordered, simplified->traditional (OpenCC
    s2t; Chinese bases only). quality_score is seeded random, signals empty, meta empty.
    Generated once per size under --workdir and reused.

    Measured: wall seconds of run_stage, documents per second, CPU seconds and peak resident
    memory of the whole process tree (driver, JVM, Python workers; sampled every 0.5 s, see
    TreeCpu), the load average, and
    from Spark's status API the stages run: input, shuffle written/read (bytes and records), spills, and the largest
    memory/disk footprint of persisted data seen while the stage ran (polled every second).
    Also the (table, key) rows = documents x tables of the layout, and the candidate-pairs
    physical plan (`explain()`), checked for driver-side collection.

Commands:

    python bench/dedup.py --skip-stage                                                   # (a)
    python bench/dedup.py --skip-fingerprint --sizes 100000 1000000                      # (b)
    python bench/dedup.py --minhash-only --skip-stage                                    # (a')
    python bench/dedup.py --skip-fingerprint --sizes 100000 --set dedup.near=minhash     # (b), MinHash

Results, the memory needed per 100M documents and what they mean: bench/README.md.
"""

from __future__ import annotations

import os

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")  # per-core figures; set before numpy loads

import argparse
import collections
import json
import math
import random
import re
import shutil
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
if __package__ in (None, ""):  # run as a script: the repository root makes bench, corpus importable
    sys.path.insert(0, REPO)

from corpus.dedup.simhash import CJK_PIECES  # noqa: E402
from corpus.text import cjk  # noqa: E402

SHARED = os.path.join(os.path.dirname(REPO), "shared", "data")
SHARED_INPUTS = ["books:books", "news:news", "forums:forums",
                 "jsonl:web/chinesewebtext_CC-MAIN-2021-43_cleared1.jsonl", "warc:warc"]
SKIP_NAMES = ("LICENSE", "GUTENBERG_LICENSE_NOTE")
CHUNK = 50_000  # documents per generated Parquet file; planted copies stay inside a chunk
GEN_VERSION = 1  # bump when the generator changes (regenerates cached inputs)

CJK = cjk.char_class(*(p for p in CJK_PIECES if p != "plane2_han"))  # our simhash's CJK, without plane 2
_CJK_RE = re.compile(f"[{CJK}]")
_LETTER_RE = re.compile(r"[^\W\d_]")


# --- real documents --------------------------------------------------------------------------

def lang_of(text: str) -> str:
    """zh when at least 30% of the letters are CJK (the clean stage's rule of thumb), else en."""
    letters = len(_LETTER_RE.findall(text))
    return "zh" if letters and len(_CJK_RE.findall(text)) >= 0.3 * letters else "en"


def shared_documents(shared: str = SHARED) -> dict[str, list[dict]]:
    """{group: [{"source", "group", "lang", "text"}]} of every kept document the ingest readers
    produce from the shared data (one group per input file), exact duplicate texts once."""
    from corpus.config import load_config
    from corpus.dedup.fingerprint import exact_key
    from corpus.ingest import read_input
    from corpus.inputs import list_inputs

    cfg = load_config()["ingest"]
    groups, seen = {}, set()
    for spec in SHARED_INPUTS:
        kind, _, rel = spec.partition(":")
        for f in list_inputs([f"{kind}:{os.path.join(shared, rel)}"]):
            if os.path.basename(f.uri).startswith(SKIP_NAMES):
                continue
            c = cfg
            if f.kind == "jsonl":  # ChineseWebText: text in raw_content
                c = {**cfg, "jsonl": {**cfg["jsonl"], "text_field": "raw_content", "source": "web"}}
            rows = []
            for r in read_input(f.kind, f.uri, c):
                if r["reason"] is not None or not r["text"].strip():
                    continue
                key = exact_key(r["text"])
                if key in seen:
                    continue
                seen.add(key)
                rows.append({"source": r["source"], "group": os.path.relpath(f.uri, shared),
                             "lang": lang_of(r["text"]), "text": r["text"]})
            if rows:
                groups[os.path.relpath(f.uri, shared)] = rows
    if not groups:
        raise SystemExit(f"no documents under {shared}")
    return groups


_SENT_END = re.compile(r"(?<=[。！？!?；;])|(?<=[.](?=\s))")


def split_units(text: str, max_chars: int = 400) -> list[str]:
    """Paragraphs of a text; a paragraph longer than max_chars cut into runs of sentences of at
    most ~max_chars characters."""
    out = []
    for para in text.split("\n"):
        para = para.strip()
        if not para:
            continue
        if len(para) <= max_chars:
            out.append(para)
            continue
        run = ""
        for sent in _SENT_END.split(para):
            if run and len(run) + len(sent) > max_chars:
                out.append(run.strip())
                run = ""
            run += sent
        if run.strip():
            out.append(run.strip())
    return out


# --- (a) fingerprint throughput --------------------------------------------------------------

_TOKEN = re.compile(f"[{CJK}]|[^\\W_{CJK}]+")


def py_shingles(text: str, n: int = 3) -> list[str]:
    """Word 3-shingles, where a CJK character is a word (the features our simhash uses)."""
    toks = _TOKEN.findall(text.lower())
    if len(toks) <= n:
        return [" ".join(toks)] if toks else []
    return [" ".join(toks[i:i + n]) for i in range(len(toks) - n + 1)]


def py_simhash(text: str) -> int:
    """A plain pure-Python 64-bit SimHash: xxh64 per shingle, term-frequency weights."""
    import xxhash

    counts = collections.Counter(py_shingles(text))
    v = [0] * 64
    for feature, weight in counts.items():
        h = xxhash.xxh64_intdigest(feature.encode("utf-8"))
        for i in range(64):
            if (h >> i) & 1:
                v[i] += weight
            else:
                v[i] -= weight
    fp = 0
    for i in range(64):
        if v[i] > 0:
            fp |= 1 << i
    return fp


def fingerprint_docs(shared: str, per_group: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    docs = []
    for group, rows in sorted(shared_documents(shared).items()):
        docs += rng.sample(rows, min(per_group, len(rows)))
    rng.shuffle(docs)
    return docs


def bench_fingerprints(docs: list[dict], repeat: int) -> dict:
    import numpy as np
    from datasketch import MinHash

    from corpus.config import load_config
    from corpus.dedup.fingerprint import Fingerprinter
    from corpus.dedup.simhash import shingle_hashes, simhash_batch, token_hashes

    texts = [d["text"] for d in docs]
    sim_cfg = load_config()["dedup"]["simhash"]
    shingle, min_features = int(sim_cfg["shingle"]), int(sim_cfg["min_features"])
    fingerprinter = Fingerprinter(sim_cfg)

    def ours(ts):  # batches of 1,024 documents, as the stage's Arrow batches
        return [simhash_batch(ts[i:i + 1024], shingle, min_features) for i in range(0, len(ts), 1024)]

    def ours_t2s(ts):
        return [fingerprinter.batch(ts[i:i + 1024]) for i in range(0, len(ts), 1024)]

    def pure(ts):
        return [py_simhash(t) for t in ts]

    def ds(ts):
        out = []
        for t in ts:
            m = MinHash(num_perm=128)
            m.update_batch([s.encode("utf-8") for s in py_shingles(t)])
            out.append(m.digest())
        return out

    def ds_bulk(ts):
        return [m.digest() for m in MinHash.bulk(
            ([s.encode("utf-8") for s in py_shingles(t)] for t in ts), num_perm=128)]

    engines = [("ours/simhash", ours), ("ours/Fingerprinter (t2s)", ours_t2s),
               ("python simhash", pure), ("datasketch MinHash", ds),
               ("datasketch MinHash.bulk", ds_bulk)]
    for _, fn in engines:  # warm-up (imports, OpenCC dictionaries, numpy)
        fn(texts[:8])
    results = {}
    for name, fn in engines:
        best = None
        for _ in range(repeat):
            c0, w0 = time.process_time(), time.perf_counter()
            fn(texts)
            cpu, wall = time.process_time() - c0, time.perf_counter() - w0
            if best is None or cpu < best[0]:
                best = (cpu, wall)
        results[name] = {"cpu_s": best[0], "wall_s": best[1], "docs_per_cpu_s": len(texts) / best[0],
                         "docs_per_s": len(texts) / best[1],
                         "mchars_per_cpu_s": sum(map(len, texts)) / best[0] / 1e6}
    # by document length: short documents show the fixed costs per document of each engine
    by_length = {}
    for lo, hi, name in ((0, 200, "<200"), (200, 1000, "200-1k"), (1000, 10 ** 9, ">=1k")):
        sub = [t for t in texts if lo <= len(t) < hi]
        if not sub:
            continue
        cpu = {}
        for engine, fn in (("ours", ours), ("python", pure), ("datasketch bulk", ds_bulk)):
            best = None
            for _ in range(repeat):
                c0 = time.process_time()
                fn(sub)
                c = time.process_time() - c0
                best = c if best is None else min(best, c)
            cpu[engine] = best
        by_length[name] = {"docs": len(sub), "avg_chars": sum(map(len, sub)) / len(sub),
                           "ours_docs_per_cpu_s": len(sub) / cpu["ours"],
                           "vs_python": cpu["python"] / cpu["ours"],
                           "vs_datasketch_bulk": cpu["datasketch bulk"] / cpu["ours"]}
    # the features are the same: distinct shingles per document, ours vs the regex tokens
    same = sum(np.unique(shingle_hashes(token_hashes(t), shingle)).size == len(set(py_shingles(t)))
               for t in texts)
    by_lang = collections.Counter(d["lang"] for d in docs)
    return {"docs": len(texts), "chars": sum(map(len, texts)), "by_lang": dict(by_lang),
            "groups": len({d["group"] for d in docs}), "repeat": repeat,
            "same_feature_count_share": same / len(texts), "engines": results, "by_length": by_length,
            "ratios": {
                "simhash_vs_python": results["ours/simhash"]["docs_per_cpu_s"] / results["python simhash"]["docs_per_cpu_s"],
                "fingerprinter_vs_python": results["ours/Fingerprinter (t2s)"]["docs_per_cpu_s"] / results["python simhash"]["docs_per_cpu_s"],
                "simhash_vs_datasketch": results["ours/simhash"]["docs_per_cpu_s"] / results["datasketch MinHash"]["docs_per_cpu_s"],
                "simhash_vs_datasketch_bulk": results["ours/simhash"]["docs_per_cpu_s"] / results["datasketch MinHash.bulk"]["docs_per_cpu_s"],
                "fingerprinter_vs_datasketch_bulk": results["ours/Fingerprinter (t2s)"]["docs_per_cpu_s"] / results["datasketch MinHash.bulk"]["docs_per_cpu_s"],
            }}


def bench_minhash(docs: list[dict], repeat: int) -> dict:
    """MinHash signatures per core: ours (hash fast and sha1, the configured shingles, permutations
    and scheme; batches of 1,024 documents, shingling included) vs datasketch MinHash with the same
    num_perm, seed and scheme fed the same shingles (UTF-8, made before the clock starts): one
    update_batch per document, and MinHash.bulk. The sha1 signatures are checked equal to
    datasketch's on every document. Ours includes the shingling and OpenCC t2s (datasketch gets
    the shingles ready-made); "t2s off" shows ours without the conversion, and "shingles ready"
    ours from shingle hashes made before the clock, as datasketch's shingles are."""
    import numpy as np
    from datasketch import MinHash

    from corpus.config import load_config
    from corpus.dedup.minhash import MinHasher, Shingler, signatures

    texts = [d["text"] for d in docs]
    cfg = dict(load_config()["dedup"]["minhash"])
    kw = {"num_perm": int(cfg["num_perm"]), "seed": int(cfg["seed"]), "scheme": cfg["scheme"]}
    fast, sha1 = MinHasher({**cfg, "hash": "fast"}), MinHasher({**cfg, "hash": "sha1"})
    shingler = Shingler({**cfg, "hash": "sha1"})
    shingles = [[s.encode("utf-8") for s in shingler.shingle_texts(t)] for t in texts]

    def ours(mh):
        return lambda: np.vstack([mh.batch(texts[i:i + 1024])[0] for i in range(0, len(texts), 1024)])

    def ds():
        out = []
        for sh in shingles:
            m = MinHash(**kw)
            m.update_batch(sh)
            out.append(m.hashvalues)
        return np.array(out)

    def ds_bulk():
        return np.array([m.hashvalues for m in MinHash.bulk(shingles, **kw)])

    fast_raw = MinHasher({**cfg, "hash": "fast", "t2s": False})  # the shingles' t2s conversion left out
    # ready-made shingle hashes (made before the clock, as datasketch's shingles are)
    ready = [(fast.shingler.hashes(texts[i:i + 1024]), len(texts[i:i + 1024])) for i in range(0, len(texts), 1024)]

    def ours_ready():
        return np.vstack([signatures(h, d, n, fast.perm, fast.scheme) for (h, d), n in ready])

    engines = [("ours/minhash hash=fast", ours(fast)), ("ours/minhash fast, t2s off", ours(fast_raw)),
               ("ours/signatures, shingles ready", ours_ready), ("ours/minhash hash=sha1", ours(sha1)),
               ("datasketch update_batch", ds), ("datasketch MinHash.bulk", ds_bulk)]
    results, outputs = {}, {}
    for name, fn in engines:
        best = None
        for _ in range(repeat):
            c0, w0 = time.process_time(), time.perf_counter()
            outputs[name] = fn()
            cpu, wall = time.process_time() - c0, time.perf_counter() - w0
            if best is None or cpu < best[0]:
                best = (cpu, wall)
        results[name] = {"cpu_s": best[0], "wall_s": best[1], "docs_per_cpu_s": len(texts) / best[0]}
    a, b = outputs["ours/minhash hash=sha1"], outputs["datasketch update_batch"]
    has = np.array([bool(s) for s in shingles])
    equal = bool(np.array_equal(a[has].astype(np.uint64), b[has].astype(np.uint64)))
    per = {k: v["docs_per_cpu_s"] for k, v in results.items()}
    return {"docs": len(texts), "chars": sum(map(len, texts)), "config": {**kw, "shingle": cfg["shingle"]},
            "shingles": sum(map(len, shingles)), "engines": results, "sha1_equal_to_datasketch": equal,
            "ratios": {"fast_vs_update_batch": per["ours/minhash hash=fast"] / per["datasketch update_batch"],
                       "fast_vs_bulk": per["ours/minhash hash=fast"] / per["datasketch MinHash.bulk"],
                       "fast_no_t2s_vs_update_batch": per["ours/minhash fast, t2s off"] / per["datasketch update_batch"],
                       "ready_vs_update_batch": per["ours/signatures, shingles ready"] / per["datasketch update_batch"],
                       "sha1_vs_update_batch": per["ours/minhash hash=sha1"] / per["datasketch update_batch"]}}


def print_minhash(r: dict) -> None:
    print(f"\n(a') MinHash signatures: {r['docs']:,} documents, {r['chars']:,} chars, {r['shingles']:,} distinct "
          f"shingles, {r['config']} (best CPU time of the repeats, BLAS threads 1)")
    print(f"    {'engine':32s} {'cpu s':>8s} {'wall s':>8s} {'docs/cpu-s':>11s}")
    for name, e in r["engines"].items():
        print(f"    {name:32s} {e['cpu_s']:8.2f} {e['wall_s']:8.2f} {e['docs_per_cpu_s']:11,.0f}")
    rt = r["ratios"]
    print(f"    hash=fast vs datasketch update_batch: x{rt['fast_vs_update_batch']:.1f} per core (target 10); "
          f"vs MinHash.bulk: x{rt['fast_vs_bulk']:.1f}; without t2s x{rt['fast_no_t2s_vs_update_batch']:.1f}; "
          f"from ready shingles (as datasketch) x{rt['ready_vs_update_batch']:.1f}; "
          f"hash=sha1 vs update_batch: x{rt['sha1_vs_update_batch']:.1f}")
    print(f"    hash=sha1 signatures equal to datasketch's on every document: {r['sha1_equal_to_datasketch']}")


def print_fingerprints(r: dict) -> None:
    print(f"\n(a) fingerprints: {r['docs']:,} documents, {r['chars']:,} chars, {r['groups']} files, "
          f"languages {r['by_lang']}, best of {r['repeat']} (BLAS threads 1)")
    print(f"    same distinct-feature count, ours vs regex shingles: {r['same_feature_count_share']:.1%} of documents")
    print(f"    {'engine':28s} {'cpu s':>8s} {'wall s':>8s} {'docs/cpu-s':>11s} {'docs/s':>9s} {'Mchar/cpu-s':>11s}")
    for name, e in r["engines"].items():
        print(f"    {name:28s} {e['cpu_s']:8.2f} {e['wall_s']:8.2f} {e['docs_per_cpu_s']:11,.0f} "
              f"{e['docs_per_s']:9,.0f} {e['mchars_per_cpu_s']:11.2f}")
    rt = r["ratios"]
    print(f"    ours/simhash vs python simhash:              x{rt['simhash_vs_python']:.1f} per core (target 20)")
    print(f"    ours/Fingerprinter(t2s) vs python simhash:   x{rt['fingerprinter_vs_python']:.1f}")
    print(f"    ours/simhash vs datasketch MinHash:          x{rt['simhash_vs_datasketch']:.1f} per core")
    print(f"    ours/simhash vs datasketch MinHash.bulk:     x{rt['simhash_vs_datasketch_bulk']:.1f} per core (target 10)")
    print(f"    ours/Fingerprinter(t2s) vs datasketch bulk:  x{rt['fingerprinter_vs_datasketch_bulk']:.1f}")
    print("    by document length (ours/simhash per core, and the ratios):")
    for name, b in r["by_length"].items():
        print(f"      {name:>7s} chars: {b['docs']:5,d} docs, avg {b['avg_chars']:6,.0f} chars: "
              f"{b['ours_docs_per_cpu_s']:7,.0f} docs/cpu-s, x{b['vs_python']:.1f} python simhash, "
              f"x{b['vs_datasketch_bulk']:.1f} datasketch bulk")


# --- (b) documents for the stage -------------------------------------------------------------

# pool: (name, weight, lang, files matched by prefix)
POOLS = [
    ("books_zh_novels", 0.22, "books", ("books/zh_classical_novels",)),
    ("books_zh_classics", 0.08, "books", ("books/zh_chinese_poetry",)),
    ("news_zh", 0.20, "news", ("news/",)),
    ("forums_zh", 0.24, "forums", ("forums/",)),
    ("web_zh", 0.10, "web", ("web/",)),
    ("books_en", 0.10, "books", ("books/en_gutenberg",)),
    ("web_en", 0.06, "web", ("warc/",)),
]
BOILERPLATE = {
    "zh": ["上一篇：返回列表", "下一篇：没有了", "点击查看更多精彩内容", "本文来源于网络，如有侵权请联系删除",
           "版权所有 © 2024 保留所有权利", "扫一扫，关注我们的微信公众号", "责任编辑：王明", "分享到：微信 微博 QQ空间",
           "免责声明：本站内容仅供参考", "热门推荐 | 最新文章 | 联系我们"],
    "en": ["Share this article: Facebook Twitter Email", "Copyright © 2024. All rights reserved.",
           "Click here to subscribe to our newsletter", "Related posts:", "Leave a comment",
           "This site uses cookies to improve your experience.", "Back to top", "Posted in Uncategorized"],
}
NEAR_KINDS = ("edit", "boilerplate", "reorder", "s2t")


def unit_pools(shared: str) -> dict[str, dict]:
    """{pool: {"lang", "source", "units": [str]}}; every unit once across the pools."""
    groups = shared_documents(shared)
    seen = set()
    pools = {}
    for name, _, source, prefixes in POOLS:
        units, langs = [], collections.Counter()
        for group in sorted(groups):
            if not group.startswith(prefixes):
                continue
            for row in groups[group]:
                for u in split_units(row["text"]):
                    if len(u) < 4 or u in seen:
                        continue
                    seen.add(u)
                    units.append(u)
                    langs[row["lang"]] += 1
        if name == "web_en":  # the WARC pages are mostly English; keep their English units
            units = [u for u in units if lang_of(u) == "en"]
        if units:
            pools[name] = {"lang": "en" if name.endswith("_en") else "zh", "source": source,
                           "units": units}
    return pools


def _edit(text: str, rate: float, rng: random.Random) -> str:
    chars = list(text)
    alphabet = [c for c in chars if not c.isspace()] or ["x"]
    for _ in range(max(1, round(len(chars) * rate))):
        op, pos = rng.random(), rng.randrange(len(chars) + 1)
        if op < 0.5 and pos < len(chars):
            chars[pos] = rng.choice(alphabet)
        elif op < 0.75 and pos < len(chars):
            del chars[pos]
        else:
            chars.insert(pos, rng.choice(alphabet))
    return "".join(chars)


def _reorder(text: str, rng: random.Random) -> str:
    parts = text.split("\n")
    sep = "\n"
    if len(parts) < 3:
        parts = [p for p in _SENT_END.split(text) if p]
        sep = ""
    if len(parts) < 2:
        return text
    order = list(range(len(parts)))
    for _ in range(10):
        rng.shuffle(order)
        if order != sorted(order):
            break
    return sep.join(parts[i] for i in order)


def _boilerplate(text: str, lang: str, rng: random.Random) -> str:
    lines = text.split("\n")
    for _ in range(rng.randint(1, 3)):
        lines.insert(rng.choice([0, len(lines), rng.randrange(len(lines) + 1)]),
                     rng.choice(BOILERPLATE[lang]))
    return "\n".join(lines)


def near_copy(text: str, lang: str, kind: str, rng: random.Random, s2t=None,
              rate: float | None = None) -> str:
    """A planted near duplicate of `text` of the given kind."""
    if kind == "edit":
        return _edit(text, rate if rate is not None else rng.uniform(0.01, 0.03), rng)
    if kind == "boilerplate":
        return _boilerplate(text, lang, rng)
    if kind == "reorder":
        return _reorder(text, rng)
    if kind == "s2t":
        return s2t.convert(text)
    raise ValueError(kind)


def exact_copy(text: str, rng: random.Random) -> str:
    """Byte-identical half the time, else whitespace/case changes the exact key ignores."""
    if rng.random() < 0.5:
        return text
    out = text.replace("\n", "\n\n") if rng.random() < 0.5 else "  " + text + " \n"
    return out.upper() if rng.random() < 0.3 else out


def generate_chunk(pools: dict, chunk: int, n: int, seed: int, p_exact=0.05, p_near=0.15):
    """Rows (CLEAN_DOC_SCHEMA dicts) of one chunk and its planted counts."""
    import numpy as np
    import opencc
    import xxhash

    rng = random.Random(f"{seed}:{chunk}")
    nrng = np.random.default_rng([seed, chunk])
    s2t = opencc.OpenCC("s2t")
    names = list(pools)
    weight_of = {p[0]: p[1] for p in POOLS}
    weights = [weight_of[n_] for n_ in names]
    rows, bases, planted = [], [], collections.Counter()
    scores = nrng.random(n).astype("float32")
    for j in range(n):
        i = chunk * CHUNK + j
        r = rng.random()
        if bases and r < p_exact:
            b = rows[rng.choice(bases)]
            text, pool, lang = exact_copy(b["text"], rng), b["_pool"], b["lang"]
            planted["exact"] += 1
        elif bases and r < p_exact + p_near:
            kind = NEAR_KINDS[rng.randrange(len(NEAR_KINDS))]
            b = rows[rng.choice(bases)]
            if kind == "s2t" and b["lang"] != "zh":
                kind = "edit"
            text = near_copy(b["text"], b["lang"], kind, rng, s2t)
            pool, lang = b["_pool"], b["lang"]
            planted["near_" + kind] += 1
        else:
            pool = rng.choices(names, weights)[0]
            units, lang = pools[pool]["units"], pools[pool]["lang"]
            target = min(8000, max(120, int(rng.lognormvariate(math.log(600), 0.8))))
            parts, size = [], 0
            while size < target:
                u = units[rng.randrange(len(units))]
                parts.append(u)
                size += len(u) + 1
            text = "\n".join(parts)
            bases.append(j)
            planted["base"] += 1
        rows.append({"id": xxhash.xxh3_128_hexdigest(f"bench-dedup:{seed}:{i}".encode()),
                     "source": pools[pool]["source"], "url": f"https://bench.invalid/{pool}/{i}",
                     "locator": f"bench:{pool}#doc={i}", "fetch_time": None, "lang": lang,
                     "lang_score": 0.99, "title": None, "text": text, "meta": [],
                     "signals": [], "quality_score": float(scores[j]), "_pool": pool})
    for r in rows:
        del r["_pool"]
    return rows, planted


def make_input(workdir: str, n: int, seed: int, shared: str) -> tuple[str, dict]:
    """RUN_DIR with a committed `clean` stage of n generated documents (cached)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from corpus.quality.clean import CLEAN_DOC_SCHEMA
    from corpus.rundir import RunDir

    run_dir = os.path.join(workdir, f"run-{n}-s{seed}-v{GEN_VERSION}")
    info_path = os.path.join(run_dir, "bench_input.json")
    if os.path.exists(info_path):
        with open(info_path) as f:
            return run_dir, json.load(f)
    shutil.rmtree(run_dir, ignore_errors=True)
    t0 = time.perf_counter()
    pools = unit_pools(shared)
    clean_dir = os.path.join(run_dir, "clean")
    os.makedirs(clean_dir)
    planted, chars, files = collections.Counter(), 0, []
    for chunk in range(math.ceil(n / CHUNK)):
        rows, p = generate_chunk(pools, chunk, min(CHUNK, n - chunk * CHUNK), seed)
        planted.update(p)
        chars += sum(len(r["text"]) for r in rows)
        name = f"part-{chunk:05d}.parquet"
        pq.write_table(pa.Table.from_pylist(rows, schema=CLEAN_DOC_SCHEMA),
                       os.path.join(clean_dir, name), compression="zstd")
        files.append({"path": f"clean/{name}", "rows": len(rows),
                      "bytes": os.path.getsize(os.path.join(clean_dir, name))})
    run = RunDir(run_dir)
    run.commit("clean", {"run_id": "bench", "docs_in": n, "kept": n, "dropped": 0,
                         "outputs": {"docs": files}})
    info = {"docs": n, "chars": chars, "parquet_bytes": sum(f["bytes"] for f in files),
            "files": len(files), "planted": dict(planted),
            "pools": {k: len(v["units"]) for k, v in pools.items()},
            "generate_s": time.perf_counter() - t0}
    with open(info_path, "w") as f:
        json.dump(info, f, indent=1)
    return run_dir, info


# --- (b) measuring the stage -----------------------------------------------------------------

def _proc_table() -> dict:
    """{pid: (parent pid, own CPU ticks, reaped children's ticks, name, start time, RSS bytes)}
    of every process, from /proc/PID/stat."""
    page = os.sysconf("SC_PAGE_SIZE")
    stats = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                head, rest = f.read().rsplit(")", 1)
            fields = rest.split()
        except OSError:
            continue
        stats[int(pid)] = (int(fields[1]), int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14]),
                           head.split("(", 1)[1], fields[19], int(fields[21]) * page)
    return stats


def _children(stats: dict) -> dict:
    children = collections.defaultdict(list)
    for pid, st in stats.items():
        children[st[0]].append(pid)
    return children


def _tree_snapshot(root: int) -> dict:
    """{(pid, start time): (part, CPU ticks)} for `root` and its descendants; part is
    driver (root), jvm, or python_workers (everything below the JVM). A process's ticks are
    its own utime + stime, plus its reaped children's where they are not sampled themselves
    (the JVM's reaped Python daemons)."""
    stats = _proc_table()
    children = _children(stats)
    out, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            _, own, reaped, name, started, _ = stats[pid]
            part = "driver" if pid == root else "jvm" if name == "java" else "python_workers"
            out[(pid, started)] = (part, own)
            if part == "jvm" and reaped:
                out[(pid, started, "reaped")] = ("python_workers", reaped)
        todo += children.get(pid, [])
    return out


def _tree_rss(root: int) -> dict:
    """Resident memory (bytes) of `root`'s process tree now, per part (driver, jvm,
    python_workers), as _tree_snapshot splits it."""
    stats = _proc_table()
    children = _children(stats)
    out = {"driver": 0, "jvm": 0, "python_workers": 0}
    todo = [(root, "driver")]
    while todo:
        pid, above = todo.pop()
        name = stats[pid][3] if pid in stats else None
        part = "driver" if pid == root else "jvm" if name == "java" else (
            "python_workers" if above in ("jvm", "python_workers") else "driver")
        out[part] += stats[pid][5] if pid in stats else 0
        todo += [(c, part) for c in children.get(pid, [])]
    return out


class TreeCpu:
    """CPU seconds of this process tree over a period, sampled every `interval` seconds so that
    Python workers that exit in between are counted (PySpark's daemon ignores SIGCHLD, so an
    exited worker's CPU time is not added to any parent's): per process the largest value
    seen, less its value at the start; what a worker spends after the last sample before it
    exits is missed (at most `interval` seconds each)."""

    def __init__(self, root: int, interval: float = 0.5):
        self.root, self.interval = root, interval
        self.start = _tree_snapshot(root)
        self.seen = dict(self.start)
        self.peak_rss = {"driver": 0, "jvm": 0, "python_workers": 0, "total": 0}  # bytes, peak per part
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _sample(self):
        rss = _tree_rss(self.root)
        rss["total"] = sum(rss.values())
        for part, v in rss.items():
            self.peak_rss[part] = max(self.peak_rss[part], v)
        for key, (part, ticks) in _tree_snapshot(self.root).items():
            if key not in self.seen or ticks > self.seen[key][1]:
                self.seen[key] = (part, ticks)

    def _run(self):
        while not self._stop.wait(self.interval):
            self._sample()

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join()
        self._sample()
        tick = os.sysconf("SC_CLK_TCK")
        out = {"driver": 0.0, "jvm": 0.0, "python_workers": 0.0}
        for key, (part, ticks) in self.seen.items():
            out[part] += (ticks - self.start.get(key, (part, 0))[1]) / tick
        out["total"] = sum(out.values())
        return out


class SparkMetrics:
    """Stage metrics and peak persisted-data footprint from Spark's status REST API."""

    def __init__(self, spark):
        self.base = None
        url = spark.sparkContext.uiWebUrl
        if url:
            self.base = f"{url}/api/v1/applications/{spark.sparkContext.applicationId}"
        self.peak_mem = self.peak_disk = 0
        self._stop = threading.Event()
        self._thread = None
        self.first_stage = self._max_stage_id() + 1

    def _get(self, path):
        import urllib.request

        with urllib.request.urlopen(self.base + path, timeout=10) as r:
            return json.loads(r.read())

    def _max_stage_id(self) -> int:
        if not self.base:
            return -1
        try:
            return max((s["stageId"] for s in self._get("/stages")), default=-1)
        except Exception:  # noqa: BLE001 - metrics are best effort
            return -1

    def _poll(self):
        while not self._stop.wait(1.0):
            try:
                rdds = self._get("/storage/rdd")
            except Exception:  # noqa: BLE001, S112 - a missed sample is fine
                continue
            self.peak_mem = max(self.peak_mem, sum(r.get("memoryUsed", 0) for r in rdds))
            self.peak_disk = max(self.peak_disk, sum(r.get("diskUsed", 0) for r in rdds))

    def _phases(self) -> dict:
        """Seconds from the stage's first job to the report's first job (fingerprints, exact
        dedup, candidate pairs, connected components: all run eagerly inside
        dedup_outcomes_df), to run_stage's first job (the report's collects and counts), and
        to the last job's end (outcome counts, Parquet writes, final count)."""
        import datetime as dt

        def ts(s):
            return dt.datetime.strptime(s.replace("GMT", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()

        jobs = [j for j in self._get("/jobs") if j.get("stageIds") and min(j["stageIds"]) >= self.first_stage
                and "completionTime" in j]
        if not jobs:
            return {}
        jobs.sort(key=lambda j: ts(j["submissionTime"]))
        start, end = ts(jobs[0]["submissionTime"]), max(ts(j["completionTime"]) for j in jobs)
        report = next((ts(j["submissionTime"]) for j in jobs if "dedup/stage.py" in j["name"]), None)
        write = next((ts(j["submissionTime"]) for j in jobs if "pipeline.py" in j["name"]), None)
        if report is None or write is None:
            return {"all_jobs_s": end - start, "jobs": len(jobs)}
        return {"dedup_outcomes_df_s": report - start, "report_s": write - report,
                "run_stage_writes_s": end - write, "jobs": len(jobs)}

    def start(self):
        if self.base:
            self._thread = threading.Thread(target=self._poll, daemon=True)
            self._thread.start()

    def stop(self) -> dict:
        self._stop.set()
        if self._thread:
            self._thread.join()
        if not self.base:
            return {}
        stages = [s for s in self._get("/stages?status=complete") if s["stageId"] >= self.first_stage]
        keys = ["inputBytes", "inputRecords", "outputBytes", "outputRecords", "shuffleReadBytes",
                "shuffleReadRecords", "shuffleWriteBytes", "shuffleWriteRecords",
                "memoryBytesSpilled", "diskBytesSpilled"]
        out = {k: sum(s.get(k, 0) for s in stages) for k in keys}
        out["stages"] = len(stages)
        out["jobs"] = len({j for s in stages for j in s.get("jobIds", [])}) if stages and "jobIds" in stages[0] else None
        top = sorted(stages, key=lambda s: -s.get("executorRunTime", 0))[:8]
        out["slowest_stages"] = [{"id": s["stageId"], "name": s["name"][:90],
                                  "run_s": s.get("executorRunTime", 0) / 1000,
                                  "tasks": s.get("numTasks"),
                                  "shuffle_write_records": s.get("shuffleWriteRecords", 0),
                                  "shuffle_write_bytes": s.get("shuffleWriteBytes", 0)}
                                 for s in top]
        out["largest_shuffle_writes"] = [
            {"id": s["stageId"], "name": s["name"][:90], "rows": s.get("shuffleWriteRecords", 0),
             "bytes": s.get("shuffleWriteBytes", 0)}
            for s in sorted(stages, key=lambda s: -s.get("shuffleWriteBytes", 0))[:6]]
        out["phases"] = self._phases()
        out["peak_persisted_memory_bytes"] = self.peak_mem
        out["peak_persisted_disk_bytes"] = self.peak_disk
        try:
            rdds = self._get("/storage/rdd")
            out["persisted_after_stage"] = [{"name": r.get("name", "")[:80], "memory": r.get("memoryUsed", 0),
                                             "disk": r.get("diskUsed", 0)} for r in rdds]
        except Exception:  # noqa: BLE001
            out["persisted_after_stage"] = None
        return out


class CapturePairs:
    """Wraps corpus.dedup.stage's candidate_pairs_df while the stage runs, keeping what it
    returned (the stage itself is unchanged), so the plan the stage built can be shown."""

    def __init__(self):
        from corpus.dedup import stage

        self.stage, self.original, self.found = stage, stage.candidate_pairs_df, None

    def __enter__(self):
        def wrapper(*a, **kw):
            self.found = self.original(*a, **kw)
            return self.found

        self.stage.candidate_pairs_df = wrapper
        return self

    def __exit__(self, *exc):
        self.stage.candidate_pairs_df = self.original


DEDUP_SOURCES = ["corpus/dedup/stage.py", "corpus/dedup/spark_dedup.py", "corpus/dedup/minhash_spark.py",
                 "corpus/pipeline.py"]
_DRIVER_CALLS = re.compile(r"\.(collect|toPandas|toLocalIterator|take|head|tail)\(|\.first\(\)")


def explain_pairs(found) -> tuple[str, dict]:
    """The physical plan of the stage's candidate pairs, and what it shows."""
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        found.pairs.explain()
    plan = buf.getvalue()
    calls = []
    for rel in DEDUP_SOURCES:
        with open(os.path.join(REPO, rel), encoding="utf-8") as f:
            for no, line in enumerate(f, 1):
                if _DRIVER_CALLS.search(line):
                    calls.append(f"{rel}:{no}: {line.strip()}")
    checks = {
        "broadcast_exchanges": plan.count("BroadcastExchange"),
        "shuffle_exchanges_on_table_key": len(re.findall(r"Exchange hashpartitioning\(table#\d+, key#", plan)),
        "reused_exchanges": plan.count("ReusedExchange"),
        "python_rdd_scans": plan.count("Scan ExistingRDD"),
        "driver_collect_nodes": plan.count("CollectLimit") + plan.count("CollectTail"),
        "driver_calls_in_source": calls,
    }
    return plan, checks


def run_stage_bench(spark, n: int, run_dir: str, info: dict, cfg: dict) -> dict:
    from pyspark.sql import functions as F  # noqa: F401

    from corpus.dedup.stage import _layout
    from corpus.pipeline import StageContext, run_stage
    from corpus.rundir import RunDir

    run = RunDir(run_dir)
    ctx = StageContext(spark, cfg, run, [])
    sim_cfg = cfg["dedup"]["simhash"]
    layout = _layout(sim_cfg, int(sim_cfg["k"]), n)
    spark.catalog.clearCache()
    metrics = SparkMetrics(spark)
    load0 = os.getloadavg()
    cpu, t0 = TreeCpu(os.getpid()), time.perf_counter()
    metrics.start()
    with CapturePairs() as capture:
        run_stage(ctx, "dedup", "bench", {"inputs": [], **cfg})  # (the view: config + inputs)
    wall = time.perf_counter() - t0
    cpu_parts = cpu.stop()
    peak_rss = cpu.peak_rss
    cpu = cpu_parts["total"]
    load1 = os.getloadavg()
    m = metrics.stop()
    entry = run.manifest()["stages"]["dedup"]
    with open(run.path("reports", "dedup.json")) as f:
        report = json.load(f)
    import pyarrow.parquet as pq

    ledger = pq.read_table(run.path(run.stage_dirs("dedup")["ledger"])).to_pylist()
    reasons = collections.Counter()
    for r in ledger:
        reasons[r["reason"] or "kept"] += r["docs"]
    out_bytes = sum(f["bytes"] for o in entry["outputs"].values() for f in o)
    return {"docs": n, "wall_s": wall, "docs_per_s": n / wall, "cpu_s": cpu, "docs_per_cpu_s": n / cpu,
            "cpu_split_s": cpu_parts, "peak_rss_bytes": peak_rss,
            "near": cfg["dedup"].get("near", "simhash"),
            "load_before": load0, "load_after": load1,
            "input": info, "output_bytes": out_bytes, "reasons": dict(reasons),
            "layout": layout.describe(), "tables": layout.n_tables,
            "table_key_rows": n * layout.n_tables,
            "report": {k: report[k] for k in ("pairs_within_k", "capped_buckets", "cluster_size_histogram",
                                              "minhash") if k in report},
            "spark": m, "_found": capture.found}


def print_stage(results: list[dict]) -> None:
    print("\n(b) dedup stage (run_stage 'dedup': outcomes, ledger, Parquet, report, manifest)")
    print(f"    {'docs':>10s} {'chars':>13s} {'parquet MB':>10s} {'wall s':>8s} {'docs/s':>8s} "
          f"{'cpu s':>8s} {'docs/cpu-s':>10s} {'load 1m before/after':>20s}")
    for r in results:
        print(f"    {r['docs']:10,d} {r['input']['chars']:13,d} {r['input']['parquet_bytes'] / 1e6:10.1f} "
              f"{r['wall_s']:8.1f} {r['docs_per_s']:8.0f} {r['cpu_s']:8.1f} {r['docs_per_cpu_s']:10.0f} "
              f"{r['load_before'][0]:9.2f}/{r['load_after'][0]:.2f}")
    for r in results:
        s = r["spark"]
        print(f"\n    {r['docs']:,} docs: layout {r['layout']}; (table, key) rows {r['table_key_rows']:,}")
        print(f"      near duplicates by: {r.get('near', 'simhash')}")
        print("      CPU seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in r["cpu_split_s"].items()))
        if r.get("peak_rss_bytes"):
            print("      peak resident memory (sampled every 0.5 s): " + ", ".join(
                f"{k} {v / 2 ** 20:,.0f} MiB" for k, v in r["peak_rss_bytes"].items()))
        if "minhash" in r["report"]:
            mh = r["report"]["minhash"]
            print(f"      MinHash: {mh['describe']}; {mh['candidate_pairs']:,} candidate pairs, {mh['pairs']:,} "
                  f"accepted (verified={mh['verified']}), capped band buckets {mh['capped_buckets']}")
        print(f"      planted {r['input']['planted']}; outcomes {r['reasons']}")
        print(f"      pairs within k {r['report']['pairs_within_k']:,}, capped buckets {r['report']['capped_buckets']}, "
              f"cluster sizes {dict(list(r['report']['cluster_size_histogram'].items())[:8])}")
        if s:
            print(f"      Spark: {s['stages']} stages; input {s['inputBytes'] / 1e6:,.1f} MB; "
                  f"shuffle write {s['shuffleWriteBytes'] / 1e6:,.1f} MB / {s['shuffleWriteRecords']:,} rows; "
                  f"shuffle read {s['shuffleReadBytes'] / 1e6:,.1f} MB; output {s['outputBytes'] / 1e6:,.1f} MB; "
                  f"spilled mem {s['memoryBytesSpilled'] / 1e6:,.1f} MB disk {s['diskBytesSpilled'] / 1e6:,.1f} MB")
            print(f"      peak persisted: memory {s['peak_persisted_memory_bytes'] / 1e6:,.1f} MB, "
                  f"disk {s['peak_persisted_disk_bytes'] / 1e6:,.1f} MB; still persisted after the stage: "
                  f"{len(s['persisted_after_stage'] or [])} RDDs, "
                  f"{sum(x['memory'] + x['disk'] for x in s['persisted_after_stage'] or []) / 1e6:,.1f} MB")
            print(f"      phases (Spark job times): {s.get('phases')}")
            print("      largest shuffle writes: " + "; ".join(
                f"#{x['id']} {x['rows']:,} rows {x['bytes'] / 1e6:.1f} MB" for x in s["largest_shuffle_writes"]))
            print("      slowest Spark stages (executor run time):")
            for st in s["slowest_stages"]:
                print(f"        #{st['id']:<4d} {st['run_s']:8.1f} s {st['tasks']:5d} tasks "
                      f"shuffle write {st['shuffle_write_records']:>12,} rows  {st['name']}")
    if len(results) >= 2:
        a, b = results[0], results[-1]
        exp = math.log(b["wall_s"] / a["wall_s"]) / math.log(b["docs"] / a["docs"])
        expc = math.log(b["cpu_s"] / a["cpu_s"]) / math.log(b["docs"] / a["docs"])
        print(f"\n    growth {a['docs']:,} -> {b['docs']:,}: wall x{b['wall_s'] / a['wall_s']:.2f}, "
              f"cpu x{b['cpu_s'] / a['cpu_s']:.2f} for x{b['docs'] / a['docs']:.0f} documents "
              f"(exponent {exp:.2f} wall, {expc:.2f} cpu; 1.00 = linear)")


def stage_child(args) -> dict:
    """One size of (b) in this process (a fresh Spark session): the result, and the plan."""
    from corpus.config import load_config
    from corpus.spark import get_session

    n = args.sizes[0]
    cfg = load_config(overrides=args.overrides)
    run_dir, info = make_input(args.workdir, n, args.seed, args.shared)
    spark_cfg = dict(cfg["spark"])
    spark_cfg["conf"] = {**(spark_cfg.get("conf") or {}), "spark.ui.enabled": "true", "spark.ui.port": "0",
                         **dict(c.split("=", 1) for c in args.conf)}
    if args.driver_memory:
        spark_cfg["conf"]["spark.driver.memory"] = args.driver_memory
    spark = get_session(spark_cfg, args.master)
    r = run_stage_bench(spark, n, run_dir, info, cfg)
    r["spark_conf"] = spark_cfg["conf"]
    r["master"] = args.master
    found = r.pop("_found")
    out = {"result": r}
    if not args.no_plan and found is not None:
        plan, checks = explain_pairs(found)
        out["candidate_plan"] = {"docs": n, "plan": plan, "checks": checks}
    spark.stop()
    return out


def print_plan(cp: dict) -> None:
    plan, checks = cp["plan"], cp["checks"]
    shown = "\n".join(line if len(line) <= 240 else line[:237] + "..." for line in plan.splitlines())
    print(f"\ncandidate-pairs physical plan, as the stage built it ({cp['docs']:,} documents; the "
          f"pairs are persisted, so this is the cached final plan):\n{shown}")
    print("plan checks: " + json.dumps({k: v for k, v in checks.items() if k != "driver_calls_in_source"}))
    print("  (BroadcastExchange: the per-table layout rows, built on the driver from the layout - "
          "'Scan ExistingRDD', a Python RDD; no per-document data reaches the driver)")
    print("driver-side calls in " + ", ".join(DEDUP_SOURCES) + ":")
    for c in checks["driver_calls_in_source"]:
        print("  " + c)


def main():
    import subprocess

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--skip-stage", action="store_true")
    ap.add_argument("--skip-fingerprint", action="store_true")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--shared", default=SHARED)
    ap.add_argument("--workdir", default="/tmp/bench-dedup")
    ap.add_argument("--per-group", type=int, default=150)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--driver-memory", default=None,
                    help="spark.driver.memory (default: the project's spark.conf setting)")
    ap.add_argument("--no-plan", action="store_true", help="do not print the candidate-pairs plan")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                    help="override a pipeline setting by dotted path (e.g. dedup.simhash.k=4), as "
                         "`corpus run --set` does; repeatable")
    ap.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE",
                    help="extra Spark setting (e.g. spark.sql.shuffle.partitions=8); repeatable")
    ap.add_argument("--minhash-only", action="store_true",
                    help="(a) measures MinHash signatures only (not the SimHash engines)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child:  # one stage size, JSON on stdout
        print(json.dumps(stage_child(args), default=str))
        return
    out = {"loadavg_start": os.getloadavg(), "cpus": os.cpu_count()}
    if not args.skip_fingerprint or args.minhash_only:
        docs = fingerprint_docs(args.shared, args.per_group, args.seed)
        if not args.minhash_only:
            out["fingerprints"] = bench_fingerprints(docs, args.repeat)
            if not args.json:
                print_fingerprints(out["fingerprints"])
        out["minhash"] = bench_minhash(docs, args.repeat)
        if not args.json:
            print_minhash(out["minhash"])
    if not args.skip_stage:
        os.makedirs(args.workdir, exist_ok=True)
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        out["overrides"], results, failures = args.overrides, [], []
        for n in args.sizes:
            run_dir, info = make_input(args.workdir, n, args.seed, args.shared)
            if not args.json:
                print(f"\ninput {n:,}: {run_dir} ({info['chars']:,} chars, {info['parquet_bytes'] / 1e6:.1f} MB "
                      f"Parquet, {info['files']} files; planted {info['planted']}; unit pools {info['pools']}; "
                      f"generated in {info['generate_s']:.0f} s)", flush=True)
            # each size in a fresh process and JVM: nothing cached or leaked from the one before
            cmd = [sys.executable, os.path.abspath(__file__), "--child", "--sizes", str(n),
                   "--workdir", args.workdir, "--seed", str(args.seed), "--shared", args.shared,
                   "--master", args.master]
            if args.driver_memory:
                cmd += ["--driver-memory", args.driver_memory]
            cmd += [x for o in args.overrides for x in ("--set", o)]
            cmd += [x for c in args.conf for x in ("--conf", c)]
            if args.no_plan or "candidate_plan" in out:
                cmd.append("--no-plan")
            log_path = os.path.join(args.workdir, f"stage-{n}.log")
            with open(log_path, "w") as log:
                proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=log, text=True, check=False)
            if proc.returncode != 0:
                with open(log_path, errors="replace") as f:
                    errors = [ln.strip() for ln in f if "Error" in ln or "Exception:" in ln][:6]
                failures.append({"docs": n, "returncode": proc.returncode, "log": log_path, "errors": errors})
                if not args.json:
                    print(f"\n{n:,} documents: FAILED (exit {proc.returncode}), log {log_path}:\n  "
                          + "\n  ".join(errors), flush=True)
                continue
            child = json.loads(proc.stdout.strip().splitlines()[-1])
            r = child["result"]
            results.append(r)
            if "candidate_plan" in child:
                out["candidate_plan"] = child["candidate_plan"]
                if not args.json:
                    print_plan(child["candidate_plan"])
            if not args.json:
                print(f"\n{n:,} documents: {r['wall_s']:.1f} s wall, {r['docs_per_s']:.0f} docs/s, "
                      f"{r['cpu_s']:.1f} CPU s, load {r['load_after']}", flush=True)
        out["stage"], out["stage_failures"] = results, failures
        if results and not args.json:
            print(f"\nSpark: {args.master}, settings "
                  f"{results[0]['spark_conf']}; pipeline overrides {args.overrides or 'none'}")
            print_stage(results)
    out["loadavg_end"] = os.getloadavg()
    if args.json:
        print(json.dumps(out, indent=1, default=str))
    else:
        print(f"\nload average start {out['loadavg_start']}, end {out['loadavg_end']} ({out['cpus']} CPUs)")


if __name__ == "__main__":
    main()

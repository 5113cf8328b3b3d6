"""Recall and false positives of the SimHash Hamming criterion on planted near duplicates of
real documents, and the permuted-table search checked against brute force.

    python bench/dedup_recall.py [--docs 20000] [--copies 800] [--ks 3 4 6] [--seed S]
                                 [--shared DIR] [--skip-spark] [--json]

Documents: the real documents of ../shared/data as the ingest readers cut them (books, news,
forums, ChineseWebText, WARC pages; exact duplicate texts once), a book chapter or page longer
than 3,000 characters cut into runs of consecutive paragraphs of 1,000-3,000 characters; those
that get a fingerprint (Fingerprinter with the configured min_features) are the base pool, and
a seeded sample of --docs of them (at least 20,000) is the corpus.

Planted: for --copies distinct base documents per kind (each base document gets at most one
copy), a near duplicate added to the corpus:

    edit1 / 3 / 5 / 10      random character edits (substitute, delete, insert) at 1%, 3%, 5%,
                            10% of the characters, on base documents long enough for the rate
                            (at least 1/rate characters: one edit in a 24-character text is a
                            4% edit, not a 1% one)
    edit_short              one character edit in a base document under 100 characters
    boilerplate             1-3 boilerplate lines (上一篇/版权所有/Share this...) inserted at the
                            start, the end or a random line
    reorder                 paragraphs shuffled (sentences when under 3 paragraphs)
    s2t                     the whole text converted simplified -> traditional (OpenCC s2t;
                            Chinese documents whose text it changes); fingerprinted as the stage
                            does (t2s first) and, for comparison, without t2s

Fingerprints: corpus.dedup.fingerprint.Fingerprinter(load_config()["dedup"]["simhash"]), the
stage's function. For each k: every pair within Hamming distance k through the permuted tables
(corpus.dedup.tables.verified_pairs with choose_layout(k, n)) must equal brute force over all
n(n-1)/2 pairs (brute_force_pairs), asserted; with Spark (unless --skip-spark) the stage's
candidate_pairs_df is checked against brute force too. Then, per k:

    recall      share of the planted pairs of each kind within distance k
    unplanted   pairs within k that are not (base, its copy), split by the Jaccard similarity
                of the two documents' token 3-gram sets (after t2s; one fixed measure, whatever
                the configured shingles): >= 0.8
                (near duplicates that are in the source data already), 0.5-0.8, < 0.5 (false
                positives of the criterion)

and the distance distribution of the planted pairs of each kind.

Methods side by side (`--methods`, default on; `--methods-only` skips the SimHash table and
brute-force checks above): on the same corpus, the pairs each near-duplicate method accepts:

    simhash       fingerprints within the configured k (brute force, = the stage's tables)
    minhash U n=N MinHash-LSH as the stage runs it with dedup.minhash (units U for each --units,
     [w=W]        shingle N for each --shingles; with words, word_shingle W for each --word-shingles)
                  signatures by corpus.dedup.minhash.MinHasher, candidates = pairs
                  sharing a band key, verified by exact shingle Jaccard >= threshold), computed
                  here in numpy (the Spark path is tested equal in tests/test_minhash.py)
    both          the union of simhash and the first minhash variant

    recall        share of the planted pairs of each kind that the method accepts
    false merges  accepted pairs that are not planted and whose two documents are unrelated
                  (Jaccard of their token 3-gram sets < 0.5), and the share of documents in one

Results and the choice of the default k: bench/README.md.
"""

from __future__ import annotations

import os

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse
import collections
import json
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
if __package__ in (None, ""):  # run as a script: the repository root makes bench, corpus importable
    sys.path.insert(0, REPO)

from bench import dedup as B  # noqa: E402  (shared data readers and the planting functions)

KINDS = ["edit1", "edit3", "edit5", "edit10", "edit_short", "boilerplate", "reorder", "s2t"]
EDIT_RATES = {"edit1": 0.01, "edit3": 0.03, "edit5": 0.05, "edit10": 0.10}
SHORT = 100  # edit_short: one character edit in a text under this many characters
UNRELATED_SHINGLE = 3  # "related" is measured by the Jaccard of token 3-gram sets
LENGTH_BUCKETS = [(0, 200, "<200"), (200, 1000, "200-1k"), (1000, 10 ** 9, ">=1k")]


def base_documents(shared: str) -> list[dict]:
    """Real documents, long ones cut into runs of paragraphs of 1,000-3,000 characters."""
    out = []
    for group, rows in sorted(B.shared_documents(shared).items()):
        for row in rows:
            text = row["text"]
            if len(text) <= 3000:
                out.append(dict(row))
                continue
            run = []
            for unit in B.split_units(text, max_chars=1500):
                run.append(unit)
                if sum(map(len, run)) >= 1000:
                    out.append({**row, "text": "\n".join(run)})
                    run = []
            if run and sum(map(len, run)) >= 200:
                out.append({**row, "text": "\n".join(run)})
    return out


def features(text: str, t2s, shingle: int):
    import numpy as np

    from corpus.dedup.simhash import shingle_hashes, token_hashes

    return np.unique(shingle_hashes(token_hashes(t2s.convert(text) if t2s else text), shingle))


def jaccard(a, b) -> float:
    import numpy as np

    inter = np.intersect1d(a, b, assume_unique=True).size
    union = a.size + b.size - inter
    return inter / union if union else 1.0


def build_corpus(args, cfg):
    """(docs, planted): docs = [{"text", "source", "lang", "kind", "base"}], planted = {copy
    index: (base index, kind)}; every doc has a fingerprint."""
    import opencc

    from corpus.dedup.fingerprint import Fingerprinter, exact_key

    fp = Fingerprinter(cfg)
    rng = random.Random(args.seed)
    pool, seen = [], set()
    for d in base_documents(args.shared):
        key = exact_key(d["text"])
        if key in seen:
            continue
        seen.add(key)
        h = fp(d["text"])
        if h is not None:
            pool.append({**d, "fp": h})
    if len(pool) < args.docs:
        print(f"warning: only {len(pool):,} real documents with a fingerprint (asked {args.docs:,})",
              file=sys.stderr)
    docs = rng.sample(pool, min(args.docs, len(pool)))
    for d in docs:
        d["kind"], d["base"] = "base", None
    s2t = opencc.OpenCC("s2t")
    order = list(range(len(docs)))
    rng.shuffle(order)
    used, planted = set(), {}
    n_base = len(docs)
    for kind in KINDS:
        made = 0
        for i in order:
            if made >= args.copies:
                break
            if i in used:
                continue
            base = docs[i]
            if kind == "s2t" and base["lang"] != "zh":
                continue
            if kind in EDIT_RATES and len(base["text"]) * EDIT_RATES[kind] < 1:
                continue  # one edit would be more than the rate: such texts are edit_short's
            if kind == "edit_short" and len(base["text"]) >= SHORT:
                continue
            if kind in EDIT_RATES:
                text = B.near_copy(base["text"], base["lang"], "edit", rng, rate=EDIT_RATES[kind])
            elif kind == "edit_short":
                text = B.near_copy(base["text"], base["lang"], "edit", rng, rate=0.5 / len(base["text"]))
            else:
                text = B.near_copy(base["text"], base["lang"], kind, rng, s2t)
            if exact_key(text) == exact_key(base["text"]):
                continue  # reorder of one sentence, s2t of text without convertible characters
            h = fp(text)
            if h is None:
                continue
            used.add(i)
            docs.append({"text": text, "source": base["source"], "lang": base["lang"], "kind": kind,
                         "base": i, "fp": h, "group": base["group"]})
            planted[len(docs) - 1] = (i, kind)
            made += 1
    return docs, planted, n_base, len(pool)


def spark_check(docs, fps_signed, ks, brute_by_k, cfg):
    """candidate_pairs_df (the stage's Spark search) against brute force, per k."""
    import numpy as np

    from corpus.config import load_config
    from corpus.dedup.spark_dedup import candidate_pairs_df
    from corpus.dedup.tables import choose_layout
    from corpus.spark import get_session

    spark_cfg = dict(load_config()["spark"])
    spark_cfg["conf"] = {**(spark_cfg.get("conf") or {}), "spark.sql.shuffle.partitions": "8"}
    spark = get_session(spark_cfg, "local[2]")
    ids = [f"{i:08d}" for i in range(len(docs))]  # ordered like the indices
    df = spark.createDataFrame(list(zip(ids, [int(x) for x in fps_signed])), "id string, simhash long")
    df = df.repartition(4).cache()
    out = {}
    for k in ks:
        layout = choose_layout(k, len(docs))
        t0 = time.perf_counter()
        found = candidate_pairs_df(df, layout, k, int(cfg["max_bucket"]))
        rows = found.pairs.collect()  # the benchmark compares them here; the stage never collects
        capped = found.capped_buckets()
        got = np.array(sorted((int(r.id_a), int(r.id_b), int(r.distance)) for r in rows),
                       dtype=np.int64).reshape(-1, 3)
        same = np.array_equal(got, brute_by_k[k])
        assert same or capped, f"k={k}: Spark pairs differ from brute force"
        out[k] = {"pairs": len(rows), "identical_to_brute_force": bool(same), "capped_buckets": capped,
                  "seconds": time.perf_counter() - t0, "layout": layout.describe()}
    spark.stop()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=20_000)
    ap.add_argument("--copies", type=int, default=800, help="planted copies per kind")
    ap.add_argument("--ks", type=int, nargs="+", default=[3, 4, 6])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--shared", default=B.SHARED)
    ap.add_argument("--scan-k", type=int, default=12,
                    help="also count unplanted pairs at every distance up to this")
    ap.add_argument("--skip-spark", action="store_true")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--no-methods", dest="methods", action="store_false",
                    help="skip the simhash / minhash / both table")
    ap.add_argument("--methods-only", action="store_true",
                    help="only the simhash / minhash / both table (no brute-force table checks)")
    ap.add_argument("--shingles", type=int, nargs="+", default=None,
                    help="MinHash shingle sizes to compare (default: the configured one)")
    ap.add_argument("--units", nargs="+", choices=("words", "chars"), default=None,
                    help="MinHash shingle units to compare (default: the configured one)")
    ap.add_argument("--word-shingles", type=int, nargs="+", default=None,
                    help="MinHash word_shingle values to compare with units words (default: configured)")
    ap.add_argument("--threshold", type=float, default=None, help="MinHash threshold (default: configured)")
    ap.add_argument("--fp-weight", type=float, default=None,
                    help="MinHash bands' false-positive weight (default: configured)")
    args = ap.parse_args()

    import numpy as np
    import opencc

    from corpus.config import load_config
    from corpus.dedup.fingerprint import Fingerprinter
    from corpus.dedup.tables import (
        brute_force_pairs,
        choose_layout,
        hamming,
        to_signed,
        verified_pairs,
    )

    cfg = load_config()["dedup"]["simhash"]
    t0 = time.perf_counter()
    docs, planted, n_base, pool_size = build_corpus(args, cfg)
    n = len(docs)
    fps = np.array([d["fp"] for d in docs], dtype=np.uint64)
    if args.methods_only:
        res = methods_side_by_side(docs, planted, args)
        if args.json:
            print(json.dumps(res, indent=1, ensure_ascii=False, default=str))
        else:
            print(f"corpus: {n_base:,} real documents + {len(planted):,} planted copies = {n:,} documents; "
                  f"built in {time.perf_counter() - t0:.0f} s")
            print_methods(res)
        return
    out = {"base_docs": n_base, "real_docs_with_fingerprint": pool_size, "docs": n,
           "planted": dict(collections.Counter(k for _, k in planted.values())),
           "by_source": dict(collections.Counter(f"{d['source']}/{d['lang']}" for d in docs[:n_base])),
           "chars": sum(len(d["text"]) for d in docs), "config": dict(cfg), "build_s": time.perf_counter() - t0}

    # --- tables vs brute force
    kmax = max(args.ks)
    t0 = time.perf_counter()
    brute_all = brute_force_pairs(fps, kmax)
    out["brute_force_s"] = time.perf_counter() - t0
    brute_by_k, checks = {}, {}
    for k in args.ks:
        brute = brute_all[brute_all[:, 2] <= k]
        brute_by_k[k] = brute
        layout = choose_layout(k, n)
        t0 = time.perf_counter()
        tab = verified_pairs(fps, k, layout)
        secs = time.perf_counter() - t0
        assert np.array_equal(tab, brute), f"k={k}: table pairs differ from brute force"
        checks[k] = {"layout": layout.describe(), "pairs": len(tab), "identical_to_brute_force": True,
                     "tables_s": secs}
    out["tables_vs_brute_force"] = checks
    import math

    out["cost_by_k"] = {k: {"tables_at_1M": choose_layout(k, 10 ** 6).n_tables,
                            "tables_at_100M": choose_layout(k, 10 ** 8).n_tables,
                            "random_pair_within_k": sum(math.comb(64, i) for i in range(k + 1)) / 2.0 ** 64}
                        for k in args.ks}
    if not args.skip_spark:
        out["spark_vs_brute_force"] = spark_check(docs, to_signed(fps), args.ks, brute_by_k, cfg)

    # --- planted pairs
    copies = np.array(sorted(planted), dtype=np.int64)
    bases = np.array([planted[c][0] for c in copies], dtype=np.int64)
    kinds = np.array([planted[c][1] for c in copies])
    dist = hamming(fps[bases], fps[copies])
    lengths = np.array([len(docs[b]["text"]) for b in bases])
    # s2t without t2s, for comparison
    no_t2s = Fingerprinter({**cfg, "t2s": False})
    s2t_mask = kinds == "s2t"
    dist_no_t2s = np.array([((no_t2s(docs[b]["text"]) or 0) ^ (no_t2s(docs[c]["text"]) or 0)).bit_count()
                            for b, c in zip(bases[s2t_mask], copies[s2t_mask])])

    kinds_present = [k for k in KINDS if (kinds == k).any()]

    def share(mask, k):
        return float(np.mean(dist[mask] <= k)) if mask.any() else None

    recall, recall_by_length = {}, {}
    for k in args.ks:
        row = {kind: share(kinds == kind, k) for kind in kinds_present}
        row["s2t without t2s"] = float(np.mean(dist_no_t2s <= k)) if dist_no_t2s.size else None
        row["all planted"] = float(np.mean(dist <= k))
        recall[k] = row
        for lo, hi, name in LENGTH_BUCKETS:
            m = (lengths >= lo) & (lengths < hi)
            r = {kind: share(m & (kinds == kind), k) for kind in kinds_present}
            r["all planted"] = share(m, k)
            r["n"] = int(m.sum())
            recall_by_length.setdefault(name, {})[k] = r
    out["recall"] = recall
    out["recall_by_base_length"] = recall_by_length
    hist = {}
    for kind in kinds_present + ["s2t without t2s"]:
        d = dist_no_t2s if kind == "s2t without t2s" else dist[kinds == kind]
        if d.size == 0:
            continue
        counts = collections.Counter(int(x) for x in d)
        hist[kind] = {"n": int(d.size), "median": float(np.median(d)), "p90": float(np.percentile(d, 90)),
                      "max": int(d.max()),
                      "hist": {**{str(i): counts.get(i, 0) for i in range(11)},
                               "11-15": sum(v for x, v in counts.items() if 11 <= x <= 15),
                               ">15": sum(v for x, v in counts.items() if x > 15)}}
    out["planted_distance"] = hist
    t2s = opencc.OpenCC("t2s") if cfg.get("t2s", True) else None
    shingle = UNRELATED_SHINGLE
    feats = {}

    def feat(i):
        if i not in feats:
            feats[i] = features(docs[i]["text"], t2s, shingle)
        return feats[i]

    jac_planted = np.array([jaccard(feat(int(b)), feat(int(c))) for b, c in zip(bases, copies)])
    for kind in kinds_present:
        hist[kind]["median_jaccard"] = float(np.median(jac_planted[kinds == kind]))

    # --- unplanted pairs within k
    planted_codes = set((np.minimum(bases, copies) * n + np.maximum(bases, copies)).tolist())

    unplanted = {}
    examples = []
    all_pairs = n * (n - 1) // 2
    for k in args.ks:
        pairs = brute_by_k[k]
        codes = pairs[:, 0] * n + pairs[:, 1]
        keep = ~np.isin(codes, list(planted_codes))
        other = pairs[keep]
        buckets = collections.Counter()
        short = 0
        for i, j, d in other:
            jac = jaccard(feat(int(i)), feat(int(j)))
            b = ">=0.8" if jac >= 0.8 else "0.5-0.8" if jac >= 0.5 else "<0.5"
            buckets[b] += 1
            if min(len(docs[i]["text"]), len(docs[j]["text"])) < 200:
                short += 1
            if b == "<0.5" and k == max(args.ks) and len(examples) < 6:
                examples.append({"distance": int(d), "jaccard": round(jac, 3),
                                 "a": docs[i]["text"][:80], "b": docs[j]["text"][:80]})
        unplanted[k] = {"pairs": len(other), "jaccard>=0.8": buckets[">=0.8"],
                        "jaccard 0.5-0.8": buckets["0.5-0.8"], "jaccard<0.5 (false positives)": buckets["<0.5"],
                        "false positive rate per pair": buckets["<0.5"] / all_pairs,
                        "with a document under 200 chars": short}
    out["unplanted"] = unplanted
    scan = brute_force_pairs(fps, args.scan_k) if args.scan_k > kmax else brute_all
    scan = scan[~np.isin(scan[:, 0] * n + scan[:, 1], list(planted_codes))]
    by_d = {}
    for i, j, d in scan:
        jac = jaccard(feat(int(i)), feat(int(j)))
        row = by_d.setdefault(int(d), {"pairs": 0, "jaccard<0.5": 0, "jaccard<0.5, both >=200 chars": 0})
        row["pairs"] += 1
        if jac < 0.5:
            row["jaccard<0.5"] += 1
            if min(len(docs[i]["text"]), len(docs[j]["text"])) >= 200:
                row["jaccard<0.5, both >=200 chars"] += 1
    out["unplanted_by_distance"] = {d: by_d.get(d, {"pairs": 0, "jaccard<0.5": 0, "jaccard<0.5, both >=200 chars": 0})
                                    for d in range(max(args.scan_k, kmax) + 1)}
    out["false_positive_examples"] = examples
    out["all_pairs"] = all_pairs

    if args.methods:
        out["methods"] = methods_side_by_side(docs, planted, args)
    if args.json:
        print(json.dumps(out, indent=1, ensure_ascii=False, default=str))
        return
    print(f"corpus: {n_base:,} real documents (sampled from {pool_size:,} with a fingerprint) + "
          f"{len(planted):,} planted copies = {n:,} documents, {out['chars']:,} chars; built in {out['build_s']:.0f} s")
    print(f"  base by source/lang: {out['by_source']}")
    print(f"  planted per kind: {out['planted']}")
    print(f"  fingerprints: Fingerprinter(shingle={cfg['shingle']}, min_features={cfg['min_features']}, t2s={cfg.get('t2s', True)})")
    print(f"\ntable search vs brute force ({all_pairs:,} pairs compared by brute force in {out['brute_force_s']:.1f} s):")
    for k, c in checks.items():
        sp = out.get("spark_vs_brute_force", {}).get(k)
        sps = (f"; Spark candidate_pairs_df: {sp['pairs']:,} pairs, identical={sp['identical_to_brute_force']}, "
               f"capped buckets {sp['capped_buckets']}, {sp['seconds']:.1f} s") if sp else ""
        print(f"  {c['layout']}: {c['pairs']:,} pairs, identical to brute force (100% recall and "
              f"precision) in {c['tables_s']:.2f} s{sps}")
    def fmt(v):
        return f"{v:8.1%}" if v is not None else f"{'-':>8s}"

    cols = kinds_present + ["s2t without t2s", "all planted"]
    names = [b[2] for b in LENGTH_BUCKETS]
    print("\nrecall of the Hamming criterion on planted pairs (share within distance k), all lengths "
          "and by the base document's length in characters:")
    print("  " + f"{'':20s}" + "".join(f"{'all lengths':^26s}") + "".join(f"{'base ' + b:^26s}" for b in names))
    print("  " + f"{'kind':20s}" + "".join(f"{'k=' + str(k):>8s}" for _ in range(1 + len(names)) for k in args.ks)
          + "  ")
    for c in cols:
        vals = [fmt(recall[k][c]) for k in args.ks]
        for b in names:
            vals += [fmt(recall_by_length[b][k].get(c)) for k in args.ks]
        print("  " + f"{c:20s}" + "".join(vals))
    print("  " + f"{'planted pairs (n)':20s}" + f"{len(copies):>24,d}" + "".join(
        f"{recall_by_length[b][args.ks[0]]['n']:>24,d}" for b in names))
    print("\ndistance distribution of planted pairs (J: median Jaccard of the token 3-gram sets):")
    heads = [str(i) for i in range(11)] + ["11-15", ">15"]
    print("  " + f"{'kind':16s}{'n':>5s}{'J':>6s}{'med':>5s}{'p90':>5s}" + "".join(f"{h:>6s}" for h in heads))
    for kind, h in hist.items():
        j = f"{h['median_jaccard']:6.2f}" if "median_jaccard" in h else f"{'-':>6s}"
        print("  " + f"{kind:16s}{h['n']:5d}{j}{h['median']:5.0f}{h['p90']:5.0f}" + "".join(f"{h['hist'][x]:6d}" for x in heads))
    print(f"\nunplanted pairs within k (of {all_pairs:,} pairs), by Jaccard similarity of the token 3-gram sets:")
    print(f"  {'k':>3s} {'pairs':>7s} {'J>=0.8':>7s} {'J 0.5-0.8':>10s} {'J<0.5 (FP)':>11s} {'FP rate/pair':>13s} {'with doc<200ch':>15s}")
    for k, u in unplanted.items():
        print(f"  {k:3d} {u['pairs']:7d} {u['jaccard>=0.8']:7d} {u['jaccard 0.5-0.8']:10d} "
              f"{u['jaccard<0.5 (false positives)']:11d} {u['false positive rate per pair']:13.2e} "
              f"{u['with a document under 200 chars']:15d}")
    print(f"\nunplanted pairs by exact distance (up to {max(args.scan_k, kmax)}): pairs / Jaccard<0.5 / "
          "Jaccard<0.5 with both documents >= 200 chars")
    print("  " + "  ".join(f"d={d}: {r['pairs']}/{r['jaccard<0.5']}/{r['jaccard<0.5, both >=200 chars']}"
                           for d, r in out["unplanted_by_distance"].items()))
    print("\ncost of k: (document, table) rows per document = tables (choose_layout), and the chance "
          "that two unrelated (uniformly random) fingerprints are within k:")
    for k, c in out["cost_by_k"].items():
        print(f"  k={k}: {c['tables_at_1M']} tables at 1M documents, {c['tables_at_100M']} at 100M; "
              f"P(random pair within k) = {c['random_pair_within_k']:.1e} "
              f"(x 5e15 pairs of 100M documents = {c['random_pair_within_k'] * 5e15:,.0f})")
    if examples:
        print(f"\nfalse-positive examples at k={max(args.ks)}:")
        for e in examples:
            print(f"  d={e['distance']} J={e['jaccard']}: {e['a']!r}\n        vs {e['b']!r}")

    if "methods" in out:
        print()
        print_methods(out["methods"])


def minhash_pairs_local(texts: list[str], cfg: dict):
    """The stage's MinHash-LSH decisions in numpy: (candidate pairs (m, 2) i < j, accepted
    mask, exact Jaccard of each candidate, Bands, CPU seconds of the signatures, has a signature,
    and the exact Jaccard of any two texts by index: the shingle sets are made once)."""
    import numpy as np

    from corpus.dedup.minhash import MinHasher, Shingler, band_keys, bands_of, exact_jaccard
    from corpus.dedup.tables import _unique_pairs, pairs_in_groups

    bands = bands_of(cfg)
    mh = MinHasher(cfg)
    t0 = time.process_time()
    done = [mh.batch(texts[i:i + 1024]) for i in range(0, len(texts), 1024)]
    sigs = np.vstack([x[0] for x in done])
    valid = np.concatenate([x[1] for x in done])
    secs = time.process_time() - t0
    keys = band_keys(sigs, bands.bands, bands.rows)
    idx = np.flatnonzero(valid)
    parts = []
    for band in range(bands.bands):
        k = keys[idx, band]
        order = np.argsort(k, kind="stable")
        parts.append(pairs_in_groups(idx[order], k[order]))
    cand = _unique_pairs(np.concatenate(parts), len(texts)) if parts else np.empty((0, 2), np.int64)
    sh = Shingler(cfg)
    h, d = sh.hashes(texts, want64=True)
    bounds = np.searchsorted(d, np.arange(len(texts) + 1))

    def pair_jaccard(i: int, j: int) -> float:
        return exact_jaccard(h[bounds[i]:bounds[i + 1]], h[bounds[j]:bounds[j + 1]])

    jac = np.array([pair_jaccard(i, j) for i, j in cand]) if len(cand) else np.empty(0)
    accepted = jac >= bands.threshold if cfg.get("verify", True) else np.ones(len(cand), bool)
    return cand, accepted, jac, bands, secs, valid, pair_jaccard


def methods_side_by_side(docs, planted, args) -> dict:
    """Recall per planted kind and false merges of simhash, minhash (per shingle size) and both."""
    import numpy as np
    import opencc

    from corpus.config import load_config
    from corpus.dedup.tables import brute_force_pairs

    dcfg = load_config()["dedup"]
    sim_cfg, mh_cfg = dict(dcfg["simhash"]), dict(dcfg["minhash"])
    if args.threshold is not None:
        mh_cfg["threshold"] = args.threshold
    if args.fp_weight is not None:
        mh_cfg["fp_weight"] = args.fp_weight
    n = len(docs)
    texts = [d["text"] for d in docs]
    fps = np.array([d["fp"] for d in docs], dtype=np.uint64)
    k = int(sim_cfg["k"])
    t0 = time.perf_counter()
    found = {f"simhash k={k}": brute_force_pairs(fps, k)[:, :2]}
    info = {f"simhash k={k}": {"seconds": time.perf_counter() - t0}}
    shingles = args.shingles or [int(mh_cfg["shingle"])]
    units = args.units or [str(mh_cfg.get("units", "words"))]
    words = args.word_shingles or [int(mh_cfg.get("word_shingle", 1))]
    variants = [(u, sh, w) for u in units for sh in shingles for w in (words if u == "words" else [None])]
    for u, sh, w in variants:
        cfg = {**mh_cfg, "shingle": sh, "units": u, **({"word_shingle": w} if w else {})}
        t0 = time.perf_counter()
        cand, ok, jac, bands, sig_s, valid, pair_jaccard = minhash_pairs_local(texts, cfg)
        name = f"minhash {u} n={sh}" + (f" w={w}" if w else "")
        found[name] = cand[ok]
        info[name] = {"bands": bands.describe(), "candidates": int(len(cand)), "accepted": int(ok.sum()),
                      "seconds": time.perf_counter() - t0, "signature_cpu_s": sig_s,
                      "rejected_by_verification": int((~ok).sum())}
        # the LSH alone: of the planted pairs whose exact Jaccard reaches the threshold, the
        # share that became candidates (what the S-curve predicts)
        from corpus.dedup.minhash import candidate_probability

        pj = np.array([pair_jaccard(b, c) for c, (b, _) in sorted(planted.items())])
        both_valid = np.array([valid[b] and valid[c] for c, (b, _) in sorted(planted.items())])
        info[name]["planted_without_signature"] = int((~both_valid).sum())
        above = pj >= bands.threshold
        cand_codes = cand[:, 0] * n + cand[:, 1]
        pc = np.array([min(b, c) * n + max(b, c) for c, (b, _) in sorted(planted.items())])
        is_cand = np.isin(pc, cand_codes)
        info[name]["planted_at_or_above_threshold"] = float(above.mean())
        pk = np.array([kind for _, (_, kind) in sorted(planted.items())])
        info[name]["share_at_or_above_threshold_by_kind"] = {  # the most a verified method can find
            kind: float(above[pk == kind].mean()) for kind in KINDS if (pk == kind).any()}
        sel = above & both_valid  # a text with fewer than min_shingles shingles has no signature
        info[name]["lsh_recall_at_or_above_threshold"] = float(is_cand[sel].mean()) if sel.any() else None
        info[name]["lsh_predicted_at_or_above_threshold"] = (
            float(np.mean(candidate_probability(pj[sel], bands.bands, bands.rows))) if sel.any() else None)
    first = next(name for name in found if name.startswith("minhash"))
    found["both"] = np.unique(np.concatenate([found[f"simhash k={k}"], found[first]]), axis=0)
    info["both"] = {}

    copies = np.array(sorted(planted), dtype=np.int64)
    bases = np.array([planted[c][0] for c in copies], dtype=np.int64)
    kinds = np.array([planted[c][1] for c in copies])
    langs = np.array([docs[int(b)]["lang"] for b in bases])
    blen = np.array([len(docs[int(b)]["text"]) for b in bases])
    planted_codes = np.minimum(bases, copies) * n + np.maximum(bases, copies)
    t2s = opencc.OpenCC("t2s") if sim_cfg.get("t2s", True) else None
    feats = {}

    def feat(i):
        if i not in feats:
            feats[i] = features(docs[i]["text"], t2s, UNRELATED_SHINGLE)
        return feats[i]

    kinds_present = [x for x in KINDS if (kinds == x).any()]
    out = {"docs": n, "planted": int(len(copies)), "methods": {}}
    for name, pairs in found.items():
        pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        codes = pairs[:, 0] * n + pairs[:, 1]
        hit = np.isin(planted_codes, codes)
        other = pairs[~np.isin(codes, planted_codes)]
        false = [(int(i), int(j)) for i, j in other if jaccard(feat(int(i)), feat(int(j))) < 0.5]
        docs_false = len({x for p in false for x in p})
        out["methods"][name] = {
            **info[name],
            "recall": {kind: float(hit[kinds == kind].mean()) for kind in kinds_present},
            "recall_all": float(hit.mean()),
            "recall_by_lang": {lang: {"n": int((langs == lang).sum()), **{
                kind: float(hit[(kinds == kind) & (langs == lang)].mean())
                for kind in kinds_present if ((kinds == kind) & (langs == lang)).any()}}
                for lang in sorted(set(langs.tolist()))},
            "recall_by_base_length": {name: {"n": int(((blen >= lo) & (blen < hi)).sum()), **{
                kind: float(hit[(kinds == kind) & (blen >= lo) & (blen < hi)].mean())
                for kind in kinds_present if ((kinds == kind) & (blen >= lo) & (blen < hi)).any()}}
                for lo, hi, name in LENGTH_BUCKETS},
            "pairs": int(len(pairs)), "unplanted_pairs": int(len(other)),
            "false_pairs": len(false), "docs_in_false_pairs": docs_false,
            "false_merge_rate": docs_false / n,
            "false_pair_rate": len(false) / (n * (n - 1) / 2),
        }
    return out


def print_methods(res: dict) -> None:
    methods = res["methods"]
    kinds = list(next(iter(methods.values()))["recall"])
    print(f"near-duplicate methods side by side on {res['docs']:,} documents ({res['planted']:,} planted "
          "copies): recall of the planted pairs by kind, and false merges (accepted pairs that are not "
          "planted and whose documents' token 3-gram Jaccard is < 0.5)")
    names = list(methods)
    print("  " + f"{'':14s}" + "".join(f"{m:>24s}" for m in names))
    for kind in kinds:
        print("  " + f"{kind:14s}" + "".join(f"{methods[m]['recall'][kind]:24.1%}" for m in names))
    print("  " + f"{'all planted':14s}" + "".join(f"{methods[m]['recall_all']:24.1%}" for m in names))
    for m in names:
        by = methods[m].get("recall_by_lang", {})
        print(f"  {m} by language (planted pairs n; recall per kind): " + "; ".join(
            f"{lang} (n={r['n']}): " + " ".join(f"{k} {v:.0%}" for k, v in r.items() if k != "n")
            for lang, r in by.items()))
        by = methods[m].get("recall_by_base_length", {})
        print(f"  {m} by base length in characters: " + "; ".join(
            f"{name} (n={r['n']}): " + " ".join(f"{k} {v:.0%}" for k, v in r.items() if k != "n")
            for name, r in by.items()))
    print("  " + f"{'pairs':14s}" + "".join(f"{methods[m]['pairs']:24,d}" for m in names))
    print("  " + f"{'unplanted':14s}" + "".join(f"{methods[m]['unplanted_pairs']:24,d}" for m in names))
    print("  " + f"{'false pairs':14s}" + "".join(f"{methods[m]['false_pairs']:24,d}" for m in names))
    print("  " + f"{'false merges':14s}" + "".join(f"{methods[m]['false_merge_rate']:24.3%}" for m in names))
    for m in names:
        i = methods[m]
        if "bands" in i:
            print(f"  {m}: {i['bands']}; {i['candidates']:,} candidates, {i['accepted']:,} accepted "
                  f"after exact Jaccard, signatures {i['signature_cpu_s']:.1f} CPU s, all {i['seconds']:.1f} s")
            if i.get("lsh_recall_at_or_above_threshold") is not None:
                print(f"    planted pairs with exact Jaccard >= threshold: "
                      f"{i['planted_at_or_above_threshold']:.1%}; of those with signatures on both sides, candidates (the LSH): "
                      f"{i['lsh_recall_at_or_above_threshold']:.1%} (S-curve predicts "
                      f"{i['lsh_predicted_at_or_above_threshold']:.1%}); planted pairs with a text "
                      f"under min_shingles: {i['planted_without_signature']:,}")
                print("    share of planted pairs with exact Jaccard >= threshold, by kind (the most "
                      "exact verification lets through): " + ", ".join(
                          f"{k} {v:.1%}" for k, v in i["share_at_or_above_threshold_by_kind"].items()))


if __name__ == "__main__":
    main()

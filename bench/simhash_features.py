"""Which SimHash features find Chinese near duplicates best: token n-grams, jieba words, and
their weighting, compared by recall of planted near duplicates at a fixed false-positive rate.

    python bench/simhash_features.py [--docs 20000] [--copies 800] [--seed 7] [--max-k 10]
                                     [--variants NAME ...] [--shared DIR] [--json]

Corpus: bench/dedup_recall.py's `build_corpus` (the same seeded sample of real documents of
../shared/data and the same planted copies: edit1/3/5/10 = random character edits at 1/3/5/10%,
edit_short = one edit in a text under 100 characters, boilerplate lines, reordered paragraphs,
s2t = simplified -> traditional). Every document is in the corpus whatever the variant.

Variants (NAME = FEATURES-WEIGHTING). Every text is OpenCC t2s-converted and lower-cased first
(as the stage's Fingerprinter does), features are 64-bit hashes, the SimHash is the stage's
construction (corpus/dedup/simhash.py: a feature is told apart by its top 48 hash bits, its 64
votes are murmur3's fmix64 of those; a bit is set where the weighted votes for it exceed half
the total weight), and a text with fewer than 16 distinct features (min_features, as the stage)
gets no fingerprint: it is in no pair (the stage leaves it to exact dedup).

    tokN        shingles of N consecutive tokens, the stage's tokens (every CJK character is
                a token, every run of other letters/digits one token); tok3 was the default
                before this study, tok2 is it since
    word1       jieba words (rjieba.cut, HMM off, as corpus/quality/features.py cuts; tokens
                without a letter, digit or CJK character, i.e. spaces and punctuation, dropped)
    word2       bigrams of those words
    (a text with fewer than N tokens/words: the tokens/words themselves, as the stage does)

    -tf         1 + ln(tf) per distinct feature in fixed point (round(64 (1 + ln tf))): the
                stage's `weights: tf` (sublinear term frequency; the default before this study)
    -binary     1 per distinct feature: `weights: binary` (the default since this study)
    -idf        the -tf weight times a smoothed IDF, ln((N + 1) / (df + 1)), rounded to an
                integer; df = number of the N base (unplanted) documents that contain the
                feature (copies are not counted, so a copy's document frequencies are those of
                an unseen document)

The configured variant (dedup.simhash: shingle, weights; tok2-binary since this study) is
asserted equal to the stage's Fingerprinter on every document.

Per variant: all pairs within Hamming distance --max-k by brute force
(corpus.dedup.tables.brute_force_pairs), and for every k = 0 .. --max-k:

    recall        share of the planted (base, copy) pairs of each kind within distance k (a pair
                  where either text has no fingerprint counts as missed); "all fp'd": the
                  share among the planted pairs whose two texts both have a fingerprint
    unplanted     pairs within k that are not planted
    FP pairs      unplanted pairs whose two documents are unrelated: Jaccard of their token-3-gram
                  sets (dedup_recall.features(text, t2s, 3)) < 0.5, one measure for every variant
    FP rate       FP pairs / all n(n-1)/2 pairs of the corpus

Fixed false-positive rate: the default before this study (tok3-tf, k=4) has FP rate r0. Each variant's k is
the largest k <= --max-k whose FP rate is <= r0; when r0 = 0, the largest k with no FP pair
(">=" marks a variant that has none even at --max-k: the chosen k is then only a lower bound).
Reported at that k and, for comparison, at k = 4 for every variant; also the first distance
with an FP pair, and the permuted-table cost of the chosen k (corpus.dedup.tables.choose_layout
tables at 1M and 100M documents).

CPU s: process CPU seconds of fingerprinting the whole corpus from the t2s-converted texts
(features, weights, votes; jieba's cut included; one process, BLAS threads pinned to 1). The
t2s conversion (common to all) and, for -idf, counting the document frequencies over the base
documents (a separate pass the stage would need) are timed separately.
"""

from __future__ import annotations

import os

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse
import json
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
if __package__ in (None, ""):  # run as a script: the repository root makes bench, corpus importable
    sys.path.insert(0, REPO)

import numpy as np  # noqa: E402

from bench import dedup as B  # noqa: E402
from bench import dedup_recall as R  # noqa: E402
from corpus.dedup.simhash import chunk_ranges  # noqa: E402

KINDS = R.KINDS
DEFAULT_VARIANTS = ["tok3-tf", "tok2-tf", "tok4-tf", "tok5-tf",
                    "tok2-binary", "tok3-binary", "tok4-binary", "tok5-binary",
                    "tok3-idf", "tok4-idf", "tok5-idf",
                    "word1-tf", "word1-idf", "word2-tf", "word2-idf"]
BASELINE = "tok3-tf"  # the default before this study (shingle 3, tf weights, k = 4)
BASELINE_K = 4
MIN_FEATURES = 16
_U64 = np.uint64
_WORDY = re.compile(r"\w")  # a jieba token with a letter, digit or CJK character


def parse_variant(name: str) -> tuple[str, int, str]:
    """"tok3-tf" -> ("tok", 3, "tf")."""
    m = re.fullmatch(r"(tok|word)(\d+)-(tf|binary|idf)", name)
    if not m:
        raise argparse.ArgumentTypeError(f"bad variant {name!r}: tokN|wordN - tf|binary|idf")
    return m.group(1), int(m.group(2)), m.group(3)


# --- features --------------------------------------------------------------------------------

def _chunk_tokens(texts: list[str], unit: str) -> tuple[np.ndarray, np.ndarray]:
    """(token hashes, document index within the chunk) of the (t2s-converted) texts."""
    from corpus.dedup.simhash import _span_hashes, _tokens, lowered_codepoints

    if unit == "tok":
        _, cp, offsets, breaks = lowered_codepoints(texts)
        if cp.size == 0:
            return np.empty(0, _U64), np.empty(0, np.int64)
        toks, starts = _tokens(cp, breaks)
        return toks, np.searchsorted(offsets, starts, side="right") - 1
    import rjieba

    words, doc_of = [], []
    for i, t in enumerate(texts):
        w = [x for x in rjieba.cut(t.lower(), hmm=False) if _WORDY.search(x)]
        words.extend(w)
        doc_of.append(np.full(len(w), i, dtype=np.int64))
    if not words:
        return np.empty(0, _U64), np.empty(0, np.int64)
    lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
    ends = np.cumsum(lengths)
    starts = ends - lengths
    cp = np.frombuffer("".join(words).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return _span_hashes(cp, starts, ends), np.concatenate(doc_of)


def _feature_keys(texts: list[str], unit: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The stage's distinct (document, feature) keys of a chunk and their counts
    (simhash.feature_keys) over this variant's tokens."""
    from corpus.dedup.simhash import feature_keys

    return feature_keys(*_chunk_tokens(texts, unit), len(texts), n)


def document_frequencies(texts: list[str], unit: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct 48-bit feature keys, number of the texts containing each)."""
    from corpus.dedup.simhash import _FEATURE_MASK

    parts = []
    for lo, hi in chunk_ranges(texts):
        uniq, _ = _feature_keys(texts[lo:hi], unit, n)
        parts.append(uniq & _FEATURE_MASK)
    return np.unique(np.concatenate(parts), return_counts=True)


def fingerprints(texts: list[str], unit: str, n: int, weighting: str,
                 df=None, n_df_docs: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(uint64 SimHash per text, has a fingerprint: >= MIN_FEATURES distinct features), voted
    as the stage votes (simhash.simhash_votes) with this variant's weights in fixed point."""
    from corpus.dedup.simhash import _FEATURE_MASK, _WEIGHT_SCALE, simhash_votes

    fps = np.zeros(len(texts), dtype=_U64)
    valid = np.zeros(len(texts), dtype=bool)
    for lo, hi in chunk_ranges(texts):
        uniq, counts = _feature_keys(texts[lo:hi], unit, n)
        if weighting == "binary":
            w = np.full(uniq.size, float(_WEIGHT_SCALE))
        else:
            w = np.rint(_WEIGHT_SCALE * (1.0 + np.log(counts)))  # the stage's tf integer weights
            if weighting == "idf":
                keys, dfs = df
                feat = uniq & _FEATURE_MASK
                pos = np.minimum(np.searchsorted(keys, feat), keys.size - 1)
                d = np.where(keys[pos] == feat, dfs[pos], 0)
                w = np.rint(w * np.log((n_df_docs + 1.0) / (d + 1.0)))
        out = simhash_votes(uniq, w, hi - lo, MIN_FEATURES)
        fps[lo:hi], valid[lo:hi] = out[0], out[1].astype(bool)
    return fps, valid


# --- evaluation ------------------------------------------------------------------------------

def table_cost(k: int) -> dict:
    from corpus.dedup.tables import choose_layout

    out = {}
    for name, n in (("tables_at_1M", 10 ** 6), ("tables_at_100M", 10 ** 8)):
        try:
            out[name] = choose_layout(k, n).n_tables
        except Exception as e:  # noqa: BLE001  (a layout over MAX_TABLES is refused)
            out[name] = f"refused ({type(e).__name__})"
    return out


def evaluate(fps, valid, docs, planted, max_k, jac) -> dict:
    """Per k = 0..max_k: recall by kind, unplanted and FP pairs."""
    from corpus.dedup.tables import brute_force_pairs, hamming

    n = len(docs)
    idx = np.flatnonzero(valid)
    pairs = brute_force_pairs(fps[idx], max_k)
    i, j, d = idx[pairs[:, 0]], idx[pairs[:, 1]], pairs[:, 2]
    copies = np.array(sorted(planted), dtype=np.int64)
    bases = np.array([planted[c][0] for c in copies], dtype=np.int64)
    kinds = np.array([planted[c][1] for c in copies])
    pdist = np.where(valid[bases] & valid[copies], hamming(fps[bases], fps[copies]), 10 ** 6)
    pcodes = np.minimum(bases, copies) * n + np.maximum(bases, copies)
    other = ~np.isin(i * n + j, pcodes)
    oi, oj, od = i[other], j[other], d[other]
    false = np.array([jac(int(a), int(b)) < 0.5 for a, b in zip(oi, oj)], dtype=bool)
    fin = pdist < 10 ** 6
    all_pairs = n * (n - 1) // 2
    kinds_present = [x for x in KINDS if (kinds == x).any()]
    by_k = {}
    for k in range(max_k + 1):
        hit = pdist <= k
        fp = int((false & (od <= k)).sum())
        by_k[k] = {"recall": {**{x: float(hit[kinds == x].mean()) for x in kinds_present},
                              "all": float(hit.mean())},
                   "recall_fingerprinted": float(hit[fin].mean()) if fin.any() else None,
                   "unplanted": int((od <= k).sum()), "fp_pairs": fp, "fp_rate": fp / all_pairs}
    fp_d = od[false]
    return {"by_k": by_k, "first_fp_distance": int(fp_d.min()) if fp_d.size else None,
            "no_fingerprint_docs": int((~valid).sum()),
            "planted_without_fingerprint": int((~fin).sum()),
            "median_planted_distance": {x: float(np.median(pdist[(kinds == x) & fin]))
                                        if ((kinds == x) & fin).any() else None for x in kinds_present}}


def choose_k(res: dict, r0: float, max_k: int) -> tuple[int | None, bool]:
    """(largest k with FP rate <= r0 (no FP pair when r0 = 0), True when even max_k has none)."""
    ok = [k for k in range(max_k + 1) if res["by_k"][k]["fp_rate"] <= r0]
    if not ok:
        return None, False
    k = max(ok)
    return k, (k == max_k and res["by_k"][k]["fp_pairs"] == 0)


def markdown_table(rows: list[tuple[str, str, dict, dict]], kinds: list[str]) -> str:
    head = ["variant", "k", *kinds, "all", "all fp'd", "FP pairs", "unplanted", "no fp docs", "CPU s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, kstr, at, res in rows:
        lines.append("| " + " | ".join(
            [name, kstr] + [f"{100 * at['recall'][x]:.1f}" for x in kinds]
            + [f"**{100 * at['recall']['all']:.1f}**", f"{100 * at['recall_fingerprinted']:.1f}",
               str(at["fp_pairs"]), str(at["unplanted"]),
               str(res["no_fingerprint_docs"]), f"{res['cpu_s']:.1f}"]) + " |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=20_000)
    ap.add_argument("--copies", type=int, default=800, help="planted copies per kind")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--max-k", type=int, default=10)
    ap.add_argument("--variants", nargs="+", default=DEFAULT_VARIANTS,
                    help=f"FEATURES-WEIGHTING names (default: {' '.join(DEFAULT_VARIANTS)})")
    ap.add_argument("--shared", default=B.SHARED)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    for v in args.variants:
        parse_variant(v)
    variants = list(dict.fromkeys([BASELINE] + args.variants))  # the baseline always, first
    if args.max_k < BASELINE_K:
        ap.error(f"--max-k must be >= {BASELINE_K}")

    import opencc

    from corpus.config import load_config

    wall0 = time.perf_counter()
    cfg = load_config()["dedup"]["simhash"]
    t0 = time.perf_counter()
    docs, planted, n_base, pool_size = R.build_corpus(args, cfg)
    build_s = time.perf_counter() - t0
    n = len(docs)
    t2s = opencc.OpenCC("t2s")
    c0 = time.process_time()
    texts = [t2s.convert(d["text"]) for d in docs]
    t2s_s = time.process_time() - c0

    feats = {}
    jac_cache = {}

    def jac(i, j):
        if (i, j) not in jac_cache:
            for x in (i, j):
                if x not in feats:
                    feats[x] = R.features(docs[x]["text"], t2s, 3)
            jac_cache[(i, j)] = R.jaccard(feats[i], feats[j])
        return jac_cache[(i, j)]

    configured = f"tok{int(cfg['shingle'])}-{cfg.get('weights', 'binary')}"
    results = {}
    for name in variants:
        unit, ng, weighting = parse_variant(name)
        df, df_s = None, None
        if weighting == "idf":
            c0 = time.process_time()
            df = document_frequencies(texts[:n_base], unit, ng)
            df_s = time.process_time() - c0
        c0 = time.process_time()
        fps, valid = fingerprints(texts, unit, ng, weighting, df, n_base)
        cpu_s = time.process_time() - c0
        if name == configured:  # the stage's fingerprints (build_corpus made them), reproduced
            stage = np.array([d["fp"] for d in docs], dtype=_U64)
            assert valid.all() and np.array_equal(fps, stage), f"{name} differs from Fingerprinter"
        t0 = time.perf_counter()
        res = evaluate(fps, valid, docs, planted, args.max_k, jac)
        res.update(cpu_s=cpu_s, df_cpu_s=df_s, eval_s=time.perf_counter() - t0)
        results[name] = res
        print(f"  {name}: fingerprints {cpu_s:.1f} CPU s, evaluated in {res['eval_s']:.1f} s, "
              f"first FP at d={res['first_fp_distance']}", file=sys.stderr)

    r0 = results[BASELINE]["by_k"][BASELINE_K]["fp_rate"]
    for name, res in results.items():
        k, capped = choose_k(res, r0, args.max_k)
        res["chosen_k"], res["chosen_k_capped"] = k, capped
        res["table_cost"] = table_cost(k) if k is not None else None
    kinds = [x for x in KINDS if x in results[BASELINE]["by_k"][0]["recall"]]
    out = {"command": " ".join(["python", "bench/simhash_features.py"] + sys.argv[1:]),
           "docs": n, "base_docs": n_base, "real_docs_with_fingerprint": pool_size,
           "planted": len(planted), "all_pairs": n * (n - 1) // 2, "chars": sum(len(t) for t in texts),
           "baseline": f"{BASELINE} k={BASELINE_K}", "baseline_fp_rate": r0,
           "build_s": build_s, "t2s_cpu_s": t2s_s, "max_k": args.max_k,
           "variants": results, "wall_s": time.perf_counter() - wall0}
    if args.json:
        print(json.dumps(out, indent=1, ensure_ascii=False, default=str))
        return

    print(f"corpus: {n_base:,} real documents + {len(planted):,} planted copies = {n:,} documents, "
          f"{out['chars']:,} chars, {out['all_pairs']:,} pairs; built in {build_s:.0f} s; "
          f"t2s of all texts {t2s_s:.2f} CPU s (common to every variant)")
    rule = ("no FP pair (the baseline has none)" if r0 == 0
            else f"FP rate per pair <= {r0:.2e} (the baseline's)")
    print(f"\nfixed false-positive rate: baseline {BASELINE} k={BASELINE_K} has "
          f"{results[BASELINE]['by_k'][BASELINE_K]['fp_pairs']} FP pairs; each variant at the largest "
          f"k <= {args.max_k} with {rule}. Recall (%) of planted pairs by kind; FP pairs = unplanted "
          "pairs with token-3-gram Jaccard < 0.5; all fp'd = recall of the planted pairs whose two texts both have a fingerprint in that variant; no fp docs = texts under 16 distinct features.\n")
    rows = []
    for name, res in results.items():
        k = res["chosen_k"]
        if k is None:
            continue
        rows.append((name, (">=" if res["chosen_k_capped"] else "") + str(k), res["by_k"][k], res))
    print(markdown_table(rows, kinds))
    print(f"\nevery variant at k = {BASELINE_K}:\n")
    print(markdown_table([(name, str(BASELINE_K), res["by_k"][BASELINE_K], res)
                          for name, res in results.items()], kinds))
    print("\nFP pairs and all-planted recall (%) by k, first FP distance, median planted distance "
          "by kind, table cost of the chosen k:\n")
    ks = list(range(args.max_k + 1))
    print("| variant | first FP d | " + " | ".join(f"k={k}" for k in ks) + " |")
    print("|" + "---|" * (len(ks) + 2))
    for name, res in results.items():
        print(f"| {name} | {res['first_fp_distance']} | " + " | ".join(
            f"{res['by_k'][k]['fp_pairs']} / {100 * res['by_k'][k]['recall']['all']:.1f}" for k in ks) + " |")
    print()
    print("| variant | " + " | ".join(f"med d {x}" for x in kinds)
          + " | IDF df CPU s | tables at 1M / 100M (chosen k) |")
    print("|" + "---|" * (len(kinds) + 3))
    for name, res in results.items():
        tc = res["table_cost"] or {}
        df_s = f"{res['df_cpu_s']:.1f}" if res["df_cpu_s"] is not None else "-"
        print(f"| {name} | " + " | ".join(
            f"{res['median_planted_distance'][x]:.0f}" if res["median_planted_distance"][x] is not None else "-"
            for x in kinds) + f" | {df_s} | {tc.get('tables_at_1M')} / {tc.get('tables_at_100M')} |")
    print(f"\nwall time {out['wall_s']:.0f} s")


if __name__ == "__main__":
    main()

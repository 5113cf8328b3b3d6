"""MinHash signatures and LSH bands, computed with numpy over a whole batch of documents at once.

Shingles: runs of consecutive tokens of one document (see `Shingler`). With `units: words` the
tokens are SimHash's (corpus.dedup.simhash: every CJK character is a token, every run of other
letters and digits is one, lower-cased) and a shingle is `shingle` tokens from a CJK character,
`word_shingle` from a word, so a Chinese text gives character n-grams and an English one word
n-grams; with `units: chars` every letter and digit of any script is a token and every shingle
`shingle` of them (spaces and punctuation skipped). Traditional characters are mapped to
simplified first when `t2s` is set. A document with fewer than `min_shingles` shingles
(repeats included) gets no signature (exact dedup only judges it).

Hashing a shingle to 32 bits (`hash`):

    sha1   datasketch's default `sha1_hash32` of the shingle's UTF-8 text (its tokens joined
           with nothing between two CJK tokens, a space otherwise): one hashlib call per
           shingle, the only per-shingle Python loop; a signature then equals
           `datasketch.MinHash(num_perm, seed, scheme)` updated with those shingles (tested).
    fast   the high 32 bits of SimHash's 64-bit shingle hash (a polynomial over code points,
           numpy passes over the whole batch): no Python loop per shingle or token.

Permutations: datasketch's, drawn from numpy RandomState(seed): `affine32` (datasketch >= 2's
default: murmur3 fmix32 of the hash, then a*h + b mod 2^32, a odd) or `legacy` (datasketch
< 2: (a*h + b) mod the Mersenne prime 2^61-1, truncated to 32 bits, with numpy's uint64
wrap-around as datasketch computes it). The signature is the minimum over a document's
shingles of each permutation: one (permutations x shingles) numpy multiply-add per 8,192
shingles, then np.minimum.reduceat along each permutation's row (repeated shingles need not be
removed: they do not change a minimum).

Bands: `choose_bands(threshold, num_perm)` picks b bands of r rows (b*r <= num_perm) that
minimise the weighted false-positive plus false-negative areas under the S-curve
P(candidate | Jaccard s) = 1 - (1 - s^r)^b, as datasketch's MinHashLSH does; `band_keys`
hashes each band's r values to one int64 (two documents share a band key iff the band's
values agree, up to 64-bit collisions).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Iterable, Iterator, Mapping, Sequence

import numpy as np
import pyarrow as pa

from corpus.dedup.simhash import _fmix64, _span_hashes, chunk_ranges, lowered_codepoints, shingle_hashes, token_spans

_U64 = np.uint64
_U32 = np.uint32
MERSENNE = (1 << 61) - 1
MAX_HASH = (1 << 32) - 1
SCHEMES = ("affine32", "legacy")
HASHES = ("fast", "sha1")
UNITS = ("words", "chars")
_CHUNK_CHARS = 1 << 16  # characters per tokenising pass
_CHUNK_SHINGLES = 1 << 13  # columns of the (permutations x shingles) matrix per pass (8,192: the fastest measured)
_FMIX32 = (_U32(16), _U32(0x85EBCA6B), _U32(13), _U32(0xC2B2AE35), _U32(16))
_BAND_Q = _U64(0x9E3779B97F4A7C15)


# --- permutations and signatures -------------------------------------------------------------

def permutations(num_perm: int, seed: int, scheme: str = "affine32") -> tuple[np.ndarray, np.ndarray]:
    """(a, b) of datasketch's MinHash(num_perm, seed, scheme=scheme)._init_permutations."""
    gen = np.random.RandomState(seed)
    if scheme == "legacy":
        ab = np.array([(gen.randint(1, MERSENNE, dtype=_U64), gen.randint(0, MERSENNE, dtype=_U64))
                       for _ in range(num_perm)], dtype=_U64).T
        return ab[0], ab[1]
    if scheme != "affine32":
        raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
    a = gen.randint(0, 1 << 31, num_perm, dtype=_U32) * _U32(2) + _U32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=_U32)
    return a, b


def fmix32(h: np.ndarray) -> np.ndarray:
    s1, m1, s2, m2, s3 = _FMIX32
    h = h ^ (h >> s1)
    h = h * m1
    h = h ^ (h >> s2)
    h = h * m2
    return h ^ (h >> s3)


def signatures(hashes: np.ndarray, doc_of: np.ndarray, n_docs: int, perm, scheme: str = "affine32",
               chunk: int = _CHUNK_SHINGLES) -> np.ndarray:
    """(n_docs, P) uint32 MinHash signatures from 32-bit shingle hashes (uint32) and the document
    of each (int64, non-decreasing); documents without shingles get MAX_HASH everywhere."""
    a, b = perm
    out = np.full((n_docs, a.size), MAX_HASH, dtype=_U32)
    if hashes.size == 0:
        return out
    if scheme == "affine32":
        hv = fmix32(hashes.astype(_U32))
    else:
        hv = hashes.astype(_U64)
    dtype = _U32 if scheme == "affine32" else _U64
    buf = np.empty((a.size, min(chunk, hv.size)), dtype=dtype)  # permutations x shingles
    with np.errstate(over="ignore"):
        for lo in range(0, hv.size, chunk):  # a document may span passes: minima combine
            x = hv[lo:lo + chunk]
            phv = buf[:, :x.size]
            np.multiply(a[:, None], x[None, :], out=phv)
            np.add(phv, b[:, None], out=phv)
            if scheme != "affine32":
                np.remainder(phv, _U64(MERSENNE), out=phv)
                np.bitwise_and(phv, _U64(MAX_HASH), out=phv)
            docs = doc_of[lo:lo + chunk]
            starts = np.flatnonzero(np.append(True, docs[1:] != docs[:-1]))
            mins = np.minimum.reduceat(phv, starts, axis=1).T.astype(_U32)
            rows = docs[starts]
            out[rows] = np.minimum(out[rows], mins)
    return out


# --- shingles --------------------------------------------------------------------------------

class Shingler:
    """Shingles of texts, as 32-bit hashes (for signatures) or 64-bit hashes (for exact
    Jaccard), per the MinHash config section (shingle, word_shingle, units, t2s, hash).

    A shingle starts at every token: `shingle` tokens from a CJK character, `word_shingle`
    tokens from a word of another script (with `units: chars` every shingle has `shingle`
    tokens); one that would run past its document's last token is not made."""

    def __init__(self, cfg: Mapping):
        self.n = int(cfg.get("shingle", 2))
        self.units = str(cfg.get("units", "words"))
        if self.units not in UNITS:
            raise ValueError(f"units must be one of {UNITS}, got {self.units!r}")
        self._chars = self.units == "chars"
        self.word_n = self.n if self._chars else int(cfg.get("word_shingle", 1))
        self.hash = str(cfg.get("hash", "fast"))
        if self.hash not in HASHES:
            raise ValueError(f"hash must be one of {HASHES}, got {self.hash!r}")
        self._t2s = None
        if cfg.get("t2s", True):
            import opencc

            self._t2s = opencc.OpenCC("t2s")

    def _prepare(self, texts: Sequence[str]) -> list[str]:
        return [self._t2s.convert(t) for t in texts] if self._t2s is not None else list(texts)

    def _firsts(self, is_cjk: np.ndarray, doc_of: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(first token index, tokens) of every shingle, in token order."""
        size = np.where(is_cjk, self.n, self.word_n)
        last = np.arange(size.size) + size - 1
        ok = last < size.size
        ok[ok] = doc_of[ok] == doc_of[last[ok]]
        firsts = np.flatnonzero(ok)
        return firsts, size[firsts]

    def _chunk(self, texts: Sequence[str], want64: bool):
        """(hashes, doc index) of the shingles of each text in document order: the distinct
        uint64 fast hashes when want64, else uint32 per `self.hash` (repeats kept)."""
        empty = (np.empty(0, _U64 if want64 else _U32), np.empty(0, np.int64))
        lowered, cp, offsets, breaks = lowered_codepoints(texts)
        if cp.size == 0:
            return empty
        starts, ends, is_cjk = token_spans(cp, breaks, self._chars)
        is_cjk |= self._chars  # with chars, every token is a character joined to the next
        doc_of = np.searchsorted(offsets, starts, side="right") - 1
        firsts, sizes = self._firsts(is_cjk, doc_of)
        if firsts.size == 0:
            return empty
        docs = doc_of[firsts]
        if want64 or self.hash == "fast":
            tokens = _span_hashes(cp, starts, ends)
            h = shingle_hashes(tokens, self.n)
            if self.word_n == self.n:
                h = h[firsts]
            else:
                hw = shingle_hashes(tokens, self.word_n)
                h = np.where(sizes == self.n, h[np.minimum(firsts, h.size - 1)],
                             hw[np.minimum(firsts, hw.size - 1)])
            h = h if want64 else (h >> _U64(32)).astype(_U32)
        else:
            h = _sha1_shingles(lowered, starts, ends, is_cjk, firsts, sizes)
        if not want64:  # repeats do not change a minimum: no need to make them distinct
            return h, docs
        order = np.lexsort((h, docs))
        h, docs = h[order], docs[order]
        keep = np.ones(h.size, dtype=bool)
        keep[1:] = (h[1:] != h[:-1]) | (docs[1:] != docs[:-1])
        return h[keep], docs[keep]

    def hashes(self, texts: Sequence[str], want64: bool = False):
        """(shingle hashes, their document index) for a list of texts, in document order;
        distinct per document only with `want64` (the sets exact Jaccard compares); texts in
        chunks of ~64k characters."""
        texts = self._prepare(texts)
        hs, ds = [], []
        for lo, hi in chunk_ranges(texts, _CHUNK_CHARS):
            h, d = self._chunk(texts[lo:hi], want64)
            hs.append(h)
            ds.append(d + lo)
        if not hs:
            return np.empty(0, _U64 if want64 else _U32), np.empty(0, np.int64)
        return np.concatenate(hs), np.concatenate(ds)

    def shingle_texts(self, text: str) -> list[str]:
        """The distinct shingles of one text as strings, in first-seen order (what `sha1` hashes;
        for tests and for feeding datasketch)."""
        text = self._prepare([text])[0].lower()
        cp = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        if cp.size == 0:
            return []
        breaks = np.zeros(cp.size, dtype=bool)
        breaks[0] = True
        starts, ends, is_cjk = token_spans(cp, breaks, self._chars)
        is_cjk |= self._chars
        firsts, sizes = self._firsts(is_cjk, np.zeros(starts.size, dtype=np.int64))
        return list(dict.fromkeys(_shingle_strings(text, starts, ends, is_cjk, firsts, sizes)))


def _shingle_strings(text: str, starts, ends, is_cjk, firsts: np.ndarray, sizes: np.ndarray) -> list[str]:
    """The text of the shingles of `sizes` tokens beginning at token indices `firsts`: tokens
    joined with nothing between two CJK tokens and a space otherwise."""
    toks = [text[s:e] for s, e in zip(starts.tolist(), ends.tolist())]
    sep_before = np.ones(len(toks), dtype=bool)
    sep_before[1:] = ~(is_cjk[1:] & is_cjk[:-1])
    ptoks = [(" " + t) if s else t for t, s in zip(toks, sep_before.tolist())]
    return [toks[i] + "".join(ptoks[i + 1:i + n]) for i, n in zip(firsts.tolist(), sizes.tolist())]


def _sha1_shingles(text: str, starts, ends, is_cjk, firsts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """datasketch's sha1_hash32 of each shingle's UTF-8 text (the first 4 digest bytes, little
    endian), one hashlib call per shingle."""
    strings = _shingle_strings(text, starts, ends, is_cjk, firsts, sizes)
    sha1 = hashlib.sha1
    digests = b"".join([sha1(s.encode("utf-8", "surrogatepass")).digest()[:4] for s in strings])
    return np.frombuffer(digests, dtype="<u4").astype(_U32)


# --- the per-batch function ------------------------------------------------------------------

class MinHasher:
    """Signatures of texts per the MinHash config section (shingle, num_perm, seed, scheme,
    hash, t2s, min_shingles)."""

    def __init__(self, cfg: Mapping):
        self.shingler = Shingler(cfg)
        self.num_perm = int(cfg.get("num_perm", 128))
        self.seed = int(cfg.get("seed", 1))
        self.scheme = str(cfg.get("scheme", "affine32"))
        self.min_shingles = int(cfg.get("min_shingles", 1))
        self.perm = permutations(self.num_perm, self.seed, self.scheme)

    def batch(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """((n, num_perm) uint32 signatures, has a signature)."""
        h, d = self.shingler.hashes(texts)
        counts = np.bincount(d, minlength=len(texts))  # shingles, repeats included
        sigs = signatures(h, d, len(texts), self.perm, self.scheme)
        return sigs, counts >= max(1, self.min_shingles)


def band_keys(sigs: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(n, bands) int64: a 64-bit hash of each band's `rows` signature values (and its index)."""
    n = sigs.shape[0]
    out = np.empty((n, bands), dtype=_U64)
    v = sigs.astype(_U64)
    with np.errstate(over="ignore"):
        for i in range(bands):
            h = np.full(n, _U64(i + 1), dtype=_U64)
            for j in range(i * rows, (i + 1) * rows):
                h = h * _BAND_Q + v[:, j]
            out[:, i] = _fmix64(h)
    return out.view(np.int64)


MINHASH_SCHEMA = pa.schema([
    pa.field("id", pa.string()),
    pa.field("signature", pa.binary()),
    pa.field("bands", pa.list_(pa.int64())),
])


def minhash_keys(batches: Iterable[pa.RecordBatch], cfg: Mapping, bands: int,
                 rows: int) -> Iterator[pa.RecordBatch]:
    """Batches of (id, text) as MINHASH_SCHEMA rows: the signature (num_perm little-endian
    uint32) and the band keys; both null for a text without enough shingles."""
    mh = MinHasher(cfg)
    for batch in batches:
        texts = batch.column("text").to_pylist()
        sigs, valid = mh.batch(texts)
        keys = band_keys(sigs, bands, rows)
        n = len(texts)
        width = sigs.shape[1] * 4
        sig_arr = pa.Array.from_buffers(
            pa.binary(), n,
            [pa.py_buffer(np.packbits(valid, bitorder="little")),
             pa.py_buffer((np.arange(n + 1, dtype=np.int32) * width)),
             pa.py_buffer(sigs.astype("<u4").tobytes())])
        band_arr = pa.ListArray.from_arrays(
            pa.array(np.arange(n + 1, dtype=np.int32) * bands), pa.array(keys.ravel(), pa.int64()),
            mask=pa.array(~valid))
        yield pa.RecordBatch.from_arrays([batch.column("id"), sig_arr, band_arr], schema=MINHASH_SCHEMA)


def estimated_jaccard(sig_a: bytes, sig_b: bytes) -> float:
    a, b = np.frombuffer(sig_a, "<u4"), np.frombuffer(sig_b, "<u4")
    return float(np.mean(a == b))


def exact_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Jaccard similarity of two sorted distinct hash arrays (1.0 for two empty sets)."""
    inter = np.intersect1d(a, b, assume_unique=True).size
    union = a.size + b.size - inter
    return inter / union if union else 1.0


# --- bands from a threshold ------------------------------------------------------------------

def _grid(lo: float, hi: float, k: int = 2001) -> np.ndarray:
    return np.linspace(lo, hi, k)


def _area(f, lo: float, hi: float) -> float:
    x = _grid(lo, hi)
    y = f(x)
    return float(np.sum((y[1:] + y[:-1]) * np.diff(x)) / 2)


def candidate_probability(s, bands: int, rows: int):
    """P(two documents of Jaccard s share at least one band) = 1 - (1 - s^r)^b."""
    return 1.0 - (1.0 - np.asarray(s, dtype=float) ** rows) ** bands


def false_positive_area(threshold: float, bands: int, rows: int) -> float:
    """datasketch's false-positive probability: the S-curve's area below the threshold."""
    return _area(lambda s: candidate_probability(s, bands, rows), 0.0, threshold)


def false_negative_area(threshold: float, bands: int, rows: int) -> float:
    """datasketch's false-negative probability: the area above the S-curve past the threshold."""
    return _area(lambda s: 1.0 - candidate_probability(s, bands, rows), threshold, 1.0)


@dataclass(frozen=True)
class Bands:
    bands: int
    rows: int
    threshold: float
    num_perm: int

    @property
    def midpoint(self) -> float:
        """The Jaccard at which a pair becomes a candidate with probability 1/2."""
        return (1.0 - 0.5 ** (1.0 / self.bands)) ** (1.0 / self.rows)

    @property
    def false_positive(self) -> float:
        return false_positive_area(self.threshold, self.bands, self.rows)

    @property
    def false_negative(self) -> float:
        return false_negative_area(self.threshold, self.bands, self.rows)

    def describe(self) -> str:
        return (f"{self.bands} bands x {self.rows} rows of {self.num_perm} permutations: "
                f"S-curve 50% at Jaccard {self.midpoint:.3f}; P(candidate) "
                f"{candidate_probability(self.threshold, self.bands, self.rows):.3f} at the threshold "
                f"{self.threshold:g}; false-positive area {self.false_positive:.4f}, "
                f"false-negative area {self.false_negative:.4f}")


def choose_bands(threshold: float, num_perm: int, fp_weight: float = 0.5,
                 fn_weight: float = 0.5) -> Bands:
    """The (b, r), b*r <= num_perm, minimising fp_weight * FP area + fn_weight * FN area
    (datasketch's MinHashLSH._optimal_param, with trapezoid integration)."""
    best, opt = math.inf, (1, 1)
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            err = (fp_weight * false_positive_area(threshold, b, r)
                   + fn_weight * false_negative_area(threshold, b, r))
            if err < best - 1e-12:
                best, opt = err, (b, r)
    return Bands(opt[0], opt[1], threshold, num_perm)


def bands_of(cfg: Mapping) -> Bands:
    """The bands of a MinHash config section: `bands: auto` (choose_bands) or [b, r]."""
    p, t = int(cfg.get("num_perm", 128)), float(cfg.get("threshold", 0.8))
    given = cfg.get("bands", "auto")
    if given == "auto":
        return choose_bands(t, p, float(cfg.get("fp_weight", 0.5)), float(1 - cfg.get("fp_weight", 0.5)))
    b, r = (int(x) for x in given)
    if b * r > p:
        raise ValueError(f"bands x rows ({b} x {r}) exceed num_perm ({p})")
    return Bands(b, r, t, p)


def main(argv=None) -> None:
    """`python -m corpus.dedup.minhash [--threshold T] [--num-perm P] [--fp-weight W] [--bands B R]`:
    the bands the configured (or given) settings choose, their S-curve's 50% point, the
    false-positive/negative areas, and P(candidate) at a few Jaccard values."""
    import argparse

    from corpus.config import load_config

    cfg = dict(load_config()["dedup"]["minhash"])
    ap = argparse.ArgumentParser(description=main.__doc__.split("\n")[0])
    ap.add_argument("--threshold", type=float, default=cfg["threshold"])
    ap.add_argument("--num-perm", type=int, default=cfg["num_perm"])
    ap.add_argument("--fp-weight", type=float, default=cfg["fp_weight"])
    ap.add_argument("--bands", type=int, nargs=2, default=None, metavar=("B", "R"))
    args = ap.parse_args(argv)
    cfg.update(threshold=args.threshold, num_perm=args.num_perm, fp_weight=args.fp_weight,
               bands=list(args.bands) if args.bands else "auto")
    b = bands_of(cfg)
    print(b.describe())
    print("P(candidate) by Jaccard: " + ", ".join(
        f"{s:.2f}: {candidate_probability(s, b.bands, b.rows):.3f}" for s in (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95)))


if __name__ == "__main__":
    main()

"""64-bit SimHash fingerprints, computed with numpy over a whole batch of documents at once.

Tokens: every CJK character is a token, every run of other letters and digits is a token
(lower-cased). Features: shingles of `shingle` consecutive tokens of one document, each hashed
to 64 bits (a polynomial hash over code points, finished with the murmur3 64-bit mixer).
A feature votes on each of the 64 bits with its weight: `binary` (the default; every distinct
feature once) or `tf`, the sublinear term frequency 1 + ln(tf), in fixed point (integers, so
sums are exact and independent of order); why these: bench/simhash_features.py. No Python loop
runs per token or feature: tokens and features of a whole chunk of documents (~64k characters)
are numpy passes, and the votes one BLAS product per document.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from corpus.text import cjk

_U64 = np.uint64
_P = _U64(0x9E3779B97F4A7C15)  # odd multiplier for the polynomial token hash
_P_INV = _U64(pow(int(_P), -1, 1 << 64))  # its inverse modulo 2^64
_Q = _U64(0xC2B2AE3D27D4EB4F)  # and for combining token hashes into shingle hashes
_FEATURE_BITS = 48  # distinct features per document are told apart by 48 hash bits
_DOC_SHIFT = _U64(_FEATURE_BITS)
_FEATURE_MASK = _U64((1 << _FEATURE_BITS) - 1)
_MAX_DOCS = 1 << (64 - _FEATURE_BITS)  # documents per chunk (their index sits above the feature)
_CHUNK_CHARS = 1 << 16  # characters per numpy pass (bounds the features x 64 vote matrix)
_WEIGHT_SCALE = 64  # fixed-point weights: 64, or round(64 * (1 + ln tf))
WEIGHTS = ("binary", "tf")
_EXACT_FLOAT32 = 1 << 24  # below this, sums of integer weights are exact in float32


def _fmix64(h: np.ndarray) -> np.ndarray:
    """murmur3's finaliser: every input bit affects every output bit."""
    h = h ^ (h >> _U64(33))
    h = h * _U64(0xFF51AFD7ED558CCD)
    h = h ^ (h >> _U64(33))
    h = h * _U64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> _U64(33))


class _Powers:
    """P^i and P^-i mod 2^64 for i < n, grown on demand and shared by every call up to
    `_MAX_KEPT` (a longer text, a chunk of its own, gets tables that are not kept)."""

    _MAX_KEPT = 1 << 20

    def __init__(self):
        self.up = self.down = np.ones(1, dtype=_U64)

    def get(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        if self.up.size >= n:
            return self.up[:n], self.down[:n]
        size = max(n, min(2 * self.up.size, self._MAX_KEPT))
        with np.errstate(over="ignore"):
            up = np.cumprod(np.concatenate(([_U64(1)], np.full(size - 1, _P))), dtype=_U64)
            down = np.cumprod(np.concatenate(([_U64(1)], np.full(size - 1, _P_INV))), dtype=_U64)
        if size <= self._MAX_KEPT:
            self.up, self.down = up, down
        return up[:n], down[:n]


_POWERS = _Powers()


# A CJK token is one character: Han (BMP with the Yijing hexagrams, plane 2), kana, Hangul syllables.
CJK_PIECES = ("ext_a", "yijing", "unified", "compat_ideographs", *cjk.KANA_BLOCKS, "hangul_syllables",
              "plane2_han")


def _class_table() -> np.ndarray:
    """Per code point up to the last CJK one: 1 = CJK character, 2 = letter or digit of
    another script (lower-cased Latin, Greek, Cyrillic), 0 = neither (everything above too)."""
    cp = np.arange(0x2FA21, dtype=np.int64)
    is_cjk = cjk.mask(cp, *CJK_PIECES)
    alnum = (((cp >= 0x30) & (cp <= 0x39)) | ((cp >= 0x61) & (cp <= 0x7A))
             | ((cp >= 0xC0) & (cp <= 0x24F) & (cp != 0xD7) & (cp != 0xF7))
             | ((cp >= 0x370) & (cp <= 0x52F)))
    table = np.where(is_cjk, 1, np.where(alnum, 2, 0)).astype(np.uint8)
    table[-1] = 0  # the slot every higher code point maps to
    return table


_CLASSES = _class_table()


def _char_classes(cp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(is a CJK character, is a letter or digit of another script) per code point."""
    cls = np.take(_CLASSES, cp, mode="clip")  # every higher code point: the last slot (neither)
    return cls == 1, cls == 2


def token_spans(cp: np.ndarray, breaks: np.ndarray,
                chars: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start, end, is CJK) of every token of the code points `cp`: a CJK character, or a run
    of letters and digits of another script (with `chars`: each of those letters and digits);
    `breaks` marks the first code point of each document (no token spans two documents)."""
    cjk, alnum = _char_classes(cp)
    if chars:
        starts = np.flatnonzero(cjk | alnum)
        return starts, starts + 1, cjk[starts]
    first = np.empty_like(alnum)  # alnum here and not continuing an alnum run
    first[0] = alnum[0]
    first[1:] = alnum[1:] & ~alnum[:-1]
    first |= alnum & breaks
    last = np.empty_like(alnum)
    last[-1] = alnum[-1]
    last[:-1] = alnum[:-1] & (~alnum[1:] | breaks[1:])
    starts = np.flatnonzero(cjk | first)
    ends = np.flatnonzero(cjk | last) + 1
    return starts, ends, cjk[starts]


def _tokens(cp: np.ndarray, breaks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(64-bit hash, start offset) of every token of the code points `cp` (`token_spans`)."""
    starts, ends, _ = token_spans(cp, breaks)
    return _span_hashes(cp, starts, ends), starts


def _span_hashes(cp: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """64-bit hashes of the code point spans cp[start:end] (cp: uint32 or uint64)."""
    # Polynomial hash of cp[s:e] = sum_j cp[j] * P^(j-s), from one prefix sum over the chunk:
    # S[i] = sum_{j<i} (cp[j]+1) * P^j, so hash = (S[e] - S[s]) * P^-s.
    up, down = _POWERS.get(cp.size)
    prefix = np.zeros(cp.size + 1, dtype=_U64)
    with np.errstate(over="ignore"):
        np.cumsum((cp + _U64(1)) * up, out=prefix[1:])
        raw = (prefix[ends] - prefix[starts]) * down[starts]
    return _fmix64(raw ^ (ends - starts).astype(_U64))


def lowered_codepoints(texts: Sequence[str]):
    """(the lowered texts joined, their code points as uint32, each text's offset into them,
    one more than texts, and a mask of the code points that start a text)."""
    joined = "".join(texts)
    lowered = joined.lower()
    if len(lowered) == len(joined):  # lower() never shortens: no character grew, offsets hold
        lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    else:  # e.g. "İ" -> "i̇": lower each text on its own
        parts = [t.lower() for t in texts]
        lowered = "".join(parts)
        lengths = np.fromiter(map(len, parts), dtype=np.int64, count=len(texts))
    cp = np.frombuffer(lowered.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    offsets = np.concatenate(([0], np.cumsum(lengths)))
    breaks = np.zeros(cp.size, dtype=bool)
    breaks[offsets[:-1][lengths > 0]] = True
    return lowered, cp, offsets, breaks


def _chunk_fingerprints(texts: Sequence[str], shingle: int, min_features: int, weighting: str) -> np.ndarray:
    """SimHash per text (uint64) and, as a second row, 1 where the text has a fingerprint."""
    n_docs = len(texts)
    lowered, cp, offsets, breaks = lowered_codepoints(texts)
    if cp.size == 0:
        return np.zeros((2, n_docs), dtype=_U64)
    tokens, starts = _tokens(cp, breaks)
    doc_of = np.searchsorted(offsets, starts, side="right") - 1
    keys, counts = feature_keys(tokens, doc_of, n_docs, shingle)
    if weighting == "tf":
        weights = np.rint(_WEIGHT_SCALE * (1.0 + np.log(counts)))  # integers: exact sums
    else:
        weights = np.full(counts.size, float(_WEIGHT_SCALE))
    return simhash_votes(keys, weights, n_docs, min_features)


def feature_keys(tokens: np.ndarray, doc_of: np.ndarray, n_docs: int,
                 shingle: int) -> tuple[np.ndarray, np.ndarray]:
    """The sorted distinct (document << 48 | feature's top 48 bits) keys of a chunk and how often
    each occurs. Features: shingles of `shingle` tokens of one document; a document with fewer
    tokens: its tokens."""
    per_doc = np.bincount(doc_of, minlength=n_docs)
    n = tokens.size - shingle + 1
    feats, feat_doc = tokens, doc_of
    if shingle > 1 and n > 0:
        whole = doc_of[:n] == doc_of[shingle - 1:]
        short = per_doc[doc_of] < shingle
        feats = np.concatenate((shingle_hashes(tokens, shingle)[whole], tokens[short]))
        feat_doc = np.concatenate((doc_of[:n][whole], doc_of[short]))
    keys = np.sort((feat_doc.astype(_U64) << _DOC_SHIFT) | (feats >> _U64(64 - _FEATURE_BITS)))
    if keys.size == 0:
        return keys, np.empty(0, np.int64)
    new = np.empty(keys.size, dtype=bool)
    new[0] = True
    new[1:] = keys[1:] != keys[:-1]
    first = np.flatnonzero(new)
    return keys[first], np.diff(np.append(first, keys.size))


def simhash_votes(keys: np.ndarray, weights: np.ndarray, n_docs: int, min_features: int) -> np.ndarray:
    """SimHash per document of a chunk (uint64) and, as a second row, 1 where it has at least
    `min_features` features, from `feature_keys` and one weight per key (integers: exact sums)."""
    out = np.zeros((2, n_docs), dtype=_U64)
    if keys.size == 0:
        return out
    udoc = (keys >> _DOC_SHIFT).astype(np.int64)
    bits = np.unpackbits(_fmix64(keys & _FEATURE_MASK).view(np.uint8), bitorder="little")
    bits = bits.reshape(-1, 64).astype(np.float32)
    bounds = np.flatnonzero(np.append(True, udoc[1:] != udoc[:-1]))
    docs = udoc[bounds]
    bounds = np.append(bounds, keys.size)
    totals = np.add.reduceat(weights, bounds[:-1])
    weights32 = weights.astype(np.float32)
    weighted = np.empty((docs.size, 64))
    for i in range(docs.size):  # one BLAS product per document: sum of w * bit, per bit
        lo, hi = bounds[i], bounds[i + 1]
        if totals[i] < _EXACT_FLOAT32:  # integer sums below 2^24 are exact in float32
            weighted[i] = weights32[lo:hi] @ bits[lo:hi]
        else:
            weighted[i] = weights[lo:hi] @ bits[lo:hi].astype(np.float64)
    votes = 2 * weighted > totals[:, None]  # sum of w * (+1 if set, -1 if not) > 0
    out[0, docs] = np.packbits(votes, axis=1, bitorder="little").view("<u8").ravel()
    out[1, docs] = np.diff(bounds) >= max(1, min_features)
    out[0, out[1] == 0] = 0
    return out


def simhash_batch(texts: Sequence[str], shingle: int = 2, min_features: int = 1,
                  weights: str = "binary") -> tuple[np.ndarray, np.ndarray]:
    """(fingerprints, has_fingerprint) for a list of texts: uint64 SimHashes, and False where a
    text has fewer than `min_features` distinct features (too short for a meaningful
    fingerprint; its fingerprint slot is 0). Texts are processed in chunks of ~64k characters
    (a longer text is a chunk of its own)."""
    if weights not in WEIGHTS:
        raise ValueError(f"weights must be one of {WEIGHTS}, got {weights!r}")
    fps = np.zeros(len(texts), dtype=_U64)
    valid = np.zeros(len(texts), dtype=bool)
    for lo, hi in chunk_ranges(texts, _CHUNK_CHARS, _MAX_DOCS):
        out = _chunk_fingerprints(texts[lo:hi], shingle, min_features, weights)
        fps[lo:hi], valid[lo:hi] = out[0], out[1].astype(bool)
    return fps, valid


def chunk_ranges(texts: Sequence[str], max_chars: int = _CHUNK_CHARS, max_docs: int | None = None):
    """(lo, hi) ranges of consecutive texts of at most `max_chars` characters together (a longer
    text is a range of its own) and at most `max_docs` texts: the numpy passes' batches."""
    lo = 0
    while lo < len(texts):
        hi, chars = lo, 0
        while (hi < len(texts) and (max_docs is None or hi - lo < max_docs)
               and (hi == lo or chars + len(texts[hi]) <= max_chars)):
            chars += len(texts[hi])
            hi += 1
        yield lo, hi
        lo = hi


def simhash(text: str, shingle: int = 2, min_features: int = 1, weights: str = "binary") -> int | None:
    """The 64-bit SimHash of one text, or None when it has fewer than `min_features`
    distinct features."""
    fps, valid = simhash_batch([text], shingle, min_features, weights)
    return int(fps[0]) if valid[0] else None


def token_hashes(text: str) -> np.ndarray:
    """64-bit hashes of the text's tokens, in order."""
    cp = np.frombuffer(text.lower().encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    if cp.size == 0:
        return np.empty(0, dtype=_U64)
    breaks = np.zeros(cp.size, dtype=bool)
    breaks[0] = True
    return _tokens(cp, breaks)[0]


def shingle_hashes(tokens: np.ndarray, shingle: int) -> np.ndarray:
    """Hashes of every run of `shingle` consecutive tokens (the tokens themselves if fewer)."""
    n = tokens.size - shingle + 1
    if n <= 0 or shingle <= 1:
        return tokens
    with np.errstate(over="ignore"):
        h = np.zeros(n, dtype=_U64)
        for j in range(shingle):  # a loop over the shingle width, not over features
            h = h * _Q + tokens[j:j + n]
    return _fmix64(h)


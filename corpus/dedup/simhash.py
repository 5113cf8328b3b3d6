"""64-bit SimHash fingerprints, computed with numpy over a document's code points.

Tokens: every CJK character is a token, every run of other letters and digits is a token
(lower-cased). Features: shingles of `shingle` consecutive tokens, each hashed to 64 bits
(a polynomial hash over code points, finished with the murmur3 64-bit mixer), weighted by
sublinear term frequency. No Python loop runs per token or per feature.
"""

from __future__ import annotations

import numpy as np

_U64 = np.uint64
_P = _U64(0x9E3779B97F4A7C15)  # odd multiplier for the polynomial token hash
_P_INV = _U64(pow(int(_P), -1, 1 << 64))  # its inverse modulo 2^64
_Q = _U64(0xC2B2AE3D27D4EB4F)  # and for combining token hashes into shingle hashes
_BITS = np.arange(64, dtype=_U64)


def _fmix64(h: np.ndarray) -> np.ndarray:
    """murmur3's finaliser: every input bit affects every output bit."""
    h = h ^ (h >> _U64(33))
    h = h * _U64(0xFF51AFD7ED558CCD)
    h = h ^ (h >> _U64(33))
    h = h * _U64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> _U64(33))


def _char_classes(cp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(is a CJK character, is a letter or digit of another script) per code point."""
    cjk = (((cp >= 0x3400) & (cp <= 0x9FFF)) | ((cp >= 0xF900) & (cp <= 0xFAFF))
           | ((cp >= 0x3040) & (cp <= 0x30FF)) | ((cp >= 0xAC00) & (cp <= 0xD7AF))
           | ((cp >= 0x20000) & (cp <= 0x2FA1F)))
    alnum = (((cp >= 0x30) & (cp <= 0x39)) | ((cp >= 0x61) & (cp <= 0x7A))
             | ((cp >= 0xC0) & (cp <= 0x24F) & (cp != 0xD7) & (cp != 0xF7))
             | ((cp >= 0x370) & (cp <= 0x52F)))  # lower-cased Latin, Greek, Cyrillic
    return cjk, alnum & ~cjk


def token_hashes(text: str) -> np.ndarray:
    """64-bit hashes of the text's tokens, in order."""
    cp = np.frombuffer(text.lower().encode("utf-32-le"), dtype=np.uint32).astype(_U64)
    if cp.size == 0:
        return np.empty(0, dtype=_U64)
    cjk, alnum = _char_classes(cp)
    prev_alnum = np.concatenate(([False], alnum[:-1]))
    starts = np.flatnonzero(cjk | (alnum & ~prev_alnum))
    if starts.size == 0:
        return np.empty(0, dtype=_U64)
    in_token = cjk | alnum
    next_alnum = np.concatenate((alnum[1:], [False]))
    ends = np.flatnonzero(cjk | (alnum & ~next_alnum)) + 1
    # Polynomial hash of cp[s:e] = sum_j cp[j] * P^(e-1-j), from one prefix sum over the
    # document: S[i] = sum_{j<i} cp[j] * P^(n-1-j), so hash = (S[e] - S[s]) * P^-(n-e).
    n = cp.size
    with np.errstate(over="ignore"):
        vals = np.where(in_token, cp + _U64(1), _U64(0))
        powers = np.concatenate(([_U64(1)], np.cumprod(np.full(n, _P, dtype=_U64))))
        inverse = np.concatenate(([_U64(1)], np.cumprod(np.full(n, _P_INV, dtype=_U64))))
        prefix = np.concatenate(([_U64(0)], np.cumsum(vals * powers[n - 1 - np.arange(n)], dtype=_U64)))
        raw = (prefix[ends] - prefix[starts]) * inverse[n - ends]
    return _fmix64(raw ^ (ends - starts).astype(_U64))


def shingle_hashes(tokens: np.ndarray, shingle: int) -> np.ndarray:
    """Hashes of every run of `shingle` consecutive tokens (the tokens themselves if fewer)."""
    n = tokens.size - shingle + 1
    if n <= 0:
        return tokens
    with np.errstate(over="ignore"):
        h = np.zeros(n, dtype=_U64)
        for j in range(shingle):  # a loop over the shingle width, not over features
            h = h * _Q + tokens[j:j + n]
    return _fmix64(h)


def simhash(text: str, shingle: int = 3, min_features: int = 1) -> int | None:
    """The 64-bit SimHash of `text`, or None when it has fewer than `min_features` distinct
    features (too short for a meaningful fingerprint). Features are weighted by sublinear
    term frequency, 1 + ln(tf), so one repeated phrase ("哈哈哈...") cannot outvote the rest."""
    feats = shingle_hashes(token_hashes(text), shingle)
    uniq, counts = np.unique(feats, return_counts=True)
    if uniq.size < max(1, min_features):
        return None
    bits = ((uniq[:, None] >> _BITS) & _U64(1)).astype(np.float64)  # features x 64
    votes = (1.0 + np.log(counts)) @ (2.0 * bits - 1.0)
    return int(np.sum((votes > 0).astype(_U64) << _BITS, dtype=_U64))

"""Tokens and 64-bit n-gram keys for decontamination, the same for benchmarks and documents.

Characters are folded first (NFKC, lower case, traditional to simplified; see
corpus.decontam.fold); positions still refer to the original text. Tokens: every CJK character (Han, kana, Hangul, Bopomofo) is a token, every run of other
letters, digits and combining marks is a token; punctuation, symbols and whitespace separate
tokens and are dropped. So "第1章，ＡＢＣ  Def" and "第 1 章 abc def" have the same tokens.

A token's hash mixes its code points and their positions (splitmix64's finaliser); the key of a
window of m tokens t_j..t_{j+m-1} is mix(sum_k h(t_{j+k}) * B^-k mod 2^64, m), computed for all
windows at once from prefix sums. No Python loop runs per character, token or window.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from corpus.decontam.fold import TABLE_END, U64, WORD, Tables, mix, tables, token_hashes

TOKENIZER_VERSION = 1  # bump when tokens or keys change: saved indexes are keyed by it
_B = U64(0x9E3779B97F4A7C15)  # odd, so invertible modulo 2^64
_B_INV = U64(pow(int(_B), -1, 1 << 64))


def code_points(text: str) -> np.ndarray:
    """The code points of `text` as int32 (Python string indices)."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.int32)


@dataclass
class Tokens:
    """Tokens of a text: 64-bit hashes and [start, end) character offsets in the text."""

    hashes: np.ndarray
    starts: np.ndarray
    ends: np.ndarray

    def __len__(self) -> int:
        return self.hashes.size


def tokenize(text: str, t: Tables | None = None) -> Tokens:
    """Fold `text` with tables `t` (default: this process's) and split it into tokens."""
    t = t or tables()
    cps = code_points(text)
    cps = np.where((cps >= TABLE_END) | (cps < 0), 0, cps)
    if t.expands[cps].any():  # rare: rebuild the text from the folded forms, keep the origins
        lens = t.length[cps]
        origin = np.repeat(np.arange(cps.size), lens)
        first = np.repeat(np.cumsum(lens) - lens, lens)
        folded = t.data[np.repeat(t.start[cps], lens) + np.arange(origin.size) - first]
        cls, tok1 = t.cls[folded], t.tok1[folded]
    else:
        origin, folded = None, None
        cls, tok1 = t.cls_in[cps], t.tok1_in[cps]
    pos = np.flatnonzero(cls)  # positions of token characters
    word = cls[pos] == WORD
    continues = np.zeros(pos.size, dtype=bool)
    continues[1:] = word[1:] & word[:-1] & (pos[1:] == pos[:-1] + 1)
    first = np.flatnonzero(~continues)  # index into pos of each token's first character
    last = np.append(first[1:], pos.size) - 1
    hashes = tok1[pos[first]]
    long = np.flatnonzero(last > first)
    if long.size:  # tokens of several characters (words): hash their folded code points
        lens = last[long] - first[long] + 1
        begin = np.cumsum(lens) - lens
        offsets = np.arange(lens.sum()) - np.repeat(begin, lens)
        at = pos[np.repeat(first[long], lens) + offsets]
        chars = folded[at] if folded is not None else t.fold1[cps[at]]
        hashes[long] = token_hashes(chars.astype(U64), offsets.astype(U64), begin)
    starts, ends = pos[first], pos[last] + 1
    if origin is not None:
        starts, ends = origin[starts], origin[ends - 1] + 1
    return Tokens(hashes, starts.astype(np.int64), ends.astype(np.int64))


class _Powers:
    """B^i and B^-i modulo 2^64, grown on demand."""

    up = down = np.ones(1, dtype=U64)

    @classmethod
    def get(cls, n: int) -> tuple[np.ndarray, np.ndarray]:
        if cls.up.size < n:
            size = max(n, 2 * cls.up.size)
            cls.up = np.cumprod(np.r_[U64(1), np.full(size - 1, _B, dtype=U64)], dtype=U64)
            cls.down = np.cumprod(np.r_[U64(1), np.full(size - 1, _B_INV, dtype=U64)], dtype=U64)
        return cls.up[:n], cls.down[:n]


class Windows:
    """Keys of windows of consecutive tokens, from prefix sums over the token hashes."""

    def __init__(self, hashes: np.ndarray):
        up, down = _Powers.get(hashes.size + 1)
        self.size = hashes.size
        self._up = up
        self._prefix = np.concatenate(([U64(0)], np.cumsum(hashes * down[:hashes.size], dtype=U64)))

    def keys_at(self, starts: np.ndarray, m: int) -> np.ndarray:
        """Keys of the windows of m tokens that begin at token indices `starts`."""
        s = np.asarray(starts, dtype=np.int64)
        return mix(((self._prefix[s + m] - self._prefix[s]) * self._up[s]) ^ _length_salt(m))

    def keys(self, m: int) -> np.ndarray:
        """Keys of every window of m tokens, by first token."""
        return self.keys_at(np.arange(max(self.size - m + 1, 0)), m)


@functools.lru_cache(maxsize=None)
def _length_salt(m: int) -> np.uint64:
    return mix(np.array([m], dtype=U64))[0]


def tokenize_many(texts: list[str], t: Tables | None = None) -> tuple[Tokens, np.ndarray]:
    """Tokens of several texts in one pass: offsets are within each text; also returns the
    text index of every token."""
    joined = "\n".join(texts)  # a separator, so no token spans two texts
    lengths = np.fromiter((len(t) + 1 for t in texts), dtype=np.int64, count=len(texts))
    begins = np.cumsum(lengths) - lengths
    tokens = tokenize(joined, t)
    owner = np.searchsorted(begins, tokens.starts, side="right") - 1
    return Tokens(tokens.hashes, tokens.starts - begins[owner], tokens.ends - begins[owner]), owner

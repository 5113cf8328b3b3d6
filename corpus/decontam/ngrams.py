"""Tokens and 64-bit n-gram keys for decontamination, the same for benchmarks and documents.

Characters are folded first (NFKC, lower case, traditional to simplified; see
corpus.decontam.fold); positions still refer to the original text. Tokens: every CJK
character (Han, kana, Hangul, Bopomofo) is a token, every run of other letters, digits and
combining marks is a token; punctuation, symbols and whitespace separate tokens and are
dropped. So "第1章，ＡＢＣ  Def" and "第 1 章 abc def" have the same tokens.

A token's hash is a multilinear hash of its characters (see fold.token_hashes); the key of a
window of m tokens t_j..t_{j+m-1} is the polynomial hash sum_k h(t_{j+k}) * B^-k mod 2^64
(token hashes are random-looking, so every bit of a key is), computed for all windows at once
from prefix sums. No Python loop runs per character, token or window.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from corpus.decontam.fold import EXPANDS, TABLE_END, U64, WORD, Tables, tables, token_hashes

TOKENIZER_VERSION = 2  # bump when tokens or keys change: saved indexes are keyed by it
_B = U64(0x9E3779B97F4A7C15)  # odd, so invertible modulo 2^64
_B_INV = U64(pow(int(_B), -1, 1 << 64))


def code_points(text: str) -> np.ndarray:
    """The code points of `text` as int32 (Python string indices)."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.int32)


@dataclass
class Tokens:
    """Tokens of a text: 64-bit hashes, and where they are (`span`). Token i's characters are
    `pos[first[i]]`..`pos[last[i]]` of the folded text; `origin` maps folded positions back to
    the text (None: the same)."""

    hashes: np.ndarray
    pos: np.ndarray
    first: np.ndarray
    last: np.ndarray
    origin: np.ndarray | None = None

    def __len__(self) -> int:
        return self.hashes.size

    def starts(self, tokens: np.ndarray | slice = slice(None)) -> np.ndarray:
        """Character offsets in the text where `tokens` begin."""
        at = self.pos[self.first[tokens]]
        return at if self.origin is None else self.origin[at]

    def ends(self, tokens: np.ndarray | slice = slice(None)) -> np.ndarray:
        """Character offsets in the text just after `tokens`."""
        at = self.pos[self.last[tokens]]
        return (at if self.origin is None else self.origin[at]) + 1


def tokenize(text: str, t: Tables | None = None) -> Tokens:
    """Fold `text` with tables `t` (default: this process's) and split it into tokens."""
    t = t or tables()
    cps = np.minimum(code_points(text), TABLE_END - 1)
    cls = t.cls_in[cps]
    expands = np.flatnonzero(cls == EXPANDS)
    origin = None
    char, tok1 = t.char_in, t.tok1_in
    if expands.size:  # rare (ﬁ, ㎏, ⑴): insert the extra code points, remember the origins
        lens = t.length[cps[expands]]
        offsets = np.arange(lens.sum()) - np.repeat(np.cumsum(lens) - lens, lens)
        folded = t.data[np.repeat(t.start[cps[expands]], lens) + offsets]
        extra = offsets > 0
        cps = t.fold1[cps]
        cps[expands] = folded[offsets == 0]
        at = np.repeat(expands + 1, lens - 1)
        cps = np.insert(cps, at, folded[extra])
        origin = np.insert(np.arange(cls.size), at, np.repeat(expands, lens - 1))
        cls, char, tok1 = t.cls[cps], t.char, t.tok1
    pos = np.flatnonzero(cls)  # positions of token characters
    word = cls[pos] == WORD
    continues = np.zeros(pos.size, dtype=bool)
    continues[1:] = word[1:] & word[:-1] & (pos[1:] == pos[:-1] + 1)
    first = np.flatnonzero(~continues)  # index into pos of each token's first character
    last = np.append(first[1:], pos.size) - 1
    hashes = tok1[cps[pos[first]]]
    long = np.flatnonzero(last > first)
    if long.size:  # tokens of several characters (words): hash their folded code points
        lens = last[long] - first[long] + 1
        begin = np.cumsum(lens) - lens
        offsets = np.arange(lens.sum()) - np.repeat(begin, lens)
        at = pos[np.repeat(first[long], lens) + offsets]
        hashes[long] = token_hashes(char[cps[at]], offsets, begin)
    return Tokens(hashes, pos, first, last, origin)


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

    def keys_at(self, starts: np.ndarray, m: int | np.ndarray) -> np.ndarray:
        """Keys of the windows of m tokens (one m, or one per window) that begin at token
        indices `starts`."""
        s = np.asarray(starts, dtype=np.int64)
        return (self._prefix[s + m] - self._prefix[s]) * self._up[s]

    def keys(self, m: int) -> np.ndarray:
        """Keys of every window of m tokens, by first token."""
        count = max(self.size - m + 1, 0)
        sums = self._prefix[m:m + count] - self._prefix[:count]
        return sums * self._up[:count]


def tokenize_many(texts: list[str], t: Tables | None = None) -> tuple[Tokens, np.ndarray, np.ndarray]:
    """Tokens of several texts in one pass (joined by a separator, so no token spans two):
    (tokens, text index of each token, character offset of each text in the joined text)."""
    joined = "\n".join(texts)
    lengths = np.fromiter((len(text) + 1 for text in texts), dtype=np.int64, count=len(texts))
    begins = np.cumsum(lengths) - lengths
    tokens = tokenize(joined, t)
    counts = np.diff(np.append(np.searchsorted(tokens.starts(), begins), len(tokens)))
    return tokens, np.repeat(np.arange(len(texts)), counts), begins
